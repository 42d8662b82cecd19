#!/usr/bin/env bash
# bench_mem.sh - the memory bench: puts BENCH_MEM_ITEMS distinct items and
# BENCH_MEM_USERS distinct users in play at one edge (build/sim fill, POST
# /v1/ops over HTTP/1.1 keep-alive), samples the RSS of the edge and of
# central every second, waits until central has applied every like, and
# compares the RSS with a bound computed from the daemons' configuration
# (docs/performance.md, "Memory").
#
# Usage: sim/bench/bench_mem.sh OUTFILE   (key=value lines; `make bench-mem`
# writes build/bench/mem.kv, whose figures sim/bench/bench.sh then reports).
# OUTFILE is replaced only by a run that finishes.
#
# Owns: one private temp dir (configs, stores, samples) and every process it
# starts (embedded broker, central, one edge, the RSS sampler, sim fill),
# each stopped by PID in the EXIT trap (sim/bench/bench_lib.sh). Loopback only.
# The edge and central run with their default cache settings.
#
# Knobs (environment): BENCH_MEM_ITEMS (10000000), BENCH_MEM_USERS
# (1000000), BENCH_MEM_CONNS connections of sim fill (8),
# BENCH_MEM_DRAIN_S most seconds to wait for central after the fill (1800),
# BENCH_MEM_MAX_S most seconds for the fill itself (3600).
set -euo pipefail
cd "$(dirname "$0")/../.."

OUTFILE=${1:?usage: sim/bench/bench_mem.sh OUTFILE}
BIN=build
OUT=build/bench
ITEMS=${BENCH_MEM_ITEMS:-10000000}
USERS=${BENCH_MEM_USERS:-1000000}
CONNS=${BENCH_MEM_CONNS:-8}
DRAIN_S=${BENCH_MEM_DRAIN_S:-1800}
MAX_S=${BENCH_MEM_MAX_S:-3600}
TOKEN=bench-token

# The daemons' defaults that bound their memory (edge/main.c,
# central/main.c, common/store.c, common/bus.c); the configs bench_lib.sh
# writes set none of them, and the bound is computed from these.
EDGE_CACHE_ENTRIES=1000000 # cache.entries: snapshot counts, two generations
EDGE_RT_ENTRIES=100000     # central.cache_entries: read-through counts, and
                           # read-through memberships, each
STORE_CACHE_MB=64          # store.cache_mb, edge and central: block cache
WRITE_BUFFER_MB=16         # LevelDB write_buffer_size (store.c), both
MAX_OPEN_FILES=1000        # LevelDB max_open_files (store.c), both
PRODUCER_QUEUE_MB=64       # queue.buffering.max.kbytes (bus.c), both
CONSUMER_QUEUE_MB=64       # queued.max.messages.kbytes (librdkafka), both
SEAL_OPS=1000              # batch.max_ops (topics.partitions: PARTITIONS,
                           # set by bench_lib.sh)
BUDGET_MB=1024             # batch.budget_mb: pending (unconfirmed) op bytes
MEMBER_FILTER_MB=16        # store.member_filter_mb: the edge's Bloom filter
DELTA_BATCHES=32           # sealed batches the edge keeps decoded (ledger_int.h)
CENTRAL_CACHE_COUNTS=500000  # central.cache_counts: counts and buckets
CENTRAL_CACHE_MEMBERS=100000 # central.cache_members: memberships
KCACHE_ENTRY_B=160         # a central cache entry with its key, value and
                           # slot, rounded up (ktab.c: 40 B entry, 8 B slot at
                           # half load, key and value in an arena)

SNAPSHOT_MS=1000           # central's snapshot_interval_ms

# shellcheck source=sim/bench/bench_lib.sh
. sim/bench/bench_lib.sh
bench_begin bench_mem "$OUT/logs-mem"

# Called by the EXIT trap before the temp dir goes.
bench_keep() {
	cp "$TMP/samples.tsv" "$OUT/mem_samples.tsv" 2>/dev/null || true
}

# ---- sampling -----------------------------------------------------------------

