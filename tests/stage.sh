#!/bin/sh
# stage.sh begin|end NAME - times one stage of make test: "begin" notes
# the time, "end" prints "-- NAME: N s" and adds "NAME N" to
# build/test-stages.txt, which make test prints whole at its end (the
# suite must stay under its time budget on CI's two cores, so where the
# time goes is part of its output). The stage itself runs between the
# two as a recipe line of its own, so that make passes its jobs down
# and its signals reach it as before.
set -e
mkdir -p build
mark=build/.stage-$2
case $1 in
begin)
	date +%s > "$mark"
	;;
end)
	took=$(($(date +%s) - $(cat "$mark")))
	rm -f "$mark"
	echo "-- $2: $took s"
	echo "$2 $took" >> build/test-stages.txt
	;;
*)
	echo "usage: stage.sh begin|end NAME" >&2
	exit 2
	;;
esac
