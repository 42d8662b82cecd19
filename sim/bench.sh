#!/usr/bin/env bash
# bench.sh - `make bench`: side-by-side benchmarks of the edge against the
# stacks it runs on (a bare nghttpd, Redis doing the same job) and of
# central against a raw LevelDB loop (build/sim bench-central, when built).
# Ratios measured in one run are the result; absolute rates drift on a
# shared machine. Writes build/bench/latest.json and prints a table.
#
# Owns: one private temp dir (configs, data, URI lists, h2load output) and
# every process it starts (broker, central, one edge, nghttpd, redis-server,
# the load generators), each stopped by PID in the EXIT trap. Loopback only.
#
# Knobs (environment): BENCH_ITEMS distinct items per URI list (120000;
# each like run sends 4 x that), BENCH_N requests per bare/GET run
# (1000000), BENCH_BATCH_N batch GETs (100000), BENCH_REDIS_N Redis ops
# (1000000), BENCH_LAT_S seconds per latency run (10), BENCH_SERVER_CPU (0)
# and BENCH_LOAD_CPU (1).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=build
OUT=build/bench
ITEMS=${BENCH_ITEMS:-120000}
NREQ=${BENCH_N:-1000000}
NBATCH=${BENCH_BATCH_N:-100000}
NREDIS=${BENCH_REDIS_N:-1000000}
LAT_S=${BENCH_LAT_S:-10}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
LOAD_CPU=${BENCH_LOAD_CPU:-1}
CONNS=4  # h2load processes, one connection each (see h2run)
DEPTH=16 # streams per connection; Redis gets the same pipeline depth
TOKEN=bench-token

TMP=$(mktemp -d /tmp/likes-bench.XXXXXX)
PIDS=()
USED_PORTS=" "
declare -A R      # results: key -> number or empty
declare -A WHY    # key -> reason it is null
declare -A RATE   # raw rates, req/s
declare -A LAT    # latency figures, ms