# One line a second into samples.tsv: seconds since the start, ops the fill
# had sent, ops central had applied, then RSS and peak (kB) of the edge and
# of central. Runs in the background until stopped.
sampler() {
	local t0=$1 sent applied e c
	printf 't_s\tops_sent\tops_applied\tedge_rss_kb\tedge_hwm_kb\tcentral_rss_kb\tcentral_hwm_kb\n' \
		>"$TMP/samples.tsv"
	while true; do
		sent=$(tail -n 1 "$TMP/fill.log" 2>/dev/null | sed -n 's/.* ops=\([0-9]*\).*/\1/p')
		applied=$(central_metric ops_applied_total 2>/dev/null || echo 0)
		e=$(mem_of "$EDGE_PID")
		c=$(mem_of "$CENTRAL_PID")
		printf '%s\t%s\t%s\t%s\t%s\n' "$(($(date +%s) - t0))" "${sent:-0}" "${applied:-0}" \
			"${e// /$'\t'}" "${c// /$'\t'}" >>"$TMP/samples.tsv"
		sleep 1
	done
}

# ---- the run ----------------------------------------------------------------

fill() {
	echo "bench_mem: $ITEMS items, $USERS users through the edge (pid $EDGE_PID," \
		"port $EDGE_PORT), $CONNS connections"
	local rc=0
	run "" "$BIN/sim" fill --port "$EDGE_PORT" --items "$ITEMS" --users "$USERS" --conns "$CONNS" \
		--max-seconds "$MAX_S" --max-failures 100 >"$TMP/fill.out" 2>"$TMP/fill.log" || rc=$?
	cat "$TMP/fill.out"
	if ((rc != 0)); then
		tail -n 5 "$TMP/fill.log" >&2
		echo "bench_mem: sim fill failed (exit $rc): requests or ops were refused" >&2
		exit 1
	fi
	FILL_OPS=$(awk -F= '$1 == "ops_ok" { print $2 }' "$TMP/fill.out")
	FILL_USERS=$(awk -F= '$1 == "users" { print $2 }' "$TMP/fill.out")
	FILL_S=$(awk -F= '$1 == "seconds" { print $2 }' "$TMP/fill.out")
	LIKE_RATE=$(awk -F= '$1 == "like_rate" { print $2 }' "$TMP/fill.out")
}

# True once central has handed at least n snapshot messages to Kafka.
snapshots_reach() { # n
	(($(central_metric snapshots_sent_total) >= $1))
}

# Waits until central has applied every like (or stops moving for 60 s),
# then for one more round of snapshots (every partition's changed counts,
# or a heartbeat) so the edge drops the batches they confirm.
drain_central() {
	local rc=0 snaps
	wait_applied 0 "$FILL_OPS" "$DRAIN_S" 60 || rc=$?
	if ((rc == 1)); then
		echo "bench_mem: central applied $APPLIED of $FILL_OPS in ${DRAIN_S}s" >&2
		exit 1
	elif ((rc != 0)); then
		echo "bench_mem: central stopped at $APPLIED of $FILL_OPS ops" >&2
		exit 1
	fi
	DRAINED_S=$((SECONDS - T_START))
	snaps=$(central_metric snapshots_sent_total)
	wait_until "a round of snapshots after the last apply" 30 \
		snapshots_reach $((snaps + PARTITIONS))
}

