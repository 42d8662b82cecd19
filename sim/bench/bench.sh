#!/usr/bin/env bash
# bench.sh - `make bench`: side-by-side benchmarks of the edge against the
# stacks it runs on (a bare nghttpd, Redis doing the same job), against the
# naive design (a PostgreSQL hot row, with pgbench), end-to-end convergence
# between two edges (build/sim converge-probe), and of central against a
# raw LevelDB loop (build/sim bench-central, when built). Ratios measured
# in one run are the result; absolute rates drift on a shared machine.
# Writes build/bench/latest.json and prints a table.
#
# Issue 20's figures come from the same run: durable likes (store.sync =
# true, bench_sync) against likes without fsync and against Redis with
# AOF everysec; GET p99 at half the GET peak while likes flow at half the
# like peak, against GETs alone, with store.sync off and on (bench_mixed);
# and the edge's serial fraction (time in its ledger's locks and the
# commit thread's writes over its CPU time, from its /metrics) around the
# like, GET and mixed runs, with the Amdahl bound it implies for 4, 8 and
# 16 workers.
#
# Issue 69's, too: BENCH_CONV_RUNS (3) convergence runs in a row, the
# worst one's p50 and p99 in the table (each must be within 2 s); and the
# peers (below: `bench.sh peers` run as a child once the rest is done,
# its keys read back from build/bench/peers.json into latest.json;
# BENCH_PEERS=0 leaves them out).
#
# `sim/bench/bench.sh sync` runs only the store.sync comparison (bench_sync:
# likes/s and like latency with fsync off and on, one edge, same run) and
# writes build/bench/sync.json. With BENCH_PERF=DIR, `perf record` samples
# the edge during each like run into DIR/like_sync_true.data,
# DIR/like_sync_false.data and DIR/like_replicated.data (the run with the
# changelog on, whose serial line and mean append time are printed too).
#
# `sim/bench/bench.sh latency` runs only the like peak and BENCH_LAT_RUNS
# (3) paced like runs at BENCH_LAT_PCT (50) percent of it, each printed
# as the full run prints its latency runs. A like latency run's line, in
# every mode, carries the p99 and p999 of the edge's group commits' store
# writes and the snapshot messages the edge received during it. With
# BENCH_PERF=DIR, `perf record` samples the edge during the peak run (its
# cache warm: every item was liked once before) into DIR/like.data; the
# peak is then lower than without it, and so are the paced runs' rates,
# taken from it (BENCH_LAT_RUNS=0 runs the peak alone).
#
# `sim/bench/bench.sh converge` runs only the like peak and
# BENCH_CONV_RUNS (3) end-to-end convergence runs in a row on one stack,
# as the full run runs them, and writes build/bench/converge.json.
#
# `sim/bench/bench.sh peers` (make bench-peers, issue 69) runs only the
# durable like against the peers a team would build instead, on one
# real three-node Kafka cluster: the edge with its changelog there, a
# bare producer behind HTTP/2 (build/peer_produce: one record per like,
# acks=all, answered from its delivery report) and Redis with a replica
# (build/redis_wait: the like script, then WAIT 1 0). Each gets a like
# run with the same connections and likes in flight, its CPU per like
# over all its processes (the edge and the three JVMs; peer_produce and
# the JVMs; the master and the replica), and a paced run at half its own
# peak. On the same cluster, central's apply against a Kafka Streams
# application that applies the same input by the same rules
# (sim/bench/kstreams/, bench_kstreams.sh): ops per CPU second of each,
# the final counts checked equal. Writes build/bench/peers.json
# (main_peers).
#
# `sim/bench/bench.sh kstreams` runs only central's apply against Kafka
# Streams, on a real three-node cluster of its own, and writes
# build/bench/kstreams.json (main_kstreams, bench_kstreams.sh; knobs
# BENCH_KSTREAMS_OPS, BENCH_KSTREAMS_HEAP).
#
# `sim/bench/bench.sh reads` runs only the read path: count GETs and 50-item
# batch GETs at the edge against bare GETs at nghttpd (the same h2load
# settings), printing edge_get_vs_bare and edge_batch50_vs_get. With
# BENCH_PERF=DIR, `perf record` samples the edge during each edge run into
# DIR/get.data and DIR/batch50.data. With BENCH_ALLOCS=1 the edge runs
# with build/alloccount.so preloaded and the allocations it makes per GET
# and per batch GET are printed (its idle rate subtracted).
#
# `sim/bench/bench.sh shapes` runs nghttpd alone with the edge's request
# and answer shapes (a new path a request, answers of the edge's sizes)
# against its bare GET and POST, and prints the ratios (main_shapes).
#
# `sim/bench/bench.sh ab` measures two edges (two binaries, two configs, or
# both) in turns on one stack: a GET run and a like run for each, round
# after round, then the medians of each side and B over A (main_ab, where
# its knobs are).
#
# `sim/bench/bench.sh feed` runs only the change feed's cost (issue 43):
# central's apply rate with the feed on against off, the real daemon on
# a fresh broker and store each run (bench_feed, where its knobs are:
# BENCH_FEED_OPS, BENCH_FEED_ROUNDS, BENCH_FEED_CPUS), and the applier's
# own share in-process (sim bench-feed, BENCH_FEED_INPROC_OPS); writes
# build/bench/feed.json. The full run does the same after its other
# parts.
#
# Owns: one private temp dir (configs, data, URI lists, h2load output, a
# throwaway PostgreSQL cluster) and every process it starts (broker,
# central, two edges, nghttpd, redis-server, postgres, sim kafka and its
# JVMs, peer_produce, the load generators and the probe), each stopped
# by PID in the EXIT trap (the JVMs die with sim kafka). Loopback and a unix
# socket in the temp dir only; it never touches a system PostgreSQL cluster.
# The process handling and the stack come from sim/bench/bench_lib.sh. The memory
# figures (RSS at 10M items, and the bounds) are read from
# build/bench/mem.kv, which `make bench-mem` (sim/bench/bench_mem.sh) writes.
#
# Knobs (environment): BENCH_ITEMS distinct items per URI list (120000;
# each like run sends 4 x that), BENCH_N requests per bare/GET run
# (1000000), BENCH_USER_HOME a home region every h2load request names
# (X-User-Home; unset: none), BENCH_BATCH_N batch GETs (100000), BENCH_REDIS_N Redis ops
# (1000000), BENCH_LAT_S seconds per latency run (10), BENCH_PG_S seconds
# per pgbench run (10), BENCH_PG_BIN where postgres, initdb and pgbench are
# (the newest /usr/lib/postgresql/*/bin), BENCH_CONV_S seconds of the
# convergence run (10),
# BENCH_CONV_AGE_MS the edges' batch.max_age_ms in it (1000),
# BENCH_CONV_POLL_MS the probe's poll interval (2), BENCH_CONV_LOAD_CPU
# the CPU of the convergence run's h2load (the server CPU, beside edge A:
# central, the part that run times, keeps the load CPU without the
# clients' load, as it would in its own data center), BENCH_SERVER_CPU (0),
# BENCH_LOAD_CPU (1) and BENCH_DEPTH streams in flight per h2load
# connection (16; four connections, so 64 requests in flight),
# BENCH_DOWNSTREAM_IDLE (1: the broker and central run under SCHED_IDLE
# on their CPU but in the convergence run; 0: at the default
# priority), BENCH_DOWNSTREAM_CPU the CPU of the broker and central in the
# partial modes (sync, latency, reads, ab; the load CPU unless set): with
# the server CPU and BENCH_DOWNSTREAM_IDLE=1 they take only what the edge
# leaves, and h2load has its CPU to itself, as in the nghttpd controls
# (the full run keeps them on the load CPU: its convergence run and its
# count of applied ops need central at a normal share), BENCH_EDGE_INI
# (more config lines for every edge, '\n'
# between them, for A/B runs of an option), BENCH_CENTRAL_INI (the same
# for central), BENCH_SNAPSHOT_MS central's snapshot_interval_ms (1000),
# BENCH_LAT_RUNS the latency mode's paced runs (3) and BENCH_LAT_PCT
# their share of the like peak in percent (50), BENCH_PACER every paced
# run's load (h2load, the default: h2load --rps, which sends each 10 ms
# tick's requests at once and times each from when it went out; even:
# `sim pace`, requests due at even gaps, each timed from when it was due,
# open loop; poisson: the same with exponential gaps). A paced run's line
# ends with the server's share of a core during it, and with sim pace the
# p99 of how late requests went out (their wait for a free stream
# included),
# BENCH_PEER_WARM the likes of each untimed run through the bare
# producer that warms the peers mode's cluster before any peer is
# measured, and through the replicated edge before its run on real Kafka
# (BENCH_ITEMS; runs until one is no more than 10% faster than
# the last, at most BENCH_PEER_WARM_RUNS, 8), BENCH_PEER_ROUNDS the
# like runs of each Kafka peer, taken in turns (4; the median round
# counts, the lower of the middle two when even),
# BENCH_LAT_KEEP a directory for each latency run's h2load log (KEY.log:
# one line per request, start in us since the epoch, status, latency in
# us; with h2load, its processes one after another).
#
# Before each measured run the script waits until central and then the
# edge are idle (settle), and after a throughput run until the edge is
# idle again: the requests per server CPU second it prints beside each
# rate (per_server_cpu_s in the JSON; the *_per_core ratios) count what
# the run left the edge to do.
set -euo pipefail
# A relative BENCH_LAT_KEEP is the caller's, not the tree's.
if [[ -n ${BENCH_LAT_KEEP:-} ]]; then
	BENCH_LAT_KEEP=$(realpath -m -- "$BENCH_LAT_KEEP")
	mkdir -p -- "$BENCH_LAT_KEEP"
fi
# So are the ab mode's edge binaries.
for v in BENCH_AB_A BENCH_AB_B; do
	if [[ -n ${!v:-} ]]; then printf -v "$v" '%s' "$(realpath -m -- "${!v}")"; fi
done
cd "$(dirname "$0")/../.."

BIN=build
BENCH_DOWNSTREAM_IDLE=${BENCH_DOWNSTREAM_IDLE:-1} # bench_lib.sh's downstream
OUT=build/bench
ITEMS=${BENCH_ITEMS:-120000}
NREQ=${BENCH_N:-1000000}
NBATCH=${BENCH_BATCH_N:-100000}
NREDIS=${BENCH_REDIS_N:-1000000}
LAT_S=${BENCH_LAT_S:-10}
PG_S=${BENCH_PG_S:-10}
CONV_S=${BENCH_CONV_S:-10}
CONV_AGE_MS=${BENCH_CONV_AGE_MS:-1000}
CONV_POLL_MS=${BENCH_CONV_POLL_MS:-2}
CONV_EVERY_MS=20     # the probe likes one fresh item this often
SNAPSHOT_MS=${BENCH_SNAPSHOT_MS:-1000} # central's snapshot_interval_ms
PACER=${BENCH_PACER:-h2load} # the latency runs' load: h2load --rps, or sim pace (even, poisson)
SERVER_CPU=${BENCH_SERVER_CPU:-0}
LOAD_CPU=${BENCH_LOAD_CPU:-1}
CONV_LOAD_CPU=${BENCH_CONV_LOAD_CPU:-$SERVER_CPU}
# Where the partial modes' broker and central run (stack_with_likes).
DOWNSTREAM_CPU=${BENCH_DOWNSTREAM_CPU:-$LOAD_CPU}
CONNS=4  # h2load processes, one connection each (see h2run)
DEPTH=${BENCH_DEPTH:-16} # streams per connection; Redis gets the same pipeline depth
TOKEN=bench-token

# shellcheck source=sim/bench/bench_lib.sh
. sim/bench/bench_lib.sh
# shellcheck source=sim/bench/bench_kstreams.sh
. sim/bench/bench_kstreams.sh
# BENCH_LOGS: where the daemons' logs go (the full run gives its peers
# child a folder of its own, so that neither overwrites the other's).
bench_begin bench "${BENCH_LOGS:-$OUT/logs}"
declare -A R      # results: key -> number or empty
declare -A WHY    # key -> reason it is null
declare -A NOTE   # key -> what the table says of a figure with no target
declare -A RATE   # raw rates, req/s
declare -A LAT    # latency figures, ms
declare -A GROUP  # durability runs: likes per group commit
declare -A RECPL  # the replicated run: changelog records per like
declare -A CONV   # convergence run: probe figures and settings
declare -A PG     # PostgreSQL runs: transactions and the final sums
declare -A MEM    # build/bench/mem.kv, the last make bench-mem: key -> value
MEM_KEYS=()       # its keys in file order
EDGE_B_PID=""     # edge B of the convergence run, while it runs

# ---- the stack --------------------------------------------------------------

stop_stack() {
	if [[ -n $EDGE_B_PID ]]; then stop "$EDGE_B_PID"; fi
	stop "$EDGE_PID"
	stop "$CENTRAL_PID"
	stop "$BROKER_PID"
	EDGE_PID="" CENTRAL_PID=""
}

# ---- load -------------------------------------------------------------------

# URI lists: one per line, for h2load -i.
uri_list() { # file base path-prefix count [viral]
	awk -v b="$2" -v p="$3" -v n="$4" -v viral="${5:-}" 'BEGIN {
		for (i = 0; i < n; i++)
			if (viral != "" && i % 2 == 0)
				print b p viral "/likes"
			else
				print b p "c" i "/likes"
	}' >"$1"
}

batch_list() { # file base count query-suffix
	awk -v b="$2" -v n="$3" -v items="$ITEMS" -v tail="$4" 'BEGIN {
		for (i = 0; i < n; i++) {
			s = b "/v1/counts?items="
			for (j = 0; j < 50; j++)
				s = s (j ? "," : "") "post:c" ((i * 50 + j) % items)
			print s tail
		}
	}' >"$1"
}

# Runs CONNS h2load processes on LOAD_CPU, each one connection with DEPTH
# streams, together n requests. h2load's clients all walk the URI list
# from its start, so distinct (user, item) pairs need one process per
# user: process k sends X-User-Id: <user>k. Sets H2 to "rate ok failed
# non2xx" (rate = all 2xx answers / the slowest process's time). It runs
# in this shell, never in $(...), so that the EXIT trap knows its PIDs.
h2run() { # name n urifile user post(0|1) rps(per process, 0 = peak) [logprefix]
	h2start "$@"
	h2wait "$1"
}

# h2run in two halves, so that two groups of h2load processes can run at
# once (the mixed run): h2start starts a group's processes and returns,
# h2wait waits for them and sets H2. Both run in this shell, for the
# same reason as h2run.
declare -A H2PIDS # group name -> its h2load PIDs
h2start() { # name n urifile user post(0|1) rps(per process, 0 = peak) [logprefix]
	local name=$1 n=$2 list=$3 user=$4 post=$5 rps=$6 logp=${7:-}
	local per=$(((n + CONNS - 1) / CONNS)) k pids=() args
	SETTLED=0
	for ((k = 0; k < CONNS; k++)); do
		args=(-n "$per" -c 1 -m "$DEPTH" -t 1 -i "$list" -H "X-User-Id: $user$k")
		[[ -n ${BENCH_USER_HOME:-} ]] && args+=(-H "X-User-Home: $BENCH_USER_HOME")
		((post)) && args+=(-d "$TMP/body.json")
		((rps > 0)) && args+=(--rps "$rps")
		[[ -n $logp ]] && args+=(--log-file "$logp.$k")
		# shellcheck disable=SC2046
		# H2_CPU, when the caller sets it: another CPU than the load's.
		$(pin "${H2_CPU:-$LOAD_CPU}") h2load "${args[@]}" >"$TMP/h2.$name.$k.out" 2>&1 &
		pids+=($!)
		track "$!"
	done
	H2PIDS[$name]=${pids[*]}
}

h2wait() { # name
	local name=$1 k
	for k in ${H2PIDS[$name]}; do
		wait "$k" || true
		untrack "$k"
	done
	unset "H2PIDS[$name]"
	H2=$(awk '
	/^finished in/ {
		t = $3; sub(/,$/, "", t)
		if (t ~ /ms$/) s = t / 1000; else if (t ~ /us$/) s = t / 1e6; else s = t + 0
		if (s > max) max = s
	}
	/^requests:/ { ok += $8; fail += $10 }
	/^status codes:/ { non += $5 + $7 + $9 }
	END { printf "%.0f %d %d %d\n", (max > 0 ? ok / max : 0), ok, fail, non }
	' "$TMP"/h2."$name".*.out)
}

# Runs h2run and records the rate; warns on failures.
measure() { # key h2run-args...
	local key=$1 rate ok fail non c0 c1 g0 g1
	shift
	settle "$key"
	c0=$(cpu_ticks "${CORE_PID:-$EDGE_PID}" 2>/dev/null) || c0=""
	g0=$(group_ticks)
	h2run "$key" "$@"
	run_end
	g1=$(group_ticks)
	# What the run left the edge to do (central's snapshots of its likes,
	# their compactions) is its cost too: the CPU count waits for it (the
	# run ended the quiet spell, so settle waits again).
	settle "$key (what it left)"
	c1=$(cpu_ticks "${CORE_PID:-$EDGE_PID}" 2>/dev/null) || c1=""
	read -r rate ok fail non <<<"$H2"
	RATE[$key]=$rate
	RATE_OK[$key]=$ok
	per_core "$key" "$ok" "$c0" "$c1"
	group_cpu "$key" "$ok" "$g0" "$g1"
	printf '  %-22s %10s req/s  (%s ok, %s failed, %s non-2xx; %s per server CPU second%s)\n' \
		"$key" "$rate" "$ok" "$fail" "$non" "${CORE[$key]:-none}" "$(group_cpu_says "$key")"
	if ((fail > 0 || non > 0)); then
		WARN+=("$key: $fail failed, $non non-2xx answers")
	fi
}
declare -A RATE_OK
WARN=()

# The cost side of a rate: requests answered per CPU second of the server
# process under test (all its threads: the edge's LevelDB compactions and
# Kafka client too), CORE[key], over the run and, for the edge, until it
# is idle again after it (measure). Neither side of a run is always saturated
# (a like waits for its group's write; h2load shares its CPU), so a rate
# ratio mixes cost with waiting; this one is cost alone.
declare -A CORE
CORE_PID="" # the server measure charges; empty: the edge
per_core() { # key requests ticks-before ticks-after
	[[ -n $3 && -n $4 ]] || return 0
	CORE[$1]=$(awk -v n="$2" -v a="$3" -v b="$4" -v hz="$(getconf CLK_TCK)" \
		'BEGIN { if (b > a) printf "%.0f", n * hz / (b - a) }')
}

# The cost of a peer as a whole (bench.sh peers): the CPU of the server
# measure charges and of every process in MEASURE_ALSO (PIDs; set it
# local to the caller, as CORE_PID) with their children (sim kafka's
# broker JVMs), from the load's start to its end (run_end), in CPU
# microseconds per answered request: PCPU[key.server], PCPU[key.also]
# and PCPU[key.total]. Nothing when MEASURE_ALSO is not set.
declare -A PCPU

# "server also" CPU ticks so far, or nothing without MEASURE_ALSO.
group_ticks() {
	[[ -n ${MEASURE_ALSO:-} ]] || return 0
	local srv also=0 p kids
	srv=$(cpu_ticks "${CORE_PID:-$EDGE_PID}" 2>/dev/null) || return 0
	kids=$(pgrep -d ' ' -P "${MEASURE_ALSO// /,}" || true)
	for p in $MEASURE_ALSO $kids; do
		also=$((also + $(cpu_ticks "$p" 2>/dev/null || echo 0)))
	done
	echo "$srv $also"
}

group_cpu() { # key requests "srv also"-before "srv also"-after
	[[ -n $3 && -n $4 ]] && (($2 > 0)) || return 0
	read -r "PCPU[$1.server]" "PCPU[$1.also]" "PCPU[$1.total]" < <(awk -v n="$2" \
		-v a="$3" -v b="$4" -v hz="$(getconf CLK_TCK)" 'BEGIN {
		split(a, x, " "); split(b, y, " ")
		s = (y[1] - x[1]) / hz * 1e6 / n; o = (y[2] - x[2]) / hz * 1e6 / n
		printf "%.1f %.1f %.1f\n", s, o, s + o
	}')
}

# What measure's line says of group_cpu's figures.
group_cpu_says() { # key
	[[ -n ${PCPU[$1.total]:-} ]] || return 0
	printf '; CPU per like %s us: server %s + %s' "${PCPU[$1.total]}" "${PCPU[$1.server]}" \
		"${PCPU[$1.also]}"
}

# p50 p99 p999 in ms of the 2xx answers in the h2load log files.
percentiles() { # logprefix
	cat "$1".* | awk -F'\t' '$2 >= 200 && $2 < 300 { print $3 }' | sort -n |
		awk 'function at(q, i) { i = int(NR * q); if (i < 1) i = 1; return v[i] / 1000 }
		{ v[NR] = $1 }
		END {
			if (NR == 0) { print "none none none"; exit }
			printf "%.3f %.3f %.3f\n", at(0.5), at(0.99), at(0.999)
		}'
}

# Paced run at pct% of a peak rate, LAT_S seconds; fills LAT[...].
latency_run() { # key pct peak list user post
	settle "$1"
	lat_start "$@"
	lat_end "$1"
}

# latency_run in two halves, for two paced groups at once (the mixed
# run): lat_start starts one, for secs seconds (LAT_S when not given);
# lat_end waits for it and fills LAT[key.*].
declare -A LATPOST # key -> 1 for a like group (its likes go to LAT_LIKES)
declare -A LATSNAP # key -> the edge's snapshots received at its start
declare -A LATCPU  # key -> the server's CPU ticks and the wall clock at its start
lat_start() { # key pct peak list user post [secs]
	local key=$1 pct=$2 peak=$3 list=$4 user=$5 post=$6 secs=${7:-$LAT_S}
	local total=$((peak * pct / 100)) per n
	per=$(((total + CONNS - 1) / CONNS))
	n=$((total * secs))
	if ((post && n / CONNS > ITEMS)); then n=$((ITEMS * CONNS)); fi
	LAT[$key.target]=$total
	LATPOST[$key]=$post
	LATSNAP[$key]=$(lat_sample "$key" "")
	LATCPU[$key]="$(cpu_ticks "${CORE_PID:-$EDGE_PID}" 2>/dev/null || echo none) $(date +%s.%N)"
	if [[ $PACER == h2load ]]; then
		h2start "$key" "$n" "$list" "$user" "$post" "$per" "$TMP/lat.$key"
	else
		pace_start "$key" "$n" "$list" "$user" "$post" "$total" "$TMP/lat.$key"
	fi
}

# A paced group from `sim pace` (sim/bench/pace.h): n requests due at
# rate a second in all, evenly or (BENCH_PACER=poisson) with exponential
# gaps, over CONNS connections of DEPTH streams, each request timed from
# when it was due, so a stall delays the requests due during it as it
# would a platform's users. Its log has h2load's columns (percentiles).
declare -A PACEPID # key -> its sim pace PID
pace_start() { # key n urifile user post(0|1) rate logprefix
	local key=$1 n=$2 list=$3 user=$4 post=$5 rate=$6 port args
	port=$(head -1 "$list" | sed -E 's#^https?://[^/]*:([0-9]+)/.*#\1#')
	args=(pace --port "$port" --uris "$list" --rate "$rate" --requests "$n"
		--conns "$CONNS" --depth "$DEPTH" --user "$user" --log "$7.0")
	((post)) && args+=(--body "$TMP/body.json")
	[[ $PACER == poisson ]] && args+=(--poisson)
	SETTLED=0
	# shellcheck disable=SC2046
	$(pin "$LOAD_CPU") "$BIN/sim" "${args[@]}" >"$TMP/pace.$key.out" 2>&1 &
	PACEPID[$key]=$!
	track "$!"
}

# Waits for key's sim pace and sets H2 as h2wait does: "rate ok failed
# non-2xx".
pace_wait() { # key
	local key=$1
	wait "${PACEPID[$key]}" || true
	untrack "${PACEPID[$key]}"
	unset "PACEPID[$key]"
	if ! grep -q '^sent=' "$TMP/pace.$key.out"; then
		WARN+=("$key: sim pace gave no result: $(tr '\n' ' ' <"$TMP/pace.$key.out")")
		H2="0 0 1 0"
		return
	fi
	H2=$(awk -F= '{ v[$1] = $2 }
		END { printf "%.0f %d %d %d\n", v["rate"], v["ok"], v["failed"], v["non_2xx"] }' \
		"$TMP/pace.$key.out")
}

# Refuses a BENCH_PACER it does not know, and sim pace missing from
# build/sim when it is asked for.
pacer_check() {
	case $PACER in
	h2load) ;;
	even | poisson)
		sim_has pace || {
			echo "bench: BENCH_PACER=$PACER needs sim pace; build/sim is older (make)" >&2
			exit 1
		}
		;;
	*)
		echo "bench: BENCH_PACER must be h2load, even or poisson, not '$PACER'" >&2
		exit 1
		;;
	esac
}

