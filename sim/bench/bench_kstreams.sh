# bench_kstreams.sh - central's apply against the Kafka Streams peer
# (issue 69, central_apply_vs_kstreams_per_core), sourced by bench.sh:
# bench_kstreams runs in `bench.sh peers` on its real cluster, and
# `bench.sh kstreams` (main_kstreams) runs it alone on a cluster of its
# own, writing OUT/kstreams.json.
#
# On the running real cluster (regional_start real, with KS_TOPICS):
# sim produce-batches fills likes.batches with KS_OPS ops (its mixed
# load: likes, unlikes, views); central (feed on, as deployed) applies
# them, then the Streams application (sim/bench/kstreams/, two JVMs of
# one application id, exactly_once_v2, one standby of each task) applies
# the same messages. Each side is timed from an idle start (central after
# its feed is live on every partition, the JVMs, paused behind a gate
# file, once their group is formed and they are idle) to the end: central has applied
# every message and published every event, the application's committed
# offsets have reached the input's end. Its CPU is read from
# /proc/PID/stat (user + system, all threads) at both ends: ops per CPU
# second of central's process, and of both JVMs together; the cluster's
# CPU over each side is reported beside it, uncounted. The two final
# counts (central export, the application's output topic) must be equal:
# a difference is a failure (the ratio is then null and bench.sh exits 1).
#
# Globals it sets: KS[...] (figures), KS_FAILED (1 after a mismatch).
# Knobs: BENCH_KSTREAMS_OPS (200000), BENCH_KSTREAMS_HEAP (the JVMs'
# -Xmx, 512m).

KS_OPS=${BENCH_KSTREAMS_OPS:-200000}
KS_HEAP=${BENCH_KSTREAMS_HEAP:-512m}
KS_JARS=build/kstreams/libs
KS_OUT_TOPIC=kstreams.counts
# The topics central and the application need on the cluster, as
# regional_start arguments.
KS_TOPICS=(--topic "likes.batches:$PARTITIONS" --topic "likes.snapshots:$PARTITIONS"
	--topic likes.deadletter:1 --topic "likes.changes:$PARTITIONS"
	--topic "likes.milestones:$PARTITIONS" --topic "$KS_OUT_TOPIC:$PARTITIONS")
declare -A KS
KS_FAILED=0

# The CPU ticks of sim kafka's children: the cluster's JVMs.
ks_cluster_ticks() {
	local p t=0
	for p in $(pgrep -P "$REGIONAL_PID" || true); do
		t=$((t + $(cpu_ticks "$p" 2>/dev/null || echo 0)))
	done
	echo "$t"
}

# The sum of the processes' CPU ticks.
ks_ticks() { # pid...
	local p t=0
	for p in "$@"; do t=$((t + $(cpu_ticks "$p"))); done
	echo "$t"
}

# The application's instances and tools: java on its jars, a command
# (run, wait, counts: sim/bench/kstreams/src/Main.java) to follow. Set
# by bench_kstreams, once TMP is made: RocksDB's and lz4's native
# libraries are unpacked into java.io.tmpdir, and a killed JVM leaves
# them there.
KS_JAVA=()

# Central has applied every message of the input (want) and published
# every event its feed made.
ks_central_done() { # want
	local s next pend
	s=$(feed_scrape)
	next=$(metric_sum likes_central_input_next_offset <<<"$s")
	pend=$(metric_sum likes_central_feed_pending_events <<<"$s")
	[[ -n $next ]] && ((next >= $1)) && [[ ${pend:-0} == 0 ]]
}

