#!/bin/sh
# prebuild.sh start OWNER | wait - make test's sanitizer and fuzzing
# builds (make prebuild), compiled while the short drills run, which
# leave the two cores about half idle.
#
# start: begins the build in the background, at the lowest priority
# (nice 19, and in the scheduler's autogroup of its own session at 19
# too: a new session is a new autogroup, within which nice alone counts
# for nothing against the drills), output in build/prebuild.log. A
# watchdog ends the build's whole session once OWNER (make test's make)
# is gone: make stopping on a failure, Ctrl-C or a signal leaves no
# compiler behind.
# wait: waits for the build; its output and a failure when it failed.
set -e
mkdir -p build
case $1 in
start)
	owner=$2
	[ -n "$owner" ] || { echo "usage: prebuild.sh start OWNER-PID" >&2; exit 2; }
	rm -f build/prebuild.rc build/prebuild.pid
	setsid sh -c '
		echo 19 > /proc/self/autogroup 2>/dev/null || true
		echo $$ > build/prebuild.pid
		nice -n 19 ${MAKE:-make} --no-print-directory -j2 prebuild > build/prebuild.log 2>&1 &
		b=$!
		( while kill -0 "$1" 2>/dev/null; do sleep 2; done; kill -TERM -$$ 2>/dev/null ) &
		w=$!
		rc=0
		wait $b || rc=$?
		echo $rc > build/prebuild.rc.tmp
		mv build/prebuild.rc.tmp build/prebuild.rc
		kill $w 2>/dev/null || true' sh "$owner" < /dev/null > /dev/null 2>&1 &
	;;
wait)
	while [ ! -e build/prebuild.rc ]; do
		if [ -e build/prebuild.pid ] && ! kill -0 "$(cat build/prebuild.pid)" 2>/dev/null &&
			[ ! -e build/prebuild.rc ]; then
			echo "the sanitizer and fuzzing builds ended without a status (see build/prebuild.log)"
			exit 1
		fi
		sleep 1
	done
	if [ "$(cat build/prebuild.rc)" -ne 0 ]; then
		cat build/prebuild.log
		echo "the sanitizer and fuzzing builds failed"
		exit 1
	fi
	;;
*)
	echo "usage: prebuild.sh start OWNER-PID | wait" >&2
	exit 2
	;;
esac