# The edge's /metrics; nothing when no edge answers (the nghttpd
# control).
edge_scrape() {
	curl -sf -m 5 "http://127.0.0.1:$EDGE_PORT/metrics" || true
}

# Of a scrape on stdin: the cumulative bucket counts "le count" of the
# histogram series whose name and labels begin with prefix.
buckets() { # prefix
	awk -v p="$1" 'index($1, p) == 1 {
		match($1, /le="[^"]*"/)
		print substr($1, RSTART + 4, RLENGTH - 5), $2
	}'
}

# Of a scrape on stdin: the sum of a metric's series (a full name, its
# labels left off); nothing when it has none.
metric_sum() { # name
	awk -v k="$1" '$1 == k || index($1, k "{") == 1 { s += $NF; n++ }
		END { if (n) printf "%.0f\n", s }'
}

# The same, unrounded (a histogram's _sum in seconds).
metric_float() { # name
	awk -v k="$1" '$1 == k || index($1, k "{") == 1 { s += $NF; n++ }
		END { if (n) printf "%.6f\n", s }'
}

# One scrape at a latency run's start (suffix "") or end (".after"):
# TMP/hist.KEY, the edge's own latency histogram for the route the run's
# requests take (POST: write, GET: count); for a like run also
# TMP/chist.KEY, its group commits' store writes, and, printed, its
# snapshots_received_total.
lat_sample() { # key suffix
	local key=$1 route=count
	((LATPOST[$key])) && route="write"
	edge_scrape >"$TMP/m.$key"
	buckets "likes_edge_request_duration_seconds_bucket{route=\"$route\"," \
		<"$TMP/m.$key" >"$TMP/hist.$key$2"
	if ((LATPOST[$key])); then
		buckets "likes_edge_store_commit_duration_seconds_bucket{" <"$TMP/m.$key" \
			>"$TMP/chist.$key$2"
		metric_sum likes_edge_snapshots_received_total <"$TMP/m.$key"
	fi
	rm -f "$TMP/m.$key"
}

# The bucket bound (ms) under which q of the run's answers fell by the
# edge's own clock: from the arrival at the api to the answer leaving it,
# without the client's and the kernel's share. "none" without an edge.
edge_quantile() { # before-file after-file q
	awk -v q="$3" '
		NR == FNR { before[$1] = $2; next }
		{ le[++n] = $1; c[n] = $2 - before[$1] }
		END {
			if (n == 0 || c[n] <= 0) { print "none"; exit }
			for (i = 1; i <= n; i++)
				if (c[i] >= q * c[n]) {
					print (le[i] == "+Inf" ? "inf" : le[i] * 1000)
					exit
				}
		}' "$1" "$2"
}

lat_end() { # key
	local key=$1 rate ok fail non p50 p99 p999 t1 w1
	if [[ $PACER == h2load ]]; then h2wait "$key"; else pace_wait "$key"; fi
	t1=$(cpu_ticks "${CORE_PID:-$EDGE_PID}" 2>/dev/null || true)
	w1=$(date +%s.%N)
	read -r rate ok fail non <<<"$H2"
	read -r p50 p99 p999 < <(percentiles "$TMP/lat.$key")
	LAT[$key.rate]=$rate
	LAT[$key.p50]=$p50
	LAT[$key.p99]=$p99
	LAT[$key.p999]=$p999
	local e99 e999 c99 c999 snaps="?" s1
	s1=$(lat_sample "$key" .after)
	if [[ -n ${LATSNAP[$key]} && -n $s1 ]]; then snaps=$((s1 - LATSNAP[$key])); fi
	e99=$(edge_quantile "$TMP/hist.$key" "$TMP/hist.$key.after" 0.99)
	e999=$(edge_quantile "$TMP/hist.$key" "$TMP/hist.$key.after" 0.999)
	printf '  %-22s target %6s/s got %6s/s  p50 %s  p99 %s  p999 %s ms  (edge: p99 <= %s, p999 <= %s ms' \
		"$key" "${LAT[$key.target]}" "$rate" "$p50" "$p99" "$p999" "$e99" "$e999"
	if ((LATPOST[$key])); then
		c99=$(edge_quantile "$TMP/chist.$key" "$TMP/chist.$key.after" 0.99)
		c999=$(edge_quantile "$TMP/chist.$key" "$TMP/chist.$key.after" 0.999)
		[[ $c99 == none ]] || printf '; store commits: p99 <= %s, p999 <= %s ms; %s snapshots' \
			"$c99" "$c999" "$snaps"
	fi
	if [[ $PACER != h2load ]]; then
		printf '; sent p99 %s ms late' "$(awk -F= '$1 == "late_p99_ms" { print $2 }' "$TMP/pace.$key.out")"
	fi
	# The server's share of a core from the run's start to its end (in
	# a mixed run both groups' lines show the one server over their own
	# overlapping spans).
	local t0 w0
	read -r t0 w0 <<<"${LATCPU[$key]}"
	if [[ $t0 =~ ^[0-9]+$ && -n $w0 && -n $t1 ]]; then
		awk -v a="$t0" -v b="$t1" -v w0="$w0" -v w1="$w1" -v hz="$(getconf CLK_TCK)" \
			'BEGIN { printf "; server %.0f%% of a core", 100 * (b - a) / hz / (w1 - w0) }'
	fi
	printf ')\n'
	if ((fail > 0 || non > 0)); then
		WARN+=("$key: $fail failed, $non non-2xx answers")
	fi
	if ((LATPOST[$key])); then LAT_LIKES=$((LAT_LIKES + ok)); fi
	if [[ -n ${BENCH_LAT_KEEP:-} ]]; then
		cat "$TMP/lat.$key".* >"$BENCH_LAT_KEEP/$key.log" 2>/dev/null || true
	fi
	rm -f "$TMP/lat.$key".* "$TMP/hist.$key" "$TMP/hist.$key.after" "$TMP/chist.$key" \
		"$TMP/chist.$key.after"
}

# ---- serial fraction ---------------------------------------------------------

# The edge counts, on its /metrics, the time spent where only one thread
# at a time can be, summed over threads: holding the ledger's writer lock,
# holding a view stripe's lock (per stripe, and all together as
# view_lock), and the commit thread's group writes (LevelDB takes one
# writer at a time). Over the edge's CPU time in the same interval, that
# is the serial fraction s, and 1 / (s + (1 - s) / N) bounds the speed-up
# of N workers (Amdahl). A view stripe is shared only by the threads
# reading or writing its partitions' counts, so s counts the busiest
# stripe's time in the interval (view_stripe_max), not the stripes' sum:
# with the like runs' items spread over every partition that is about a
# stripe count's share of view_lock; a load on one viral item would put
# all of view_lock in one stripe. The sections are disjoint (a stripe's
# time inside the writer lock is the writer lock's) and summed, which
# takes the locks as if one: an upper bound on the serial share, a lower
# bound on the speed-up. Lock time is wall time. The group writes count with
# their CPU time (likes_edge_ledger_commit_write_cpu_seconds_total): an
# fsync's wait is no work, and while it runs the next group grows; their
# wall time is printed beside it. So do the seals' encoding and store
# writes (likes_edge_ledger_seal_write_cpu_seconds_total), made outside
# the writer lock but one seal at a time.
declare -A SER    # serial samples: key.field -> seconds, cores or fraction
declare -A SER0   # key.field -> the same counters at serial_begin
declare -A SERWHY # key -> why the sample has no fraction
SER_MIN_CPU=1     # CPU seconds a sample needs: process_cpu_seconds_total moves in 0.01 s

# "writer_lock view_lock commit_write commit_write_cpu cpu seal_write_cpu
# stripes" in seconds so far, from one scrape of the edge's /metrics (a
# loopback-only route on its API port), so all are of one instant;
# stripes is each view stripe's seconds, comma-separated, in stripe
# order. Nothing when the edge does not answer or a series is missing.
edge_serial() {
	edge_scrape | awk '
	$1 == "likes_edge_ledger_serial_seconds_total{section=\"writer_lock\"}" { w = $2; n++ }
	$1 == "likes_edge_ledger_serial_seconds_total{section=\"view_lock\"}" { v = $2; n++ }
	$1 == "likes_edge_ledger_serial_seconds_total{section=\"commit_write\"}" { c = $2; n++ }
	$1 == "likes_edge_ledger_commit_write_cpu_seconds_total" { cc = $2; n++ }
	$1 == "process_cpu_seconds_total" { cpu = $2; n++ }
	$1 == "likes_edge_ledger_seal_write_cpu_seconds_total" { sw = $2; n++ }
	$1 ~ /^likes_edge_ledger_view_stripe_seconds_total\{stripe="[0-9]+"\}$/ {
		i = $1; gsub(/[^0-9]/, "", i); st[i + 0] = $2; if (i + 1 > ns) ns = i + 1
	}
	END {
		if (n != 6 || ns == 0) exit
		l = ""
		for (i = 0; i < ns; i++) l = l (i ? "," : "") sprintf("%.9f", st[i])
		printf "%.9f %.9f %.9f %.9f %.9f %.9f %s\n", w, v, c, cc, cpu, sw, l
	}'
}

# "busy total" jiffies of one CPU so far (busy: user, nice, system, irq,
# softirq; total adds idle, iowait and steal); nothing for a CPU list.
# Says whether the load generators' CPU was saturated during a run,
# which would put their own delays into the latencies they measure.
cpu_jiffies() { # cpu
	[[ $1 =~ ^[0-9]+$ ]] || return 0
	awk -v c="cpu$1" '$1 == c { b = $2 + $3 + $4 + $7 + $8; print b, b + $5 + $6 + $9 }' /proc/stat
}

# The share of a CPU busy since cpu_jiffies gave then; "none" for a CPU list.
cpu_busy_since() { # cpu then
	local now
	now=$(cpu_jiffies "$1")
	awk -v x="$2" -v y="$now" 'BEGIN {
		split(x, p, " "); split(y, q, " ")
		if (x == "" || y == "" || q[2] <= p[2]) print "none"
		else printf "%.3f\n", (q[1] - p[1]) / (q[2] - p[2])
	}'
}

# Where the load of a serial sample's run ended (measure): the sample's
# wall time and CPU shares stop there; its CPU and lock seconds run on
# until the edge is idle again, so that they count what the run left.
run_end() {
	RUN_END_T=$(date +%s.%N)
	RUN_END_SRV=$(cpu_jiffies "$SERVER_CPU")
	RUN_END_LOAD=$(cpu_jiffies "$LOAD_CPU")
	RUN_END_DOWN=$(downstream_ticks)
	RUN_END_EDGE=$(cpu_ticks "${EDGE_PID:-}" 2>/dev/null) || RUN_END_EDGE=""
}
RUN_END_T=""

serial_begin() { # key
	settle "$1" # not in the sample's time
	RUN_END_T=""
	SER0[$1.edge]=$(cpu_ticks "$EDGE_PID" 2>/dev/null) || SER0[$1.edge]=""
	SER0[$1.m]=$(edge_serial)
	SER0[$1.t]=$(date +%s.%N)
	SER0[$1.srv]=$(cpu_jiffies "$SERVER_CPU")
	SER0[$1.load]=$(cpu_jiffies "$LOAD_CPU")
	SER0[$1.down]=$(downstream_ticks)
}

# CPU ticks central and the broker have used so far (both on the load
# CPU), or nothing when either is not running.
downstream_ticks() {
	local a b
	a=$(cpu_ticks "${CENTRAL_PID:-none}" 2>/dev/null) || return 0
	b=$(cpu_ticks "${BROKER_PID:-none}" 2>/dev/null) || return 0
	echo $((a + b))
}