# ---- processes ------------------------------------------------------------

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	local i
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		kill -TERM "${PIDS[$i]}" 2>/dev/null || true
	done
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		wait "${PIDS[$i]}" 2>/dev/null || true
	done
	mkdir -p "$OUT/logs"
	cp "$TMP"/*.log "$OUT/logs/" 2>/dev/null || true
	rm -rf "$TMP"
	if ((rc != 0)); then
		echo "bench: failed (exit $rc); daemon logs in $OUT/logs/" >&2
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

track() { PIDS+=("$1"); }

untrack() { # pid
	local keep=() p
	for p in "${PIDS[@]}"; do
		[[ $p == "$1" ]] || keep+=("$p")
	done
	PIDS=("${keep[@]+"${keep[@]}"}")
}

# Stops one tracked process and waits for it.
stop() { # pid
	kill -TERM "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	untrack "$1"
}

# Pinning is skipped on a one-core machine; PIN is the prefix for a CPU.
pin() { # cpu
	if (($(nproc) >= 2)); then
		echo "taskset -c $1"
	fi
}

# Starts a daemon in the background with its log in TMP; sets LAST_PID.
start() { # name cpu command...
	local name=$1 cpu=$2
	shift 2
	# shellcheck disable=SC2046
	$(pin "$cpu") "$@" >"$TMP/$name.log" 2>&1 &
	LAST_PID=$!
	track "$LAST_PID"
}

wait_until() { # what seconds command...
	local what=$1 deadline=$((SECONDS + $2))
	shift 2
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS > deadline)); then
			echo "bench: timed out waiting for $what" >&2
			tail -n 20 "$TMP"/*.log >&2 || true
			exit 1
		fi
		sleep 0.1
	done
}

# Picks a loopback port nobody listens on and this run has not used; sets PORT.
free_port() {
	local p
	while true; do
		p=$((20000 + RANDOM % 40000))
		[[ $USED_PORTS == *" $p "* ]] && continue
		if [[ -z $(ss -Htln "sport = :$p") ]]; then
			USED_PORTS+="$p "
			PORT=$p
			return 0
		fi
	done
}

# ---- the stack --------------------------------------------------------------

write_configs() {
	cat >"$TMP/central.ini" <<EOF
[central]
id = bench-central
data_dir = $TMP/central
snapshot_interval_ms = 1000
ops_listen = 127.0.0.1:$OPS_PORT
ops_token = $TOKEN
[bus]
bootstrap_file = $TMP/bootstrap
[kafka]
fetch.wait.max.ms = 10
EOF
	cat >"$TMP/edge.ini" <<EOF
[edge]
id = bench
region = bench
data_dir = $TMP/edge
[http]
listen = 127.0.0.1:$EDGE_PORT
[identity]
dev_header = true
[central]
ops = 127.0.0.1:$OPS_PORT
token = $TOKEN
[bus]
bootstrap_file = $TMP/bootstrap
[kafka]
fetch.wait.max.ms = 10
EOF
}

start_stack() {
	free_port
	OPS_PORT=$PORT
	free_port
	EDGE_PORT=$PORT
	write_configs
	start broker "$LOAD_CPU" "$BIN/sim" broker --bootstrap-file "$TMP/bootstrap" \
		--topic likes.batches:16 --topic likes.snapshots:16 --topic likes.deadletter:1
	BROKER_PID=$LAST_PID
	wait_until "the embedded broker" 20 test -s "$TMP/bootstrap"
	start central "$LOAD_CPU" "$BIN/central" -c "$TMP/central.ini"
	CENTRAL_PID=$LAST_PID
	wait_until "central /healthz" 20 curl -sf "http://127.0.0.1:$OPS_PORT/healthz"
	start edge "$SERVER_CPU" "$BIN/edge" -c "$TMP/edge.ini"
	EDGE_PID=$LAST_PID
	wait_until "edge /healthz" 20 \
		curl -sf --http2-prior-knowledge "http://127.0.0.1:$EDGE_PORT/healthz"
}

stop_stack() {
	stop "$EDGE_PID"
	stop "$CENTRAL_PID"
	stop "$BROKER_PID"
}

central_metric() { # name (without likes_central_)
	curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$OPS_PORT/metrics" |
		awk -v k="likes_central_$1" '$1 == k { print $2; found = 1 } END { if (!found) print 0 }'
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
# user: process k sends X-User-Id: <user>k. Prints "rate ok failed non2xx"
# (rate = all 2xx answers / the slowest process's time).
h2run() { # name n urifile user post(0|1) rps(per process, 0 = peak) [logprefix]
	local name=$1 n=$2 list=$3 user=$4 post=$5 rps=$6 logp=${7:-}
	local per=$(((n + CONNS - 1) / CONNS)) k pids=() args
	for ((k = 0; k < CONNS; k++)); do
		args=(-n "$per" -c 1 -m "$DEPTH" -t 1 -i "$list" -H "X-User-Id: $user$k")
		((post)) && args+=(-d "$TMP/body.json")
		((rps > 0)) && args+=(--rps "$rps")
		[[ -n $logp ]] && args+=(--log-file "$logp.$k")
		# shellcheck disable=SC2046
		$(pin "$LOAD_CPU") h2load "${args[@]}" >"$TMP/h2.$name.$k.out" 2>&1 &
		pids+=($!)
		track "$!"
	done
	for k in "${pids[@]}"; do
		wait "$k" || true
		untrack "$k"
	done
	awk '
	/^finished in/ {
		t = $3; sub(/,$/, "", t)
		if (t ~ /ms$/) s = t / 1000; else if (t ~ /us$/) s = t / 1e6; else s = t + 0
		if (s > max) max = s
	}
	/^requests:/ { ok += $8; fail += $10 }
	/^status codes:/ { non += $5 + $7 + $9 }
	END { printf "%.0f %d %d %d\n", (max > 0 ? ok / max : 0), ok, fail, non }
	' "$TMP"/h2."$name".*.out
}

# Runs h2run and records the rate; warns on failures.
measure() { # key h2run-args...
	local key=$1 rate ok fail non
	shift
	read -r rate ok fail non < <(h2run "$key" "$@")
	RATE[$key]=$rate
	RATE_OK[$key]=$ok
	printf '  %-22s %10s req/s  (%s ok, %s failed, %s non-2xx)\n' "$key" "$rate" "$ok" "$fail" "$non"
	if ((fail > 0 || non > 0)); then
		WARN+=("$key: $fail failed, $non non-2xx answers")
	fi
}
declare -A RATE_OK
WARN=()

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
	local key=$1 pct=$2 peak=$3 list=$4 user=$5 post=$6
	local total=$((peak * pct / 100)) per n rate ok fail non p50 p99 p999
	per=$(((total + CONNS - 1) / CONNS))
	n=$((total * LAT_S))
	if ((post && n / CONNS > ITEMS)); then n=$((ITEMS * CONNS)); fi
	read -r rate ok fail non < <(h2run "$key" "$n" "$list" "$user" "$post" "$per" "$TMP/lat.$key")
	read -r p50 p99 p999 < <(percentiles "$TMP/lat.$key")
	LAT[$key.target]=$total
	LAT[$key.rate]=$rate
	LAT[$key.p50]=$p50
	LAT[$key.p99]=$p99
	LAT[$key.p999]=$p999
	printf '  %-22s target %6s/s got %6s/s  p50 %s  p99 %s  p999 %s ms\n' \
		"$key" "$total" "$rate" "$p50" "$p99" "$p999"
	if ((fail > 0 || non > 0)); then
		WARN+=("$key: $fail failed, $non non-2xx answers")
	fi
	if ((post)); then LAT_LIKES=$((LAT_LIKES + ok)); fi
	rm -f "$TMP/lat.$key".*
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
	measure like "$likes" "$TMP/likes.txt" warm 1 0
	measure like_viral "$likes" "$TMP/viral.txt" viral 1 0
	measure get "$NREQ" "$TMP/likes.txt" reader 0 0
	measure batch50 "$NBATCH" "$TMP/batch.txt" reader 0 0
	# The same batches without &counters= (every counter of every item).
	measure batch50_all "$((NBATCH / 5))" "$TMP/batch_all.txt" reader 0 0

	latency_run like_50 50 "${RATE[like]}" "$TMP/likes.txt" l50u 1
	latency_run like_80 80 "${RATE[like]}" "$TMP/likes.txt" l80u 1
	latency_run get_50 50 "${RATE[get]}" "$TMP/likes.txt" reader 0
	latency_run get_80 80 "${RATE[get]}" "$TMP/likes.txt" reader 0

	LIKES_SENT=$((RATE_OK[like_cold] + RATE_OK[like] + RATE_OK[like_viral]))
	drain_central
	EDGE_RSS_MB=$(awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$EDGE_PID/status")
}

# Waits until central has applied every like POSTed (deduped repeats are
# batched too) or its counters stop moving; then takes the batching deltas.
drain_central() {
	local deadline=$((SECONDS + 60)) last=-1 same=0 applied
	local want=$((LIKES_SENT + LAT_LIKES))
	while ((SECONDS < deadline)); do
		applied=$(($(central_metric ops_applied_total) - APPLIED0))
		((applied >= want)) && break
		if ((applied == last)); then
			same=$((same + 1))
			((same >= 5)) && break
		else
			same=0
		fi
		last=$applied
		sleep 1
	done
	OPS_APPLIED=$(($(central_metric ops_applied_total) - APPLIED0))
	BATCHES=$(($(central_metric batches_applied_total) - BATCHES0))
	WRITES=$(($(central_metric store_writes_total) - WRITES0))
	LIKES_TOTAL=$want
}

bench_bare() {
	mkdir -p "$TMP/docroot"
	: >"$TMP/docroot/empty"
	free_port
	local port=$PORT
	start nghttpd "$SERVER_CPU" nghttpd --no-tls -d "$TMP/docroot" "$port"
	local pid=$LAST_PID
	wait_until "nghttpd" 10 curl -sf --http2-prior-knowledge "http://127.0.0.1:$port/empty"
	echo "http://127.0.0.1:$port/empty" >"$TMP/bare.txt"
	echo "bare nghttpd (pid $pid) on port $port"
	measure bare_post "$NREQ" "$TMP/bare.txt" bench 1 0
	measure bare_get "$NREQ" "$TMP/bare.txt" bench 0 0
	stop "$pid"
}

# The like job in Redis: SADD the user to the item's set, INCR the item's
# count when the user is new. Distinct random pairs, EVALSHA.
redis_run() { # key extra-server-args...
	local key=$1
	shift
	free_port
	local port=$PORT
	start "redis-$key" "$SERVER_CPU" redis-server --bind 127.0.0.1 --port "$port" \
		--dir "$TMP" --save '' "$@"
	local pid=$LAST_PID
	wait_until "redis-server" 10 redis-cli -p "$port" ping
	local sha rate
	sha=$(redis-cli -p "$port" SCRIPT LOAD \
		"if redis.call('SADD', 's:'..ARGV[1], ARGV[2]) == 1 then return redis.call('INCR', 'n:'..ARGV[1]) end return 0")
	# shellcheck disable=SC2046
	rate=$($(pin "$LOAD_CPU") redis-benchmark -p "$port" -n "$NREDIS" -c "$CONNS" -P "$DEPTH" \
		-r 100000000 --csv EVALSHA "$sha" 0 i__rand_int__ u__rand_int__ |
		awk -F'"' 'NR == 2 { printf "%.0f", $4 }')
	RATE[$key]=${rate:-0}
	printf '  %-22s %10s ops/s  (redis-server %s)\n' "$key" "${RATE[$key]}" "$*"
	stop "$pid"
}

bench_redis() {
	echo "redis-server: the like job as a Lua script (SADD, then INCR if new)"
	redis_run redis --appendonly no
	redis_run redis_aof --appendonly yes --appendfsync everysec
}

bench_central() {
	if ! "$BIN/sim" help 2>&1 | grep -q bench-central; then
		WHY[central_vs_raw_leveldb]="build/sim has no bench-central command yet"
		return 0
	fi
	echo "central apply vs raw LevelDB: $BIN/sim bench-central --json"
	local rc=0
	# shellcheck disable=SC2046
	timeout 180 $(pin "$SERVER_CPU") "$BIN/sim" bench-central --json \
		>"$OUT/central.json" 2>"$TMP/bench-central.log" || rc=$?
	if ((rc != 0)); then
		WHY[central_vs_raw_leveldb]="sim bench-central exited with $rc (log in $OUT/logs)"
		return 0
	fi
	R[central_vs_raw_leveldb]=$(grep -o '"central_vs_raw_leveldb"[[:space:]]*:[[:space:]]*[0-9.eE+-]*' \
		"$OUT/central.json" | head -n 1 | sed 's/.*:[[:space:]]*//')
	if [[ -z ${R[central_vs_raw_leveldb]} ]]; then
		WHY[central_vs_raw_leveldb]="sim bench-central printed no central_vs_raw_leveldb"
	fi
}

