# shellcheck shell=bash
# bench_lib.sh - the process and stack handling that sim/bench/bench.sh and
# sim/bench/bench_mem.sh share; sourced by both, never run on its own.
#
# Provides: bench_begin (temp dir, PID list, EXIT trap), track/untrack/stop,
# pin, start (a daemon in the background), run (a command that would
# otherwise run in the foreground, tracked so the trap can stop it),
# wait_until, free_port, need_tools, the daemons' configs (central_ini,
# edge_ini), start_stack (embedded broker, central, one edge), edge_start,
# edge_up, central_metric, wait_applied, mem_of and kb_to_mb.
#
# Globals the caller sets before use: BIN (where edge, central and sim
# are), OUT (build/bench), TOKEN (central's ops token); SNAPSHOT_MS
# (central's snapshot_interval_ms) before central_ini or start_stack.
# Globals set here: BENCH_NAME (prefix of messages), LOG_DIR, BENCH_OUT and
# BENCH_ERR (the script's stdout and stderr, kept for the trap), TMP (the
# private temp dir), PIDS (every process started and not yet stopped, in
# start order), USED_PORTS, PORT (free_port), LAST_PID (start), OPS_PORT,
# EDGE_PORT, BROKER_PID, CENTRAL_PID, EDGE_PID (start_stack, edge_start),
# APPLIED (wait_applied). PARTITIONS is the partitions of each topic the
# broker makes (the daemons' topics.partitions default).
#
# The EXIT trap stops every tracked process (the last started first) and
# waits for it, calls bench_keep when the script defines one (to save files
# from TMP), copies TMP's *.log files to LOG_DIR and removes TMP, on success
# and on failure alike. INT and TERM exit through it. A command run in the
# foreground would hold the trap off until it ends; that is why anything
# that may take long goes through start or run.

PARTITIONS=16
EDGE_BIN="" # edge_start's binary when set (bench.sh ab), never the caller's environment's

# ---- processes ------------------------------------------------------------