# Fills SER[key.*]: each section's seconds, their sum (serial_s), the
# edge's CPU seconds (cpu_s) and cores (edge_cores: CPU over wall time),
# the share of the server and load CPUs busy, the wall time (wall_s) and
# the fraction. After a throughput run (run_end) the wall time, the
# edge's cores and the busy shares end with its load; the seconds (CPU,
# locks, and so s) when the edge went idle again.
serial_end() { # key
	local k=$1 now t1 srv load down
	now=$(edge_serial)
	t1=$(date +%s.%N)
	srv=$(cpu_jiffies "$SERVER_CPU")
	load=$(cpu_jiffies "$LOAD_CPU")
	down=$(downstream_ticks)
	if [[ -n $RUN_END_T ]]; then
		t1=$RUN_END_T srv=$RUN_END_SRV load=$RUN_END_LOAD down=$RUN_END_DOWN
	fi
	if [[ -z ${SER0[$k.m]} || -z $now ]]; then
		SERWHY[$k]="the edge's /metrics gave no likes_edge_ledger_serial_seconds_total{section=...}, likes_edge_ledger_view_stripe_seconds_total, likes_edge_ledger_commit_write_cpu_seconds_total, likes_edge_ledger_seal_write_cpu_seconds_total or process_cpu_seconds_total"
		echo "  serial $k: $(jstr "${SERWHY[$k]}")"
		return 0
	fi
	read -r "SER[$k.writer_lock_s]" "SER[$k.view_lock_s]" "SER[$k.view_stripe_max_s]" \
		"SER[$k.view_stripes]" "SER[$k.commit_write_s]" \
		"SER[$k.commit_write_cpu_s]" "SER[$k.seal_write_cpu_s]" "SER[$k.serial_s]" "SER[$k.cpu_s]" \
		"SER[$k.edge_cores]" "SER[$k.server_cpu_busy]" "SER[$k.load_cpu_busy]" "SER[$k.wall_s]" < <(awk -v a="${SER0[$k.m]}" -v b="$now" -v t0="${SER0[$k.t]}" \
		-v t1="$t1" -v s0="${SER0[$k.srv]}" -v s1="$srv" -v l0="${SER0[$k.load]}" -v l1="$load" '
		function busy(x, y, p, q) {
			if (x == "" || y == "") return "none"
			split(x, p, " "); split(y, q, " ")
			return q[2] > p[2] ? sprintf("%.3f", (q[1] - p[1]) / (q[2] - p[2])) : "none"
		}
		BEGIN {
			split(a, x, " "); split(b, y, " ")
			w = y[1] - x[1]; v = y[2] - x[2]; c = y[3] - x[3]; cc = y[4] - x[4]; cpu = y[5] - x[5]
			sw = y[6] - x[6]
			# The busiest stripe over the interval.
			ns = split(x[7], sx, ","); split(y[7], sy, ",")
			vm = 0
			for (i = 1; i <= ns; i++) if (sy[i] - sx[i] > vm) vm = sy[i] - sx[i]
			printf "%.3f %.3f %.3f %d %.3f %.3f %.3f %.3f %.2f %.3f %s %s %.2f\n", w, v, vm, ns,
				c, cc, sw, w + vm + cc + sw, cpu,
				(t1 > t0 ? cpu / (t1 - t0) : 0), busy(s0, s1), busy(l0, l1), t1 - t0
		}')
	# After run_end, the edge's cores over the run's own wall time come
	# from its CPU ticks at run_end (its CPU seconds above run on).
	if [[ -n $RUN_END_T && -n ${RUN_END_EDGE:-} && -n ${SER0[$k.edge]:-} ]]; then
		SER[$k.edge_cores]=$(awk -v d=$((RUN_END_EDGE - SER0[$k.edge])) -v hz="$(getconf CLK_TCK)" \
			-v w="${SER[$k.wall_s]}" 'BEGIN { printf "%.3f", (w > 0 ? d / hz / w : 0) }')
	fi
	# The load generators' share of the load CPU: its busy share less the
	# cores central and the broker used on it.
	SER[$k.downstream_cores]=none
	SER[$k.load_gen_busy]=${SER[$k.load_cpu_busy]}
	if [[ -n ${SER0[$k.down]} && -n $down ]] && isnum "${SER[$k.load_cpu_busy]}"; then
		read -r "SER[$k.downstream_cores]" "SER[$k.load_gen_busy]" < <(awk -v d=$((down - SER0[$k.down])) \
			-v hz="$(getconf CLK_TCK)" -v w="${SER[$k.wall_s]}" -v b="${SER[$k.load_cpu_busy]}" \
			'BEGIN { c = w > 0 ? d / hz / w : 0; g = b - c; printf "%.3f %.3f\n", c, g < 0 ? 0 : g }')
	fi
	# s's two parts: the locks every worker shares (the writer lock and
	# the busiest view stripe), and the one-thread work no worker waits
	# on while it holds a lock (the commit thread's group writes, the
	# seals), which bounds the speed-up at 1 / its share instead.
	SER[$k.lock_s]=$(awk -v w="${SER[$k.writer_lock_s]}" -v v="${SER[$k.view_stripe_max_s]}" \
		'BEGIN { printf "%.3f", w + v }')
	SER[$k.pipeline_s]=$(awk -v c="${SER[$k.commit_write_cpu_s]}" -v s="${SER[$k.seal_write_cpu_s]}" \
		'BEGIN { printf "%.3f", c + s }')
	if awk -v c="${SER[$k.cpu_s]}" -v m="$SER_MIN_CPU" 'BEGIN { exit !(c >= m) }'; then
		SER[$k.fraction]=$(div "${SER[$k.serial_s]}" "${SER[$k.cpu_s]}" %.4f)
		SER[$k.lock_fraction]=$(div "${SER[$k.lock_s]}" "${SER[$k.cpu_s]}" %.4f)
		SER[$k.pipeline_fraction]=$(div "${SER[$k.pipeline_s]}" "${SER[$k.cpu_s]}" %.4f)
	else
		SERWHY[$k]="the edge used ${SER[$k.cpu_s]} CPU s in the run, under the $SER_MIN_CPU s a fraction needs"
	fi
	printf '  %-22s serial %s s (writer_lock %s, busiest view stripe %s of view_lock %s in %s stripes, commit_write CPU %s of %s, seal_write CPU %s) / edge CPU %s s' \
		"serial $k" "${SER[$k.serial_s]}" "${SER[$k.writer_lock_s]}" "${SER[$k.view_stripe_max_s]}" \
		"${SER[$k.view_lock_s]}" "${SER[$k.view_stripes]}" \
		"${SER[$k.commit_write_cpu_s]}" "${SER[$k.commit_write_s]}" "${SER[$k.seal_write_cpu_s]}" \
		"${SER[$k.cpu_s]}"
	printf ' = %s (locks %s, commit thread and seals %s); edge %s cores, CPU %s busy %s, CPU %s busy %s (central and broker %s of it)\n' \
		"${SER[$k.fraction]:-null}" "${SER[$k.lock_fraction]:-null}" \
		"${SER[$k.pipeline_fraction]:-null}" "${SER[$k.edge_cores]}" "$SERVER_CPU" \
		"${SER[$k.server_cpu_busy]}" "$LOAD_CPU" "${SER[$k.load_cpu_busy]}" \
		"${SER[$k.downstream_cores]}"
}

# Amdahl's bound on the speed-up of n workers for a serial fraction s.
amdahl() { # s n
	isnum "$1" || return 0
	awk -v s="$1" -v n="$2" 'BEGIN { d = s + (1 - s) / n; if (s >= 0 && d > 0) printf "%.2f", 1 / d }'
}

# ---- phases -------------------------------------------------------------------

bench_edge() {
	local base="http://127.0.0.1:$EDGE_PORT"
	uri_list "$TMP/likes.txt" "$base" /v1/items/post/ "$ITEMS"
	uri_list "$TMP/viral.txt" "$base" /v1/items/post/ "$ITEMS" viral
	batch_list "$TMP/batch.txt" "$base" 1200 "&counters=likes"
	batch_list "$TMP/batch_all.txt" "$base" 1200 ""
	local likes=$((ITEMS * CONNS))

	APPLIED0=$(central_metric ops_applied_total)
	BATCHES0=$(central_metric batches_applied_total)
	WRITES0=$(central_metric store_writes_total)

	echo "edge (pid $EDGE_PID) at $base"
	# Every item is new to the edge here: each like reads its count through
	# from central once. The later runs like the same items as other users.
	measure like_cold "$likes" "$TMP/likes.txt" cold 1 0
	serial_begin like
	measure like "$likes" "$TMP/likes.txt" warm 1 0
	serial_end like
	measure like_viral "$likes" "$TMP/viral.txt" viral 1 0
	serial_begin get
	measure get "$NREQ" "$TMP/likes.txt" reader 0 0
	serial_end get
	measure batch50 "$NBATCH" "$TMP/batch.txt" reader 0 0
	# The same batches without &counters= (every counter of every item).
	measure batch50_all "$((NBATCH / 5))" "$TMP/batch_all.txt" reader 0 0

	latency_run like_50 50 "${RATE[like]}" "$TMP/likes.txt" l50u 1
	like_50_own
	latency_run like_80 80 "${RATE[like]}" "$TMP/likes.txt" l80u 1
	latency_run get_50 50 "${RATE[get]}" "$TMP/likes.txt" reader 0
	latency_run get_80 80 "${RATE[get]}" "$TMP/likes.txt" reader 0

	LIKES_SENT=$((RATE_OK[like_cold] + RATE_OK[like] + RATE_OK[like_viral]))
	drain_central
	local rss
	read -r rss _ < <(mem_of "$EDGE_PID")
	EDGE_RSS_MB=$(kb_to_mb "$rss")
}

# Waits until central has applied every like POSTed (deduped repeats are
# batched too) or its counters stop moving; then takes the batching deltas.
drain_central() {
	local want=$((LIKES_SENT + LAT_LIKES))
	wait_applied "$APPLIED0" "$want" 60 5 || true
	OPS_APPLIED=$(($(central_metric ops_applied_total) - APPLIED0))
	BATCHES=$(($(central_metric batches_applied_total) - BATCHES0))
	WRITES=$(($(central_metric store_writes_total) - WRITES0))
	LIKES_TOTAL=$want
}

# CPU ticks (user + system) a process has used so far.
cpu_ticks() { # pid
	awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

# Waits until a process uses under a fifth of a CPU over one second, or
# warns at the deadline.
wait_idle() { # what seconds pid
	local what=$1 deadline=$((SECONDS + $2)) pid=$3 hz a b
	hz=$(getconf CLK_TCK)
	while ((SECONDS < deadline)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "bench: $what: the process is gone" >&2
			exit 1
		fi
		a=$(cpu_ticks "$pid")
		sleep 1
		b=$(cpu_ticks "$pid")
		if (((b - a) * 5 < hz)); then return 0; fi
	done
	WARN+=("$what was still busy after $2 s")
}

# Before a measured run: waits (up to a minute) until central, when it
# runs, is idle, so that it has applied what the runs before sent, then
# until the edge is, so that it has applied central's snapshots of them;
# a run then measures its own load only. It waits once per quiet spell:
# a load run (h2start) or an edge start ends the spell. Central runs at
# idle priority on the load CPU (BENCH_DOWNSTREAM_IDLE), so without this
# it would still be catching up with the last like run during the next.
settle() { # run-key
	((SETTLED)) && return 0
	SETTLED=1
	if [[ -n ${CENTRAL_PID:-} ]] && kill -0 "$CENTRAL_PID" 2>/dev/null; then
		wait_idle "central before $1" 60 "$CENTRAL_PID"
	fi
	if [[ -n ${EDGE_PID:-} ]] && kill -0 "$EDGE_PID" 2>/dev/null; then
		wait_idle "the edge before $1" 30 "$EDGE_PID"
	fi
}

SETTLED=0 # 1 from settle until the next load run or edge start

# True when build/sim lists the command in its help. Not `sim help | grep
# -q`: under pipefail that fails whenever grep quits before sim has
# written all its help and sim dies of SIGPIPE.
sim_has() { # command
	local help
	help=$("$BIN/sim" help 2>&1) || true
	[[ $help == *"$1"* ]]
}

# A number field of a one-line JSON object in a file; empty when absent.
json_field() { # file key
	# grep finds nothing (status 1) when the key is absent: empty, as
	# said, and not a failed pipeline that set -e would end the run on.
	{ grep -o "\"$2\"[[:space:]]*:[[:space:]]*[0-9.eE+-]*" "$1" 2>/dev/null || true; } |
		head -n 1 | sed 's/.*:[[:space:]]*//'
}

# Scaling from 1 to 2 HTTP workers (edge.workers). A two-core machine
# cannot give the edge two cores of its own and h2load another, so both
# runs use one placement: the edge and the load generators on both CPUs.
# Each worker count gets a like run (fresh users on known items) and a
# GET run; the ratio of the two rates is the figure.
bench_workers() {
	local w both="$SERVER_CPU,$LOAD_CPU" likes=$((ITEMS * CONNS))
	echo "workers: edge and h2load both on CPUs $both"
	for w in 1 2; do
		edge_start "edge-w$w" "$both" "" "$w"
		LOAD_CPU=$both measure "like_w$w" "$likes" "$TMP/likes.txt" "wk${w}u" 1 0
		LOAD_CPU=$both measure "get_w$w" "$NREQ" "$TMP/likes.txt" reader 0 0
	done
	edge_start edge "$SERVER_CPU"
}

# Durability's price (store.sync): the edge is restarted on its store with
# store.sync = true (each group commit's LevelDB write is fsynced before
# its answers leave), then with false (the default: the write reaches the
# OS, which writes it back later; safe against a crash of the process,
# not of the machine). Each gets a like run (fresh users on known items,
# the like run's size) and a paced run at half the fsync peak, the same
# offered load for both, so their latencies compare.
bench_sync() {
	local s c0 c1 likes=$((ITEMS * CONNS))
	echo "store.sync: like runs with fsync on, then off (edge on CPU $SERVER_CPU," \
		"data in $TMP: $(df -PT "$TMP" | awk 'NR == 2 { print $2 " on " $1 }'))"
	for s in true false; do
		edge_start "edge-sync-$s" "$SERVER_CPU" "" "" "$s"
		serial_begin "sync_$s"
		perf_begin "like_sync_$s"
		c0=$(edge_scrape | metric_sum likes_edge_store_commits_total)
		measure "like_sync_$s" "$likes" "$TMP/likes.txt" "sy${s}u" 1 0
		c1=$(edge_scrape | metric_sum likes_edge_store_commits_total)
		perf_end
		serial_end "sync_$s"
		# Likes answered per group commit: what one write (with fsync:
		# one fdatasync) is shared by.
		GROUP[like_sync_$s]=""
		if isnum "$c0" && isnum "$c1" && awk -v a="$c0" -v b="$c1" 'BEGIN { exit !(b > a) }'; then
			GROUP[like_sync_$s]=$(awk -v n="${RATE_OK[like_sync_$s]:-0}" -v a="$c0" -v b="$c1" \
				'BEGIN { printf "%.1f", n / (b - a) }')
		fi
		latency_run "like_sync_${s}_50" 50 "${RATE[like_sync_true]}" "$TMP/likes.txt" \
			"syl${s}u" 1
	done
	R[edge_like_sync_vs_nosync]=$(div "${RATE[like_sync_true]}" "${RATE[like_sync_false]}")
}

# Replication's price (the changelog): the edge restarted on its store
# with store.sync off and a [changelog] on a regional cluster of its own,
# a like run and a paced run, as bench_sync makes them. KIND embedded:
# a second embedded broker (librdkafka's mock on loopback, at the
# default priority on the load's CPU: every like's answer waits for its
# acknowledgement), the paced run at the fsync peak's half. KIND real:
# three real Apache Kafka nodes (sim kafka, the deployment's settings:
# replication factor 3, min.insync.replicas 2, acks=all, the JVMs'
# optimising compiler on), pinned to the load's CPU beside the load
# generator (two cores: the brokers share the load's), the paced run at
# half its own peak. The edge starts as a follower of an empty log and
# takes it over before the runs (the default takeover_ms, 2 s).
# Changelog records per like: the records its appends made during the
# like run (group commits and seals, not likes).
bench_replicated() { # embedded|real
	echo "changelog: a like run with every write copied to a regional cluster first" \
		"($1; edge on CPU $SERVER_CPU, the regional brokers on CPU $LOAD_CPU)"
	regional_start "$1"
	replicated_like "$1"
	stop "$REGIONAL_PID"
}

# Starts the regional cluster of KIND on the load's CPU, with the
# changelog's topic and any more --topic NAME:PARTITIONS given, and
# waits for it; sets REGIONAL_PID (sim broker, or sim kafka, whose
# children are the nodes' JVMs). Its bootstrap list is
# TMP/regional.bootstrap. The three JVMs on one CPU are given 240 s to
# be formatted, started and listed (sim kafka's default, 90 s, is short
# on a busy shared machine), and one more try after that.
regional_start() { # embedded|real [--topic NAME:PARTITIONS]...
	local kind=$1 try
	shift
	for try in 1 2; do
		rm -rf "$TMP/regional.bootstrap" "$TMP/kafka-regional"
		if [[ $kind == real ]]; then
			start regional "$LOAD_CPU" "$BIN/sim" kafka --nodes 3 --full-jit --start-ms 240000 \
				--dir "$TMP/kafka-regional" --topic likes.changelog:1 \
				--bootstrap-file "$TMP/regional.bootstrap" "$@"
		else
			start regional "$LOAD_CPU" "$BIN/sim" broker \
				--bootstrap-file "$TMP/regional.bootstrap" --topic likes.changelog:1 "$@"
		fi
		REGIONAL_PID=$LAST_PID
		wait_until "the regional cluster" 300 regional_up
		[[ -s $TMP/regional.bootstrap ]] && return 0
		stop "$REGIONAL_PID"
		WARN+=("the regional cluster ($kind) did not start at try $try of 2")
		echo "bench: the regional cluster did not start (try $try of 2)" >&2
	done
	exit 1
}
REGIONAL_PID=""

# The regional cluster is up, or its process is gone.
regional_up() {
	[[ -s $TMP/regional.bootstrap ]] || ! kill -0 "$REGIONAL_PID" 2>/dev/null
}

# The replicated like on the running regional cluster (regional_start):
# the edge restarted with its changelog there (replicated_edge_up), the
# like run (replicated_like_run), the paced run, the plain edge back. Its
# run's CPU per like counts the regional cluster's processes too
# (group_cpu).
replicated_like() { # embedded|real
	local kind=$1 key=like_replicated peak=${RATE[like_sync_true]:-}
	[[ $kind == real ]] && key=like_replicated_real
	replicated_edge_up "$key"
	[[ $kind == real ]] && cluster_warm replicated_warm "$TMP/likes.txt" rw "the edge"
	replicated_like_run "$key" "$key" "${kind:0:1}rpu"
	[[ $kind == real ]] && peak=${RATE[$key]:-}
	isnum "$peak" && latency_run "${key}_50" 50 "$peak" "$TMP/likes.txt" "${kind:0:1}rplu" 1
	edge_start edge "$SERVER_CPU"
	R[edge_${key}_vs_like]=$(div "${RATE[$key]:-}" "${RATE[like_sync_false]:-}")
}

# The edge restarted with store.sync off and its changelog on the
# running regional cluster (REGIONAL_PID), once it has taken the log
# over. edge_start edge brings the plain edge back.
replicated_edge_up() { # log-key
	local saved=${BENCH_EDGE_INI:-}
	BENCH_EDGE_INI="${saved:+$saved\n}[changelog]\nbootstrap_file = $TMP/regional.bootstrap"
	BENCH_EDGE_INI+="\npartition = 0"
	edge_start "edge-$1" "$SERVER_CPU" "" "" false
	BENCH_EDGE_INI=$saved
	wait_until "the edge's takeover of its changelog" 30 edge_writer
}

# One like run of the replicated edge (replicated_edge_up) under key, by
# users named from user, its CPU per like over the edge and the regional
# cluster; RECPL[group] and APPEND_MS from the changelog's metrics.
replicated_like_run() { # key group user
	local key=$1 group=$2 a0 a1 s0 s1 likes=$((ITEMS * CONNS))
	local MEASURE_ALSO=$REGIONAL_PID
	serial_begin "$key"
	perf_begin "$key"
	a0=$(edge_scrape | metric_sum likes_edge_changelog_appends_total)
	s0=$(edge_scrape | metric_float likes_edge_changelog_append_duration_seconds_sum)
	measure "$key" "$likes" "$TMP/likes.txt" "$3" 1 0
	a1=$(edge_scrape | metric_sum likes_edge_changelog_appends_total)
	s1=$(edge_scrape | metric_float likes_edge_changelog_append_duration_seconds_sum)
	perf_end
	serial_end "$key"
	if isnum "$a0" && isnum "$a1" && awk -v a="$a0" -v b="$a1" 'BEGIN { exit !(b > a) }'; then
		RECPL[$group]=$(awk -v n="${RATE_OK[$key]:-0}" -v a="$a0" \
			-v b="$a1" 'BEGIN { if (n > 0) printf "%.4f", (b - a) / n }')
		APPEND_MS=$(awk -v a="$a0" -v b="$a1" -v x="$s0" -v y="$s1" \
			'BEGIN { printf "%.3f", (y - x) * 1000 / (b - a) }')
		echo "  $key appends: $((a1 - a0)), mean $APPEND_MS ms from produce to acknowledgement"
	fi
}

# The edge's /readyz passes its writer check (it took its changelog over).
edge_writer() {
	curl -s --http2-prior-knowledge "http://127.0.0.1:$EDGE_PORT/readyz" |
		grep -q '"writer":{"ok":true'
}

# `sim/bench/bench.sh sync`: the stack, one untimed like run so every item is
# known, then bench_sync; a table and OUT/sync.json.
# The stack of the partial runs (sync, reads), with every item of
# TMP/likes.txt liked once, untimed, so each has a count.
stack_with_likes() {
	printf '{}' >"$TMP/body.json"
	LAT_LIKES=0
	start_stack "$DOWNSTREAM_CPU" "$SERVER_CPU"
	uri_list "$TMP/likes.txt" "http://127.0.0.1:$EDGE_PORT" /v1/items/post/ "$ITEMS"
	measure like_cold "$((ITEMS * CONNS))" "$TMP/likes.txt" cold 1 0
}

# `bench.sh converge`: the like peak, then BENCH_CONV_RUNS (3) convergence
# runs in a row on the same stack, each with users and probe items of its
# own and a new edge B (issue 69: p99 <= 2 s in each of three runs); every
# run's figures on a line and in $OUT/converge.json. Central and the
# broker as the full run has them in its convergence run.
main_converge() {
	local runs=${BENCH_CONV_RUNS:-3}
	mkdir -p "$OUT"
	need_tools "make deps" h2load curl ss taskset chrt
	DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	stack_with_likes
	measure like "$((ITEMS * CONNS))" "$TMP/likes.txt" warm 1 0
	converge_runs "$runs"
	stop_stack
	{
		printf '{\n  "date": %s,\n  "like_peak": %s,\n  "load_cpu": %s,\n  "runs": [\n' \
			"$(jstr "$DATE")" "$(jnum "${RATE[like]:-}")" "$(jnum "$CONV_LOAD_CPU")"
		jconv_runs '    '
		printf '\n  ],\n  "warnings": '
		jwarnings
		printf '\n}\n'
	} >"$OUT/converge.json"
	echo
	echo "convergence, $DATE, like peak ${RATE[like]:-?}/s, the like load on CPU $CONV_LOAD_CPU" \
		"(p99 target <= 2000 ms in each run)"
	printf '  %s\n' "${CONV_LINES[@]}"
	echo "written: $OUT/converge.json"
}

# Runs bench_converge N times in a row on the running stack, each with
# users and probe items of its own and a new edge B (issue 69: p99 <= 2 s
# in each of three runs). CONV keeps the last run's figures (and the
# run's settings, conv_settings); CONV_LINES a line per run, CONV_JSON an
# object per run, CONV_WORST_P50 and CONV_WORST_P99 the highest p50 and
# the highest p99 of the runs (each may come from a different run; both
# empty when a run has no samples or failed: WHY says which and why).
converge_runs() { # runs
	local i p50 p99
	CONV_LINES=() CONV_JSON=() CONV_WORST_P50="" CONV_WORST_P99=""
	for ((i = 1; i <= $1; i++)); do
		CONV=()
		bench_converge "r$i-"
		p50=${CONV[p50]:-} p99=${CONV[p99]:-}
		CONV_LINES+=("run $i: p50 ${p50:-null} p90 ${CONV[p90]:-null} p99 ${p99:-null} max ${CONV[max]:-null} ms, ${CONV[visible]:-?} of ${CONV[likes]:-?} visible, load ${CONV[load_rate]:-?}/s")
		CONV_JSON+=("{\"p50_ms\": $(jnum "$p50"), \"p99_ms\": $(jnum "$p99"), \"max_ms\": $(jnum "${CONV[max]:-}"), \"visible\": $(jnum "${CONV[visible]:-}"), \"likes\": $(jnum "${CONV[likes]:-}"), \"load_rate\": $(jnum "${CONV[load_rate]:-}")}")
		if isnum "$p50" && isnum "$p99"; then
			CONV_WORST_P50=$(fmax "$CONV_WORST_P50" "$p50")
			CONV_WORST_P99=$(fmax "$CONV_WORST_P99" "$p99")
		elif [[ -z ${WHY[convergence_p99_ms]:-} ]]; then
			# No sample: every like timed out or failed. A miss, said so.
			WHY[convergence_p50_ms]="run $i: ${CONV[visible]:-0} of ${CONV[likes]:-0} likes seen at edge B, ${CONV[timed_out]:-?} timed out, ${CONV[errors]:-?} failed"
			WHY[convergence_p99_ms]=${WHY[convergence_p50_ms]}
		fi
		stop "$EDGE_B_PID"
		EDGE_B_PID=""
	done
	# A run that failed or had no sample (its WHY says so) leaves no worst.
	if [[ -n ${WHY[convergence_p99_ms]:-} ]]; then CONV_WORST_P50="" CONV_WORST_P99=""; fi
	conv_settings
}

# The convergence runs' settings, into CONV (latest.json's "convergence").
conv_settings() {
	CONV[poll_ms]=$CONV_POLL_MS
	CONV[load_cpu]=$CONV_LOAD_CPU
	CONV[every_ms]=$CONV_EVERY_MS
	CONV[max_age_ms]=$CONV_AGE_MS
	CONV[snapshot_ms]=$SNAPSHOT_MS
}

# The larger of two numbers; the second when the first is empty.
fmax() { # a b
	awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b + 0 > a + 0) ? b : a }'
}

# CONV_JSON's objects, one a line, at indent.
jconv_runs() { # indent
	local sep="" o
	for o in "${CONV_JSON[@]+"${CONV_JSON[@]}"}"; do
		printf '%s%s%s' "$sep" "$1" "$o"
		sep=$',\n'
	done
}

# `bench.sh latency`: the like peak, then BENCH_LAT_RUNS (3) paced like
# runs at BENCH_LAT_PCT (50) percent of it, each with users of its own;
# prints what latency_run prints.
main_latency() {
	local i pct=${BENCH_LAT_PCT:-50}
	if ! [[ $pct =~ ^[0-9]+$ ]] || ((pct < 1 || pct > 100)); then
		echo "bench: BENCH_LAT_PCT must be a whole percent, 1-100, not '$pct'" >&2
		exit 1
	fi
	mkdir -p "$OUT"
	need_tools "make deps" h2load curl ss taskset chrt
	[[ -z ${BENCH_PERF:-} ]] || need_tools "make bench-deps" perf
	stack_with_likes
	perf_begin like
	measure like "$((ITEMS * CONNS))" "$TMP/likes.txt" warm 1 0
	perf_end
	if ! [[ ${RATE[like]} =~ ^[0-9]+$ ]] || ((RATE[like] == 0)); then
		echo "bench: no like peak to pace at" >&2
		exit 1
	fi
	for ((i = 1; i <= ${BENCH_LAT_RUNS:-3}; i++)); do
		latency_run "like_${pct}_$i" "$pct" "${RATE[like]}" "$TMP/likes.txt" "l${pct}r${i}u" 1
	done
	stop_stack
	local w
	for w in "${WARN[@]+"${WARN[@]}"}"; do echo "warning: $w"; done
}

main_sync() {
	mkdir -p "$OUT"
	need_tools "make deps" h2load curl ss taskset chrt
	[[ -z ${BENCH_PERF:-} ]] || need_tools "make bench-deps" perf
	DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	MACHINE="$(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(uname -r)"
	stack_with_likes
	bench_sync
	bench_replicated embedded
	bench_replicated real
	stop_stack
	{
		printf '{\n  "date": %s,\n  "machine": %s,\n' "$(jstr "$DATE")" "$(jstr "$MACHINE")"
		printf '  "edge_like_sync_vs_nosync": %s,\n' "$(jnum "${R[edge_like_sync_vs_nosync]}")"
		printf '  "edge_like_replicated_vs_like": %s,\n' \
			"$(jnum "${R[edge_like_replicated_vs_like]:-}")"
		printf '  "edge_like_replicated_real_vs_like": %s,\n' \
			"$(jnum "${R[edge_like_replicated_real_vs_like]:-}")"
		printf '  "edge_like_replicated_real_p99_ms": %s,\n' \
			"$(jnum "${LAT[like_replicated_real_50.p99]:-}")"
		printf '  "changelog_records_per_like": %s,\n  "rates_per_s": {\n' \
			"$(jnum "${RECPL[like_replicated]:-}")"
		jobject '    ' RATE like_cold like_sync_true like_sync_false like_replicated \
			like_replicated_real
		printf '\n  },\n  "per_server_cpu_s": {\n'
		jobject '    ' CORE like_cold like_sync_true like_sync_false
		printf '\n  },\n  "likes_per_group": {\n'
		jobject '    ' GROUP like_sync_true like_sync_false
		printf '\n  },\n  "latency_ms": {\n'
		jobject '    ' LAT like_sync_true_50.target like_sync_true_50.rate \
			like_sync_true_50.p50 like_sync_true_50.p99 like_sync_true_50.p999 \
			like_sync_false_50.target like_sync_false_50.rate like_sync_false_50.p50 \
			like_sync_false_50.p99 like_sync_false_50.p999 like_replicated_50.target \
			like_replicated_50.rate like_replicated_50.p50 like_replicated_50.p99 \
			like_replicated_50.p999 like_replicated_real_50.target \
			like_replicated_real_50.rate like_replicated_real_50.p50 \
			like_replicated_real_50.p99 like_replicated_real_50.p999
		printf '\n  },\n  "warnings": '
		jwarnings
		printf '\n}\n'
	} >"$OUT/sync.json"
	echo
	echo "store.sync, $DATE, $MACHINE"
	print_sync
	echo "written: $OUT/sync.json"
}

# ---- the durable like against its peers (bench.sh peers, issue 69) ----------

PEER_TOPIC=peer.likes # the bare producer's topic, one partition as the changelog's
PEER_WARM=${BENCH_PEER_WARM:-$ITEMS} # untimed likes through the bare producer first

# The bare producer (build/peer_produce) on the server's CPU against the
# running real cluster; sets PP_PID and PP_LIST (its URI list).
peer_produce_start() { # log-name
	free_port
	start "$1" "$SERVER_CPU" "$BIN/peer_produce" --bootstrap-file "$TMP/regional.bootstrap" \
		--topic "$PEER_TOPIC" --port "$PORT"
	PP_PID=$LAST_PID
	wait_until "peer_produce /healthz" 60 curl -sf --http2-prior-knowledge \
		"http://127.0.0.1:$PORT/healthz"
	PP_LIST=$TMP/peer_produce.$PORT.txt
	uri_list "$PP_LIST" "http://127.0.0.1:$PORT" /v1/items/post/ "$ITEMS"
}

# Kafka's share, before any peer is measured: a fresh cluster's JVMs
# compile their hot paths under the first load, and here kept getting
# faster for minutes (rounds of 2.6K, 9.6K and 13.9K likes/s for the edge
# after a single warm-up run), which would fall on whichever peer came
# first. Untimed runs of PEER_WARM likes through the running bare
# producer until one is no more than 10% faster than the run before it
# (at most PEER_WARM_RUNS), then one through the running edge.
peer_warm() {
	((PEER_WARM > 0)) || return 0
	cluster_warm peer_warm "$PP_LIST" warm peer_produce
	local rate
	h2run peer_warm_edge "$PEER_WARM" "$TMP/likes.txt" warmeu 1 0
	read -r rate _ <<<"$H2"
	echo "  and $PEER_WARM likes through the edge, $rate/s (not measured)"
}

# Untimed runs of PEER_WARM likes over uri-list (users prefixN...) until
# one is no more than 10% faster than the run before it, at most
# PEER_WARM_RUNS: a real cluster warmed through what the list names
# (peer_warm; the replicated like on real Kafka, where a cold cluster
# spent 192 us of broker CPU a like against about 40 us warm).
cluster_warm() { # name uri-list user-prefix through
	((PEER_WARM > 0)) || return 0
	local i rate prev=0
	for ((i = 1; i <= PEER_WARM_RUNS; i++)); do
		h2run "${1}_$i" "$PEER_WARM" "$2" "$3${i}u" 1 0
		read -r rate _ <<<"$H2"
		echo "  warming the cluster: $PEER_WARM likes through $4, $rate/s (not measured)"
		if ((i > 1)) && awk -v a="$prev" -v b="$rate" 'BEGIN { exit !(b <= a * 1.1) }'; then
			return 0
		fi
		prev=$rate
	done
	WARN+=("the cluster still got faster after $PEER_WARM_RUNS warm-up runs through $4")
}
PEER_WARM_RUNS=${BENCH_PEER_WARM_RUNS:-8}

# One like run of the bare producer (peer_produce_start) under key, by
# users named from user, its CPU per like over itself and the cluster.
peer_kafka_run() { # key user
	local CORE_PID=$PP_PID MEASURE_ALSO=$REGIONAL_PID
	SETTLED=0
	measure "$1" "$((ITEMS * CONNS))" "$PP_LIST" "$2" 1 0
}

# The rounds KEY_r1..KEY_rN of a peer taken in turns with another: the
# median rate as RATE[key], with that round's CPU per like, and every
# round's rate in ROUNDS[key].
# A round that measured nothing (its rate empty or 0: the run failed)
# is listed in ROUNDS but never taken as the median; a warning says so.
peer_median() { # key rounds
	local key=$1 n=$2 r rates="" all="" mid ok=0
	for ((r = 1; r <= n; r++)); do
		all+="${all:+ }${RATE[${key}_r$r]:-0}"
		if awk -v v="${RATE[${key}_r$r]:-0}" 'BEGIN { exit !(v > 0) }'; then
			rates+="${RATE[${key}_r$r]} $r"$'\n'
			ok=$((ok + 1))
		fi
	done
	((ok == n)) || WARN+=("$key: $((n - ok)) of $n rounds measured nothing; the median is of $ok")
	mid=$(printf '%s' "$rates" | sort -n | awk -v n="$ok" 'NR == int((n + 1) / 2) { print $2 }')
	ROUNDS[$key]=$all
	[[ -n $mid ]] || return 0
	RATE[$key]=${RATE[${key}_r$mid]:-}
	local f
	for f in server also total; do PCPU[$key.$f]=${PCPU[${key}_r$mid.$f]:-}; done
	echo "  $key: median ${RATE[$key]:-} likes/s of rounds ${ROUNDS[$key]} (round $mid's CPU)"
}
declare -A ROUNDS
PEER_ROUNDS=${BENCH_PEER_ROUNDS:-4}

# A redis_wait run: key, likes, users' prefix, rate (0: the peak). Fills
# RATE[key] or LAT[key.*] (a paced key ends in _50), and PCPU[key.*] over
# the master (server) and the replica.
redis_wait_run() { # key likes user rate master-pid replica-pid port sha
	local key=$1 n=$2 user=$3 rate=$4 m=$5 r=$6 t0 t1 out=$TMP/redis_wait.$1.out
	t0="$(cpu_ticks "$m") $(cpu_ticks "$r")" || t0=""
	run "$LOAD_CPU" "$BIN/redis_wait" --port "$7" --sha "$8" --likes "$n" --items "$ITEMS" \
		--conns "$CONNS" --depth "$DEPTH" --user "$user" --rate "$rate" >"$out" ||
		WARN+=("$key: redis_wait failed: $(tr '\n' ' ' <"$out")")
	t1="$(cpu_ticks "$m") $(cpu_ticks "$r")" || t1=""
	local -A v=()
	local k val
	while IFS='=' read -r k val; do v[$k]=$val; done <"$out"
	if ((rate > 0)); then
		LAT[$key.target]=$rate LAT[$key.rate]=${v[rate]:-} LAT[$key.p50]=${v[p50_ms]:-}
		LAT[$key.p99]=${v[p99_ms]:-} LAT[$key.p999]=${v[p999_ms]:-}
		printf '  %-22s target %6s/s got %6s/s  p50 %s  p99 %s  p999 %s ms\n' "$key" "$rate" \
			"${v[rate]:-}" "${v[p50_ms]:-}" "${v[p99_ms]:-}" "${v[p999_ms]:-}"
	else
		RATE[$key]=${v[rate]:-}
		group_cpu "$key" "${v[ok]:-0}" "$t0" "$t1"
		printf '  %-22s %10s likes/s  (%s ok, %s failed; redis_wait %s CPU s%s)\n' "$key" \
			"${v[rate]:-}" "${v[ok]:-}" "${v[failed]:-}" "${v[client_cpu_s]:-}" \
			"$(group_cpu_says "$key")"
	fi
}

# The replica has caught up with the master (WAIT 1 0 would block for
# ever without one).
redis_replica_online() { # master-port
	redis-cli -p "$1" INFO replication | grep -q '^slave0:.*state=online'
}

# Redis with a replica: the master on the server's CPU, the replica on
# the load's (where the brokers ran), neither saving to disk (the
# replica is the copy, as the brokers are the edge's); the like script,
# then WAIT 1 0 for each like, from redis_wait with the h2load runs'
# connections and likes in flight.
peer_redis() {
	local mport rport m r sha half n
	free_port
	mport=$PORT
	free_port
	rport=$PORT
	mkdir -p "$TMP/redis-master" "$TMP/redis-replica"
	start redis-master "$SERVER_CPU" redis-server --bind 127.0.0.1 --port "$mport" \
		--dir "$TMP/redis-master" --save '' --appendonly no
	m=$LAST_PID
	wait_until "the Redis master" 10 redis-cli -p "$mport" ping
	start redis-replica "$LOAD_CPU" redis-server --bind 127.0.0.1 --port "$rport" \
		--dir "$TMP/redis-replica" --save '' --appendonly no --replicaof 127.0.0.1 "$mport"
	r=$LAST_PID
	wait_until "the Redis replica in sync" 30 redis_replica_online "$mport"
	sha=$(redis-cli -p "$mport" SCRIPT LOAD "$REDIS_LIKE_LUA")
	echo "redis: master (pid $m, CPU $SERVER_CPU), replica (pid $r, CPU $LOAD_CPU), redis_wait" \
		"on CPU $LOAD_CPU: $CONNS connections x $DEPTH likes in flight, EVALSHA then WAIT 1 0"
	redis_wait_run redis_wait "$((ITEMS * CONNS))" rwu 0 "$m" "$r" "$mport" "$sha"
	if isnum "${RATE[redis_wait]:-}" && ((RATE[redis_wait] > 0)); then
		half=$((RATE[redis_wait] / 2))
		n=$((half * LAT_S))
		if ((n > ITEMS * CONNS)); then n=$((ITEMS * CONNS)); fi
		redis_wait_run redis_wait_50 "$n" rwlu "$half" "$m" "$r" "$mport" "$sha"
	fi
	stop "$r"
	stop "$m"
}

# `bench.sh peers` (make bench-peers): the edge's replicated like against
# the peers a team would build instead, each on the same guarantee (an
# acknowledged like is on two machines) and, where the peer speaks HTTP,
# the same h2load settings. One real three-node cluster (sim kafka, as
# bench_replicated real starts it) serves both Kafka peers: the edge with
# its changelog there (replicated_edge_up, on the stack with every item
# liked once) and the bare producer (peer_produce_start), both up at once
# and, once the cluster is warm (peer_warm), measured in turns,
# PEER_ROUNDS (BENCH_PEER_ROUNDS, 4) like runs each, the median round
# taken (peer_median); then Redis with a replica
# and WAIT (peer_redis). For each: likes/s, CPU per like over all its
# processes, the p99 of a paced run at half its own peak. Writes
# OUT/peers.json.
main_peers() {
	mkdir -p "$OUT"
	need_tools "make deps" h2load curl ss taskset chrt redis-server redis-cli pgrep java
	peers_begin peer_produce redis_wait sim edge central
	if (($(nproc) >= 2)); then
		PLACEMENT="CPU $SERVER_CPU: the edge, peer_produce, the Redis master;"
		PLACEMENT+=" CPU $LOAD_CPU: the three Kafka nodes (JVMs), the Redis replica, h2load and"
		PLACEMENT+=" redis_wait, and the edge's embedded broker and central"
		[[ $BENCH_DOWNSTREAM_IDLE == 1 ]] && PLACEMENT+=" (those two under SCHED_IDLE)"
		PLACEMENT+="; central's apply run and the two Kafka Streams JVMs on CPU $SERVER_CPU,"
		PLACEMENT+=" sim produce-batches on CPU $LOAD_CPU"
	else
		PLACEMENT="one CPU: nothing pinned"
	fi
	echo "placement: $PLACEMENT"
	stack_with_likes
	echo "peers: one real three-node cluster (sim kafka, replication 3, min.insync.replicas 2)" \
		"on CPU $LOAD_CPU for both Kafka peers"
	regional_start real --topic "$PEER_TOPIC:1" "${KS_TOPICS[@]}"
	echo "  cluster: sim kafka pid $REGIONAL_PID, nodes (JVMs) pids" \
		"$(pgrep -d ' ' -P "$REGIONAL_PID" || true)"
	# The two Kafka peers take turns on the same warm cluster, round by
	# round: run one after the other, the second had the brokers' JIT
	# further along (a fresh cluster's appends kept getting faster for
	# minutes here), which a single run of each charged to the first.
	echo "the edge (CPU $SERVER_CPU, its changelog on the cluster) and peer_produce" \
		"(CPU $SERVER_CPU), $PEER_ROUNDS rounds each, in turns:"
	replicated_edge_up like_replicated_real
	peer_produce_start peer-produce
	peer_warm
	# In turns, each first in every other round (ABBA): a drift left over
	# from the warm-up falls on both alike.
	local r
	for ((r = 1; r <= PEER_ROUNDS; r++)); do
		if ((r % 2)); then
			replicated_like_run "like_replicated_real_r$r" like_replicated_real "rpu${r}x"
			peer_kafka_run "kafka_produce_r$r" "kpu${r}x"
		else
			peer_kafka_run "kafka_produce_r$r" "kpu${r}x"
			replicated_like_run "like_replicated_real_r$r" like_replicated_real "rpu${r}x"
		fi
	done
	peer_median like_replicated_real "$PEER_ROUNDS"
	peer_median kafka_produce "$PEER_ROUNDS"
	isnum "${RATE[like_replicated_real]:-}" && ((RATE[like_replicated_real] > 0)) &&
		latency_run like_replicated_real_50 50 "${RATE[like_replicated_real]}" \
			"$TMP/likes.txt" rrplu 1
	isnum "${RATE[kafka_produce]:-}" && ((RATE[kafka_produce] > 0)) &&
		latency_run kafka_produce_50 50 "${RATE[kafka_produce]}" "$PP_LIST" kplu 1
	# Issue 69 compares the like's p99 at half its peak with the bare
	# producer's at the same rate: a paced run of peer_produce at the
	# edge's half peak too.
	isnum "${RATE[like_replicated_real]:-}" && ((RATE[like_replicated_real] > 0)) &&
		latency_run kafka_produce_at_like_50 50 "${RATE[like_replicated_real]}" "$PP_LIST" \
			kplsu 1
	stop "$PP_PID"
	stop_stack
	bench_kstreams
	stop "$REGIONAL_PID"
	peer_redis
	R[edge_like_replicated_real_vs_redis_wait]=$(div "${RATE[like_replicated_real]:-}" \
		"${RATE[redis_wait]:-}")
	R[edge_like_replicated_real_vs_kafka_produce]=$(div "${RATE[like_replicated_real]:-}" \
		"${RATE[kafka_produce]:-}")
	# Per CPU: the peer's CPU per like over the edge's (above 1: the edge
	# does a like on less CPU).
	R[edge_like_replicated_real_vs_redis_wait_per_cpu]=$(div "${PCPU[redis_wait.total]:-}" \
		"${PCPU[like_replicated_real.total]:-}")
	R[edge_like_replicated_real_vs_kafka_produce_per_cpu]=$(div \
		"${PCPU[kafka_produce.total]:-}" "${PCPU[like_replicated_real.total]:-}")
	write_peers
	peers_end peers print_peers
}

# The start of the peers' modes: exits unless each program is built
# (make bench-peers builds them); sets DATE and MACHINE.
peers_begin() { # program...
	local t
	for t in "$@"; do
		[[ -x $BIN/$t ]] || {
			echo "bench: $BIN/$t is missing (make bench-peers builds it)" >&2
			exit 1
		}
	done
	DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	MACHINE="$(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(uname -r)"
}

# The end of the peers' modes: a header, what PRINT says, the warnings,
# the JSON file (OUT/NAME.json); exits 1 after a counts mismatch
# (bench_kstreams).
peers_end() { # name print-function
	echo
	echo "$1, $DATE, $MACHINE"
	"$2"
	local w
	for w in "${WARN[@]+"${WARN[@]}"}"; do echo "warning: $w"; done
	echo "written: $OUT/$1.json"
	((KS_FAILED == 0)) || exit 1
}

PEERS=(like_replicated_real kafka_produce redis_wait)

write_peers() {
	local k f pc=() lat=()
	for k in "${PEERS[@]}"; do
		for f in server also total; do pc+=("$k.$f"); done
		for f in target rate p50 p99 p999; do lat+=("${k}_50.$f"); done
	done
	for f in target rate p50 p99 p999; do lat+=("kafka_produce_at_like_50.$f"); done
	{
		printf '{\n  "date": %s,\n  "machine": %s,\n  "placement": %s,\n' "$(jstr "$DATE")" \
			"$(jstr "$MACHINE")" "$(jstr "$PLACEMENT")"
		printf '  "settings": %s,\n' "$(jstr "h2load and redis_wait: $CONNS connections x $DEPTH in flight; $ITEMS items; paced runs ${LAT_S}s at half of each peer's own peak")"
		jobject '  ' R edge_like_replicated_real_vs_redis_wait \
			edge_like_replicated_real_vs_kafka_produce \
			edge_like_replicated_real_vs_redis_wait_per_cpu \
			edge_like_replicated_real_vs_kafka_produce_per_cpu central_apply_vs_kstreams_per_core
		printf ',\n  "p99_ms_at_half_peak": {\n'
		jobject '    ' LAT like_replicated_real_50.p99 kafka_produce_50.p99 redis_wait_50.p99 \
			kafka_produce_at_like_50.p99 kafka_produce_at_like_50.rate
		printf '\n  },\n  "rates_per_s": {\n'
		jobject '    ' RATE "${PEERS[@]}"
		printf '\n  },\n  "cpu_us_per_like": {\n'
		jobject '    ' PCPU "${pc[@]}"
		printf '\n  },\n  "latency_ms": {\n'
		jobject '    ' LAT "${lat[@]}"
		printf '\n  },\n  "rounds_likes_per_s": {\n'
		printf '    "like_replicated_real": %s,\n    "kafka_produce": %s\n' \
			"$(jstr "${ROUNDS[like_replicated_real]:-}")" "$(jstr "${ROUNDS[kafka_produce]:-}")"
		printf '  },\n  "changelog_records_per_like": %s,\n' \
			"$(jnum "${RECPL[like_replicated_real]:-}")"
		printf '  "kstreams": '
		jkstreams
		printf ',\n  "warnings": '
		jwarnings
		printf '\n}\n'
	} >"$OUT/peers.json"
}

print_peers() {
	local k name
	printf '| %-36s | %8s | %22s | %9s | %7s | %7s | %7s |\n' peer "likes/s" \
		"CPU us/like (srv+copy)" "paced /s" "p50 ms" "p99 ms" "p999 ms"
	printf '|%s|%s|%s|%s|%s|%s|%s|\n' -------------------------------------- ---------- \
		------------------------ ----------- --------- --------- ---------
	for k in "${PEERS[@]}"; do
		case $k in
		like_replicated_real) name="edge like, changelog on 3 nodes" ;;
		kafka_produce) name="peer_produce: 1 record, acks=all" ;;
		redis_wait) name="Redis + replica, EVALSHA + WAIT 1 0" ;;
		esac
		printf '| %-36s | %8s | %22s | %9s | %7s | %7s | %7s |\n' "$name" "${RATE[$k]:-}" \
			"${PCPU[$k.total]:-} (${PCPU[$k.server]:-}+${PCPU[$k.also]:-})" \
			"${LAT[${k}_50.rate]:-}" "${LAT[${k}_50.p50]:-}" "${LAT[${k}_50.p99]:-}" \
			"${LAT[${k}_50.p999]:-}"
	done
	echo "edge / Redis + WAIT: ${R[edge_like_replicated_real_vs_redis_wait]:-null} by rate," \
		"${R[edge_like_replicated_real_vs_redis_wait_per_cpu]:-null} per CPU (target by rate >= 1.5)"
	echo "edge / bare producer: ${R[edge_like_replicated_real_vs_kafka_produce]:-null} by rate," \
		"${R[edge_like_replicated_real_vs_kafka_produce_per_cpu]:-null} per CPU (target by rate >= 0.8)"
	echo "peer_produce paced at the edge's half peak: ${LAT[kafka_produce_at_like_50.rate]:-null}/s," \
		"p50 ${LAT[kafka_produce_at_like_50.p50]:-null} p99 ${LAT[kafka_produce_at_like_50.p99]:-null} ms;" \
		"the edge's p99 over it $(div "${LAT[like_replicated_real_50.p99]:-}" \
			"${LAT[kafka_produce_at_like_50.p99]:-}") (target <= 1.5)"
	echo "rounds, likes/s, in turns: the edge ${ROUNDS[like_replicated_real]:-none}," \
		"peer_produce ${ROUNDS[kafka_produce]:-none} (the table: each one's median round)"
	echo "the edge's changelog records per like: ${RECPL[like_replicated_real]:-null}"
	print_kstreams
	echo "placement: $PLACEMENT"
}

