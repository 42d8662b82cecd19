#!/usr/bin/env bash
# bench_feedtx.sh BIN OUT - the change feed's publishing without
# transactions (central's scheme: an idempotent producer, one chunk in
# flight, readers on read_uncommitted) against Kafka's transactions (a
# chunk a transaction, readers on read_committed), on three real Apache
# Kafka nodes (sim kafka, the deployment's settings: replication factor
# 3, min.insync.replicas 2, the JVMs' optimising compiler on) and
# likes.changes' 16 partitions. sim/bench/feedtx.c is the client.
#
# Two loads, each way three times, the ways alternating: 1,000 events/s
# in chunks every 100 ms (about the soak's feed: 800 ops/s), and the
# peak (chunks of 1,000 back to back). Beside each run, the three JVMs'
# CPU time per event. OUT gets one key=value block per run; a table
# goes to stdout. About 5 minutes. Figures: docs/events.md.
set -euo pipefail
BIN=$(realpath "$1")
OUT=$2
SECS=${FEEDTX_SECONDS:-20}
ROUNDS=${FEEDTX_ROUNDS:-3}
cd "$(dirname "$0")/../.."
# shellcheck source=sim/bench/bench_lib.sh
. sim/bench/bench_lib.sh
bench_begin feedtx build/bench/feedtx-logs
mkdir -p "$(dirname "$OUT")"
: >"$OUT"

start kafka "" "$BIN/sim" kafka --nodes 3 --full-jit --dir "$TMP/kafka" \
	--topic likes.changes:16 --bootstrap-file "$TMP/bootstrap"
KPID=$LAST_PID
wait_until "the cluster" 180 test -s "$TMP/bootstrap"
BOOT=$(cat "$TMP/bootstrap")

# The JVMs' user+system ticks, summed (children of sim kafka).
jvm_ticks() {
	local p t=0
	for p in $(pgrep -P "$KPID"); do
		t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
	done
	echo "$t"
}

one() { # mode rate chunk_ms label
	local t0 t1 res
	t0=$(jvm_ticks)
	res=$(run "" "$BIN/feedtx" "$BOOT" likes.changes "$1" "$SECS" "$2" "$3" 240)
	t1=$(jvm_ticks)
	{
		echo "label=$4"
		echo "$res"
		awk -v a="$t0" -v b="$t1" -v hz="$(getconf CLK_TCK)" -v s="$res" 'BEGIN {
			n = split(s, l, "\n"); for (i = 1; i <= n; i++) { split(l[i], kv, "="); v[kv[1]] = kv[2] }
			printf "brokers_cpu_us_per_event=%.1f\n", (b - a) / hz * 1e6 / v["sent"] }'
		echo
	} >>"$OUT"
}

# A warm-up each way, not reported (the JIT, the transaction coordinator).
run "" "$BIN/feedtx" "$BOOT" likes.changes plain 5 1000 100 240 >/dev/null
run "" "$BIN/feedtx" "$BOOT" likes.changes tx 5 1000 100 240 >/dev/null
for ((i = 1; i <= ROUNDS; i++)); do
	if ((i % 2)); then order="plain tx"; else order="tx plain"; fi
	for m in $order; do
		echo "feedtx: round $i, $m, 1000 events/s" >&2
		one "$m" 1000 100 "paced_$m"
		echo "feedtx: round $i, $m, peak" >&2
		one "$m" 0 100 "peak_$m"
	done
done

awk 'BEGIN { RS = ""; FS = "\n" }
{
	delete v
	for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
	printf "%-12s %9s %8s %8s %8s %8s %7s %8s %8s %s\n", v["label"], v["events_per_s"],
		v["chunk_p50_ms"], v["chunk_p99_ms"], v["visible_p50_ms"], v["visible_p99_ms"],
		v["offsets_per_event"], v["client_cpu_us_per_event"], v["brokers_cpu_us_per_event"],
		(v["fenced"] == "" ? "" : "fenced=" v["fenced"])
}' "$OUT" | {
	printf "%-12s %9s %8s %8s %8s %8s %7s %8s %8s\n" run events/s chunk50 chunk99 \
		vis50 vis99 off/ev cli_us br_us
	cat
}
echo "feedtx: every run's figures in $OUT" >&2
