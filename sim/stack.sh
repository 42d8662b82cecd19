#!/usr/bin/env bash
# stack.sh - the local stack for `make run`: Kafka, central and three
# edges (mumbai, virginia, singapore) from configs/local/, all data under
# run/. Mumbai runs as a deployment would: two instances of its edge
# (mumbai-a on 8081, mumbai-b on 8084), one active and one standby, on a
# regional Kafka of its own that holds the edge's changelog. Ctrl-C (or
# SIGTERM) stops exactly the processes it started, by their pids.
#
# KAFKA picks the Kafka under it:
#   embedded (the default)  librdkafka's mock cluster (`sim broker`): up
#                           in a second, no JVM, in memory
#   real                    Apache Kafka (`sim kafka`, the jars of `make
#                           kafka-jars`): one KRaft node for central's
#                           topics and one for mumbai's changelog, two
#                           JVMs of a 320 MiB heap each; 15-30 s to start.
#                           One node each is enough for a laptop-sized
#                           stack (a deployment runs three per cluster,
#                           configs/deploy/topics.conf); their files are
#                           under run/kafka-nodes/.
#
# Mumbai's first instance (8081) always takes the writes: it starts
# alone, takes the empty changelog over and is ready before its standby
# (8084) starts, so the commands printed at the end name 8081 on every
# run.
#
# The stores in run/ are kept from one run to the next; Kafka is not
# (the embedded brokers live in memory, the real nodes are formatted
# anew). Central starts a new epoch of its input and the edges load
# their replicas again from central's checkpoint, so counts carry over
# exactly. Mumbai's two stores start empty each time: the changelog they
# follow is gone with its broker. `rm -rf run` starts afresh.
set -euo pipefail
cd "$(dirname "$0")/.."

RUN=run
KAFKA=${KAFKA:-embedded}
case $KAFKA in
embedded | real) ;;
*)
	echo "stack.sh: KAFKA=$KAFKA: want embedded (the default) or real" >&2
	exit 2
	;;
esac
mkdir -p "$RUN"
pids=()
names=()

# Sends SIGTERM to one process and waits until it is gone; SIGKILL after
# secs seconds (a real Kafka's JVMs then die with their sim kafka).
stop_one() { # pid, name, seconds
	local pid=$1 name=$2 secs=$3
	kill -TERM "$pid" 2>/dev/null || true
	local deadline=$((SECONDS + secs)) next=$((SECONDS + 5))
	while kill -0 "$pid" 2>/dev/null; do
		if ((SECONDS >= deadline)); then
			echo "$name (pid $pid) did not stop within ${secs}s: SIGKILL" >&2
			kill -KILL "$pid" 2>/dev/null || true
			break
		fi
		if ((SECONDS >= next)); then
			echo "  ... waiting for $name (pid $pid) to stop"
			next=$((SECONDS + 5))
		fi
		sleep 0.1
	done
	wait "$pid" 2>/dev/null || true
}

stop_all() {
	# A second Ctrl-C must not cut the stop short and leave JVMs behind.
	trap '' INT TERM HUP
	trap - EXIT
	echo
	echo "stopping the local stack"
	# Edges first (they flush to Kafka), then central, then Kafka. A
	# real cluster still starting takes its signal once its start is
	# over, then stops its JVMs (each SIGTERM, SIGKILL after 10 s).
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		case ${names[$i]} in
		broker | regional-mumbai | kafka) stop_one "${pids[$i]}" "${names[$i]}" 150 ;;
		*) stop_one "${pids[$i]}" "${names[$i]}" 30 ;;
		esac
	done
	echo "stopped"
}
# Ctrl-C, SIGTERM or a closed terminal: stop everything and exit 0 (a
# stop that was asked for); any other exit stops everything too,
# keeping its status.
trap 'stop_all; exit 0' INT TERM HUP
trap stop_all EXIT

start() { # name, command...
	local name=$1
	shift
	"$@" >>"$RUN/$name.log" 2>&1 &
	pids+=($!)
	names+=("$name")
}
# Kafka runs in a session of its own: a Ctrl-C at the terminal reaches
# the daemons at once, but Kafka (a real one's JVMs with it) only by
# stop_all's SIGTERM, after the edges and central are gone. setsid
# execs in place here (a background job leads no process group), so
# the pid kept is sim's own.
start_kafka() { # name, sim arguments...
	local name=$1
	shift
	start "$name" setsid build/sim "$@"
}

# Exits when a process it started has died (its log's end shown).
check_alive() {
	for i in "${!pids[@]}"; do
		kill -0 "${pids[$i]}" 2>/dev/null && continue
		echo "${names[$i]} exited during the start; the end of $RUN/${names[$i]}.log:" >&2
		tail -n 15 "$RUN/${names[$i]}.log" >&2 || true
		exit 1
	done
}

