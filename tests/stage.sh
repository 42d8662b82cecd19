#!/bin/sh
# stage.sh NAME CMD... - runs one stage of make test and says how long it
# took: a "-- NAME: N s" line after its output, and a "NAME N" line in
# build/test-stages.txt, which make test prints whole at its end (the
# suite must stay under its time budget on CI's two cores, so where the
# time goes is part of its output). The exit status is CMD's.
name=$1
shift
start=$(date +%s)
rc=0
"$@" || rc=$?
took=$(($(date +%s) - start))
echo "-- $name: $took s"
mkdir -p build
echo "$name $took" >> build/test-stages.txt
exit $rc
