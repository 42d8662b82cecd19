#!/bin/sh
# drill_run.sh BUILD NAME REPORT SIM-ARGS... - one drill of make
# short-drills: runs BUILD/sim with SIM-ARGS (a drill's short run, or
# make test's nemesis seed), whose report lands in REPORT. make gives
# each drill a target of its own, so that make -j runs two on the
# embedded Kafka at once (each in namespaces, ports and a run dir of its
# own; a short drill keeps the two cores about a fifth busy). The output
# goes to REPORT.out; when the drill ends its summary's verdict (all of
# the output on a failure) is printed under a "== drill NAME (N s)" line
# and a lock, so that drills run side by side do not mix their lines.
# The exit status is sim's.
build=$1
name=$2
report=$3
shift 3
out=$report.out
mkdir -p "$(dirname "$report")"
start=$(date +%s)
rc=0
"./$build/sim" "$@" > "$out" 2>&1 || rc=$?
header="== drill $name ($(($(date +%s) - start)) s)"
flock "$(dirname "$report")" sh -c '
	echo "$1"
	if [ "$4" -ne 0 ]; then
		cat "$2"
		echo "drill $5 failed"
	else
		grep -E "^(drill|result|PASS|FAIL|SKIPPED)" "$3" || true
	fi' sh "$header" "$out" "$report/summary.txt" "$rc" "$name"
exit $rc