# The lines under the table for bench_mixed and the serial samples.
print_mixed() {
	local s k
	for s in false true; do
		echo "GET at 50%, store.sync $s, p50/p99/p999 ms:" \
			"alone ${LAT[get_50_alone_sync_$s.p50]:-}/${LAT[get_50_alone_sync_$s.p99]:-}/${LAT[get_50_alone_sync_$s.p999]:-}" \
			"(${LAT[get_50_alone_sync_$s.rate]:-null}/s)," \
			"with likes ${LAT[get_50_mixed_sync_$s.p50]:-}/${LAT[get_50_mixed_sync_$s.p99]:-}/${LAT[get_50_mixed_sync_$s.p999]:-}" \
			"(${LAT[get_50_mixed_sync_$s.rate]:-null}/s);" \
			"the likes ${LAT[like_50_mixed_sync_$s.p50]:-}/${LAT[like_50_mixed_sync_$s.p99]:-}/${LAT[like_50_mixed_sync_$s.p999]:-}" \
			"(${LAT[like_50_mixed_sync_$s.rate]:-null} of ${LAT[like_50_mixed_sync_$s.target]:-null}/s)"
	done
	echo "control, nghttpd, GET at the edge's 50% p50/p99/p999 ms:" \
		"alone ${LAT[bare_get_50_alone.p50]:-}/${LAT[bare_get_50_alone.p99]:-}/${LAT[bare_get_50_alone.p999]:-}" \
		"(${LAT[bare_get_50_alone.rate]:-null}/s)," \
		"with POSTs ${LAT[get_50_bare_mixed.p50]:-}/${LAT[get_50_bare_mixed.p99]:-}/${LAT[get_50_bare_mixed.p999]:-}" \
		"(${LAT[get_50_bare_mixed.rate]:-null}/s; POSTs ${LAT[post_50_bare_mixed.rate]:-null} of" \
		"${LAT[post_50_bare_mixed.target]:-null}/s); load CPU $LOAD_CPU busy ${SER[bare_mixed.load_cpu_busy]:-null}"
	echo "serial time over the edge's CPU time, s (writer_lock + busiest view stripe + commit_write CPU + seal_write CPU seconds" \
		"/ edge CPU seconds; edge cores; load CPU $LOAD_CPU busy, by the load generators alone):"
	for k in "${SER_RUNS[@]}"; do
		if [[ -n ${SERWHY[$k]:-} ]]; then
			echo "  $k: null: ${SERWHY[$k]}"
			continue
		fi
		echo "  $k: ${SER[$k.fraction]:-null} = (${SER[$k.writer_lock_s]:-} + ${SER[$k.view_stripe_max_s]:-}" \
			"+ ${SER[$k.commit_write_cpu_s]:-} + ${SER[$k.seal_write_cpu_s]:-}) / ${SER[$k.cpu_s]:-};" \
			"${SER[$k.edge_cores]:-} cores;" \
			"${SER[$k.load_cpu_busy]:-}, ${SER[$k.load_gen_busy]:-}"
	done
	echo "Amdahl bounds from the like+GET mixed run's s, store.sync off (${R[serial_fraction_mixed]:-null});" \
		"from the worst of the like and GET runs (${S_WORST:-null}): 4 workers $(amdahl "${S_WORST:-}" 4)," \
		"8 workers $(amdahl "${S_WORST:-}" 8), 16 workers $(amdahl "${S_WORST:-}" 16)"
}

# The store.sync lines of the table.
print_sync() {
	local s
	printf '| %-16s | %9s | %14s | %8s | %8s | %8s |\n' store.sync "likes/s" "paced at (/s)" \
		"p50 ms" "p99 ms" "p999 ms"
	printf '|%s|%s|%s|%s|%s|%s|\n' ------------------ ----------- ---------------- \
		---------- ---------- ----------
	for s in false true; do
		printf '| %-16s | %9s | %14s | %8s | %8s | %8s |\n' "$s" "${RATE[like_sync_$s]:-}" \
			"${LAT[like_sync_${s}_50.rate]:-}" "${LAT[like_sync_${s}_50.p50]:-}" \
			"${LAT[like_sync_${s}_50.p99]:-}" "${LAT[like_sync_${s}_50.p999]:-}"
	done
	echo "fsync on / off, like rate: ${R[edge_like_sync_vs_nosync]:-null}; per edge CPU second:" \
		"$(div "${CORE[like_sync_true]:-}" "${CORE[like_sync_false]:-}")"
	echo "likes per group commit: fsync on ${GROUP[like_sync_true]:-null}," \
		"off ${GROUP[like_sync_false]:-null} (${DEPTH} streams x $CONNS connections in flight)"
	if [[ -n ${RATE[like_replicated]:-} ]]; then
		printf '| %-16s | %9s | %14s | %8s | %8s | %8s |\n' "false+changelog" \
			"${RATE[like_replicated]:-}" "${LAT[like_replicated_50.rate]:-}" \
			"${LAT[like_replicated_50.p50]:-}" "${LAT[like_replicated_50.p99]:-}" \
			"${LAT[like_replicated_50.p999]:-}"
		echo "changelog on / off, like rate: ${R[edge_like_replicated_vs_like]:-null};" \
			"changelog records per like: ${RECPL[like_replicated]:-null}"
	fi
	if [[ -n ${RATE[like_replicated_real]:-} ]]; then
		printf '| %-16s | %9s | %14s | %8s | %8s | %8s |\n' "false+real Kafka" \
			"${RATE[like_replicated_real]:-}" "${LAT[like_replicated_real_50.rate]:-}" \
			"${LAT[like_replicated_real_50.p50]:-}" "${LAT[like_replicated_real_50.p99]:-}" \
			"${LAT[like_replicated_real_50.p999]:-}"
		echo "changelog on real Kafka (3 nodes, acks=all, min.insync.replicas 2) / off, like" \
			"rate: ${R[edge_like_replicated_real_vs_like]:-null}; records per like:" \
			"${RECPL[like_replicated_real]:-null}; p99 at half its peak:" \
			"${LAT[like_replicated_real_50.p99]:-null} ms"
	fi
}