wait_for() { # what, seconds, test command...
	local what=$1 secs=$2
	shift 2
	local start=$SECONDS
	local deadline=$((start + secs)) next=$((start + 5))
	until "$@" >/dev/null 2>&1; do
		check_alive
		if ((SECONDS > deadline)); then
			echo "timed out waiting for $what; see $RUN/*.log" >&2
			exit 1
		fi
		if ((SECONDS >= next)); then
			echo "  ... waiting for $what ($((SECONDS - start)) s)"
			next=$((SECONDS + 5))
		fi
		sleep 0.1
	done
}

ready() { # port: /readyz answers 200 (for a mumbai instance: the writer)
	curl -sf --http2-prior-knowledge "http://127.0.0.1:$1/readyz"
}
standby() { # port: /readyz's writer check says it follows the changelog
	curl -s --http2-prior-knowledge "http://127.0.0.1:$1/readyz" |
		grep -q '"writer":{"ok":false,"reason":"standby: following'
}

rm -f "$RUN/kafka.bootstrap" "$RUN/regional-mumbai.bootstrap"
rm -rf "$RUN/edge-mumbai" "$RUN/edge-mumbai-b"
began=$SECONDS
daemon_opts=()
if [[ $KAFKA == real ]]; then
	# Central's cluster has the topics the embedded one creates by
	# default (sim broker --help), with the deploy table's configs.
	topics=()
	for t in likes.batches:16 likes.snapshots:16 likes.deadletter:1 likes.changes:16 \
		likes.milestones:16 likes.home.mumbai:16 likes.home.virginia:16 \
		likes.home.singapore:16; do
		topics+=(--topic "$t")
	done
	rm -rf "$RUN/kafka-nodes"
	echo "starting Apache Kafka (KAFKA=real): one KRaft node for central's topics and one" \
		"for mumbai's changelog, each a JVM; this takes 15-30 s (logs: $RUN/kafka.log," \
		"$RUN/regional-mumbai.log, $RUN/kafka-nodes/*/node1/out.log)"
	start_kafka kafka kafka --nodes 1 --dir "$RUN/kafka-nodes/central" "${topics[@]}" \
		--bootstrap-file "$RUN/kafka.bootstrap" --control "$RUN/kafka.ctl"
	start_kafka regional-mumbai kafka --nodes 1 --dir "$RUN/kafka-nodes/regional-mumbai" \
		--topic likes.changelog:1 --bootstrap-file "$RUN/regional-mumbai.bootstrap" \
		--control "$RUN/regional-mumbai.ctl"
	wait_for "central's Kafka" 150 test -s "$RUN/kafka.bootstrap"
	echo "  central's Kafka is up ($((SECONDS - began)) s)"
	wait_for "mumbai's regional Kafka" 150 test -s "$RUN/regional-mumbai.bootstrap"
	echo "  mumbai's regional Kafka is up ($((SECONDS - began)) s)"
	# A real broker answers a waiting fetch as soon as data arrives, so
	# the mock's 10 ms wait (configs/local/) would only cost the JVMs a
	# hundred empty fetches a second per consumer (as sim drill's
	# DRILL_REAL_FETCH_WAIT_MS).
	daemon_opts=(-s kafka.consumer.fetch.wait.max.ms=500)
	kafka_desc="Apache Kafka, 1 node"
else
	echo "starting the embedded Kafka (librdkafka's mock cluster)"
	start_kafka broker broker --bootstrap-file "$RUN/kafka.bootstrap"
	start_kafka regional-mumbai broker --bootstrap-file "$RUN/regional-mumbai.bootstrap" \
		--topic likes.changelog:1
	wait_for "the embedded Kafka" 20 test -s "$RUN/kafka.bootstrap"
	wait_for "mumbai's regional Kafka" 20 test -s "$RUN/regional-mumbai.bootstrap"
	kafka_desc="embedded mock, 3 brokers"
fi

echo "starting central and the edges (mumbai's standby once 8081 is its writer)"
start central build/central -c configs/local/central.ini "${daemon_opts[@]}"
start edge-mumbai build/edge -c configs/local/edge-mumbai.ini "${daemon_opts[@]}"
mumbai_a=$!
for edge in virginia singapore; do
	start "edge-$edge" build/edge -c "configs/local/edge-$edge.ini" "${daemon_opts[@]}"
done
# Ready: the edge has its replica of counts (loaded from central's
# checkpoint after a restart or on an empty store) and fresh snapshots;
# mumbai's first instance has also taken its changelog over, alone, so
# it is the writer. Only then does its standby start: started together,
# either could take the log first.
wait_for "mumbai's first instance (8081) to take its changelog and be ready" 90 ready 8081
echo "  mumbai-a (8081) is mumbai's writer ($((SECONDS - began)) s); starting its standby" \
	"mumbai-b (8084)"
