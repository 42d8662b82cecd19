#!/usr/bin/env bash
# stack.sh - the local stack for `make run`: embedded Kafka, central and
# three edges (mumbai, virginia, singapore) from configs/local/, all data
# under run/. Ctrl-C (or SIGTERM) stops exactly the processes it started.
#
# The stores in run/ are kept from one run to the next; the embedded
# broker is not (it lives in memory). Central starts a new epoch of its
# input and the edges load their replicas again from central's
# checkpoint, so counts carry over exactly. `rm -rf run` starts afresh.
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

rm -f "$RUN/kafka.bootstrap"
start broker build/sim broker --bootstrap-file "$RUN/kafka.bootstrap"
wait_for "the embedded Kafka" 20 test -s "$RUN/kafka.bootstrap"
start central build/central -c configs/local/central.ini
for region in mumbai virginia singapore; do
	start "edge-$region" build/edge -c "configs/local/edge-$region.ini"
done
# Ready: each edge has its replica of counts (loaded from central's
# checkpoint after a restart or on an empty store) and fresh snapshots.
for port in 8081 8082 8083; do
	wait_for "the edge on port $port to be ready" 60 \
		curl -sf --http2-prior-knowledge "http://127.0.0.1:$port/readyz"
done

cat <<MSG

The local stack is up (logs in $RUN/; counts from earlier runs kept):
  Kafka (embedded mock, 3 brokers)  $(cat "$RUN/kafka.bootstrap")
  central ops API                   http://127.0.0.1:9090
  edge mumbai                       http://127.0.0.1:8081  (h2c and HTTP/1.1)
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

Count views, read a feed page, send debounced taps in one request:
  curl -X POST -H 'X-User-Id: alice' -d '{"n": 3}' http://127.0.0.1:8081/v1/items/reel/9/views
  curl 'http://127.0.0.1:8082/v1/counts?items=post:1,reel:9'
  curl -X POST -H 'X-User-Id: alice' -H 'Idempotency-Key: tap-1' http://127.0.0.1:8081/v1/ops \
       -d '{"ops":[{"op":"add","item":"post:2","counter":"likes"},{"op":"add","item":"post:2","counter":"saves"}]}'

The demo feed (the JavaScript client in client/, optimistic likes sent
in batches) in a browser:
  http://127.0.0.1:8081/demo/?user=alice

Every route, with examples: docs/api.md

Press Ctrl-C to stop everything.
MSG

# Wait until Ctrl-C, or until one of the processes dies.
while true; do
	for i in "${!pids[@]}"; do
		if ! kill -0 "${pids[$i]}" 2>/dev/null; then
			echo "${names[$i]} exited; see $RUN/${names[$i]}.log" >&2
			exit 1
		fi
	done
	sleep 1
done