# Central on the cluster, feed on: KS[central_cpu_s], KS[central_s],
# KS[central_cluster_cpu_s], its counts in TMP/central.csv.
ks_central() {
	local hz=$1 c0 c1 k0 k1 t0 t1 ini=$TMP/central-kstreams.ini
	rm -rf "$TMP/central"
	free_port
	OPS_PORT=$PORT
	# A real broker answers a waiting fetch as soon as data comes, as
	# sim/stack.sh says of its real-Kafka central.
	BUS_BOOTSTRAP=$TMP/regional.bootstrap BUS_FETCH_WAIT_MS=500 central_ini "$ini"
	central_up central-kstreams "$SERVER_CPU" "$ini" feed
	local cpid=$LAST_PID
	wait_idle "central before its apply run" 30 "$cpid"
	c0=$(cpu_ticks "$cpid")
	k0=$(ks_cluster_ticks)
	t0=$(date +%s.%N)
	run "$LOAD_CPU" "$BIN/sim" produce-batches --bootstrap-file "$TMP/regional.bootstrap" \
		--ops "$KS_OPS" --partitions "$PARTITIONS" >"$TMP/ks-produce.out" \
		2>"$TMP/ks-produce.log" || {
		WHY[central_apply_vs_kstreams_per_core]="sim produce-batches failed: $(tr '\n' ' ' <"$TMP/ks-produce.log")"
		stop "$cpid"
		return 1
	}
	KS[messages]=$(awk -F= '$1 == "messages" { print $2 }' "$TMP/ks-produce.out")
	KS[entries]=$(awk -F= '$1 == "entries" { print $2 }' "$TMP/ks-produce.out")
	KS[ops]=$(awk -F= '$1 == "ops" { print $2 }' "$TMP/ks-produce.out")
	local deadline=$((SECONDS + 300))
	until ks_central_done "${KS[messages]}"; do
		if ((SECONDS > deadline)); then
			WHY[central_apply_vs_kstreams_per_core]="central had not applied the input after 300 s"
			stop "$cpid"
			return 1
		fi
		sleep 0.1
	done
	c1=$(cpu_ticks "$cpid")
	k1=$(ks_cluster_ticks)
	t1=$(date +%s.%N)
	local s
	s=$(feed_scrape)
	KS[central_applied]=$(metric_sum likes_central_ops_applied_total <<<"$s")
	KS[central_events]=$(metric_sum likes_central_feed_events_total <<<"$s")
	read -r "KS[central_cpu_s]" "KS[central_s]" "KS[central_cluster_cpu_s]" < <(awk \
		-v a="$c0" -v b="$c1" -v x="$k0" -v y="$k1" -v s="$t0" -v e="$t1" -v hz="$hz" \
		'BEGIN { printf "%.2f %.2f %.2f\n", (b - a) / hz, e - s, (y - x) / hz }')
	[[ ${KS[central_applied]} == "${KS[entries]}" ]] ||
		WARN+=("kstreams: central applied ${KS[central_applied]} ops, the input had ${KS[entries]}")
	"$BIN/central" export -c "$ini" --format csv >"$TMP/central.csv" 2>"$TMP/central-export.log" ||
		WHY[central_apply_vs_kstreams_per_core]="central export failed: $(tr '\n' ' ' <"$TMP/central-export.log")"
	stop "$cpid"
	printf '  central (pid %s, CPU %s): %s ops in %s s, %s CPU s (%s events published);' \
		"$cpid" "$SERVER_CPU" "${KS[entries]}" "${KS[central_s]}" "${KS[central_cpu_s]}" \
		"${KS[central_events]:-0}"
	printf ' the cluster %s CPU s\n' "${KS[central_cluster_cpu_s]}"
	[[ -z ${WHY[central_apply_vs_kstreams_per_core]:-} ]]
}

# The application's group is formed: both instances in it, every input
# partition assigned (a paused instance stays REBALANCING and lists no
# tasks, so its own status cannot say).
ks_ready() { # timeout-s
	run "$LOAD_CPU" "${KS_JAVA[@]}" ready --bootstrap-file "$TMP/regional.bootstrap" \
		--members 2 --timeout-s "$1" 2>>"$TMP/kstreams-ready.log"
}

