#!/bin/sh
# bench_wakemem.sh BIN OUT - the machine's wake-up floor against the
# memory other processes touch (sim/bench/wakemem.c). Three touchers,
# each writing 50 random pages a millisecond, in four runs of three
# minutes: a 10 MB heap each; a heap grown from 10 to 200 MB; 200 MB
# from the start; 200 MB asking for transparent huge pages. Each line of
# OUT is one 30-second window. Run it on an otherwise idle machine.
set -eu
bin=$1
out=$2
: >"$out"
run() {
	echo "wakemem: $1" >&2
	"$bin" 3 "$2" "$3" "$4" "$5" 180 50 "$6" 30 "$1" | tee -a "$out"
}
run small 10 10 0 0 0
run growing 10 200 30 150 0
run large 200 200 0 0 0
run large_huge 200 200 0 0 1
echo "wakemem: results in $out" >&2