# Reads beside writes: GETs paced at half the GET peak with nothing else
# running, then again while likes flow at half the like peak (two paced
# groups at once, both on the load CPU), the GET p99 of the second over
# the first; with store.sync off, then on (the edge restarted on its
# store for each, as bench_sync does). The like peak is the one bench_sync
# measured with the same store.sync, so the like group offers the edge
# the same share of what it can take either way; the GET peak is the get
# run's (a read never waits for an fsync, which is what is being tested).
# Both groups run the same seconds, shorter than LAT_S when the like
# group's distinct (user, item) pairs would run out first. Each alone and
# each mixed run is also a serial fraction sample.
bench_mixed() {
	local s lpeak key
	if ! isnum "${RATE[get]:-}" || ((RATE[get] <= 0)); then
		WHY[get_p99_mixed_vs_alone]="no GET peak to pace at (the get run failed)"
		WHY[get_p99_mixed_vs_alone_sync]=${WHY[get_p99_mixed_vs_alone]}
		return 0
	fi
	echo "mixed: GETs at 50% of the GET peak alone, then with likes at 50% of the like peak" \
		"(same store.sync), edge on CPU $SERVER_CPU"
	for s in false true; do
		key=get_p99_mixed_vs_alone
		[[ $s == true ]] && key+=_sync
		lpeak=${RATE[like_sync_$s]:-}
		if ! isnum "$lpeak" || ((lpeak <= 0)); then
			WHY[$key]="no like peak with store.sync = $s to pace at (bench_sync's run failed)"
			continue
		fi
		edge_start "edge-mixed-$s" "$SERVER_CPU" "" "" "$s"
		serial_begin "get_alone_sync_$s"
		latency_run "get_50_alone_sync_$s" 50 "${RATE[get]}" "$TMP/likes.txt" reader 0
		serial_end "get_alone_sync_$s"
		serial_begin "mixed_sync_$s"
		mixed_pair "mixed_sync_$s" "$lpeak" "$TMP/likes.txt" "$TMP/likes.txt" "mx${s}u"
		serial_end "mixed_sync_$s"
		load_busy_warn "mixed_sync_$s"
	done
}

# Seconds both groups of a mixed run last: LAT_S, or less when a like
# group at half the like peak would run out of distinct (user, item)
# pairs first.
mixed_secs() { # like-peak
	local rate=$(($1 / 2)) most
	((rate > 0)) || rate=1
	most=$((ITEMS * CONNS / rate))
	((most >= 1)) || most=1
	echo $((most < LAT_S ? most : LAT_S))
}

# The two paced groups of a mixed run at once, on the load CPU: POSTs at
# half like-peak (LAT[<post>_50_<name>.*], post "like" unless given) and
# GETs at half the edge's GET peak (LAT[get_50_<name>.*]), for the same
# seconds; then warns when either fell short of its pace, which says the
# load generator could not keep up and its own queueing is in the
# latencies.
mixed_pair() { # name like-peak get-list post-list user [post]
	local name=$1 post=${6:-like} secs g
	secs=$(mixed_secs "$2")
	echo "  $name: both groups for ${secs}s"
	settle "$name"
	lat_start "${post}_50_$name" 50 "$2" "$4" "$5" 1 "$secs"
	lat_start "get_50_$name" 50 "${RATE[get]}" "$3" reader 0 "$secs"
	lat_end "${post}_50_$name"
	lat_end "get_50_$name"
	for g in "${post}_50_$name" "get_50_$name"; do
		if awk -v r="${LAT[$g.rate]}" -v t="${LAT[$g.target]}" 'BEGIN { exit !(r < 0.95 * t) }'; then
			WARN+=("$g: got ${LAT[$g.rate]}/s of the ${LAT[$g.target]}/s it was paced at")
		fi
	done
}

# Warns when the load generators kept the load CPU at least 90% busy in a
# serial sample's run (central's and the broker's share of it left out).
load_busy_warn() { # sample
	local b=${SER[$1.load_gen_busy]:-${SER[$1.load_cpu_busy]:-none}}
	if awk -v b="$b" 'BEGIN { exit !(b != "none" && b >= 0.9) }'; then
		WARN+=("$1: the load generators kept the load CPU ($LOAD_CPU) $b busy: h2load's own delays are in its latencies")
	fi
}

# End-to-end convergence: ack at edge A -> visible at edge B. Edge A is
# restarted on its store with batch.max_age_ms = CONV_AGE_MS, and edge B
# (another region, its own store) joins. A steady like load goes to A while
# sim converge-probe likes a fresh item at A every CONV_EVERY_MS and polls
# B's counts every CONV_POLL_MS until each like shows there. What bounds a
# sample: the like waits in A's open batch until the batch is full
# (batch.max_ops) or CONV_AGE_MS old; Kafka takes it to central, which
# applies it and publishes it in its next snapshot (every SNAPSHOT_MS);
# Kafka takes that to B. So about CONV_AGE_MS + SNAPSHOT_MS + transit at
# worst, less when the load fills batches sooner.
bench_converge() { # [tag: a run's own users and probe items, for runs in a row]
	local tag=${1:-}
	if ! sim_has converge-probe; then
		WHY[convergence_p50_ms]="build/sim has no converge-probe command"
		WHY[convergence_p99_ms]=${WHY[convergence_p50_ms]}
		return 0
	fi
	# Central is on this run's path (A -> Kafka -> central -> B), so it
	# and the broker get the default priority back, and A starts once
	# they have caught up with the runs before.
	downstream_default
	settle conv
	edge_start edge-conv "$SERVER_CPU" "$CONV_AGE_MS"
	free_port
	local port_b=$PORT
	edge_ini "$TMP/edge-b$tag.ini" bench-b "$port_b" "$TMP/edge-b$tag" "$CONV_AGE_MS"
	start "edge-b$tag" "$LOAD_CPU" "$BIN/edge" -c "$TMP/edge-b$tag.ini"
	EDGE_B_PID=$LAST_PID
	edge_up "edge B" "$port_b"
	# B starts by reading every snapshot still in the topic (the mock
	# broker may have trimmed the oldest: B then logs an offset reset).
	# Samples taken meanwhile would measure that backlog.
	wait_idle "edge B (reading the snapshot backlog)" 120 "$EDGE_B_PID"

	# The load: half the like peak, but no faster than one URI list of
	# distinct (user, item) pairs lasts CONV_S seconds.
	local rate=$((${RATE[like]:-0} / 2)) most=$((ITEMS * CONNS / CONV_S))
	((rate > most)) && rate=$most
	((rate < CONNS)) && rate=$CONNS
	CONV[load_target]=$rate
	echo "convergence: like load on edge A (pid $EDGE_PID) at $rate/s for ${CONV_S}s;" \
		"probe polls edge B (pid $EDGE_B_PID) on port $port_b"
	# shellcheck disable=SC2046
	$(pin "$LOAD_CPU") "$BIN/sim" converge-probe --a "$EDGE_PORT" --b "$port_b" \
		--duration-ms $((CONV_S * 1000)) --interval-ms "$CONV_EVERY_MS" \
		--poll-ms "$CONV_POLL_MS" --timeout-ms 20000 --prefix "cvg$$-$tag" --json \
		>"$TMP/probe.json" 2>"$TMP/probe.log" &
	local probe=$! rc=0 got ok fail non
	track "$probe"
	H2_CPU=$CONV_LOAD_CPU h2run conv "$((rate * CONV_S))" "$TMP/likes.txt" "cvgload$tag" 1 $(((rate + CONNS - 1) / CONNS))
	read -r got ok fail non <<<"$H2"
	wait "$probe" || rc=$?
	untrack "$probe"
	CONV[load_rate]=$got
	if ((fail > 0 || non > 0)); then
		WARN+=("convergence load: $fail failed, $non non-2xx answers")
	fi
	local k
	for k in likes visible timed_out errors skipped polls poll_errors; do
		CONV[$k]=$(json_field "$TMP/probe.json" "$k")
	done
	for k in min p50 p90 p99 max mean; do
		CONV[$k]=$(json_field "$TMP/probe.json" "convergence_${k}_ms")
	done
	if ((rc != 0)); then
		WHY[convergence_p50_ms]="sim converge-probe exited with $rc (probe.log in $OUT/logs)"
		WHY[convergence_p99_ms]=${WHY[convergence_p50_ms]}
	fi
	if [[ -n ${CONV[timed_out]} ]] && ((CONV[timed_out] + CONV[errors] > 0)); then
		WARN+=("convergence: ${CONV[timed_out]} likes never showed at edge B, ${CONV[errors]} failed")
	fi
	printf '  %-22s p50 %s  p90 %s  p99 %s  max %s ms  (%s of %s likes visible, load %s/s)\n' \
		convergence "${CONV[p50]}" "${CONV[p90]}" "${CONV[p99]}" "${CONV[max]}" \
		"${CONV[visible]}" "${CONV[likes]}" "$got"
}

# Starts nghttpd on SERVER_CPU serving one empty file, listed in
# TMP/bare.txt (and in NGHTTPD_URL); its PID in NGHTTPD_PID.
nghttpd_start() {
	mkdir -p "$TMP/docroot"
	: >"$TMP/docroot/empty"
	free_port
	local port=$PORT
	start nghttpd "$SERVER_CPU" nghttpd --no-tls -d "$TMP/docroot" "$port"
	NGHTTPD_PID=$LAST_PID
	wait_until "nghttpd" 10 curl -sf --http2-prior-knowledge "http://127.0.0.1:$port/empty"
	NGHTTPD_URL="http://127.0.0.1:$port/empty"
	echo "$NGHTTPD_URL" >"$TMP/bare.txt"
	echo "bare nghttpd (pid $NGHTTPD_PID) on port $port"
}

bench_bare() {
	nghttpd_start
	local pid=$NGHTTPD_PID
	CORE_PID=$pid
	measure bare_post "$NREQ" "$TMP/bare.txt" bench 1 0
	measure bare_get "$NREQ" "$TMP/bare.txt" bench 0 0
	bare_like_50
	CORE_PID=""
	bare_mixed
	stop "$pid"
}

# The like p99 at half of the peak once more, the broker and central
# moved to the server CPU at idle priority for the run: h2load has its
# CPU to itself, as in the nghttpd control (bare_like_50), while central
# goes on with its work in what the edge leaves of its core.
like_50_own() {
	local k=p99_like_ms_at_50pct_own_cpu
	if [[ ${BENCH_DOWNSTREAM_IDLE:-0} != 1 ]]; then
		WHY[$k]="needs BENCH_DOWNSTREAM_IDLE=1: at the default priority central and the broker would take the edge's CPU"
		return 0
	fi
	if ! downstream_cpus "$SERVER_CPU"; then
		WHY[$k]="could not move the broker and central to CPU $SERVER_CPU"
		downstream_cpus "$LOAD_CPU" || true
		return 0
	fi
	latency_run like_50_own 50 "${RATE[like]}" "$TMP/likes.txt" l50o 1
	downstream_cpus "$LOAD_CPU" ||
		WARN+=("could not move the broker and central back to CPU $LOAD_CPU")
}

# A control for the like p99 at half of the like peak: POSTs to nghttpd
# paced exactly as like_50 was (the same rate, the same pacer and
# connections), so what the load side and HTTP/2 alone put in that p99
# stands beside the edge's.
bare_like_50() {
	if ! isnum "${RATE[like]:-}" || ((RATE[like] <= 0)); then
		WHY[bare_post_p99_ms_at_like_50pct]="no edge like peak to pace at"
		return 0
	fi
	latency_run bare_post_50 50 "${RATE[like]}" "$TMP/bare.txt" bench 1
}

# A control for bench_mixed: the same two paced groups (GETs at half the
# edge's GET peak, POSTs at half its like peak with store.sync off) against
# nghttpd, which does the same job for a GET alone and beside POSTs. What
# the GET p99 gains here is the load side's share (h2load sharing one CPU
# between two groups), not the edge's; central and the broker, which share
# that CPU while likes flow to an edge, are idle here.
bare_mixed() {
	local lpeak=${RATE[like_sync_false]:-}
	if ! isnum "${RATE[get]:-}" || ! isnum "$lpeak" || ((RATE[get] <= 0 || lpeak <= 0)); then
		WHY[bare_get_p99_mixed_vs_alone]="no edge GET or like peak to pace at"
		return 0
	fi
	latency_run bare_get_50_alone 50 "${RATE[get]}" "$TMP/bare.txt" bench 0
	local l0 s0
	l0=$(cpu_jiffies "$LOAD_CPU")
	s0=$(cpu_jiffies "$FEED_CPUS")
	mixed_pair bare_mixed "$lpeak" "$TMP/bare.txt" "$TMP/bare.txt" bare post
	SER[bare_mixed.load_cpu_busy]=$(cpu_busy_since "$LOAD_CPU" "$l0")
	SER[bare_mixed.server_cpu_busy]=$(cpu_busy_since "$SERVER_CPU" "$s0")
	load_busy_warn bare_mixed
}

# The like job in Redis: SADD the user to the item's set, INCR the item's
# count when the user is new (a repeated like does not count twice).
REDIS_LIKE_LUA="if redis.call('SADD', 's:'..ARGV[1], ARGV[2]) == 1 then return redis.call('INCR', 'n:'..ARGV[1]) end return 0"

# The like job by redis-benchmark: distinct random pairs, EVALSHA.
redis_run() { # key extra-server-args...
	local key=$1
	shift
	free_port
	local port=$PORT
	start "redis-$key" "$SERVER_CPU" redis-server --bind 127.0.0.1 --port "$port" \
		--dir "$TMP" --save '' "$@"
	local pid=$LAST_PID
	wait_until "redis-server" 10 redis-cli -p "$port" ping
	local sha rate c0 c1 out=$TMP/redis-benchmark.$key.out
	sha=$(redis-cli -p "$port" SCRIPT LOAD "$REDIS_LIKE_LUA")
	c0=$(cpu_ticks "$pid")
	run "$LOAD_CPU" redis-benchmark -p "$port" -n "$NREDIS" -c "$CONNS" -P "$DEPTH" \
		-r 100000000 --csv EVALSHA "$sha" 0 i__rand_int__ u__rand_int__ >"$out"
	c1=$(cpu_ticks "$pid")
	rate=$(awk -F'"' 'NR == 2 { printf "%.0f", $4 }' "$out")
	RATE[$key]=${rate:-0}
	per_core "$key" "$NREDIS" "$c0" "$c1"
	printf '  %-22s %10s ops/s  (redis-server %s; %s per server CPU second)\n' "$key" \
		"${RATE[$key]}" "$*" "${CORE[$key]:-none}"
	stop "$pid"
}

bench_redis() {
	echo "redis-server: the like job as a Lua script (SADD, then INCR if new)"
	redis_run redis --appendonly no
	redis_run redis_aof --appendonly yes --appendfsync everysec
}

# The naive design from the literature, in PostgreSQL: one counts row per
# item and an UPDATE like_count = like_count + 1 per like, each its own
# transaction with synchronous commit (fsync and synchronous_commit on, as
# by default), over the same items as the edge's like run. A second script
# does the deduplicating job honestly: one likes (item, user) row per like,
# INSERT ... ON CONFLICT DO NOTHING, and the count UPDATE only when that
# row was new, in one statement (one transaction). pgbench runs each with
# the edge's concurrency (CONNS clients) for PG_S seconds.
#
# The cluster is a throwaway one: initdb into TMP/pg, postgres listening
# only on a unix socket in that dir (no TCP), stopped by PID. postgres
# refuses to run as root, so as root it runs as the postgres system user
# the Debian package creates (setpriv execs it: the PID we track is the
# postmaster's), and TMP becomes 0711 so that user can reach TMP/pg.
pg_skip() { # reason
	WHY[edge_like_vs_naive]=$1
	WHY[edge_like_vs_naive_dedupe]=$1
	echo "PostgreSQL: skipped: $1"
}

# One pgbench run; fills RATE[key] (tps) and PG[key.txns].
pg_run() { # key script seconds
	local out=$TMP/pgbench.$1.out rc=0
	run "$LOAD_CPU" "$PG_BIN/pgbench" -n -h "$PG_DIR" -p "$PG_PORT" -U postgres \
		-c "$CONNS" -j 1 -T "$3" -M prepared -D items="$ITEMS" -f "$2" postgres \
		>"$out" 2>&1 || rc=$?
	RATE[$1]=$(awk '/^tps = / { printf "%.0f", $3 }' "$out")
	PG[$1.txns]=$(awk '/^number of transactions actually processed:/ { print $NF }' "$out")
	local failed
	failed=$(awk '/^number of failed transactions:/ { print $5 }' "$out")
	printf '  %-22s %10s tps    (%s transactions, %s failed)\n' "$1" "${RATE[$1]:-none}" \
		"${PG[$1.txns]:-none}" "${failed:-?}"
	if ((rc != 0)) || [[ -z ${RATE[$1]} ]]; then
		WARN+=("$1: pgbench exited with $rc (pgbench.$1.out in $OUT/logs)")
		cp "$out" "$TMP/pgbench.$1.log" 2>/dev/null || true
	fi
}

bench_pg() {
	PG_BIN=${BENCH_PG_BIN:-$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)}
	if [[ -z $PG_BIN || ! -x $PG_BIN/postgres || ! -x $PG_BIN/pgbench ]]; then
		pg_skip "PostgreSQL is not installed (make bench installs postgresql, postgresql-contrib)"
		return 0
	fi
	local as=()
	if ((EUID == 0)); then
		if ! id -u postgres >/dev/null 2>&1 || ! command -v setpriv >/dev/null; then
			pg_skip "running as root, and no postgres user or no setpriv to run postgres as it"
			return 0
		fi
		as=(setpriv --reuid=postgres --regid=postgres --init-groups --)
		chmod 0711 "$TMP"
	fi
	PG_DIR=$TMP/pg
	mkdir -p "$PG_DIR"
	if ((EUID == 0)); then chown postgres:postgres "$PG_DIR"; fi
	if ! run "" "${as[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U postgres -E UTF8 \
		--locale=C --no-sync >"$TMP/pg-initdb.log" 2>&1; then
		pg_skip "initdb failed (pg-initdb.log in $OUT/logs)"
		return 0
	fi
	free_port # only names the socket: listen_addresses is empty
	PG_PORT=$PORT
	start postgres "$SERVER_CPU" "${as[@]}" "$PG_BIN/postgres" -D "$PG_DIR/data" -p "$PG_PORT" \
		-c listen_addresses= -c unix_socket_directories="$PG_DIR" \
		-c fsync=on -c synchronous_commit=on
	local pid=$LAST_PID i
	for ((i = 0; i < 300; i++)); do
		"$PG_BIN/pg_isready" -q -h "$PG_DIR" -p "$PG_PORT" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if ! "$PG_BIN/pg_isready" -q -h "$PG_DIR" -p "$PG_PORT"; then
		stop "$pid"
		pg_skip "postgres did not start (postgres.log in $OUT/logs)"
		return 0
	fi
	echo "PostgreSQL $("$PG_BIN/postgres" --version | awk '{ print $3 }') (pid $pid)," \
		"the naive design: a counts row per item, synchronous commit"
	local psql=("$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_DIR" -p "$PG_PORT" -U postgres)
	if ! run "" "${psql[@]}" >"$TMP/pg-setup.log" 2>&1 <<SQL; then
CREATE TABLE counts (item bigint PRIMARY KEY, like_count bigint NOT NULL);
CREATE TABLE likes (item bigint NOT NULL, user_id bigint NOT NULL, PRIMARY KEY (item, user_id));
INSERT INTO counts SELECT g, 0 FROM generate_series(1, $ITEMS) g;
VACUUM ANALYZE counts;
CHECKPOINT;
SQL
		stop "$pid"
		pg_skip "creating the tables failed (pg-setup.log in $OUT/logs)"
		return 0
	fi
	cat >"$TMP/pg_hot.sql" <<'SQL'
\set item random(1, :items)
UPDATE counts SET like_count = like_count + 1 WHERE item = :item;
SQL
	cat >"$TMP/pg_dedupe.sql" <<'SQL'
\set item random(1, :items)
\set user random(1, 1000000000000)
WITH fresh AS (INSERT INTO likes (item, user_id) VALUES (:item, :user) ON CONFLICT DO NOTHING RETURNING 1) UPDATE counts SET like_count = like_count + 1 WHERE item = :item AND EXISTS (SELECT 1 FROM fresh);
SQL
	# Untimed first: the first UPDATE of each freshly loaded row moves it
	# out of its full page, and the first WAL segments are being created.
	pg_run pg_warmup "$TMP/pg_hot.sql" 2
	pg_run pg_hot_row "$TMP/pg_hot.sql" "$PG_S"
	pg_run pg_dedupe "$TMP/pg_dedupe.sql" "$PG_S"
	# Every committed transaction must show: hot-row UPDATEs plus new likes.
	local sums
	run "" "${psql[@]}" -At -c "SELECT (SELECT sum(like_count) FROM counts), (SELECT count(*) FROM likes)" \
		>"$TMP/pg-sums.out" 2>&1 || true
	sums=$(<"$TMP/pg-sums.out")
	PG[like_count_sum]=${sums%%|*}
	PG[likes_rows]=${sums##*|}
	local hot=$((${PG[pg_warmup.txns]:-0} + ${PG[pg_hot_row.txns]:-0}))
	if ! isnum "${PG[like_count_sum]}" || ! isnum "${PG[likes_rows]}" ||
		((PG[like_count_sum] != hot + PG[likes_rows])); then
		WARN+=("PostgreSQL: sum(like_count) ${PG[like_count_sum]} is not the hot-row transactions" \
			"$hot plus the like rows ${PG[likes_rows]}")
	fi
	stop "$pid"
}

# Central's applier against a raw LevelDB loop, in-process: as deployed
# (the change feed's records stored with every batch and dropped as the
# publisher would: central_vs_raw_leveldb), then with the feed off
# (central_vs_raw_leveldb_feed_off, the applier alone).
bench_central() {
	local k side args
	if ! sim_has bench-central; then
		WHY[central_vs_raw_leveldb]="build/sim has no bench-central command yet"
		return 0
	fi
	for side in on off; do
		k=central_vs_raw_leveldb
		args=(--feed)
		[[ $side == off ]] && k=central_vs_raw_leveldb_feed_off && args=()
		echo "central apply vs raw LevelDB, feed $side: $BIN/sim bench-central --json ${args[*]}"
		local rc=0
		run "$SERVER_CPU" timeout 180 "$BIN/sim" bench-central --json "${args[@]}" \
			>"$OUT/central_feed_$side.json" 2>"$TMP/bench-central-$side.log" || rc=$?
		if ((rc != 0)); then
			WHY[$k]="sim bench-central exited with $rc (log in $OUT/logs)"
			continue
		fi
		R[$k]=$(json_field "$OUT/central_feed_$side.json" central_vs_raw_leveldb)
		[[ -n ${R[$k]} ]] || WHY[$k]="sim bench-central printed no central_vs_raw_leveldb"
	done
	NOTE[central_vs_raw_leveldb]="the feed's records on, no publisher (in-process)"
}

# ---- the change feed's cost (issue 43) ------------------------------------------

# Central's apply rate with the change feed on against off: the real
# daemon, each run on a fresh embedded broker and a fresh store. Central
# starts first (CPU SERVER_CPU, default priority) and, with the feed on,
# is given every partition of its feed group and has read the empty feed
# topics (its log says "feed partition published from here" once per
# partition): its publisher is live before any input arrives, as it is
# in service. Then `sim produce-batches` (CPU LOAD_CPU, beside the
# broker) produces FEED_OPS ops of mixgen's input (likes, unlikes of
# recent likes and views of Zipf items, three edges) into the batch
# topic, in about a second; central takes the whole of it at once. The
# run's clock starts at the producer's first message. "Applied": the sum
# of central's likes_central_input_next_offset reaches the messages
# produced. "Published" (feed on): then likes_central_feed_pending_events
# is 0: every event read back from likes.changes and likes.milestones
# and its record dropped. Rounds alternate the order (off then on, on
# then off, ...). Central's and the broker's CPU ticks are taken over
# the same spans. With BENCH_PERF=DIR, perf record samples central in
# each run, from the first message produced until the run's end, into
# DIR/central_feed_SIDE_ROUND.data (BENCH_PERF_HZ samples a second, 2000).
FEED_OPS=${BENCH_FEED_OPS:-2000000}
FEED_ROUNDS=${BENCH_FEED_ROUNDS:-2}
# sim bench-feed's ops: the same mix, half the daemon's by default (its
# four replays of 2M would take over a minute).
FEED_INPROC_OPS=${BENCH_FEED_INPROC_OPS:-1000000}
# Central's CPUs in the daemon runs: one core, as the server under test
# gets; BENCH_FEED_CPUS=0,1 lets its threads (the run loop, LevelDB's
# compaction, librdkafka's) spread over both.
FEED_CPUS=${BENCH_FEED_CPUS:-$SERVER_CPU}
FEED_POLL_S=0.1      # central's /metrics this often while it applies
FEED_DEADLINE_S=300  # a run that has not applied and published by then fails
declare -A FEED      # per run (key_side_round) and the medians