# The bound of the edge's memory in MB from its configuration, central
# keeping up (docs/performance.md, "Memory", explains each term). The
# overlay of ops central has not confirmed is left out: it is bounded only
# by batch.budget_mb, and overlay_mb_at_budget gives that term.
edge_bound() { # start-rss-mb store-disk-mb
	awk -v base="$1" -v disk="$2" -v cache="$EDGE_CACHE_ENTRIES" -v rt="$EDGE_RT_ENTRIES" \
		-v bc="$STORE_CACHE_MB" -v wb="$WRITE_BUFFER_MB" -v files="$MAX_OPEN_FILES" \
		-v pq="$PRODUCER_QUEUE_MB" -v cq="$CONSUMER_QUEUE_MB" \
		-v seal="$SEAL_OPS" -v parts="$PARTITIONS" -v mf="$MEMBER_FILTER_MB" \
		-v ring_n="$DELTA_BATCHES" '
	# Bytes of a two-generation smap cache of cap entries (smap_put_gen),
	# the read-through caches:
	# each generation holds cap/2 + 1 entries, in a slot array (24 B a
	# slot) grown in powers of two to stay at most 3/4 full, plus per
	# entry its key (one 32 B malloc chunk for keys up to 24 B) and its
	# value allocation (vb, 0 for values kept in the slot).
	function gen2(cap, vb,   n, slots) {
		n = int(cap / 2) + 1
		for (slots = 16; n * 4 > slots * 3; slots *= 2)
			;
		return 2 * (slots * 24 + n * (32 + vb))
	}
	# The count cache (imap_put_gen) holds keys of up to 48 B (every key
	# this bench makes is shorter) in its 64 B slots: nothing apart.
	function gen2i(cap,   n, slots) {
		n = int(cap / 2) + 1
		for (slots = 16; n * 4 > slots * 3; slots *= 2)
			;
		return 2 * slots * 64
	}
	BEGIN {
		mb = 1048576
		caches = gen2i(cache) + gen2(rt, 48) + gen2(rt, 32)
		# LevelDB: block cache, the memtable and the one being flushed,
		# and the index and bloom filter of each open table (heaptrack
		# put them at 1.6% of the store; 3% here), for the tables on
		# disk up to max_open_files of 2 MB.
		tables = disk < files * 2 ? disk : files * 2
		ldb = (bc + 2 * wb + tables * 0.03) * mb
		# Kafka: the producer queue and the snapshot consumer queue.
		kafka = (pq + cq) * mb
		# The open batches: partitions x batch.max_ops pending ops, about
		# 160 B each with their strings.
		open = parts * seal * 160
		# The membership filter, and the ring of decoded sealed batches:
		# batch.max_ops map entries each (about 80 B with the key).
		filter = mf * mb
		ring = ring_n * seal * 80
		printf "%.0f", base + (caches + ldb + kafka + open + filter + ring) / mb
	}'
}

# Central's bound in MB, the same way: block cache, memtables, open-table
# metadata, the batch consumer queue, the snapshot producer queue and the
# applier's two caches (central.cache_counts, central.cache_members). Left
# out: the per-partition map of counts changed since the last snapshot
# (about 100 B per item changed within one snapshot_interval_ms).
central_bound() { # start-rss-mb store-disk-mb
	awk -v base="$1" -v disk="$2" -v bc="$STORE_CACHE_MB" -v wb="$WRITE_BUFFER_MB" \
		-v files="$MAX_OPEN_FILES" -v pq="$PRODUCER_QUEUE_MB" -v cq="$CONSUMER_QUEUE_MB" \
		-v kc="$CENTRAL_CACHE_COUNTS" -v km="$CENTRAL_CACHE_MEMBERS" -v kb="$KCACHE_ENTRY_B" 'BEGIN {
		tables = disk < files * 2 ? disk : files * 2
		caches = (kc + km) * kb / 1048576
		printf "%.0f", base + bc + 2 * wb + tables * 0.03 + pq + cq + caches
	}'
}

# The overlay at a full batch.budget_mb: one entry per pending op at worst
# (slot, key and value: about 130 B) per 40 B of pending op on disk.
overlay_at_budget() {
	awk -v b="$BUDGET_MB" 'BEGIN { printf "%.0f", b * 130 / 40 }'
}

# The largest pending_ops the edge logged (its stats line, every 30 s).
edge_pending_peak() {
	sed -n 's/.* pending_ops=\([0-9]*\).*/\1/p' "$TMP/edge.log" | sort -n | tail -n 1
}