# Makes the temp dir and sets the traps; call it first.
bench_begin() { # name log-dir
	BENCH_NAME=$1
	LOG_DIR=$2
	TMP=$(mktemp -d "/tmp/likes-${1//_/-}.XXXXXX")
	PIDS=()
	USED_PORTS=" "
	# The script's own stdout and stderr, for the EXIT trap: a signal may
	# land while a redirected command runs, and the trap runs under that
	# command's redirections.
	exec {BENCH_OUT}>&1 {BENCH_ERR}>&2
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

bench_cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	exec 1>&"$BENCH_OUT" 2>&"$BENCH_ERR"
	local i
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		kill -TERM "${PIDS[$i]}" 2>/dev/null || true
	done
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		wait "${PIDS[$i]}" 2>/dev/null || true
	done
	mkdir -p "$LOG_DIR"
	if declare -F bench_keep >/dev/null; then bench_keep || true; fi
	cp "$TMP"/*.log "$LOG_DIR/" 2>/dev/null || true
	rm -rf "$TMP"
	if ((rc != 0)); then
		echo "$BENCH_NAME: failed (exit $rc); logs in $LOG_DIR/" >&2
	fi
	exit "$rc"
}

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

# The prefix that pins a command to a CPU list: nothing for an empty list
# or on a one-core machine.
pin() { # cpus
	if [[ -n $1 ]] && (($(nproc) >= 2)); then
		echo "taskset -c $1"
	fi
}

# Starts a daemon in the background, pinned to cpus (empty: not pinned),
# with its log in TMP; sets LAST_PID.
start() { # name cpus command...
	local name=$1 cpu=$2
	shift 2
	# shellcheck disable=SC2046
	$(pin "$cpu") "$@" >"$TMP/$name.log" 2>&1 {BENCH_OUT}>&- {BENCH_ERR}>&- &
	LAST_PID=$!
	track "$LAST_PID"
}

# Runs a command to its end as a tracked background process and returns
# its exit status; redirections on the call apply to the command (stdin
# too: <&0 keeps bash from giving the background job /dev/null).
run() { # cpus command...
	local cpu=$1 rc=0 pid
	shift
	# shellcheck disable=SC2046
	$(pin "$cpu") "$@" <&0 {BENCH_OUT}>&- {BENCH_ERR}>&- &
	pid=$!
	track "$pid"
	wait "$pid" || rc=$?
	untrack "$pid"
	return "$rc"
}

wait_until() { # what seconds command...
	local what=$1 deadline=$((SECONDS + $2))
	shift 2
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS > deadline)); then
			echo "$BENCH_NAME: timed out waiting for $what" >&2
			tail -n 20 "$TMP"/*.log >&2 || true
			exit 1
		fi
		sleep 0.1
	done
}

# Picks a loopback port nobody listens on and this run has not used; sets PORT.
# A port no one listens on, below the kernel's ephemeral range: a port in
# that range can be taken as the local end of an outgoing connection (a
# Kafka client's, curl's) between this check and the daemon's bind. From
# 20000 up: the sim's own picks (sim kafka's nodes, a drill's daemons)
# lie below it (sim/proc/host.h), so a port picked here for a daemon not
# started yet is not a sim's meanwhile.
free_port() {
	local p lo
	lo=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
	((lo > 22000)) || lo=32768
	while true; do
		p=$((20000 + RANDOM % (lo - 20000)))
		[[ $USED_PORTS == *" $p "* ]] && continue
		if [[ -z $(ss -Htln "sport = :$p") ]]; then
			USED_PORTS+="$p "
			PORT=$p
			return 0
		fi
	done
}

# Exits unless every tool is on PATH; hint says how to get them.
need_tools() { # hint tool...
	local hint=$1 tool
	shift
	for tool in "$@"; do
		command -v "$tool" >/dev/null || { echo "$BENCH_NAME: $tool is missing ($hint)" >&2; exit 1; }
	done
}

# ---- the stack --------------------------------------------------------------

# The part of both daemons' configs that finds the embedded broker, or
# the cluster whose bootstrap list is BUS_BOOTSTRAP, with consumers'
# fetches waiting up to BUS_FETCH_WAIT_MS (10: the mock's turn-around).
bus_ini() {
	printf '[bus]\nbootstrap_file = %s\n[kafka.consumer]\nfetch.wait.max.ms = %s\n' \
		"${BUS_BOOTSTRAP:-$TMP/bootstrap}" "${BUS_FETCH_WAIT_MS:-10}"
}

central_ini() { # file
	{
		printf '[central]\nid = bench-central\ndata_dir = %s\n' "$TMP/central"
		printf 'snapshot_interval_ms = %s\n' "$SNAPSHOT_MS"
		printf 'ops_listen = 127.0.0.1:%s\nops_token = %s\n' "$OPS_PORT" "$TOKEN"
		bus_ini
		# BENCH_CENTRAL_INI: more lines for central's config, as
		# BENCH_EDGE_INI for the edges ("[central]\nsnapshot_max_counts = 500").
		# They follow the [kafka.consumer] section: start with a header.
		# A key set above cannot be set again (the config refuses it):
		# bench.sh's BENCH_SNAPSHOT_MS sets the snapshot interval.
		if [[ -n ${BENCH_CENTRAL_INI:-} ]]; then printf '%b\n' "$BENCH_CENTRAL_INI"; fi
	} >"$1"
}

# An edge's config; max_age_ms empty keeps the default batch.max_age_ms,
# workers empty the default edge.workers (1), sync empty the default
# store.sync (false). BENCH_COMMIT_THREAD (auto, true or false), if set,
# is every edge's store.commit_thread.
edge_ini() { # file id port data-dir [max_age_ms] [workers] [sync]
	{
		printf '[edge]\nid = %s\nregion = %s\ndata_dir = %s\n' "$2" "$2" "$4"
		printf '[http]\nlisten = 127.0.0.1:%s\nmax_conns_per_addr = 0\n' "$3"
		printf '[identity]\ndev_header = true\n'
		# One address sends for many users at full speed: no limits.
		printf '[limits]\nuser_writes_per_min = 0\naddr_requests_per_s = 0\n'
		printf '[central]\nops = 127.0.0.1:%s\ntoken = %s\n' "$OPS_PORT" "$TOKEN"
		bus_ini
		if [[ -n ${5:-} ]]; then printf '[batch]\nmax_age_ms = %s\n' "$5"; fi
		if [[ -n ${6:-} ]]; then printf '[edge]\nworkers = %s\n' "$6"; fi
		if [[ -n ${7:-} ]]; then printf '[store]\nsync = %s\n' "$7"; fi
		if [[ -n ${BENCH_COMMIT_THREAD:-} ]]; then
			printf '[store]\ncommit_thread = %s\n' "$BENCH_COMMIT_THREAD"
		fi
		# BENCH_EDGE_INI: more lines for every edge's config, for A/B runs
		# of an option ('\n' between lines: "[store]\ncompaction_nice = 0").
		if [[ -n ${BENCH_EDGE_INI:-} ]]; then printf '%b\n' "$BENCH_EDGE_INI"; fi
	} >"$1"
}

# Waits for an edge's /healthz over HTTP/2 (prior knowledge).
edge_up() { # what port
	wait_until "$1 /healthz" 20 curl -sf --http2-prior-knowledge "http://127.0.0.1:$2/healthz"
}

# (Re)starts the edge on TMP/edge with a fresh TMP/edge.ini: stops the one
# running first, if any; sets EDGE_PID.
edge_start() { # log-name cpus [max_age_ms] [workers] [sync]
	if [[ -n ${EDGE_PID:-} ]]; then stop "$EDGE_PID"; fi
	edge_ini "$TMP/edge.ini" bench "$EDGE_PORT" "$TMP/edge" "${3:-}" "${4:-}" "${5:-}"
	# EDGE_ENV: VAR=value words for the edge's environment alone;
	# EDGE_BIN: another edge binary than BIN/edge (bench.sh ab).
	# shellcheck disable=SC2086
	start "$1" "$2" ${EDGE_ENV:+env $EDGE_ENV} "${EDGE_BIN:-$BIN/edge}" -c "$TMP/edge.ini"
	EDGE_PID=$LAST_PID
	# shellcheck disable=SC2034 # read by bench.sh's settle
	SETTLED=0 # a fresh edge: settle waits for it to go quiet
	edge_up "edge${4:+ ($4 workers)}" "$EDGE_PORT"
}

# BENCH_DOWNSTREAM_IDLE=1 runs the broker and central under SCHED_IDLE
# (bench.sh sets it unless told otherwise; the other scripts leave them at
# the default priority): they stand in for daemons in another region, and
# on a two-CPU machine they share the load generators' CPU. At the
# default priority central's apply (20-65% of that CPU in a like run) took
# turns with h2load, which then paced its requests late and counted its
# own waits in the latencies. Idle, they run when the load generators
# leave the CPU free and catch up after a run (Kafka holds what they have
# not read). Needs chrt (util-linux).
downstream() {
	if [[ ${BENCH_DOWNSTREAM_IDLE:-0} == 1 ]]; then echo "chrt --idle 0"; fi
}

# Moves the broker and central (every thread) to cpus.
downstream_cpus() { # cpus
	[[ -n $(pin "$1") ]] || return 0
	local pid
	for pid in "$BROKER_PID" "$CENTRAL_PID"; do
		taskset -a -c -p "$1" "$pid" >/dev/null 2>&1 || return 1
	done
}

# Gives the broker and central (every thread) the default priority back,
# for a run whose answers wait for them.
downstream_default() {
	[[ ${BENCH_DOWNSTREAM_IDLE:-0} == 1 ]] || return 0
	local pid
	for pid in "$BROKER_PID" "$CENTRAL_PID"; do
		# Leaving SCHED_IDLE needs CAP_SYS_NICE (or RLIMIT_NICE): without
		# it the run goes on with them idle, and says so.
		chrt -a --other -p 0 "$pid" >/dev/null 2>&1 ||
			WARN+=("could not give pid $pid (broker or central) the default priority back: the convergence run had it at idle priority")
	done
}

# Central's log says its publisher is live on every partition.
feed_live() { # central-log
	(($(grep -c 'msg="feed partition published from here"' "$1") >= PARTITIONS))
}

# Starts central from ini as name on cpus, the command after prefix's
# words (downstream's, or none), and waits up to 60 s for its /healthz on
# OPS_PORT; with feed, up to 90 s more until its feed publisher is live
# on every partition (feed_live). Every bench's central starts here. Its
# PID in LAST_PID.
central_up() { # name cpus ini feed|nofeed [prefix...]
	local name=$1 cpus=$2 ini=$3 feed=$4 pid
	shift 4
	start "$name" "$cpus" "$@" "$BIN/central" -c "$ini"
	pid=$LAST_PID
	wait_until "central /healthz" 60 curl -sf "http://127.0.0.1:$OPS_PORT/healthz"
	if [[ $feed == feed ]]; then
		wait_until "central's feed publisher on every partition" 90 feed_live "$TMP/$name.log"
	fi
	LAST_PID=$pid
}

# The embedded broker, central and one edge with default settings. The
# broker first: its mock brokers take random ports, which a port picked
# before them could collide with.
start_stack() { # cpus-for-broker-and-central cpus-for-edge
	# shellcheck disable=SC2046 # downstream's words are the command's prefix
	start broker "$1" $(downstream) "$BIN/sim" broker --bootstrap-file "$TMP/bootstrap" \
		--topic "likes.batches:$PARTITIONS" --topic "likes.snapshots:$PARTITIONS" \
		--topic likes.deadletter:1 --topic "likes.changes:$PARTITIONS" \
		--topic "likes.milestones:$PARTITIONS" ${BENCH_TOPICS:-}
	# shellcheck disable=SC2034 # for the script's own use
	BROKER_PID=$LAST_PID
	wait_until "the embedded broker" 20 test -s "$TMP/bootstrap"
	free_port
	OPS_PORT=$PORT
	free_port
	EDGE_PORT=$PORT
	central_ini "$TMP/central.ini"
	# shellcheck disable=SC2046
	central_up central "$1" "$TMP/central.ini" nofeed $(downstream)
	# shellcheck disable=SC2034 # for the script's own use
	CENTRAL_PID=$LAST_PID
	EDGE_PID=""
	edge_start edge "$2"
}

central_metric() { # name (without likes_central_): the sum of its series, as sum() does
	curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$OPS_PORT/metrics" |
		awk -v k="likes_central_$1" '$1 == k || index($1, k "{") == 1 { s += $NF }
			END { printf "%.0f\n", s }'
}

# Polls central's ops_applied_total once a second until it is want above
# base (returns 0), the deadline passes (1) or it has not moved for still
# polls (2); APPLIED is the last count less base.
wait_applied() { # base want deadline-seconds still
	local base=$1 want=$2 deadline=$((SECONDS + $3)) still=0 last=-1
	while true; do
		APPLIED=$(($(central_metric ops_applied_total) - base))
		if ((APPLIED >= want)); then return 0; fi
		if ((SECONDS > deadline)); then return 1; fi
		if ((APPLIED == last)); then
			still=$((still + 1))
			if ((still >= $4)); then return 2; fi
		else
			still=0
		fi
		last=$APPLIED
		sleep 1
	done
}

# "rss_kb hwm_kb" of a process, or "0 0" once it is gone.
mem_of() { # pid
	awk '/^VmRSS/ { r = $2 } /^VmHWM/ { h = $2 } END { print r + 0, h + 0 }' \
		"/proc/$1/status" 2>/dev/null || echo "0 0"
}

kb_to_mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
