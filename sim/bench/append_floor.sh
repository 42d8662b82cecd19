#!/usr/bin/env bash
# append_floor.sh - the floor under any like that is answered only once a
# replicated Kafka log holds it, on this machine: a real cluster (sim
# kafka, NODES nodes, the deploy's broker and topic settings) and the bare
# producer (build/peer_produce: one record per POST, acks=all, idempotent,
# answered from its delivery report), driven by sim pace at RATE requests
# a second, each timed from when it was due. Nothing of the edge runs. A
# warm-up of WARM_S seconds at the same rate comes first (the JVMs compile
# their hot paths under the first load), then SECONDS timed, for which it
# prints the latencies and the nodes' CPU: their share of one core and
# their CPU time per append. Every process is unpinned, as a drill's are.
#
# Usage: sim/bench/append_floor.sh [NODES] [RATE] [SECONDS]
#   (defaults 3, 267 (a soak region's ops a second: 800 over three
#   regions; its edge makes fewer appends, about 200, its writes grouped),
#   60)
#
# Knobs (environment): APPEND_FLOOR_JIT=quick|full (quick: the JVMs' C1
# compiler only, as drills run them unless kafka_full_jit; default full),
# APPEND_FLOOR_WARM_S (120), APPEND_FLOOR_CONNS (8).
#
# Owns: one private temp dir and every process it starts (sim kafka, whose
# JVMs stop with it, peer_produce, sim pace), stopped by PID in the EXIT
# trap (sim/bench/bench_lib.sh). Loopback only.
set -euo pipefail
cd "$(dirname "$0")/../.."

NODES=${1:-3}
RATE=${2:-267}
SECS=${3:-60}
JIT=${APPEND_FLOOR_JIT:-full}
WARM_S=${APPEND_FLOOR_WARM_S:-120}
CONNS=${APPEND_FLOOR_CONNS:-8}
BIN=build
TOPIC=peer.likes

# shellcheck source=sim/bench/bench_lib.sh
. sim/bench/bench_lib.sh
bench_begin append_floor build/bench/logs-append-floor
need_tools "make deps" curl awk pgrep getconf
[[ -x $BIN/peer_produce ]] || {
	echo "append_floor: $BIN/peer_produce missing (make $BIN/peer_produce)" >&2
	exit 1
}
case $JIT in
quick) jit=() ;;
full) jit=(--full-jit) ;;
*)
	echo "append_floor: APPEND_FLOOR_JIT is quick or full, not $JIT" >&2
	exit 2
	;;
esac

start kafka "" "$BIN/sim" kafka --nodes "$NODES" --dir "$TMP/nodes" --topic "$TOPIC:1" \
	"${jit[@]}" --bootstrap-file "$TMP/bootstrap" --log-level warn
KAFKA_PID=$LAST_PID
wait_until "the cluster" 240 test -s "$TMP/bootstrap"
free_port
start peer_produce "" "$BIN/peer_produce" --bootstrap-file "$TMP/bootstrap" --topic "$TOPIC" \
	--port "$PORT"
wait_until "peer_produce /healthz" 60 curl -sf --http2-prior-knowledge \
	"http://127.0.0.1:$PORT/healthz"
# Each connection walks the list from its top (sim/bench/pace.h): a
# run's requests over CONNS connections, and a line to spare.
LONGEST=$((WARM_S > SECS ? WARM_S : SECS))
awk -v n=$((RATE * LONGEST / CONNS + 1)) \
	'BEGIN { for (i = 0; i < n; i++) print "/v1/items/post/c" i "/likes" }' >"$TMP/uris"
printf '{}' >"$TMP/body"

# The nodes' JVMs are sim kafka's children; their CPU ticks summed.
JVMS=$(pgrep -P "$KAFKA_PID" | tr '\n' ' ' || true)
read -ra JVM_LIST <<<"$JVMS"
((${#JVM_LIST[@]} == NODES)) || {
	echo "append_floor: sim kafka runs ${#JVM_LIST[@]} JVMs, not $NODES" >&2
	exit 1
}
jvm_ticks() {
	local t=0 p
	for p in $JVMS; do
		t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
	done
	echo "$t"
}
pace() { # seconds out
	run "" "$BIN/sim" pace --port "$PORT" --uris "$TMP/uris" --rate "$RATE" \
		--requests $((RATE * $1)) --conns "$CONNS" --user floor --body "$TMP/body" >"$2"
}

echo "append_floor: $NODES node(s), $JIT JIT, $RATE appends/s: ${WARM_S}s warm-up, ${SECS}s timed"
((WARM_S > 0)) && pace "$WARM_S" "$TMP/warm.out"
T0=$(date +%s.%N)
C0=$(jvm_ticks)
pace "$SECS" "$TMP/timed.out"
C1=$(jvm_ticks)
T1=$(date +%s.%N)
HZ=$(getconf CLK_TCK)
grep -E '^(ok|failed|non_2xx|rate|p50_ms|p99_ms|p999_ms|max_ms)=' "$TMP/timed.out"
OK=$(awk -F= '$1 == "ok" { print $2 }' "$TMP/timed.out")
awk -v c=$((C1 - C0)) -v hz="$HZ" -v t0="$T0" -v t1="$T1" -v n="${OK:-0}" 'BEGIN {
	if (n == 0) { print "append_floor: no request answered" > "/dev/stderr"; exit 1 }
	s = c / hz
	printf "jvm_core_share=%.3f\njvm_cpu_ms_per_append=%.2f\n", s / (t1 - t0), s * 1000 / n
}'
