#!/usr/bin/env bash
# bench_seed.sh - what a standby's copy of its peer's store costs
# (changelog.seed_from, edge/changelog/seed.h): puts BENCH_SEED_ITEMS
# distinct likes through an edge whose changelog is on a regional cluster
# of its own (a second embedded broker, or real Kafka), enough that the
# cluster drops the log's start (the mock keeps about 5 MiB a partition;
# the real one what retention.bytes says), then measures
#   - the copy as a client reads it: bytes and seconds of
#     GET /v1/changelog/seed to a byte counter;
#   - a second instance of the edge started on an empty store: its copy
#     (keys, bytes, ms from its log) and its time from start to following
#     the log fit to take over (/readyz "standby: following").
# Prints key=value lines.
#
# Usage: sim/bench/bench_seed.sh [OUTFILE]   (also printed on stdout)
#
# Owns: one private temp dir and every process it starts (two brokers,
# central, two edges, sim fill), stopped by PID in the EXIT trap
# (sim/bench/bench_lib.sh). Loopback only.
#
# Knobs (environment): BENCH_SEED_ITEMS (300000), BENCH_SEED_USERS
# (50000), BENCH_SEED_CONNS (8), BENCH_SEED_MAX_S (900), BENCH_SEED_KAFKA
# (embedded, or real: the regional cluster three Apache Kafka nodes),
# BENCH_SEED_RETAIN (real: the changelog's retention.bytes, 8 MiB),
# BENCH_SEED_SEGMENT (real: its segment.bytes, 1 MiB, Kafka 4's least).
set -euo pipefail
cd "$(dirname "$0")/../.."

OUTFILE=${1:-}
BIN=build
OUT=build/bench
ITEMS=${BENCH_SEED_ITEMS:-300000}
USERS=${BENCH_SEED_USERS:-50000}
CONNS=${BENCH_SEED_CONNS:-8}
MAX_S=${BENCH_SEED_MAX_S:-900}
# embedded: a second librdkafka mock (it keeps about 5 MiB a partition);
# real: three Apache Kafka nodes (sim kafka) whose likes.changelog keeps
# BENCH_SEED_RETAIN bytes (retention.bytes). The broker deletes whole
# closed segments only, and only while the rest still holds the
# retention's bytes, so the log's start moves once the log passes
# retention.bytes plus one segment: small segments make that soon.
KAFKA=${BENCH_SEED_KAFKA:-embedded}
RETAIN=${BENCH_SEED_RETAIN:-8388608}
SEGMENT=${BENCH_SEED_SEGMENT:-1048576}
TOKEN=bench-token
SNAPSHOT_MS=1000

# shellcheck source=sim/bench/bench_lib.sh
. sim/bench/bench_lib.sh
bench_begin bench_seed "$OUT/logs-seed"
need_tools "make deps" curl awk

if [[ $KAFKA == real ]]; then
	# The deployment's cluster with a small retention.bytes: the log's
	# start moves as the fill goes (the broker checks every second).
	start regional "" "$BIN/sim" kafka --nodes 3 --full-jit --dir "$TMP/kafka" \
		--bootstrap-file "$TMP/regional.bootstrap" --topic likes.changelog:1 \
		--topic-config retention.bytes="$RETAIN" --topic-config segment.bytes="$SEGMENT" \
		--prop log.retention.check.interval.ms=1000
	wait_until "the regional cluster" 180 test -s "$TMP/regional.bootstrap"
else
	start regional "" "$BIN/sim" broker --bootstrap-file "$TMP/regional.bootstrap" \
		--topic likes.changelog:1
	wait_until "the regional broker" 20 test -s "$TMP/regional.bootstrap"
fi
free_port
SEED_A=$PORT
free_port
SEED_B=$PORT
changelog_ini() { # instance seed-listen seed-from
	printf '[changelog]\nbootstrap_file = %s\npartition = 0\ninstance = %s\n' \
		"$TMP/regional.bootstrap" "$1"
	printf 'seed_listen = 127.0.0.1:%s\nseed_from = %s\n' "$2" "$3"
}
BENCH_EDGE_INI=$(changelog_ini a "$SEED_A" "127.0.0.1:$SEED_B")
start_stack "" ""
wait_until "the first instance's takeover of its changelog" 30 \
	sh -c "curl -s --http2-prior-knowledge http://127.0.0.1:$EDGE_PORT/readyz | grep -q '\"writer\":{\"ok\":true'"

echo "bench_seed: filling $ITEMS likes through the first instance"
run "" "$BIN/sim" fill --port "$EDGE_PORT" --items "$ITEMS" --users "$USERS" --conns "$CONNS" \
	--max-seconds "$MAX_S" --max-failures 100 >"$TMP/fill.out" 2>"$TMP/fill.log"
FILL_OPS=$(awk -F= '$1 == "ops_ok" { print $2 }' "$TMP/fill.out")
# The log's first offset now: the second instance must find it past 0.
log_start() {
	kcat -b "$(cat "$TMP/regional.bootstrap")" -Q -t likes.changelog:0:-2 2>/dev/null |
		awk '{ print $NF }'
}
log_started() { (($(log_start) > 0)); }
[[ $KAFKA == real ]] && wait_until "retention to drop the log's start" 60 log_started
LOG_START=$(log_start)

# The copy as a client reads it.
read -r COPY_BYTES COPY_S < <(curl -s -o /dev/null -w '%{size_download} %{time_total}\n' \
	"http://127.0.0.1:$SEED_A/v1/changelog/seed?edge=bench&partitions=$PARTITIONS")

# A second instance on an empty store: it finds the log's start past its
# position 0 and copies the first one's store.
free_port
PORT_B=$PORT
BENCH_EDGE_INI=$(changelog_ini b "$SEED_B" "127.0.0.1:$SEED_A")
edge_ini "$TMP/edge-b.ini" bench "$PORT_B" "$TMP/edge-b"
T0=$(date +%s.%N)
start edge-b "" "$BIN/edge" -c "$TMP/edge-b.ini"
wait_until "the second instance following the log fit" "$MAX_S" \
	sh -c "curl -s --http2-prior-knowledge http://127.0.0.1:$PORT_B/readyz | grep -q 'standby: following'"
T1=$(date +%s.%N)
LINE=$(grep 'store copied from a peer' "$TMP/edge-b.log" || true)
field() { sed -n "s/.* $1=\\([0-9]*\\).*/\\1/p" <<<"$LINE"; }
{
	echo "seed_kafka=$KAFKA"
	echo "seed_log_start=${LOG_START:-}"
	echo "seed_items=$ITEMS"
	echo "seed_fill_ops_ok=$FILL_OPS"
	echo "seed_copy_bytes=$COPY_BYTES"
	echo "seed_copy_read_s=$COPY_S"
	echo "seed_copied_keys=$(field keys)"
	echo "seed_copied_frame_bytes=$(field bytes)"
	echo "seed_copy_load_ms=$(field ms)"
	echo "seed_start_to_fit_s=$(awk -v a="$T0" -v b="$T1" 'BEGIN { printf "%.2f", b - a }')"
	echo "seed_store_du_kb=$(du -sk "$TMP/edge" | awk '{ print $1 }')"
} | tee "${OUTFILE:-/dev/null}"
if [[ -z $LINE ]]; then
	echo "bench_seed: the second instance did not copy a store (its log: $LOG_DIR/edge-b.log)" >&2
	exit 1
fi