# Central's /metrics, from the load CPU (the poll stays off central's).
feed_scrape() {
	# shellcheck disable=SC2046
	$(pin "$LOAD_CPU") curl -sf -m 5 -H "Authorization: Bearer $TOKEN" \
		"http://127.0.0.1:$OPS_PORT/metrics" || true
}

# One run: FEED[<field>_<side>_<round>] (applied_s, published_s,
# applied_rate, published_rate, cpu_applied_s, cpu_published_s,
# broker_cpu_s, produce_s, events, published, ...); false with
# WHY[central_feed_on_vs_off] set when it failed.
feed_run() { # side(on|off) round
	local side=$1 r=$2 key="feed_$1_$2" saved=${BENCH_CENTRAL_INI:-} hz
	local bpid cpid ppid c0 b0 out=$TMP/produce.$1.$2.out deadline t t0 scrape next pend
	local want="" applied="" published="" ca="" cp="" bp="" s0 sa=""
	hz=$(getconf CLK_TCK)
	rm -rf "$TMP/central" "$TMP/bootstrap"
	start "broker-$key" "$LOAD_CPU" "$BIN/sim" broker --bootstrap-file "$TMP/bootstrap" \
		--topic "likes.batches:$PARTITIONS" --topic "likes.snapshots:$PARTITIONS" \
		--topic likes.deadletter:1 --topic "likes.changes:$PARTITIONS" \
		--topic "likes.milestones:$PARTITIONS"
	bpid=$LAST_PID
	wait_until "the embedded broker" 20 test -s "$TMP/bootstrap"
	free_port
	OPS_PORT=$PORT
	if [[ $side == off ]]; then
		BENCH_CENTRAL_INI="${saved:+$saved\n}[topics]\nchanges =\nmilestones ="
	fi
	central_ini "$TMP/central-$key.ini"
	BENCH_CENTRAL_INI=$saved
	central_up "central-$key" "$FEED_CPUS" "$TMP/central-$key.ini" \
		"$([[ $side == on ]] && echo feed || echo nofeed)"
	cpid=$LAST_PID
	wait_idle "central before $key" 30 "$cpid"
	c0=$(cpu_ticks "$cpid")
	b0=$(cpu_ticks "$bpid")
	s0=$(cpu_jiffies "$SERVER_CPU")
	if [[ -n ${BENCH_PERF:-} ]]; then perf_begin "central_$key" "$cpid"; fi
	# shellcheck disable=SC2046
	$(pin "$LOAD_CPU") "$BIN/sim" produce-batches --bootstrap-file "$TMP/bootstrap" \
		--ops "$FEED_OPS" --partitions "$PARTITIONS" >"$out" 2>"$TMP/produce-$key.log" &
	ppid=$!
	track "$ppid"
	deadline=$((SECONDS + FEED_DEADLINE_S))
	while [[ -z $published ]]; do
		if ((SECONDS > deadline)); then break; fi
		sleep "$FEED_POLL_S"
		t=$(date +%s.%N)
		if [[ -z $want && -n $ppid ]] && ! kill -0 "$ppid" 2>/dev/null; then
			local prc=0
			wait "$ppid" || prc=$?
			untrack "$ppid"
			ppid=""
			if ((prc != 0)); then
				WHY[central_feed_on_vs_off]="$key: sim produce-batches exited with $prc: $(tr '\n' ' ' <"$TMP/produce-$key.log")"
				break
			fi
			want=$(awk -F= '$1 == "messages" { print $2 }' "$out")
		fi
		scrape=$(feed_scrape)
		next=$(metric_sum likes_central_input_next_offset <<<"$scrape")
		if [[ -z $applied && -n $want && -n $next ]] && ((next >= want)); then
			applied=$t
			ca=$(cpu_ticks "$cpid")
			bp=$(cpu_ticks "$bpid")
			sa=$(cpu_busy_since "$FEED_CPUS" "$s0")
		fi
		if [[ -n $applied ]]; then
			pend=0
			if [[ $side == on ]]; then
				pend=$(metric_sum likes_central_feed_pending_events <<<"$scrape")
			fi
			if [[ $pend == 0 ]]; then
				published=$t
				cp=$(cpu_ticks "$cpid")
				bp=$(cpu_ticks "$bpid")
			fi
		fi
	done
	if [[ -n ${BENCH_PERF:-} ]]; then perf_end; fi
	if [[ -n $ppid ]]; then stop "$ppid"; fi
	if [[ -z $published ]]; then
		: "${WHY[central_feed_on_vs_off]:=$key: central had not applied and published the input after ${FEED_DEADLINE_S}s (logs in $OUT/logs)}"
		stop "$cpid"
		stop "$bpid"
		return 1
	fi
	feed_check "$side" "$r" "$out" "$scrape"
	t0=$(awk -F= '$1 == "start_ms" { printf "%.3f", $2 / 1000 }' "$out")
	local ops
	ops=$(awk -F= '$1 == "ops" { print $2 }' "$out")
	read -r "FEED[applied_s_${side}_$r]" "FEED[published_s_${side}_$r]" \
		"FEED[applied_rate_${side}_$r]" "FEED[published_rate_${side}_$r]" \
		"FEED[cpu_applied_s_${side}_$r]" "FEED[cpu_published_s_${side}_$r]" \
		"FEED[broker_cpu_s_${side}_$r]" "FEED[produce_s_${side}_$r]" < <(awk \
		-v t0="$t0" -v a="$applied" -v p="$published" -v n="$ops" -v hz="$hz" \
		-v c0="$c0" -v ca="$ca" -v cp="$cp" -v b0="$b0" -v bp="$bp" \
		-v ps="$(awk -F= '$1 == "start_ms" { s = $2 } $1 == "end_ms" { e = $2 }
			END { printf "%.3f", (e - s) / 1000 }' "$out")" 'BEGIN {
		printf "%.3f %.3f %.0f %.0f %.2f %.2f %.2f %s\n", a - t0, p - t0, n / (a - t0),
			n / (p - t0), (ca - c0) / hz, (cp - c0) / hz, (bp - b0) / hz, ps }')
	FEED[ops]=$ops
	FEED[messages]=$want
	# Central's share of its CPU while it applied, and the rest of that
	# CPU's busy time: other processes (the machine is shared), whose
	# turns are in the run's wall time.
	FEED[central_cores_${side}_$r]=$(div "${FEED[cpu_applied_s_${side}_$r]}" \
		"${FEED[applied_s_${side}_$r]}" %.2f)
	FEED[others_cores_${side}_$r]=$(awk -v b="$sa" -v c="${FEED[central_cores_${side}_$r]}" \
		'BEGIN { if (b != "none" && c != "") { o = b - c; printf "%.2f", o < 0 ? 0 : o } }')
	if awk -v o="${FEED[others_cores_${side}_$r]:-0}" 'BEGIN { exit !(o > 0.1) }'; then
		WARN+=("$key: other processes kept CPU $FEED_CPUS ${FEED[others_cores_${side}_$r]} busy while central applied: its wall time is not central's alone")
	fi
	stop "$cpid"
	stop "$bpid"
	printf '  %-16s applied in %6ss (%7s ops/s), published in %6ss (%7s ops/s); central CPU %ss, %ss (%s cores, others %s); broker CPU %ss; produced in %ss; %s events; compactions wrote %s MB\n' \
		"$key" "${FEED[applied_s_${side}_$r]}" "${FEED[applied_rate_${side}_$r]}" \
		"${FEED[published_s_${side}_$r]}" "${FEED[published_rate_${side}_$r]}" \
		"${FEED[cpu_applied_s_${side}_$r]}" "${FEED[cpu_published_s_${side}_$r]}" \
		"${FEED[central_cores_${side}_$r]}" "${FEED[others_cores_${side}_$r]:-?}" \
		"${FEED[broker_cpu_s_${side}_$r]}" "${FEED[produce_s_${side}_$r]}" \
		"${FEED[events_${side}_$r]:-0}${FEED[milestones_${side}_$r]:+ (${FEED[milestones_${side}_$r]} milestones)}" \
		"${FEED[compaction_written_mb_${side}_$r]:-?}"
}

# After a run: central applied every message and op produced, held or
# skipped none, and with the feed on made events, published each (no
# gap, no failure, no foreign event); a warning for anything else.
feed_check() { # side round produce-output last-scrape
	local side=$1 r=$2 k m v
	local -A want=([batches_applied_total]=messages [ops_applied_total]=entries)
	for k in batches_applied_total ops_applied_total; do
		m=$(awk -F= -v f="${want[$k]}" '$1 == f { print $2 }' "$3")
		v=$(metric_sum "likes_central_$k" <<<"$4")
		[[ $v == "$m" ]] || WARN+=("feed_${side}_$r: central's $k is $v, the input had $m")
	done
	for k in batches_held_total batches_duplicate_total batches_bad_total ops_invalid_total; do
		v=$(metric_sum "likes_central_$k" <<<"$4")
		[[ -z $v || $v == 0 ]] || WARN+=("feed_${side}_$r: central's $k is $v")
	done
	FEED[events_${side}_$r]=$(metric_sum likes_central_feed_events_total <<<"$4")
	# What LevelDB's compactions (memtable flushes included) read and
	# wrote by the end: the store's side of the feed's cost.
	for k in read written; do
		FEED[compaction_${k}_mb_${side}_$r]=$(metric_sum \
			"likes_central_store_compaction_${k}_bytes_total" <<<"$4" |
			awk '{ printf "%.1f", $1 / 1e6 }')
	done
	[[ $side == on ]] || return 0
	FEED[published_${side}_$r]=$(metric_sum likes_central_feed_published_total <<<"$4")
	FEED[milestones_${side}_$r]=$(awk \
		'$1 == "likes_central_feed_published_total{topic=\"milestones\"}" { print $2 }' <<<"$4")
	local made=${FEED[events_${side}_$r]}
	if ! isnum "$made" || ((made == 0)); then
		WARN+=("feed_on_$r: central stored no feed events")
	elif [[ ${FEED[published_${side}_$r]} != "$made" ]]; then
		WARN+=("feed_on_$r: central published ${FEED[published_${side}_$r]} events of $made")
	fi
	for k in feed_gaps_total feed_foreign_total feed_publish_errors_total; do
		v=$(metric_sum "likes_central_$k" <<<"$4")
		[[ -z $v || $v == 0 ]] || WARN+=("feed_on_$r: central's $k is $v")
	done
}

# The daemon runs, FEED_ROUNDS each way, then the medians and the ratios.
bench_feed() {
	local r side
	echo "change feed: central (CPU $FEED_CPUS) applying $FEED_OPS ops produced at once" \
		"(sim produce-batches and the broker on CPU $LOAD_CPU), feed off and on in turns," \
		"$FEED_ROUNDS rounds"
	local order
	for ((r = 1; r <= FEED_ROUNDS; r++)); do
		order="off on"
		((r % 2)) || order="on off"
		for side in $order; do
			feed_run "$side" "$r" || return 0
		done
	done
	local f fmt
	for f in applied_s published_s applied_rate published_rate cpu_applied_s cpu_published_s \
		broker_cpu_s; do
		fmt=%.3f
		[[ $f == *rate ]] && fmt=%.0f
		for side in off on; do
			FEED[${f}_$side]=$(ab_median FEED "$f" "$side" "$FEED_ROUNDS" "$fmt")
		done
	done
	RATE[central_feed_off]=${FEED[applied_rate_off]}
	RATE[central_feed_on]=${FEED[applied_rate_on]}
	RATE[central_feed_on_published]=${FEED[published_rate_on]}
	R[central_feed_on_vs_off]=$(div "${FEED[applied_rate_on]}" "${FEED[applied_rate_off]}")
	R[central_feed_published_on_vs_off]=$(div "${FEED[published_rate_on]}" \
		"${FEED[applied_rate_off]}")
	# Per CPU second of central: all it did until the input was applied
	# (off) or applied and published (on).
	R[central_feed_on_vs_off_per_core]=$(div "${FEED[cpu_applied_s_off]}" \
		"${FEED[cpu_published_s_on]}")
	NOTE[central_feed_published_on_vs_off]="until every event is read back from the topics: medians ${FEED[published_rate_on]} / ${FEED[applied_rate_off]} ops/s"
	NOTE[central_feed_on_vs_off_per_core]="central's CPU seconds, off (applied) over on (applied and published)"
}

# The applier alone, in-process (sim bench-feed: no Kafka, no publisher).
bench_feed_inproc() {
	local k=central_apply_feed_on_vs_off
	if ! sim_has bench-feed; then
		WHY[$k]="build/sim has no bench-feed command yet"
		return 0
	fi
	echo "the applier alone, feed off and on: $BIN/sim bench-feed --json --ops $FEED_INPROC_OPS --rounds $FEED_ROUNDS"
	local rc=0
	run "$SERVER_CPU" timeout 600 "$BIN/sim" bench-feed --json --ops "$FEED_INPROC_OPS" \
		--rounds "$FEED_ROUNDS" \
		>"$OUT/feed_inproc.json" 2>"$TMP/bench-feed.log" || rc=$?
	if ((rc != 0)); then
		WHY[$k]="sim bench-feed exited with $rc (log in $OUT/logs)"
		return 0
	fi
	sed 's/^/  /' "$TMP/bench-feed.log"
	R[$k]=$(json_field "$OUT/feed_inproc.json" central_apply_feed_on_vs_off)
	R[${k}_cpu]=$(json_field "$OUT/feed_inproc.json" central_apply_feed_on_vs_off_cpu)
	NOTE[$k]="in-process, no Kafka or publisher; by the loop thread's CPU ${R[${k}_cpu]:-null}"
	[[ -n ${R[$k]} ]] || WHY[$k]="sim bench-feed printed no $k"
}

FEED_FIELDS=(applied_s published_s applied_rate published_rate cpu_applied_s cpu_published_s
	broker_cpu_s)

# The "central_feed" object of the JSON: the settings, the medians and
# every run's figures (FEED).
jfeed() {
	local f side r med=() runs=()
	for f in "${FEED_FIELDS[@]}"; do
		for side in off on; do med+=("${f}_$side"); done
	done
	for ((r = 1; r <= FEED_ROUNDS; r++)); do
		for side in off on; do
			for f in "${FEED_FIELDS[@]}" produce_s events central_cores others_cores \
				compaction_read_mb compaction_written_mb; do
				runs+=("${f}_${side}_$r")
			done
		done
		runs+=("published_on_$r" "milestones_on_$r")
	done
	printf '{"ops": %s, "messages": %s, "rounds": %s, "poll_s": %s,\n    "medians": {\n' \
		"$(jnum "${FEED[ops]:-}")" "$(jnum "${FEED[messages]:-}")" "$FEED_ROUNDS" "$FEED_POLL_S"
	jobject '      ' FEED "${med[@]}"
	printf '\n    },\n    "runs": {\n'
	jobject '      ' FEED "${runs[@]}"
	printf '\n    }}'
}

# The feed's lines under the table.
print_feed() {
	echo "change feed (daemon), medians of $FEED_ROUNDS runs each way, ${FEED[ops]:-?} ops in" \
		"${FEED[messages]:-?} batches: off applied ${FEED[applied_rate_off]:-null} ops/s" \
		"(${FEED[applied_s_off]:-null} s, central CPU ${FEED[cpu_applied_s_off]:-null} s);" \
		"on applied ${FEED[applied_rate_on]:-null} ops/s (${FEED[applied_s_on]:-null} s)," \
		"applied and published ${FEED[published_rate_on]:-null} ops/s" \
		"(${FEED[published_s_on]:-null} s, central CPU ${FEED[cpu_published_s_on]:-null} s);" \
		"broker CPU off ${FEED[broker_cpu_s_off]:-null} s, on ${FEED[broker_cpu_s_on]:-null} s"
}

# `sim/bench/bench.sh feed`: the change feed's cost alone (bench_feed_inproc,
# bench_feed); OUT/feed.json and a few lines.
main_feed() {
	mkdir -p "$OUT"
	need_tools "make deps" curl ss taskset
	[[ -z ${BENCH_PERF:-} ]] || need_tools "make bench-deps" perf
	DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	MACHINE="$(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(uname -r)"
	bench_feed_inproc
	bench_feed
	local k
	for k in central_feed_on_vs_off central_feed_published_on_vs_off \
		central_feed_on_vs_off_per_core central_apply_feed_on_vs_off; do
		isnum "${R[$k]:-}" || R[$k]=""
		[[ -n ${R[$k]} || -n ${WHY[$k]:-} ]] || WHY[$k]="no figure: a run it depends on failed"
	done
	{
		printf '{\n'
		jobject '  ' R central_feed_on_vs_off central_feed_published_on_vs_off \
			central_feed_on_vs_off_per_core central_apply_feed_on_vs_off
		printf ',\n  "reasons": {\n'
		local nulls=()
		for k in central_feed_on_vs_off central_feed_published_on_vs_off \
			central_feed_on_vs_off_per_core central_apply_feed_on_vs_off; do
			[[ -z ${WHY[$k]:-} ]] || nulls+=("$k")
		done
		if ((${#nulls[@]})); then jobject '    ' WHY "${nulls[@]}"; fi
		printf '\n  },\n  "rates_per_s": {\n'
		jobject '    ' RATE central_feed_off central_feed_on central_feed_on_published
		printf '\n  },\n  "central_feed": '
		jfeed
		printf ',\n  "date": %s,\n  "machine": %s,\n  "warnings": ' "$(jstr "$DATE")" \
			"$(jstr "$MACHINE")"
		jwarnings
		printf '\n}\n'
	} >"$OUT/feed.json"
	echo
	echo "change feed, $DATE, $MACHINE"
	row "central apply, change feed on / off" central_feed_on_vs_off ">=" 0.85
	row "the same, until the feed is published" central_feed_published_on_vs_off "" ""
	row "the same, per central CPU second" central_feed_on_vs_off_per_core "" ""
	row "applier alone, feed on / off" central_apply_feed_on_vs_off "" ""
	print_feed
	for k in "${WARN[@]+"${WARN[@]}"}"; do echo "warning: $k"; done
	echo "written: $OUT/feed.json"
}

# ---- results ------------------------------------------------------------------

MEM_KV=$OUT/mem.kv   # written by make bench-mem (sim/bench/bench_mem.sh)
MEM_ITEMS=10000000   # the item count its figures stand for
MEM_DATE=""          # MEM_KV's mtime, when it exists

# The memory figures come from the last make bench-mem, never from this
# run: MEM_KV's RSS and bounds when it records at least MEM_ITEMS items,
# and null with the reason otherwise. The table names the file's date.
read_mem() {
	local again="run make bench-mem (about 25 minutes) to measure" why="" k v
	local keys=(edge_rss_mb_10m_items central_rss_mb_10m_items edge_mem_bound_mb central_mem_bound_mb)
	if [[ -f $MEM_KV ]]; then
		while IFS='=' read -r k v; do
			[[ $k =~ ^[a-z0-9_]+$ ]] || continue
			[[ -n ${MEM[$k]+set} ]] || MEM_KEYS+=("$k")
			MEM[$k]=$v
		done <"$MEM_KV"
		MEM_DATE=$(date -u -r "$MEM_KV" +%Y-%m-%dT%H:%M:%SZ)
		if [[ ! ${MEM[items]:-} =~ ^[0-9]+$ ]]; then
			why="$MEM_KV of $MEM_DATE records no item count; $again"
		elif ((10#${MEM[items]} < MEM_ITEMS)); then
			why="$MEM_KV of $MEM_DATE is from a run with ${MEM[items]} items, not $MEM_ITEMS; $again"
		fi
	else
		why=$again
	fi
	for k in "${keys[@]}"; do
		R[$k]=""
		if [[ -n $why ]]; then
			WHY[$k]=$why
		elif isnum "${MEM[$k]:-}"; then
			R[$k]=${MEM[$k]}
			NOTE[$k]="make bench-mem of $MEM_DATE, ${MEM[items]} items, ${MEM[users]:-?} users"
		else
			WHY[$k]="$MEM_KV of $MEM_DATE has no $k; $again"
		fi
	done
	if [[ -z $why && -n ${R[edge_mem_bound_mb]} ]]; then
		NOTE[edge_mem_bound_mb]+="; plus up to ${MEM[edge_overlay_mb_at_budget]:-?} MB of overlay"
		NOTE[edge_mem_bound_mb]+=" at a full batch.budget_mb"
	fi
}

# The "memory" object: every key of MEM_KV, its path and mtime; null
# when there is no MEM_KV.
jmem() {
	if [[ -z $MEM_DATE ]]; then
		printf null
		return 0
	fi
	local k
	printf '{"file": %s, "mtime": %s' "$(jstr "$MEM_KV")" "$(jstr "$MEM_DATE")"
	for k in "${MEM_KEYS[@]+"${MEM_KEYS[@]}"}"; do
		printf ', %s: ' "$(jstr "$k")"
		if isnum "${MEM[$k]}"; then printf '%s' "${MEM[$k]}"; else jstr "${MEM[$k]}"; fi
	done
	printf '}'
}

div() { # a b [format]: empty unless both are numbers
	isnum "$1" && isnum "$2" || return 0
	awk -v a="$1" -v b="$2" -v f="${3:-%.3f}" 'BEGIN { if (b > 0 && a != "") printf f, a / b }'
}

compute() {
	R[edge_like_vs_bare]=$(div "${RATE[like]}" "${RATE[bare_post]}")
	R[edge_get_vs_bare]=$(div "${RATE[get]}" "${RATE[bare_get]}")
	# Cost of one 50-item batch GET in single GETs (target: <= 3).
	R[edge_batch50_vs_get]=$(div "${RATE[get]}" "${RATE[batch50]}")
	R[edge_like_vs_redis]=$(div "${RATE[like]}" "${RATE[redis]}")
	R[edge_like_vs_redis_aof]=$(div "${RATE[like]}" "${RATE[redis_aof]}")
	R[edge_like_cold_vs_bare]=$(div "${RATE[like_cold]}" "${RATE[bare_post]}")
	R[edge_like_viral_vs_bare]=$(div "${RATE[like_viral]}" "${RATE[bare_post]}")
	R[edge_like_vs_naive]=$(div "${RATE[like]}" "${RATE[pg_hot_row]:-}")
	R[edge_workers2_vs_1_like]=$(div "${RATE[like_w2]:-}" "${RATE[like_w1]:-}")
	R[edge_workers2_vs_1_get]=$(div "${RATE[get_w2]:-}" "${RATE[get_w1]:-}")
	R[edge_like_vs_naive_dedupe]=$(div "${RATE[like]}" "${RATE[pg_dedupe]:-}")
	# The worst of the convergence runs: the target holds in each.
	if [[ -z ${WHY[convergence_p50_ms]:-} ]]; then
		R[convergence_p50_ms]=${CONV_WORST_P50:-}
		R[convergence_p99_ms]=${CONV_WORST_P99:-}
	fi
	# Issue 20's names: the durable like is the like with store.sync = true.
	R[edge_like_durable_vs_like]=$(div "${RATE[like_sync_true]:-}" "${RATE[like_sync_false]:-}")
	R[edge_like_durable_vs_redis_aof]=$(div "${RATE[like_sync_true]:-}" "${RATE[redis_aof]:-}")
	R[edge_like_replicated_vs_redis_aof]=$(div "${RATE[like_replicated]:-}" "${RATE[redis_aof]:-}")
	R[changelog_records_per_like]=${RECPL[like_replicated]:-}
	R[p99_like_replicated_ms_at_half_durable_peak]=${LAT[like_replicated_50.p99]:-}
	R[edge_like_replicated_real_p99_ms]=${LAT[like_replicated_real_50.p99]:-}
	# The same ratios per server CPU second (CORE): cost without waiting.
	R[edge_like_vs_bare_per_core]=$(div "${CORE[like]:-}" "${CORE[bare_post]:-}")
	R[edge_like_vs_redis_per_core]=$(div "${CORE[like]:-}" "${CORE[redis]:-}")
	R[edge_get_vs_bare_per_core]=$(div "${CORE[get]:-}" "${CORE[bare_get]:-}")
	R[edge_batch50_vs_get_per_core]=$(div "${CORE[get]:-}" "${CORE[batch50]:-}")
	R[edge_like_durable_vs_like_per_core]=$(div "${CORE[like_sync_true]:-}" "${CORE[like_sync_false]:-}")
	R[edge_like_durable_vs_redis_aof_per_core]=$(div "${CORE[like_sync_true]:-}" "${CORE[redis_aof]:-}")
	local s key
	for s in false true; do
		key=get_p99_mixed_vs_alone
		[[ $s == true ]] && key+=_sync
		[[ -n ${WHY[$key]:-} ]] && continue
		R[$key]=$(div "${LAT[get_50_mixed_sync_$s.p99]:-}" "${LAT[get_50_alone_sync_$s.p99]:-}")
	done
	R[bare_get_p99_mixed_vs_alone]=$(div "${LAT[get_50_bare_mixed.p99]:-}" \
		"${LAT[bare_get_50_alone.p99]:-}")
	NOTE[bare_get_p99_mixed_vs_alone]="the load side's share: the same two groups against nghttpd"
	NOTE[bare_post_p99_ms_at_like_50pct]="nghttpd's POSTs paced as like_50 was: the load side's and HTTP/2's share"
	local n
	for n in edge_like_vs_bare edge_like_vs_redis edge_get_vs_bare edge_batch50_vs_get \
		edge_like_durable_vs_like edge_like_durable_vs_redis_aof; do
		NOTE[${n}_per_core]="cost alone: the server processes' CPU seconds, not the wall"
	done
	serial_key serial_fraction_like like
	serial_key serial_fraction_get get
	serial_key serial_fraction_mixed mixed_sync_false
	serial_key serial_fraction_mixed_sync mixed_sync_true
	# The bound takes the like+GET mixed run's s with store.sync off (the
	# default). The table also names the bound from the worst of the like
	# and GET runs.
	for s in 4 8 16; do
		R[amdahl_bound_${s}_workers]=$(amdahl "${R[serial_fraction_mixed]}" "$s")
		[[ -z ${WHY[serial_fraction_mixed]:-} ]] ||
			WHY[amdahl_bound_${s}_workers]="no serial fraction: ${WHY[serial_fraction_mixed]}"
	done
	# The same run's s in its two parts (serial_end): Amdahl's bound from
	# the locks every worker shares alone, which is what issue 20 asks
	# for, and the bound the one-thread work sets on its own, 1 / its
	# share: the commit thread's writes and the seals (one seal at a
	# time, on the commit thread or the upstream thread) taken as one
	# thread's work, which makes it a lower bound. The bound above sums
	# both into one s, as if the commit thread's writes stopped every
	# worker.
	R[lock_fraction_mixed]=${SER[mixed_sync_false.lock_fraction]:-}
	R[pipeline_fraction_mixed]=${SER[mixed_sync_false.pipeline_fraction]:-}
	R[amdahl_bound_16_workers_locks]=$(amdahl "${R[lock_fraction_mixed]}" 16)
	R[pipeline_bound]=$(awk -v c="${R[pipeline_fraction_mixed]}" \
		'BEGIN { if (c > 0) printf "%.1f", 1 / c }')
	local k
	for k in lock_fraction_mixed pipeline_fraction_mixed amdahl_bound_16_workers_locks \
		pipeline_bound; do
		[[ -z ${SERWHY[mixed_sync_false]:-} ]] || WHY[$k]=${SERWHY[mixed_sync_false]}
	done
	S_WORST=$(awk -v a="${R[serial_fraction_like]}" -v b="${R[serial_fraction_get]}" \
		'BEGIN { if (a != "" && b != "") print (a + 0 > b + 0 ? a : b) }')
	R[p99_like_ms_at_50pct]=${LAT[like_50.p99]}
	R[bare_post_p99_ms_at_like_50pct]=${LAT[bare_post_50.p99]:-}
	R[p99_like_ms_at_50pct_own_cpu]=${LAT[like_50_own.p99]:-}
	NOTE[p99_like_ms_at_50pct_own_cpu]="central and the broker on the edge's CPU at idle priority, h2load's CPU its own"
	R[p99_get_ms_at_50pct]=${LAT[get_50.p99]}
	R[p99_like_ms_at_80pct]=${LAT[like_80.p99]}
	R[p99_get_ms_at_80pct]=${LAT[get_80.p99]}
	if ((OPS_APPLIED < LIKES_TOTAL)); then
		WARN+=("central applied $OPS_APPLIED of $LIKES_TOTAL liked ops before the deadline")
	fi
	R[kafka_msgs_per_1m_likes]=$(awk -v b="$BATCHES" -v n="$OPS_APPLIED" \
		'BEGIN { if (n > 0) printf "%.1f", b * 1e6 / n }')
	R[store_writes_per_1m_likes]=$(awk -v b="$WRITES" -v n="$OPS_APPLIED" \
		'BEGIN { if (n > 0) printf "%.1f", b * 1e6 / n }')
	read_mem
	local k
	for k in "${KEYS[@]}"; do
		isnum "${R[$k]:-}" || R[$k]=""
		if [[ -z ${R[$k]} && -z ${WHY[$k]:-} ]]; then
			WHY[$k]="no figure: a run it depends on failed"
		fi
	done
}

# R[key] from the serial sample's fraction, or its reason in WHY[key].
serial_key() { # key sample
	R[$1]=${SER[$2.fraction]:-}
	if [[ -n ${SERWHY[$2]:-} ]]; then WHY[$1]=${SERWHY[$2]}; fi
}

isnum() { [[ $1 =~ ^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$ ]]; }

jnum() { # value: a number, or null
	if isnum "$1"; then printf '%s' "$1"; else printf null; fi
}

jstr() { # value: a JSON string (escapes \ and ")
	local s=${1//\\/\\\\}
	printf '"%s"' "${s//\"/\\\"}"
}

jwarnings() { # the warnings (WARN) as a JSON array of strings
	local w first=1
	printf '['
	for w in "${WARN[@]+"${WARN[@]}"}"; do
		((first)) || printf ', '
		first=0
		jstr "$w"
	done
	printf ']'
}

# Prints "key": value pairs, one a line, joined by commas (no final newline).
jobject() { # indent name-of-assoc-array keys...
	local ind=$1 arr=$2 k first=1
	shift 2
	local -n a=$arr
	for k in "$@"; do
		((first)) || printf ',\n'
		first=0
		printf '%s%s: ' "$ind" "$(jstr "$k")"
		if [[ $arr == WHY ]]; then jstr "${a[$k]}"; else jnum "${a[$k]:-}"; fi
	done
}

# The peers' figures (bench_peers_child): their keys in peers.json, and
# the peers whose paced runs' p99 it reads.
PEER_KEYS=(edge_like_replicated_real_vs_redis_wait edge_like_replicated_real_vs_kafka_produce
	edge_like_replicated_real_vs_redis_wait_per_cpu
	edge_like_replicated_real_vs_kafka_produce_per_cpu central_apply_vs_kstreams_per_core)
PEER_P99=(like_replicated_real kafka_produce redis_wait)
KEYS=(edge_like_vs_bare edge_get_vs_bare edge_batch50_vs_get edge_like_vs_redis
	edge_like_vs_naive central_vs_raw_leveldb central_vs_raw_leveldb_feed_off
	p99_like_ms_at_50pct p99_get_ms_at_50pct
	kafka_msgs_per_1m_likes store_writes_per_1m_likes edge_rss_mb_10m_items
	central_rss_mb_10m_items edge_mem_bound_mb central_mem_bound_mb
	edge_like_vs_redis_aof edge_like_cold_vs_bare edge_like_viral_vs_bare
	p99_like_ms_at_80pct p99_get_ms_at_80pct convergence_p50_ms convergence_p99_ms
	edge_like_vs_naive_dedupe edge_workers2_vs_1_like edge_workers2_vs_1_get
	edge_like_sync_vs_nosync edge_like_durable_vs_like edge_like_durable_vs_redis_aof
	edge_like_replicated_vs_like edge_like_replicated_vs_redis_aof changelog_records_per_like
	p99_like_replicated_ms_at_half_durable_peak edge_like_replicated_real_vs_like
	edge_like_replicated_real_p99_ms
	get_p99_mixed_vs_alone get_p99_mixed_vs_alone_sync serial_fraction_like
	serial_fraction_get serial_fraction_mixed serial_fraction_mixed_sync
	amdahl_bound_4_workers amdahl_bound_8_workers amdahl_bound_16_workers
	lock_fraction_mixed pipeline_fraction_mixed amdahl_bound_16_workers_locks pipeline_bound
	edge_like_vs_bare_per_core edge_like_vs_redis_per_core edge_get_vs_bare_per_core
	edge_batch50_vs_get_per_core edge_like_durable_vs_like_per_core
	edge_like_durable_vs_redis_aof_per_core
	bare_get_p99_mixed_vs_alone bare_post_p99_ms_at_like_50pct p99_like_ms_at_50pct_own_cpu
	central_feed_on_vs_off central_feed_published_on_vs_off central_feed_on_vs_off_per_core
	central_apply_feed_on_vs_off
	"${PEER_KEYS[@]}" p99_like_replicated_real_ms_at_half_peak p99_kafka_produce_ms_at_half_peak
	p99_redis_wait_ms_at_half_peak p99_kafka_produce_ms_at_like_half_peak
	p99_like_replicated_real_vs_kafka_produce_at_half_peak)
# The serial samples, and the latency runs of the mixed phase (bench_mixed).
SER_RUNS=(like get sync_true sync_false get_alone_sync_false mixed_sync_false get_alone_sync_true
	mixed_sync_true)
SER_FIELDS=(wall_s cpu_s edge_cores writer_lock_s view_lock_s view_stripe_max_s view_stripes
	lock_s pipeline_s lock_fraction pipeline_fraction commit_write_s commit_write_cpu_s
	seal_write_cpu_s serial_s fraction server_cpu_busy load_cpu_busy downstream_cores load_gen_busy)
MIXED_LAT=(get_50_alone_sync_false get_50_mixed_sync_false like_50_mixed_sync_false
	get_50_alone_sync_true get_50_mixed_sync_true like_50_mixed_sync_true
	bare_get_50_alone get_50_bare_mixed post_50_bare_mixed)

write_json() {
	local k f why=() lat=() ser=()
	for k in "${MIXED_LAT[@]}"; do
		for f in target rate p50 p99 p999; do lat+=("$k.$f"); done
	done
	for k in "${SER_RUNS[@]}"; do
		for f in "${SER_FIELDS[@]}"; do ser+=("$k.$f"); done
	done
	ser+=(bare_mixed.server_cpu_busy bare_mixed.load_cpu_busy)
	for k in "${KEYS[@]}"; do
		if [[ -n ${WHY[$k]:-} ]]; then why+=("$k"); fi
	done
	{
		printf '{\n'
		jobject '  ' R "${KEYS[@]}"
		printf ',\n  "reasons": {\n'
		if ((${#why[@]})); then jobject '    ' WHY "${why[@]}"; fi
		printf '\n  },\n  "rates_per_s": {\n'
		jobject '    ' RATE like_cold like like_viral get batch50 batch50_all bare_post bare_get redis \
			redis_aof pg_hot_row pg_dedupe like_w1 like_w2 get_w1 get_w2 like_sync_true \
			like_sync_false like_replicated like_replicated_real central_feed_off central_feed_on \
			central_feed_on_published
		printf '\n  },\n  "per_server_cpu_s": {\n'
		jobject '    ' CORE like_cold like like_viral get batch50 batch50_all bare_post bare_get redis \
			redis_aof like_sync_true like_sync_false
		printf '\n  },\n  "likes_per_group": {\n'
		jobject '    ' GROUP like_sync_true like_sync_false
		printf '\n  },\n  "latency_ms": {\n'
		jobject '    ' LAT like_50.target like_50.rate like_50.p50 like_50.p99 like_50.p999 \
			like_80.target like_80.rate like_80.p50 like_80.p99 like_80.p999 \
			get_50.target get_50.rate get_50.p50 get_50.p99 get_50.p999 \
			get_80.target get_80.rate get_80.p50 get_80.p99 get_80.p999 \
			like_sync_true_50.target like_sync_true_50.rate like_sync_true_50.p50 \
			like_sync_true_50.p99 like_sync_true_50.p999 like_sync_false_50.target \
			like_sync_false_50.rate like_sync_false_50.p50 like_sync_false_50.p99 \
			like_sync_false_50.p999 bare_post_50.target bare_post_50.rate bare_post_50.p50 \
			bare_post_50.p99 bare_post_50.p999 like_50_own.target like_50_own.rate \
			like_50_own.p50 like_50_own.p99 like_50_own.p999 "${lat[@]}"
		printf '\n  },\n  "serial": {\n'
		jobject '    ' SER "${ser[@]}"
		printf '\n  },\n  "batching": {"likes_posted": %s, "ops_applied": %s, ' \
			"$(jnum "$LIKES_TOTAL")" "$(jnum "$OPS_APPLIED")"
		printf '"kafka_msgs": %s, "store_writes": %s},\n' "$(jnum "$BATCHES")" "$(jnum "$WRITES")"
		printf '  "edge_rss_mb_after_run": %s,\n' "$(jnum "$EDGE_RSS_MB")"
		printf '  "memory": '
		jmem
		printf ',\n'
		printf '  "postgres": {\n'
		jobject '    ' PG pg_warmup.txns pg_hot_row.txns pg_dedupe.txns like_count_sum likes_rows
		printf '\n  },\n  "convergence": {\n'
		jobject '    ' CONV likes visible timed_out errors skipped polls poll_errors \
			min p50 p90 p99 max mean poll_ms every_ms max_age_ms snapshot_ms load_target load_rate \
			load_cpu
		printf '\n  },\n  "convergence_runs": [\n'
		jconv_runs '    '
		printf '\n  ],\n  "central_feed": '
		jfeed
		printf ',\n'
		printf '  "date": %s,\n  "machine": %s,\n  "placement": %s,\n  "settings": %s,\n' \
			"$(jstr "$DATE")" "$(jstr "$MACHINE")" "$(jstr "$PLACEMENT")" "$(jstr "$SETTINGS")"
		printf '  "warnings": '
		jwarnings
		printf '\n}\n'
	} >"$OUT/latest.json"
}

# One table row: figure, value, target, verdict.
row() { # label key op target
	local v=${R[$2]:-} verdict
	if [[ -z $v ]]; then
		verdict="not measured: ${WHY[$2]:-}"
		v=null
	elif [[ -z $3 ]]; then
		verdict=${NOTE[$2]:-}
	else
		verdict=$(awk -v v="$v" -v t="$4" -v op="$3" \
			'BEGIN { ok = (op == ">=") ? v >= t : v <= t; print ok ? "met" : "missed" }')
	fi
	printf '| %-40s | %10s | %-8s | %s |\n' "$1" "$v" "${3:+$3 $4}" "$verdict"
}

print_table() {
	echo
	echo "likes bench, $DATE"
	echo "machine: $MACHINE"
	echo "placement: $PLACEMENT"
	echo "settings: $SETTINGS"
	echo
	printf '| %-40s | %10s | %-8s | %s |\n' figure value target verdict
	printf '|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..42})" "$(printf -- '-%.0s' {1..12})" \
		"$(printf -- '-%.0s' {1..10})" "---------"
	row "edge like / bare POST" edge_like_vs_bare ">=" 0.6
	row "edge like / Redis (no persistence)" edge_like_vs_redis ">=" 1.0
	row "edge like / Redis (AOF everysec)" edge_like_vs_redis_aof "" ""
	row "edge like, new items / bare POST" edge_like_cold_vs_bare "" ""
	row "edge like, viral half / bare POST" edge_like_viral_vs_bare "" ""
	row "edge count GET / bare GET" edge_get_vs_bare ">=" 0.8
	row "50-item batch GET cost, in GETs" edge_batch50_vs_get "<=" 3
	row "edge like / PostgreSQL hot row" edge_like_vs_naive ">=" 100
	row "edge like / PostgreSQL one row per like" edge_like_vs_naive_dedupe "" ""
	row "central apply / raw LevelDB, feed on (no publisher)" central_vs_raw_leveldb ">=" 1.0
	row "the same, feed off" central_vs_raw_leveldb_feed_off "" ""
	row "central apply, change feed on / off" central_feed_on_vs_off ">=" 0.85
	row "the same, until the feed is published" central_feed_published_on_vs_off "" ""
	row "the same, per central CPU second" central_feed_on_vs_off_per_core "" ""
	row "applier alone, feed on / off" central_apply_feed_on_vs_off "" ""
	row "p99 like ms at 50% of peak" p99_like_ms_at_50pct "<=" 5
	row "the same, h2load's CPU its own" p99_like_ms_at_50pct_own_cpu "" ""
	row "nghttpd POST p99 ms at that pace" bare_post_p99_ms_at_like_50pct "" ""
	row "p99 GET ms at 50% of peak" p99_get_ms_at_50pct "<=" 2
	row "p99 like ms at 80% of peak" p99_like_ms_at_80pct "" ""
	row "p99 GET ms at 80% of peak" p99_get_ms_at_80pct "" ""
	row "Kafka messages per 1M likes" kafka_msgs_per_1m_likes "<=" 1000
	row "store writes per 1M likes" store_writes_per_1m_likes "<=" 1000
	row "edge RSS MB at 10M items" edge_rss_mb_10m_items "" ""
	row "edge memory bound MB from its config" edge_mem_bound_mb "" ""
	row "central RSS MB at 10M items" central_rss_mb_10m_items "" ""
	row "central memory bound MB from its config" central_mem_bound_mb "" ""
	row "convergence p50 ms, worst of the runs" convergence_p50_ms "" ""
	row "convergence p99 ms, worst of the runs" convergence_p99_ms "<=" 2000
	row "replicated like (real) / Redis + WAIT" edge_like_replicated_real_vs_redis_wait ">=" 1.5
	row "replicated like (real) / bare producer" edge_like_replicated_real_vs_kafka_produce ">=" 0.8
	row "p99 at half peak, like / bare producer" \
		p99_like_replicated_real_vs_kafka_produce_at_half_peak "<=" 1.5
	row "central apply / Kafka Streams, per CPU" central_apply_vs_kstreams_per_core ">=" 2.0
	row "like rate, 2 workers / 1 (CPUs shared)" edge_workers2_vs_1_like "" ""
	row "GET rate, 2 workers / 1 (CPUs shared)" edge_workers2_vs_1_get "" ""
	row "durable like / like (store.sync on/off)" edge_like_durable_vs_like ">=" 0.85
	row "durable like / Redis (AOF everysec)" edge_like_durable_vs_redis_aof ">=" 1.0
	row "replicated like / like (changelog on/off)" edge_like_replicated_vs_like ">=" 0.85
	row "replicated like / Redis (AOF everysec)" edge_like_replicated_vs_redis_aof ">=" 1.0
	row "changelog records per like" changelog_records_per_like "" ""
	row "replicated like p99 ms, durable half-peak" p99_like_replicated_ms_at_half_durable_peak "" ""
	row "GET p99 with likes / alone, sync off" get_p99_mixed_vs_alone "<=" 1.5
	row "GET p99 with likes / alone, sync on" get_p99_mixed_vs_alone_sync "<=" 1.5
	row "serial fraction, like run" serial_fraction_like "" ""
	row "serial fraction, GET run" serial_fraction_get "" ""
	row "serial fraction, mixed run, sync off" serial_fraction_mixed "" ""
	row "serial fraction, mixed run, sync on" serial_fraction_mixed_sync "" ""
	row "Amdahl bound, 4 workers" amdahl_bound_4_workers "" ""
	row "Amdahl bound, 8 workers" amdahl_bound_8_workers "" ""
	row "Amdahl bound, 16 workers" amdahl_bound_16_workers ">=" 8
	row "mixed run's s: locks every worker shares" lock_fraction_mixed "" ""
	row "mixed run's s: commit thread and seals" pipeline_fraction_mixed "" ""
	row "Amdahl bound, 16 workers, locks alone" amdahl_bound_16_workers_locks ">=" 8
	row "one-thread work's bound (1 / its share)" pipeline_bound "" ""
	row "nghttpd GET p99 with POSTs / alone" bare_get_p99_mixed_vs_alone "" ""
	row "per server CPU s: like / bare POST" edge_like_vs_bare_per_core "" ""
	row "per server CPU s: like / Redis" edge_like_vs_redis_per_core "" ""
	row "per server CPU s: GET / bare GET" edge_get_vs_bare_per_core "" ""
	row "per server CPU s: batch GET, in GETs" edge_batch50_vs_get_per_core "" ""
	row "per server CPU s: durable / like" edge_like_durable_vs_like_per_core "" ""
	row "per server CPU s: durable / Redis AOF" edge_like_durable_vs_redis_aof_per_core "" ""
	echo
	print_sync
	print_mixed
	print_feed
	echo "rates (req/s): like new items ${RATE[like_cold]}, like ${RATE[like]}," \
		"like viral ${RATE[like_viral]}, GET ${RATE[get]}, batch50 ${RATE[batch50]}," \
		"batch50 all counters ${RATE[batch50_all]};" \
		"bare POST ${RATE[bare_post]}, bare GET ${RATE[bare_get]};" \
		"Redis ${RATE[redis]}, Redis AOF ${RATE[redis_aof]};" \
		"PostgreSQL hot row ${RATE[pg_hot_row]:-null} tps, one row per like ${RATE[pg_dedupe]:-null} tps;" \
		"workers (edge and h2load on CPUs $SERVER_CPU,$LOAD_CPU): like ${RATE[like_w1]:-null} with 1," \
		"${RATE[like_w2]:-null} with 2; GET ${RATE[get_w1]:-null} with 1, ${RATE[get_w2]:-null} with 2"
	echo "latency ms (p50/p99/p999): like@50% ${LAT[like_50.p50]}/${LAT[like_50.p99]}/${LAT[like_50.p999]}," \
		"like@80% ${LAT[like_80.p50]}/${LAT[like_80.p99]}/${LAT[like_80.p999]}," \
		"GET@50% ${LAT[get_50.p50]}/${LAT[get_50.p99]}/${LAT[get_50.p999]}," \
		"GET@80% ${LAT[get_80.p50]}/${LAT[get_80.p99]}/${LAT[get_80.p999]}"
	echo "batching: $LIKES_TOTAL likes POSTed, $OPS_APPLIED ops applied by central in" \
		"$BATCHES batches (Kafka messages) and $WRITES store writes"
	echo "edge RSS after the run: ${EDGE_RSS_MB} MB ($((ITEMS + 1)) items in play)"
	if [[ -n $MEM_DATE ]]; then
		echo "memory figures: $MEM_KV of $MEM_DATE (${MEM[items]:-?} items, ${MEM[users]:-?} users)"
	fi
	echo "convergence ms, the last run (min/p50/p90/p99/max): ${CONV[min]:-}/${CONV[p50]:-}/${CONV[p90]:-}/${CONV[p99]:-}/${CONV[max]:-}," \
		"${CONV[visible]:-0} of ${CONV[likes]:-0} likes seen at edge B, ${CONV[timed_out]:-0} never;" \
		"resolution: one poll (${CONV_POLL_MS} ms or 1% of the sample) + one GET; bound: batch.max_age_ms ($CONV_AGE_MS)" \
		"+ snapshot_interval_ms ($SNAPSHOT_MS) + Kafka transit, under ${CONV[load_rate]:-0} likes/s"
	echo "convergence runs, the like load on CPU $CONV_LOAD_CPU (p99 target <= 2000 ms in each):"
	printf '  %s\n' "${CONV_LINES[@]+"${CONV_LINES[@]}"}"
	local w
	for w in "${WARN[@]+"${WARN[@]}"}"; do echo "warning: $w"; done
	echo "written: $OUT/latest.json"
}

main() {
	mkdir -p "$OUT"
	need_tools "make deps" h2load nghttpd redis-server redis-benchmark redis-cli curl ss taskset chrt
	DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	MACHINE="$(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(uname -r)"
	if (($(nproc) >= 2)); then
		PLACEMENT="CPU $SERVER_CPU: the server under test (edge A, nghttpd, redis-server or postgres),"
		PLACEMENT+=" sim bench-central, sim bench-feed, central in the change feed runs;"
		PLACEMENT+=" CPU $LOAD_CPU: load generators (h2load, redis-benchmark, pgbench),"
		PLACEMENT+=" central, the embedded broker, the replicated likes' regional cluster (embedded,"
		PLACEMENT+=" or three real Kafka nodes), edge B, sim converge-probe and sim produce-batches;"
		PLACEMENT+=" the convergence runs' h2load on CPU $CONV_LOAD_CPU; the peers as peers.json says"
	else
		PLACEMENT="one CPU: nothing pinned"
	fi
	SETTINGS="h2load: $CONNS processes x (-c 1 -m $DEPTH -t 1), one X-User-Id each, POST body '{}';"
	SETTINGS+=" redis-benchmark -c $CONNS -P $DEPTH EVALSHA; edge store.sync=false (default)"
	SETTINGS+=" except the store.sync runs;"
	SETTINGS+=" latency runs: h2load --rps for ${LAT_S}s, percentiles from --log-file;"
	SETTINGS+=" PostgreSQL: pgbench -c $CONNS -j 1 -M prepared -T $PG_S, unix socket, fsync and"
	SETTINGS+=" synchronous_commit on, $ITEMS count rows, otherwise defaults;"
	SETTINGS+=" convergence: both edges batch.max_ops=1000 batch.max_age_ms=$CONV_AGE_MS,"
	SETTINGS+=" central snapshot_interval_ms=$SNAPSHOT_MS, kafka fetch.wait.max.ms=10,"
	SETTINGS+=" a probe like every ${CONV_EVERY_MS} ms, each polled at B every ${CONV_POLL_MS} ms"
	SETTINGS+=" or 1% of its age for ${CONV_S}s, the like load's h2load on CPU $CONV_LOAD_CPU"
	printf '{}' >"$TMP/body.json"
	LAT_LIKES=0

	start_stack "$LOAD_CPU" "$SERVER_CPU"
	bench_edge
	bench_workers
	bench_sync
	bench_replicated embedded
	bench_replicated real
	bench_mixed
	converge_runs "${BENCH_CONV_RUNS:-3}"
	stop_stack
	bench_bare
	bench_redis
	bench_pg
	bench_central
	bench_feed_inproc
	bench_feed
	bench_peers_child
	compute
	write_json
	print_table
}

# The peers (issue 69) in the full run: `bench.sh peers` as a child
# process, on a stack and a real three-node cluster of its own once this
# run's daemons are down (BENCH_PEERS=0 leaves it out). Its figures come
# back through OUT/peers.json into R, so latest.json and the table have
# them; peers.json keeps the rest (rounds, CPU per like, Kafka Streams).
# PEER_KEYS and PEER_P99 are with KEYS.
bench_peers_child() {
	local k t why="" rc=0
	if [[ ${BENCH_PEERS:-1} == 0 ]]; then
		why="left out (BENCH_PEERS=0)"
	elif ! command -v java >/dev/null; then
		why="java is missing (make deps)"
	else
		for t in peer_produce redis_wait; do
			[[ -x $BIN/$t ]] || why="$BIN/$t is missing (make bench builds it)"
		done
	fi
	if [[ -z $why ]]; then
		echo
		echo "peers (issue 69): sim/bench/bench.sh peers, on its own stack and cluster"
		rm -f "$OUT/peers.json"
		# Tracked, so that a signal to this run reaches it (bench_lib's run).
		BENCH_LOGS="$OUT/logs/peers" run "" sim/bench/bench.sh peers || rc=$?
		((rc == 0)) || why="bench.sh peers exited with $rc (its output above; logs in $OUT/logs/peers)"
		[[ -f $OUT/peers.json ]] || why="bench.sh peers wrote no $OUT/peers.json (exit $rc)"
	fi
	for k in "${PEER_KEYS[@]}"; do
		peer_take "$k" "$k" "$why" "$OUT/peers.json has no figure for it"
	done
	for t in "${PEER_P99[@]}"; do
		peer_take "p99_${t}_ms_at_half_peak" "${t}_50.p99" "$why" \
			"$OUT/peers.json has no paced run of $t"
	done
	# Issue 69: the replicated like's p99 at half its peak within 1.5 x
	# the bare producer's at the same rate (peer_produce paced at the
	# edge's half peak: kafka_produce_at_like_50).
	peer_take p99_kafka_produce_ms_at_like_half_peak kafka_produce_at_like_50.p99 "$why" \
		"$OUT/peers.json has no paced run of kafka_produce at the edge's rate"
	k=p99_like_replicated_real_vs_kafka_produce_at_half_peak
	R[$k]=$(div "${R[p99_like_replicated_real_ms_at_half_peak]:-}" \
		"${R[p99_kafka_produce_ms_at_like_half_peak]:-}")
	[[ -n ${R[$k]} ]] || WHY[$k]=${why:-"a paced run is missing"}
}

# R[key] from peers.json's field; else WHY[key]: why, when the peers did
# not run or failed, or missing, when the file lacks the figure.
peer_take() { # key field why missing
	if [[ -n $3 ]]; then
		WHY[$1]=$3
		return 0
	fi
	R[$1]=$(json_field "$OUT/peers.json" "$2")
	[[ -n ${R[$1]} ]] || WHY[$1]=$4
}

# `sim/bench/bench.sh reads`: the stack, one untimed like run so every item has
# a count, then GETs and batch GETs at the edge, then GETs at nghttpd.
perf_begin() { # name [pid: the edge's unless given]
	[[ -n ${BENCH_PERF:-} ]] || return 0
	mkdir -p "$BENCH_PERF"
	perf record -q --call-graph dwarf,16384 -F "${BENCH_PERF_HZ:-2000}" -p "${2:-$EDGE_PID}" \
		-o "$BENCH_PERF/$1.data" \
		>/dev/null 2>&1 &
	PERF_PID=$!
	track "$PERF_PID"
}

perf_end() {
	[[ -n ${PERF_PID:-} ]] || return 0
	kill -INT "$PERF_PID" 2>/dev/null || true
	wait "$PERF_PID" 2>/dev/null || true
	untrack "$PERF_PID"
	PERF_PID=
}

main_reads() {
	mkdir -p "$OUT"
	need_tools "make deps" h2load curl ss taskset nghttpd chrt
	[[ -z ${BENCH_PERF:-} ]] || need_tools "make bench-deps" perf
	if [[ -n ${BENCH_ALLOCS:-} ]]; then
		[[ -f $BIN/alloccount.so ]] || {
			echo "bench: BENCH_ALLOCS needs $BIN/alloccount.so (make $BIN/alloccount.so)" >&2
			exit 1
		}
		EDGE_ENV="LD_PRELOAD=$PWD/$BIN/alloccount.so ALLOCCOUNT_FILE=$TMP/allocs"
	fi
	stack_with_likes
	batch_list "$TMP/batch.txt" "http://127.0.0.1:$EDGE_PORT" 1200 "&counters=likes"
	# measure settled after the cold likes: their aftermath is not the
	# GETs' cost.
	local a0 a1 a2 a3 t0 t1 t2 t3
	allocs_at a0 t0
	perf_begin get
	measure get "$NREQ" "$TMP/likes.txt" reader 0 0
	perf_end
	allocs_at a1 t1
	perf_begin batch50
	measure batch50 "$NBATCH" "$TMP/batch.txt" reader 0 0
	perf_end
	allocs_at a2 t2
	if [[ -n ${BENCH_ALLOCS:-} ]]; then
		sleep 5 # the daemon's own allocations (Kafka clients, ticks) without requests
		allocs_at a3 t3
	fi
	stop_stack
	nghttpd_start
	CORE_PID=$NGHTTPD_PID
	measure bare_get "$NREQ" "$TMP/bare.txt" bench 0 0
	CORE_PID=""
	stop "$NGHTTPD_PID"
	echo
	printf '  edge_get_vs_bare     %s  (edge GET %s/s, bare GET %s/s)\n' \
		"$(div "${RATE[get]}" "${RATE[bare_get]}")" "${RATE[get]}" "${RATE[bare_get]}"
	printf '  edge_batch50_vs_get  %s  (batch GET %s/s)\n' \
		"$(div "${RATE[get]}" "${RATE[batch50]}")" "${RATE[batch50]}"
	# The edge's CPU per request (measure's CORE, inverted) moves less
	# with the host's noise than the rates do.
	local get_us batch_us
	get_us=$(div 1000000 "${CORE[get]:-}" %.2f)
	batch_us=$(div 1000000 "${CORE[batch50]:-}" %.2f)
	printf '  edge CPU per request: GET %s us, batch GET %s us (%s GETs)\n' "$get_us" \
		"$batch_us" "$(div "$batch_us" "$get_us")"
	if [[ -n ${BENCH_ALLOCS:-} ]]; then
		# Each run's count less what the daemon allocates without
		# requests over the same time (the idle rate after the runs).
		awk -v a0="$a0" -v a1="$a1" -v a2="$a2" -v a3="$a3" -v t0="$t0" -v t1="$t1" \
			-v t2="$t2" -v t3="$t3" -v ng="$NREQ" -v nb="$NBATCH" 'BEGIN {
			bg = (a3 - a2) / (t3 - t2)
			printf "  edge allocations per request: GET %.3f, batch GET %.3f", \
				(a1 - a0 - bg * (t1 - t0)) / ng, (a2 - a1 - bg * (t2 - t1)) / nb
			printf " (malloc+calloc+realloc; %.0f per second without requests)\n", bg
		}'
	fi
}

# The edge's allocations so far (with BENCH_ALLOCS: alloccount.so writes
# them to TMP/allocs on SIGUSR2) into the variable named by $1, and the
# time into $2; 0 without BENCH_ALLOCS.
# shellcheck disable=SC2034 # count and at are namerefs to the caller's
allocs_at() { # count-var time-var
	local -n count=$1 at=$2
	count=0
	at=$(date +%s.%N)
	[[ -n ${BENCH_ALLOCS:-} ]] || return 0
	rm -f "$TMP/allocs"
	kill -USR2 "$EDGE_PID"
	wait_until "the edge's allocation count" 5 grep -q . "$TMP/allocs"
	count=$(awk '{ print $1 + $2 + $3 }' "$TMP/allocs")
}

# `bench.sh ab`: two edges, A and B, measured in turns on one stack, for a
# change whose effect is smaller than the drift between runs minutes
# apart. BENCH_AB_A and BENCH_AB_B name each side's binary (build/edge by
# default), BENCH_AB_INI_A and BENCH_AB_INI_B more config lines for it (as
# BENCH_EDGE_INI, after it; a key set there too, or by BENCH_COMMIT_THREAD,
# makes the edge refuse its config). BENCH_AB_ROUNDS (6, even) rounds, the
# order flipped each round (A B, B A, ...) so that each side runs first as
# often as second. The stack and its store are made first with build/edge
# (stack_with_likes). Each turn restarts the edge on that store with the
# side's binary and config, reads every item once untimed (each h2load
# process walks the list once: its count cache filled), then measures a
# GET run (BENCH_N GETs) and a like run (fresh users, 4 x BENCH_ITEMS
# likes). Prints each run, then each side's medians and B over A.
# BENCH_AB_CHANGELOG=embedded|real: each turn also measures the replicated
# like (ab_replicated: the changelog on a regional cluster of that kind,
# started once after the stack, the deployed shape's write path).
# BENCH_AB_SIM_A and BENCH_AB_SIM_B: each turn also runs that side's
# `sim bench-central --json` (ab_central: central's applier in-process,
# the feed off, which an older sim may not have).
main_ab() {
	local a=${BENCH_AB_A:-$BIN/edge} b=${BENCH_AB_B:-$BIN/edge} rounds=${BENCH_AB_ROUNDS:-6}
	local r side order fail non base_ini=${BENCH_EDGE_INI:-}
	if ! [[ $rounds =~ ^[1-9][0-9]*$ ]] || ((rounds % 2)); then
		echo "bench: BENCH_AB_ROUNDS must be an even number from 2, not '$rounds'" >&2
		exit 1
	fi
	for side in "$a" "$b" ${BENCH_AB_SIM_A:-} ${BENCH_AB_SIM_B:-}; do
		[[ -x $side ]] || {
			echo "bench: no binary at $side" >&2
			exit 1
		}
	done
	mkdir -p "$OUT"
	need_tools "make deps" h2load curl ss taskset chrt
	local with_a="" with_b=""
	[[ -z ${BENCH_AB_INI_A:-} ]] || with_a=" with \"$BENCH_AB_INI_A\""
	[[ -z ${BENCH_AB_INI_B:-} ]] || with_b=" with \"$BENCH_AB_INI_B\""
	echo "ab: A = $a$with_a, B = $b$with_b; $rounds rounds"
	stack_with_likes
	case ${BENCH_AB_CHANGELOG:-} in
	"") ;;
	embedded | real) regional_start "$BENCH_AB_CHANGELOG" ;;
	*)
		echo "bench: BENCH_AB_CHANGELOG must be embedded or real, not '$BENCH_AB_CHANGELOG'" >&2
		exit 1
		;;
	esac
	for ((r = 1; r <= rounds; r++)); do
		order="A B"
		((r % 2)) || order="B A"
		for side in $order; do
			if [[ $side == A ]]; then
				EDGE_BIN=$a
				BENCH_EDGE_INI=$base_ini${BENCH_AB_INI_A:+\\n$BENCH_AB_INI_A}
			else
				EDGE_BIN=$b
				BENCH_EDGE_INI=$base_ini${BENCH_AB_INI_B:+\\n$BENCH_AB_INI_B}
			fi
			edge_start "edge-ab-$side-$r" "$SERVER_CPU"
			h2run "warm_${side}_$r" "$((ITEMS * CONNS))" "$TMP/likes.txt" reader 0 0
			read -r _ _ fail non <<<"$H2"
			if ((fail > 0 || non > 0)); then
				WARN+=("warm_${side}_$r: $fail failed, $non non-2xx answers")
			fi
			measure "get_${side}_$r" "$NREQ" "$TMP/likes.txt" reader 0 0
			measure "like_${side}_$r" "$((ITEMS * CONNS))" "$TMP/likes.txt" "ab$side${r}u" 1 0
			[[ -z ${BENCH_AB_CHANGELOG:-} ]] || ab_replicated "$side" "$r"
			ab_central "$side" "$r"
		done
	done
	EDGE_BIN=""
	BENCH_EDGE_INI=$base_ini
	[[ -z $REGIONAL_PID ]] || stop "$REGIONAL_PID"
	stop_stack
	echo
	echo "ab: medians of $rounds runs each (per server CPU second in brackets)"
	local k ma mb ca cb kinds=(get like)
	[[ -z ${BENCH_AB_CHANGELOG:-} ]] || kinds+=(repl)
	[[ -z ${BENCH_AB_SIM_A:-}${BENCH_AB_SIM_B:-} ]] || kinds+=(central)
	for k in "${kinds[@]}"; do
		ma=$(ab_median RATE "$k" A "$rounds")
		mb=$(ab_median RATE "$k" B "$rounds")
		ca=$(ab_median CORE "$k" A "$rounds")
		cb=$(ab_median CORE "$k" B "$rounds")
		printf '  %-5s A %8s/s (%s)  B %8s/s (%s)  B/A %s (%s)\n' "$k" "$ma" "$ca" "$mb" "$cb" \
			"$(div "$mb" "$ma")" "$(div "$cb" "$ca")"
	done
	if ((${#WARN[@]})); then
		printf 'warning: %s\n' "${WARN[@]}"
	fi
}

# `sim/bench/bench.sh shapes`: what nghttpd alone pays for the edge's
# request and answer shapes, against its bare GET and POST (one path,
# which HPACK indexes, and an empty file). The shaped runs ask a new path
# each request (/count?/v1/items/post/c<i>/likes and the like; nghttpd
# serves the file and ignores the query) for files the size of the
# edge's answers: a count GET's, a like's, and a 50-item batch GET's (a
# 1 KB path as the bench's batch lists have). nghttpd reads the file for
# each answer (a pread), which the edge does not; the ratios include it.
main_shapes() {
	mkdir -p "$OUT"
	need_tools "make deps" h2load curl ss taskset nghttpd chrt
	printf '{}' >"$TMP/body.json"
	nghttpd_start
	local d=$TMP/docroot base
	base=${NGHTTPD_URL%/empty}
	printf '{"item":"post:c12345","counter":"likes","count":4,"display":"4","version":123456,"as_of":1795540000000}' \
		>"$d/count"
	printf '{"item":"post:c12345","counter":"likes","member":true,"changed":true,"count":5,"display":"5","version":123456,"hlc":7395540000000000000}' \
		>"$d/like"
	awk 'BEGIN {
		for (j = 0; j < 50; j++) {
			c = c (j ? "," : "") "\"post:c" j "\":{\"likes\":4}"
			v = v (j ? "," : "") "\"post:c" j "\":{\"likes\":\"4\"}"
			f = f (j ? "," : "") "\"post:c" j "\":{\"version\":123456,\"as_of\":1795540000000}"
		}
		printf "{\"counts\":{%s},\"display\":{%s},\"freshness\":{%s}}", c, v, f
	}' >"$d/batch"
	uri_list "$TMP/count.txt" "$base/count?" /v1/items/post/ "$ITEMS"
	uri_list "$TMP/like.txt" "$base/like?" /v1/items/post/ "$ITEMS"
	batch_list "$TMP/batchq.txt" "$base/batch?" 1200 "&counters=likes"
	echo "answers: count $(wc -c <"$d/count") B, like $(wc -c <"$d/like") B," \
		"batch $(wc -c <"$d/batch") B; batch path $(head -n 1 "$TMP/batchq.txt" | wc -c) B"
	CORE_PID=$NGHTTPD_PID
	measure bare_get "$NREQ" "$TMP/bare.txt" bench 0 0
	measure shape_get "$NREQ" "$TMP/count.txt" bench 0 0
	measure shape_batch "$NBATCH" "$TMP/batchq.txt" bench 0 0
	measure bare_post "$NREQ" "$TMP/bare.txt" bench 1 0
	measure shape_post "$NREQ" "$TMP/like.txt" bench 1 0
	CORE_PID=""
	stop "$NGHTTPD_PID"
	echo
	echo "nghttpd, shaped / bare: by rate (per server CPU second)"
	printf '  count GET / bare GET     %s (%s)\n' "$(div "${RATE[shape_get]}" "${RATE[bare_get]}")" \
		"$(div "${CORE[shape_get]:-}" "${CORE[bare_get]:-}")"
	printf '  like POST / bare POST    %s (%s)\n' "$(div "${RATE[shape_post]}" "${RATE[bare_post]}")" \
		"$(div "${CORE[shape_post]:-}" "${CORE[bare_post]:-}")"
	printf '  batch GET, in count GETs %s (%s)\n' "$(div "${RATE[shape_get]}" "${RATE[shape_batch]}")" \
		"$(div "${CORE[shape_get]:-}" "${CORE[shape_batch]:-}")"
	if ((${#WARN[@]})); then
		printf 'warning: %s\n' "${WARN[@]}"
	fi
}

# The median of the figures ARRAY[kind_side_1..rounds] that are numbers,
# printed with format (%.0f unless given).
# One turn's replicated like (bench.sh ab, BENCH_AB_CHANGELOG): the side's
# edge (EDGE_BIN, BENCH_EDGE_INI) restarted with its changelog on the
# regional cluster, once it has taken the log over; on real Kafka the
# cluster warmed through it first (cluster_warm). The next turn's
# edge_start brings the plain edge back.
ab_replicated() { # side round
	replicated_edge_up "ab-repl-$1-$2"
	[[ ${BENCH_AB_CHANGELOG} == real ]] && cluster_warm "ab_warm_$1_$2" "$TMP/likes.txt" "aw$1$2" "the edge"
	local MEASURE_ALSO=$REGIONAL_PID
	measure "repl_${1}_$2" "$((ITEMS * CONNS))" "$TMP/likes.txt" "ab$1${2}r" 1 0
}

# One turn's central apply (bench.sh ab, BENCH_AB_SIM_A/B): the side's sim
# bench-central on the server's CPU; its ops/s as RATE[central_SIDE_R], its
# ops per second of the loop thread's CPU as CORE[central_SIDE_R].
ab_central() { # side round
	local sim k=central_${1}_$2 rc=0 out
	[[ $1 == A ]] && sim=${BENCH_AB_SIM_A:-} || sim=${BENCH_AB_SIM_B:-}
	[[ -n $sim ]] || return 0
	out=$OUT/ab_$k.json
	run "$SERVER_CPU" timeout 180 "$sim" bench-central --json >"$out" 2>"$TMP/ab_$k.log" || rc=$?
	if ((rc != 0)); then
		WARN+=("$k: $sim bench-central exited with $rc")
		return 0
	fi
	RATE[$k]=$(json_field "$out" central_ops_per_s)
	CORE[$k]=$(awk -v n="$(json_field "$out" ops)" -v c="$(json_field "$out" central_cpu_seconds)" \
		'BEGIN { if (c > 0) printf "%.0f", n / c }')
	echo "  $k: ${RATE[$k]} ops/s, ${CORE[$k]} per CPU second ($sim bench-central)"
}

ab_median() { # array kind side rounds [format]
	local -n arr=$1
	local i v=()
	for ((i = 1; i <= $4; i++)); do
		isnum "${arr[${2}_${3}_$i]:-}" && v+=("${arr[${2}_${3}_$i]}")
	done
	((${#v[@]})) || return 0
	printf '%s\n' "${v[@]}" | sort -g | awk -v f="${5:-%.0f}" '{ v[NR] = $1 }
		END { printf f, NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

pacer_check
case ${1:-} in
sync) main_sync ;;
converge) main_converge ;;
peers) main_peers ;;
kstreams) main_kstreams ;;
feed) main_feed ;;
latency) main_latency ;;
reads) main_reads ;;
ab) main_ab ;;
shapes) main_shapes ;;
*) main "$@" ;;
esac