# The Streams application's two instances on the same input:
# KS[kstreams_cpu_s], KS[kstreams_s], KS[kstreams_cluster_cpu_s], its
# counts in TMP/kstreams.csv.
ks_streams() {
	local hz=$1 i pids=() c0 c1 k0 k1 t0 t1 gate=$TMP/kstreams.gate
	rm -f "$gate"
	for i in a b; do
		start "kstreams-$i" "$SERVER_CPU" "${KS_JAVA[@]}" run \
			--bootstrap-file "$TMP/regional.bootstrap" \
			--state-dir "$TMP/kstreams-$i" --gate "$gate" --status "$TMP/kstreams-$i.status"
		pids+=("$LAST_PID")
	done
	ks_ready 240 || {
		WHY[central_apply_vs_kstreams_per_core]="the Streams instances' group did not form: $(tail -n 1 "$TMP/kstreams-ready.log")"
		for i in "${pids[@]}"; do stop "$i"; done
		return 1
	}
	# The JVMs' start-up compiling ends, and the group is still whole.
	for i in 0 1; do wait_idle "Streams instance $i before its run" 60 "${pids[$i]}"; done
	ks_ready 60 || {
		WHY[central_apply_vs_kstreams_per_core]="the Streams instances' group came apart: $(tail -n 1 "$TMP/kstreams-ready.log")"
		for i in "${pids[@]}"; do stop "$i"; done
		return 1
	}
	c0=$(ks_ticks "${pids[@]}")
	k0=$(ks_cluster_ticks)
	t0=$(date +%s.%N)
	touch "$gate"
	if ! run "$LOAD_CPU" "${KS_JAVA[@]}" wait --bootstrap-file "$TMP/regional.bootstrap" \
		--timeout-s 600 >"$TMP/kstreams-wait.out" 2>"$TMP/kstreams-wait.log"; then
		WHY[central_apply_vs_kstreams_per_core]="the Streams application did not reach the input's end in 600 s"
		for i in "${pids[@]}"; do stop "$i"; done
		return 1
	fi
	c1=$(ks_ticks "${pids[@]}")
	k1=$(ks_cluster_ticks)
	t1=$(date +%s.%N)
	sleep 1.5 # a status line after the end
	KS[kstreams_applied]=$(cat "$TMP"/kstreams-[ab].status |
		awk -F= '$1 == "applied" { s += $2 } END { print s + 0 }')
	for i in "${pids[@]}"; do stop "$i"; done
	read -r "KS[kstreams_cpu_s]" "KS[kstreams_s]" "KS[kstreams_cluster_cpu_s]" < <(awk \
		-v a="$c0" -v b="$c1" -v x="$k0" -v y="$k1" -v s="$t0" -v e="$t1" -v hz="$hz" \
		'BEGIN { printf "%.2f %.2f %.2f\n", (b - a) / hz, e - s, (y - x) / hz }')
	# Each active task counts what it applied; a task redone after an
	# aborted transaction counts its batches again, so only fewer is wrong.
	((KS[kstreams_applied] >= KS[entries])) ||
		WARN+=("kstreams: the application applied ${KS[kstreams_applied]} ops, the input had ${KS[entries]}")
	printf '  Kafka Streams (pids %s, CPU %s): %s ops in %s s, %s CPU s over both JVMs;' \
		"${pids[*]}" "$SERVER_CPU" "${KS[entries]}" "${KS[kstreams_s]}" "${KS[kstreams_cpu_s]}"
	printf ' the cluster %s CPU s\n' "${KS[kstreams_cluster_cpu_s]}"
	run "$LOAD_CPU" "${KS_JAVA[@]}" counts --bootstrap-file "$TMP/regional.bootstrap" \
		>"$TMP/kstreams.csv" 2>"$TMP/kstreams-counts.log" || {
		WHY[central_apply_vs_kstreams_per_core]="reading the application's counts failed: $(tail -n 3 "$TMP/kstreams-counts.log" | tr '\n' ' ')"
		return 1
	}
}

# Both counts, zeros left out (a count key central keeps at 0 is an item
# nobody likes now, as one the application never emitted), must be equal.
ks_compare() {
	local f
	for f in central kstreams; do
		awk -F, 'NR > 1 && $NF != 0' "$TMP/$f.csv" | LC_ALL=C sort >"$TMP/$f.sorted"
	done
	KS[items_compared]=$(wc -l <"$TMP/central.sorted")
	if cmp -s "$TMP/central.sorted" "$TMP/kstreams.sorted"; then
		KS[counts]=equal
		echo "  counts: equal ($((KS[items_compared])) non-zero counts)"
		return 0
	fi
	KS[counts]=different
	KS_FAILED=1
	diff "$TMP/central.sorted" "$TMP/kstreams.sorted" >"$TMP/kstreams-counts-diff.log" || true
	WHY[central_apply_vs_kstreams_per_core]="the final counts differ: $(grep -c '^[<>]' "$TMP/kstreams-counts-diff.log") lines (central <, Kafka Streams >) in $OUT/logs/kstreams-counts-diff.log"
	{
		echo "bench: MISMATCH: Kafka Streams' final counts are not central's:"
		head -n 10 "$TMP/kstreams-counts-diff.log"
		echo "bench: MISMATCH: ${WHY[central_apply_vs_kstreams_per_core]}"
	} >&2
	return 1
}