start edge-mumbai-b build/edge -c configs/local/edge-mumbai-b.ini "${daemon_opts[@]}"
for port in 8082 8083; do
	wait_for "the edge on port $port to be ready" 90 ready "$port"
done
wait_for "mumbai's standby (8084) to follow the changelog" 60 standby 8084
if ! ready 8081 >/dev/null 2>&1; then
	echo "mumbai-a (8081) is no longer ready; see $RUN/edge-mumbai.log" >&2
	exit 1
fi

cat <<MSG

The local stack is up in $((SECONDS - began)) s (logs in $RUN/; counts from earlier runs kept):
  $(printf '%-34s' "Kafka ($kafka_desc)")$(cat "$RUN/kafka.bootstrap")
  central ops API                   http://127.0.0.1:9090
  edge mumbai, the active           http://127.0.0.1:8081  (h2c and HTTP/1.1)
  edge mumbai, the standby          http://127.0.0.1:8084  (reads; writes go to the active)
  mumbai's regional Kafka           $(cat "$RUN/regional-mumbai.bootstrap")
  edge virginia                     http://127.0.0.1:8082  (h2c and HTTP/1.1)
  edge singapore                    http://127.0.0.1:8083  (h2c and HTTP/1.1)

Like a post as user alice in Mumbai:
  curl --http2-prior-knowledge -X POST -H 'X-User-Id: alice' http://127.0.0.1:8081/v1/items/post/1/likes

Read its count in Virginia (it arrives within a couple of seconds):
  curl --http2-prior-knowledge http://127.0.0.1:8082/v1/items/post/1/likes

Unlike in Singapore, ask whether alice likes it, and read central's count:
  curl --http2-prior-knowledge -X DELETE -H 'X-User-Id: alice' http://127.0.0.1:8083/v1/items/post/1/likes
  curl --http2-prior-knowledge -H 'X-User-Id: alice' http://127.0.0.1:8081/v1/items/post/1/likes/me
  curl -H 'Authorization: Bearer dev-admin-token' http://127.0.0.1:9090/v1/items/post/1/likes

A feed page's hearts, answered in the user's home region: alice, at
home in Mumbai, likes a post through Virginia; Mumbai then answers her
page from its own store (central sends it her likes made elsewhere):
  curl --http2-prior-knowledge -X POST -H 'X-User-Id: alice' -H 'X-User-Home: mumbai' http://127.0.0.1:8082/v1/items/post/7/likes
  curl --http2-prior-knowledge -H 'X-User-Id: alice' -H 'X-User-Home: mumbai' 'http://127.0.0.1:8081/v1/me?items=post:7,post:8'

Count views, read a feed page, send debounced taps in one request:
  curl -X POST -H 'X-User-Id: alice' -d '{"n": 3}' http://127.0.0.1:8081/v1/items/reel/9/views
  curl 'http://127.0.0.1:8082/v1/counts?items=post:1,reel:9'
  curl -X POST -H 'X-User-Id: alice' -H 'Idempotency-Key: tap-1' http://127.0.0.1:8081/v1/ops \\
       -d '{"ops":[{"op":"add","item":"post:2","counter":"likes"},{"op":"add","item":"post:2","counter":"saves"}]}'

The demo feed (the JavaScript client in client/, optimistic likes sent
in batches) in a browser:
  http://127.0.0.1:8081/demo/?user=alice

Mumbai's standby (8084) answers reads and refuses writes (503
not_active) while it follows the changelog. Its writer check, and the
takeover when the active goes (the standby takes over in ~2 s):
  curl -s --http2-prior-knowledge http://127.0.0.1:8084/readyz
  kill $mumbai_a    # mumbai-a, the active on 8081

What central applied, as other teams read it (docs/events.md): every
like that changed something and every count that reached a milestone,
as JSON lines (Ctrl-C stops them):
  build/central tail changes -c configs/local/central.ini --from-beginning
  build/central tail milestones -c configs/local/central.ini --from-beginning

Every route, with examples: docs/api.md

Press Ctrl-C to stop everything.
MSG

# Wait until Ctrl-C, or until one of the processes dies. Either of
# mumbai's instances may go (its pair takes over): that is said once.
declare -A told
while true; do
	for i in "${!pids[@]}"; do
		kill -0 "${pids[$i]}" 2>/dev/null && continue
		case ${names[$i]} in
		edge-mumbai | edge-mumbai-b)
			if [[ -z ${told[$i]:-} ]]; then
				told[$i]=1
				echo "${names[$i]} exited; its pair takes mumbai's writes. Start it again" \
					"as the standby: build/edge -c configs/local/${names[$i]}.ini" \
					"${daemon_opts[@]}" >&2
			fi
			;;
		*)
			echo "${names[$i]} exited; see $RUN/${names[$i]}.log" >&2
			exit 1
			;;
		esac
	done
	sleep 1
done