main() {
	mkdir -p "$OUT"
	need_tools "make deps" curl ss
	[[ -x $BIN/sim && -x $BIN/edge && -x $BIN/central ]] ||
		{ echo "bench_mem: build first (make all)" >&2; exit 1; }
	start_stack "" ""
	local base cbase
	read -r base _ < <(mem_of "$EDGE_PID")
	read -r cbase _ < <(mem_of "$CENTRAL_PID")
	EDGE_BASE_MB=$(kb_to_mb "$base")
	CENTRAL_BASE_MB=$(kb_to_mb "$cbase")
	T_START=$SECONDS
	start sampler "" sampler "$(date +%s)"
	SAMPLER_PID=$LAST_PID

	fill
	drain_central
	stop "$SAMPLER_PID"

	local e c
	read -r -a e < <(mem_of "$EDGE_PID")
	read -r -a c < <(mem_of "$CENTRAL_PID")
	EDGE_RSS=$(kb_to_mb "${e[0]}")
	EDGE_HWM=$(kb_to_mb "${e[1]}")
	CENTRAL_RSS=$(kb_to_mb "${c[0]}")
	CENTRAL_HWM=$(kb_to_mb "${c[1]}")
	local edge_disk central_disk pending
	edge_disk=$(du -sm "$TMP/edge" | awk '{ print $1 }')
	central_disk=$(du -sm "$TMP/central" | awk '{ print $1 }')
	BOUND=$(edge_bound "$EDGE_BASE_MB" "$edge_disk")
	CBOUND=$(central_bound "$CENTRAL_BASE_MB" "$central_disk")
	OVERLAY_MAX=$(overlay_at_budget)
	pending=$(edge_pending_peak)

	{
		echo "edge_rss_mb_10m_items=$EDGE_RSS"
		echo "edge_peak_mb_10m_items=$EDGE_HWM"
		echo "central_rss_mb_10m_items=$CENTRAL_RSS"
		echo "central_peak_mb_10m_items=$CENTRAL_HWM"
		echo "edge_mem_bound_mb=$BOUND"
		echo "edge_overlay_mb_at_budget=$OVERLAY_MAX"
		echo "central_mem_bound_mb=$CBOUND"
		echo "edge_pending_ops_peak=${pending:-0}"
		echo "items=$ITEMS"
		echo "users=$FILL_USERS"
		echo "seconds=$FILL_S"
		echo "like_rate=$LIKE_RATE"
		echo "drain_seconds=$DRAINED_S"
		echo "edge_start_rss_mb=$EDGE_BASE_MB"
		echo "central_start_rss_mb=$CENTRAL_BASE_MB"
		echo "edge_disk_mb=$edge_disk"
		echo "central_disk_mb=$central_disk"
	} >"$OUTFILE.tmp"
	mv -f "$OUTFILE.tmp" "$OUTFILE"

	echo
	echo "memory bench: $ITEMS items, $FILL_USERS users, $APPLIED likes applied at central"
	echo "fill: ${FILL_S}s at $LIKE_RATE likes/s; central caught up ${DRAINED_S}s after the start"
	printf '  %-28s %10s MB (peak %s MB; %s MB at start)\n' "edge RSS" "$EDGE_RSS" "$EDGE_HWM" \
		"$EDGE_BASE_MB"
	printf '  %-28s %10s MB (peak %s MB; %s MB at start)\n' "central RSS" "$CENTRAL_RSS" \
		"$CENTRAL_HWM" "$CENTRAL_BASE_MB"
	printf '  %-28s %10s MB (plus up to %s MB of overlay at a full batch.budget_mb)\n' \
		"edge bound from its config" "$BOUND" "$OVERLAY_MAX"
	printf '  %-28s %10s MB (plus the changed-count map of one snapshot tick)\n' \
		"central bound from its config" "$CBOUND"
	printf '  %-28s %10s (largest the edge logged)\n' "edge pending ops" "${pending:-0}"
	printf '  %-28s %10s MB edge, %s MB central\n' "store on disk" "$edge_disk" "$central_disk"
	echo "  config: cache.entries=$EDGE_CACHE_ENTRIES central.cache_entries=$EDGE_RT_ENTRIES" \
		"store.member_filter_mb=$MEMBER_FILTER_MB" \
		"central.cache_counts=$CENTRAL_CACHE_COUNTS central.cache_members=$CENTRAL_CACHE_MEMBERS" \
		"store.cache_mb=$STORE_CACHE_MB (both) write_buffer=${WRITE_BUFFER_MB}MB (both)" \
		"max_open_files=$MAX_OPEN_FILES (both)"
	echo "  RSS every second: $OUT/mem_samples.tsv; written: $OUTFILE"
}

main "$@"