# The comparison on the running real cluster (KS_TOPICS made).
bench_kstreams() {
	local hz k=central_apply_vs_kstreams_per_core
	hz=$(getconf CLK_TCK)
	KS_JAVA=(java -Xmx"$KS_HEAP" -Djava.io.tmpdir="$TMP" -cp "$KS_JARS/*" likes.kstreams.Main)
	if [[ ! -e $KS_JARS/.complete ]]; then
		WHY[$k]="$KS_JARS is missing (make kstreams-jars)"
		return 0
	fi
	echo "central's apply against Kafka Streams: $KS_OPS ops (sim produce-batches on CPU" \
		"$LOAD_CPU) into likes.batches on the cluster (CPU $LOAD_CPU); central (feed on)," \
		"then two Streams instances (exactly_once_v2, one standby), each on CPU $SERVER_CPU"
	ks_central "$hz" || return 0
	ks_streams "$hz" || return 0
	ks_compare || return 0
	KS[central_ops_per_cpu_s]=$(div "${KS[entries]}" "${KS[central_cpu_s]}" %.0f)
	KS[kstreams_ops_per_cpu_s]=$(div "${KS[entries]}" "${KS[kstreams_cpu_s]}" %.0f)
	R[$k]=$(div "${KS[central_ops_per_cpu_s]}" "${KS[kstreams_ops_per_cpu_s]}")
}

KS_FIELDS=(ops entries messages central_applied central_events central_s central_cpu_s
	central_cluster_cpu_s kstreams_applied kstreams_s kstreams_cpu_s kstreams_cluster_cpu_s
	central_ops_per_cpu_s kstreams_ops_per_cpu_s items_compared)

# The "kstreams" object of a JSON file.
jkstreams() {
	printf '{"counts": %s, "heap": %s, ' "$(jstr "${KS[counts]:-unchecked}")" "$(jstr "$KS_HEAP")"
	printf '"why_null": %s,\n' "$(jstr "${WHY[central_apply_vs_kstreams_per_core]:-}")"
	jobject '    ' KS "${KS_FIELDS[@]}"
	printf '}'
}

# The lines under a table.
print_kstreams() {
	echo "central apply / Kafka Streams per CPU second:" \
		"${R[central_apply_vs_kstreams_per_core]:-null} (target >= 2.0):" \
		"central ${KS[central_ops_per_cpu_s]:-null} ops per CPU s (${KS[central_cpu_s]:-?} s)," \
		"Kafka Streams ${KS[kstreams_ops_per_cpu_s]:-null} (${KS[kstreams_cpu_s]:-?} s over" \
		"both JVMs), ${KS[entries]:-?} ops; counts ${KS[counts]:-unchecked};" \
		"the cluster's CPU ${KS[central_cluster_cpu_s]:-?} s and ${KS[kstreams_cluster_cpu_s]:-?} s"
	[[ -z ${WHY[central_apply_vs_kstreams_per_core]:-} ]] ||
		echo "  null: ${WHY[central_apply_vs_kstreams_per_core]}"
}

# `bench.sh kstreams`: the comparison alone, on a real cluster of its
# own; OUT/kstreams.json.
main_kstreams() {
	mkdir -p "$OUT"
	need_tools "make deps" curl ss taskset java pgrep
	peers_begin sim central
	regional_start real "${KS_TOPICS[@]}"
	echo "  cluster: sim kafka pid $REGIONAL_PID (CPU $LOAD_CPU), nodes (JVMs) pids" \
		"$(pgrep -d ' ' -P "$REGIONAL_PID" || true)"
	bench_kstreams
	stop "$REGIONAL_PID"
	{
		printf '{\n  "date": %s,\n  "machine": %s,\n' "$(jstr "$DATE")" "$(jstr "$MACHINE")"
		jobject '  ' R central_apply_vs_kstreams_per_core
		printf ',\n  "kstreams": '
		jkstreams
		printf ',\n  "warnings": '
		jwarnings
		printf '\n}\n'
	} >"$OUT/kstreams.json"
	peers_end kstreams print_kstreams
}
