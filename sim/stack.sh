#!/usr/bin/env bash
# stack.sh - the local stack for `make run`: embedded Kafka, central and
# three edges (mumbai, virginia, singapore) from configs/local/, all data
# under run/. Mumbai runs as a deployment would: two instances of its
# edge (mumbai-a on 8081, mumbai-b on 8084), one active and one standby,
# on a regional Kafka of its own (a second embedded broker) that holds
# the edge's changelog. Ctrl-C (or SIGTERM) stops exactly the processes
# it started.
#
# The stores in run/ are kept from one run to the next; the embedded
# brokers are not (they live in memory). Central starts a new epoch of
# its input and the edges load their replicas again from central's
# checkpoint, so counts carry over exactly. Mumbai's two stores start
# empty each time: the changelog they follow is gone with its broker.
# `rm -rf run` starts afresh.
set -euo pipefail
cd "$(dirname "$0")/.."

RUN=run
mkdir -p "$RUN"
pids=()
names=()

stop_all() {
	trap - INT TERM EXIT
	echo
	echo "stopping the local stack"
	# Edges first (they flush to Kafka), then central, then the broker.
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill -TERM "${pids[$i]}" 2>/dev/null || true
		wait "${pids[$i]}" 2>/dev/null || true
	done
}
# Ctrl-C or SIGTERM: stop everything and exit 0 (a stop that was asked
# for); any other exit stops everything too, keeping its status.
trap 'stop_all; exit 0' INT TERM
trap stop_all EXIT

start() { # name, command...
	local name=$1
	shift
	"$@" >>"$RUN/$name.log" 2>&1 &
	pids+=($!)
	names+=("$name")
}

wait_for() { # what, seconds, test command...
	local what=$1 secs=$2
	shift 2
	local deadline=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS > deadline)); then
			echo "timed out waiting for $what; see $RUN/*.log" >&2
			exit 1
		fi
		sleep 0.1
	done
}

rm -f "$RUN/kafka.bootstrap" "$RUN/regional-mumbai.bootstrap"
rm -rf "$RUN/edge-mumbai" "$RUN/edge-mumbai-b"
start broker build/sim broker --bootstrap-file "$RUN/kafka.bootstrap"
start regional-mumbai build/sim broker --bootstrap-file "$RUN/regional-mumbai.bootstrap" \
	--topic likes.changelog:1
wait_for "the embedded Kafka" 20 test -s "$RUN/kafka.bootstrap"
wait_for "mumbai's regional Kafka" 20 test -s "$RUN/regional-mumbai.bootstrap"
start central build/central -c configs/local/central.ini
for edge in mumbai mumbai-b virginia singapore; do
	start "edge-$edge" build/edge -c "configs/local/edge-$edge.ini"
done
ready() { # port
	curl -sf --http2-prior-knowledge "http://127.0.0.1:$1/readyz"
}
# Ready: each edge has its replica of counts (loaded from central's
# checkpoint after a restart or on an empty store) and fresh snapshots;
# one of mumbai's instances has taken its changelog over.
wait_for "mumbai's active edge" 60 bash -c "$(declare -f ready); ready 8081 || ready 8084"
for port in 8082 8083; do
	wait_for "the edge on port $port to be ready" 60 ready "$port"
done
# Whichever instance took mumbai's changelog first takes its writes: the
# commands below name that one (the other answers writes 503 not_active).
MUMBAI=8081 MUMBAI_INI=edge-mumbai.ini STANDBY=8084
if ! ready 8081 >/dev/null; then
	MUMBAI=8084 MUMBAI_INI=edge-mumbai-b.ini STANDBY=8081
fi

cat <<MSG

The local stack is up (logs in $RUN/; counts from earlier runs kept):
  Kafka (embedded mock, 3 brokers)  $(cat "$RUN/kafka.bootstrap")
  central ops API                   http://127.0.0.1:9090
  edge mumbai, the active           http://127.0.0.1:$MUMBAI  (h2c and HTTP/1.1)
  edge mumbai, the standby          http://127.0.0.1:$STANDBY  (reads; writes go to the active)
  mumbai's regional Kafka           $(cat "$RUN/regional-mumbai.bootstrap")
  edge virginia                     http://127.0.0.1:8082  (h2c and HTTP/1.1)
  edge singapore                    http://127.0.0.1:8083  (h2c and HTTP/1.1)

Like a post as user alice in Mumbai:
  curl --http2-prior-knowledge -X POST -H 'X-User-Id: alice' http://127.0.0.1:$MUMBAI/v1/items/post/1/likes

Read its count in Virginia (it arrives within a couple of seconds):
  curl --http2-prior-knowledge http://127.0.0.1:8082/v1/items/post/1/likes

Unlike in Singapore, ask whether alice likes it, and read central's count:
  curl --http2-prior-knowledge -X DELETE -H 'X-User-Id: alice' http://127.0.0.1:8083/v1/items/post/1/likes
  curl --http2-prior-knowledge -H 'X-User-Id: alice' http://127.0.0.1:$MUMBAI/v1/items/post/1/likes/me
  curl -H 'Authorization: Bearer dev-admin-token' http://127.0.0.1:9090/v1/items/post/1/likes

A feed page's hearts, answered in the user's home region: alice, at
home in Mumbai, likes a post through Virginia; Mumbai then answers her
page from its own store (central sends it her likes made elsewhere):
  curl --http2-prior-knowledge -X POST -H 'X-User-Id: alice' -H 'X-User-Home: mumbai' http://127.0.0.1:8082/v1/items/post/7/likes
  curl --http2-prior-knowledge -H 'X-User-Id: alice' -H 'X-User-Home: mumbai' 'http://127.0.0.1:$MUMBAI/v1/me?items=post:7,post:8'

Count views, read a feed page, send debounced taps in one request:
  curl -X POST -H 'X-User-Id: alice' -d '{"n": 3}' http://127.0.0.1:$MUMBAI/v1/items/reel/9/views
  curl 'http://127.0.0.1:8082/v1/counts?items=post:1,reel:9'
  curl -X POST -H 'X-User-Id: alice' -H 'Idempotency-Key: tap-1' http://127.0.0.1:$MUMBAI/v1/ops \
       -d '{"ops":[{"op":"add","item":"post:2","counter":"likes"},{"op":"add","item":"post:2","counter":"saves"}]}'

The demo feed (the JavaScript client in client/, optimistic likes sent
in batches) in a browser:
  http://127.0.0.1:$MUMBAI/demo/?user=alice

Mumbai's standby ($STANDBY) answers reads and refuses writes (503
not_active) while it follows the changelog. Which is which, and the
takeover when the active goes (the standby takes over in ~2 s):
  curl -s --http2-prior-knowledge http://127.0.0.1:$STANDBY/readyz
  kill \$(pgrep -f $MUMBAI_INI)

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
					"as the standby: build/edge -c configs/local/${names[$i]}.ini" >&2
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
