#!/usr/bin/env bash
# bench_replica.sh - what a complete replica of counts, and of its users'
# memberships, costs an edge: puts BENCH_REPLICA_ITEMS distinct items (one
# like each, by users at home in the second edge's region) through one
# edge (build/sim fill), waits until central has applied them, then
# measures
#   - the checkpoint: bytes of GET /v1/checkpoint?partitions=all and the
#     seconds central takes to stream it to a client that only counts it;
#     the same for the region's memberships (&home=bench2);
#   - a bootstrap: a second edge (region bench2, following its home
#     stream) started on an empty store, from its start to every
#     partition of its replica complete and its users' memberships loaded
#     (/readyz "replica" ok), and the load of memberships alone (its log);
#   - that edge's store on disk (du of its data dir, after a compaction
#     has had a few seconds) per item, and its RSS when loaded.
# Prints key=value lines; per_million figures scale linearly.
#
# Usage: sim/bench/bench_replica.sh [OUTFILE]   (also printed on stdout)
#
# Owns: one private temp dir and every process it starts (broker,
# central, two edges, sim fill), stopped by PID in the EXIT trap
# (sim/bench/bench_lib.sh). Loopback only.
#
# Knobs (environment): BENCH_REPLICA_ITEMS (1000000), BENCH_REPLICA_USERS
# (100000), BENCH_REPLICA_CONNS (8), BENCH_REPLICA_MAX_S (1800).
set -euo pipefail
cd "$(dirname "$0")/../.."

OUTFILE=${1:-}
BIN=build
OUT=build/bench
ITEMS=${BENCH_REPLICA_ITEMS:-1000000}
USERS=${BENCH_REPLICA_USERS:-100000}
CONNS=${BENCH_REPLICA_CONNS:-8}
MAX_S=${BENCH_REPLICA_MAX_S:-1800}
TOKEN=bench-token
SNAPSHOT_MS=1000

# shellcheck source=sim/bench/bench_lib.sh
. sim/bench/bench_lib.sh
bench_begin bench_replica "$OUT/logs-replica"
need_tools "make deps" curl du awk

HOME_REGION=bench2
BENCH_TOPICS="--topic likes.home.$HOME_REGION:$PARTITIONS"
start_stack "" ""
echo "bench_replica: filling $ITEMS items through the first edge"
run "" "$BIN/sim" fill --port "$EDGE_PORT" --items "$ITEMS" --users "$USERS" --conns "$CONNS" \
	--home "$HOME_REGION" --max-seconds "$MAX_S" --max-failures 100 \
	>"$TMP/fill.out" 2>"$TMP/fill.log"
FILL_OPS=$(awk -F= '$1 == "ops_ok" { print $2 }' "$TMP/fill.out")
rc=0
wait_applied 0 "$FILL_OPS" "$MAX_S" 120 || rc=$?
if ((rc != 0)); then
	echo "bench_replica: central applied $APPLIED of $FILL_OPS" >&2
	exit 1
fi

# The checkpoint, as an edge would read it, into a byte counter.
T0=$(date +%s.%N)
CKPT_BYTES=$(curl -sf -H "Authorization: Bearer $TOKEN" \
	"http://127.0.0.1:$OPS_PORT/v1/checkpoint?partitions=all" | wc -c)
T1=$(date +%s.%N)
CKPT_S=$(awk -v a="$T0" -v b="$T1" 'BEGIN { printf "%.2f", b - a }')
T0=$(date +%s.%N)
HOME_BYTES=$(curl -sf -H "Authorization: Bearer $TOKEN" \
	"http://127.0.0.1:$OPS_PORT/v1/checkpoint?partitions=all&home=$HOME_REGION" | wc -c)
T1=$(date +%s.%N)
HOME_S=$(awk -v a="$T0" -v b="$T1" 'BEGIN { printf "%.2f", b - a }')

# A second edge on an empty store: from its start to a complete replica.
free_port
EDGE2_PORT=$PORT
edge_ini "$TMP/edge2.ini" "$HOME_REGION" "$EDGE2_PORT" "$TMP/edge2"
printf '[home]\nfollow = true\n' >>"$TMP/edge2.ini"
T0=$(date +%s.%N)
start edge2 "" "$BIN/edge" -c "$TMP/edge2.ini"
EDGE2_PID=$LAST_PID
replica_ok() {
	curl -s --http2-prior-knowledge "http://127.0.0.1:$EDGE2_PORT/readyz" |
		grep -q '"replica":{"ok":true'
}
wait_until "the second edge's replica" "$MAX_S" replica_ok
T1=$(date +%s.%N)
BOOT_S=$(awk -v a="$T0" -v b="$T1" 'BEGIN { printf "%.2f", b - a }')
read -r RSS_KB HWM_KB <<<"$(mem_of "$EDGE2_PID")"
sleep 5 # let LevelDB's background compaction settle before du
DISK_B=$(du -sb "$TMP/edge2" | awk '{ print $1 }')
COUNTS=$(curl -s --http2-prior-knowledge "http://127.0.0.1:$EDGE2_PORT/metrics" |
	awk '$1 == "likes_edge_replica_counts_loaded" { print $2 }')
# The memberships' loads, as the edge logged them (one per central shard).
read -r MEMBERS MEMBERS_MS <<<"$(grep 'msg="checkpoint loaded"' "$TMP/edge2.log" |
	grep 'of=memberships' | sed -E 's/.* members=([0-9]+) .* ms=([0-9]+).*/\1 \2/' |
	awk '{ n += $1; ms += $2 } END { printf "%d %d\n", n, ms }')"

report() {
	cat <<EOF
items=$ITEMS
counts_loaded=$COUNTS
checkpoint_bytes=$CKPT_BYTES
checkpoint_bytes_per_item=$(awk -v b="$CKPT_BYTES" -v n="$ITEMS" 'BEGIN { printf "%.1f", b / n }')
checkpoint_stream_s=$CKPT_S
home_checkpoint_bytes=$HOME_BYTES
home_checkpoint_bytes_per_membership=$(awk -v b="$HOME_BYTES" -v n="$ITEMS" 'BEGIN { printf "%.1f", b / n }')
home_checkpoint_stream_s=$HOME_S
memberships_loaded=$MEMBERS
memberships_load_s=$(awk -v ms="$MEMBERS_MS" 'BEGIN { printf "%.2f", ms / 1000 }')
memberships_load_s_per_million=$(awk -v ms="$MEMBERS_MS" -v n="$MEMBERS" 'BEGIN { printf "%.1f", n ? ms / 1000 * 1e6 / n : 0 }')
bootstrap_s=$BOOT_S
bootstrap_s_per_million=$(awk -v s="$BOOT_S" -v n="$ITEMS" 'BEGIN { printf "%.1f", s * 1e6 / n }')
edge_store_bytes=$DISK_B
edge_store_bytes_per_item=$(awk -v b="$DISK_B" -v n="$ITEMS" 'BEGIN { printf "%.1f", b / n }')
edge_rss_mb=$(kb_to_mb "$RSS_KB")
edge_peak_rss_mb=$(kb_to_mb "$HWM_KB")
EOF
}
report
if [[ -n $OUTFILE ]]; then
	report >"$OUTFILE.tmp"
	mv "$OUTFILE.tmp" "$OUTFILE"
fi