# ---- results ------------------------------------------------------------------

div() { # a b [format]
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
	R[edge_like_vs_naive]=""
	WHY[edge_like_vs_naive]="not measured yet (PostgreSQL is not in this round)"
	R[p99_like_ms_at_50pct]=${LAT[like_50.p99]}
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
	R[edge_rss_mb_10m_items]=""
	WHY[edge_rss_mb_10m_items]="not measured yet (needs 10M distinct items)"
	local k
	for k in "${KEYS[@]}"; do
		isnum "${R[$k]:-}" || R[$k]=""
		if [[ -z ${R[$k]} && -z ${WHY[$k]:-} ]]; then
			WHY[$k]="no figure: a run it depends on failed"
		fi
	done
}

isnum() { [[ $1 =~ ^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$ ]]; }

jnum() { # value: a number, or null
	if isnum "$1"; then printf '%s' "$1"; else printf null; fi
}

jstr() { # value: a JSON string (escapes \ and ")
	local s=${1//\\/\\\\}
	printf '"%s"' "${s//\"/\\\"}"
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

KEYS=(edge_like_vs_bare edge_get_vs_bare edge_batch50_vs_get edge_like_vs_redis
	edge_like_vs_naive central_vs_raw_leveldb p99_like_ms_at_50pct p99_get_ms_at_50pct
	kafka_msgs_per_1m_likes store_writes_per_1m_likes edge_rss_mb_10m_items
	edge_like_vs_redis_aof edge_like_cold_vs_bare edge_like_viral_vs_bare
	p99_like_ms_at_80pct p99_get_ms_at_80pct)

write_json() {
	local k why=() w first=1
	for k in "${KEYS[@]}"; do
		if [[ -n ${WHY[$k]:-} ]]; then why+=("$k"); fi
	done
	{
		printf '{\n'
		jobject '  ' R "${KEYS[@]}"
		printf ',\n  "reasons": {\n'
		if ((${#why[@]})); then jobject '    ' WHY "${why[@]}"; fi
		printf '\n  },\n  "rates_per_s": {\n'
		jobject '    ' RATE like_cold like like_viral get batch50 batch50_all bare_post bare_get redis redis_aof
		printf '\n  },\n  "latency_ms": {\n'
		jobject '    ' LAT like_50.target like_50.rate like_50.p50 like_50.p99 like_50.p999 \
			like_80.target like_80.rate like_80.p50 like_80.p99 like_80.p999 \
			get_50.target get_50.rate get_50.p50 get_50.p99 get_50.p999 \
			get_80.target get_80.rate get_80.p50 get_80.p99 get_80.p999
		printf '\n  },\n  "batching": {"likes_posted": %s, "ops_applied": %s, ' \
			"$(jnum "$LIKES_TOTAL")" "$(jnum "$OPS_APPLIED")"
		printf '"kafka_msgs": %s, "store_writes": %s},\n' "$(jnum "$BATCHES")" "$(jnum "$WRITES")"
		printf '  "edge_rss_mb_after_run": %s,\n' "$(jnum "$EDGE_RSS_MB")"
		printf '  "date": %s,\n  "machine": %s,\n  "placement": %s,\n  "settings": %s,\n' \
			"$(jstr "$DATE")" "$(jstr "$MACHINE")" "$(jstr "$PLACEMENT")" "$(jstr "$SETTINGS")"
		printf '  "warnings": ['
		for w in "${WARN[@]+"${WARN[@]}"}"; do
			((first)) || printf ', '
			first=0
			jstr "$w"
		done
		printf ']\n}\n'
	} >"$OUT/latest.json"
}

# One table row: figure, value, target, verdict.
row() { # label key op target
	local v=${R[$2]:-} verdict
	if [[ -z $v ]]; then
		verdict="not measured: ${WHY[$2]:-}"
		v=null
	elif [[ -z $3 ]]; then
		verdict=""
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
	row "central apply / raw LevelDB" central_vs_raw_leveldb ">=" 1.0
	row "p99 like ms at 50% of peak" p99_like_ms_at_50pct "<=" 5
	row "p99 GET ms at 50% of peak" p99_get_ms_at_50pct "<=" 2
	row "p99 like ms at 80% of peak" p99_like_ms_at_80pct "" ""
	row "p99 GET ms at 80% of peak" p99_get_ms_at_80pct "" ""
	row "Kafka messages per 1M likes" kafka_msgs_per_1m_likes "<=" 1000
	row "store writes per 1M likes" store_writes_per_1m_likes "<=" 1000
	row "edge RSS MB at 10M items" edge_rss_mb_10m_items "" ""
	echo
	echo "rates (req/s): like new items ${RATE[like_cold]}, like ${RATE[like]}," \
		"like viral ${RATE[like_viral]}, GET ${RATE[get]}, batch50 ${RATE[batch50]}," \
		"batch50 all counters ${RATE[batch50_all]};" \
		"bare POST ${RATE[bare_post]}, bare GET ${RATE[bare_get]};" \
		"Redis ${RATE[redis]}, Redis AOF ${RATE[redis_aof]}"
	echo "latency ms (p50/p99/p999): like@50% ${LAT[like_50.p50]}/${LAT[like_50.p99]}/${LAT[like_50.p999]}," \
		"like@80% ${LAT[like_80.p50]}/${LAT[like_80.p99]}/${LAT[like_80.p999]}," \
		"GET@50% ${LAT[get_50.p50]}/${LAT[get_50.p99]}/${LAT[get_50.p999]}," \
		"GET@80% ${LAT[get_80.p50]}/${LAT[get_80.p99]}/${LAT[get_80.p999]}"
	echo "batching: $LIKES_TOTAL likes POSTed, $OPS_APPLIED ops applied by central in" \
		"$BATCHES batches (Kafka messages) and $WRITES store writes"
	echo "edge RSS after the run: ${EDGE_RSS_MB} MB ($((ITEMS + 1)) items in play)"
	local w
	for w in "${WARN[@]+"${WARN[@]}"}"; do echo "warning: $w"; done
	echo "written: $OUT/latest.json"
}

main() {
	mkdir -p "$OUT"
	local tool
	for tool in h2load nghttpd redis-server redis-benchmark redis-cli curl ss taskset; do
		command -v "$tool" >/dev/null || { echo "bench: $tool is missing (make deps)" >&2; exit 1; }
	done
	DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	MACHINE="$(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(uname -r)"
	if (($(nproc) >= 2)); then
		PLACEMENT="CPU $SERVER_CPU: the server under test (edge, nghttpd or redis-server), sim bench-central;"
		PLACEMENT+=" CPU $LOAD_CPU: load generators (h2load, redis-benchmark), central and the embedded broker"
	else
		PLACEMENT="one CPU: nothing pinned"
	fi
	SETTINGS="h2load: $CONNS processes x (-c 1 -m $DEPTH -t 1), one X-User-Id each, POST body '{}';"
	SETTINGS+=" redis-benchmark -c $CONNS -P $DEPTH EVALSHA; edge store.sync=false (default);"
	SETTINGS+=" latency runs: h2load --rps for ${LAT_S}s, percentiles from --log-file"
	printf '{}' >"$TMP/body.json"
	LAT_LIKES=0

	start_stack
	bench_edge
	stop_stack
	bench_bare
	bench_redis
	bench_central
	compute
	write_json
	print_table
}

main "$@"
