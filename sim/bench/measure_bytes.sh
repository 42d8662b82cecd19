#!/bin/bash
# Bytes per like, for docs/capacity.md: in the edge's batches (what the
# producer hands to Kafka, before its lz4) and on the wire to a client
# (h2load's traffic count). Runs the embedded broker and one edge with
# no central, so no batch is ever confirmed and pending_bytes holds them
# all. Usage: sim/bench/measure_bytes.sh [likes]   (default 100000)
set -euo pipefail
LIKES=${1:-100000}
BIN=$(cd "$(dirname "$0")/../.." && pwd)/build
TMP=$(mktemp -d /tmp/measure-bytes.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT
port() { # a free loopback port below the ephemeral range
	local p
	while :; do
		p=$((20000 + RANDOM % 12000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
	done
}
"$BIN/sim" broker --bootstrap-file "$TMP/bootstrap" --topic likes.batches:16 \
	--topic likes.snapshots:16 --topic likes.deadletter:1 --topic likes.changes:16 \
	--topic likes.milestones:16 >"$TMP/broker.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do [[ -s $TMP/bootstrap ]] && break; sleep 0.1; done
EP=$(port)
cat >"$TMP/edge.ini" <<INI
[edge]
id = bytes
region = r1
data_dir = $TMP/edge
[http]
listen = 127.0.0.1:$EP
max_conns_per_addr = 0
[identity]
dev_header = true
[limits]
user_writes_per_min = 0
addr_requests_per_s = 0
[central]
ops =
[bus]
bootstrap_file = $TMP/bootstrap
[kafka.consumer]
fetch.wait.max.ms = 10
INI
"$BIN/edge" -c "$TMP/edge.ini" >"$TMP/edge.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
	curl -sf --http2-prior-knowledge "http://127.0.0.1:$EP/healthz" >/dev/null && break
	sleep 0.1
done
metric() { curl -s "http://127.0.0.1:$EP/metrics" | awk -v k="likes_edge_$1" '$1 == k { print $2 }'; }
"$BIN/sim" fill --port "$EP" --items "$LIKES" --users $((LIKES / 10)) --per-request 50 \
	>"$TMP/fill.out" 2>"$TMP/fill.log"
sleep 6 # batch.max_age_ms is 5 s: every batch sealed
ops=$(metric ops_accepted_total)
bytes=$(metric pending_bytes)
batches=$(metric pending_batches)
echo "likes=$ops batches=$batches batch_bytes=$bytes bytes_per_like_in_batches=$(awk -v b="$bytes" -v o="$ops" 'BEGIN { printf "%.1f", b / o }')"
for i in $(seq 1 1000); do echo "http://127.0.0.1:$EP/v1/items/post/w$i/likes"; done >"$TMP/uris"
printf '{}' >"$TMP/body"
traffic=$(h2load -n 20000 -c 4 -m 16 -i "$TMP/uris" -d "$TMP/body" -H 'x-user-id: u1234567' |
	sed -n 's/^traffic: .*(\([0-9]*\)) total.*/\1/p')
echo "wire_bytes_received_per_like=$(awk -v t="$traffic" 'BEGIN { printf "%.1f", t / 20000 }') (h2load does not count the bytes it sends)"
