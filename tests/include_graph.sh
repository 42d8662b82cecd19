#!/bin/bash
# include_graph.sh - the folder-level include graph of edge/ and central/,
# and the rules it must keep (make include-check, part of make test):
#
#   1. no cycle between folders: if edge/ledger includes edge/ops, no
#      header of edge/ops may lead back to edge/ledger, however far round;
#   2. a module's private header (NAME_int.h) is included only by files
#      of its own folder.
#
# A folder is where a file sits: edge/main.c is in edge, edge/api/api.c in
# edge/api. Component headers are named from the root of the tree
# ("edge/ledger/ledger.h", Makefile's -iquote .), so every #include line
# names the folder it reaches. Prints each edge as "FROM -> TO (N)", N the
# number of #include lines behind it, then the verdict; exits 1 on a
# broken rule.
#
#   tests/include_graph.sh [ROOT]   the tree at ROOT (default: this one),
#                                   for example a `git archive` of an older
#                                   commit, to compare before and after
#
# Reads only the tree; cycles are found by tsort(1). Circles of files
# inside one folder, by includes and by calls: tests/structure_graph.sh.
set -euo pipefail
root=${1:-"$(dirname "$0")/.."}
cd "$root"

# One line per #include of a component header: "FROM_FOLDER TO_FOLDER FILE HEADER".
includes=$(grep -rHE '^[[:space:]]*#[[:space:]]*include[[:space:]]+"(edge|central)/' \
	--include='*.c' --include='*.h' edge central |
	sed -E 's/^([^:]*):[[:space:]]*#[[:space:]]*include[[:space:]]+"([^"]*)".*/\1 \2/' |
	awk '{ from = $1; sub(/\/[^\/]*$/, "", from); to = $2; sub(/\/[^\/]*$/, "", to);
	       print from, to, $1, $2 }')

edges=$(echo "$includes" | awk '$1 != $2 { print $1, $2 }' | sort | uniq -c |
	awk '{ print $2, $3, $1 }')
echo "folder edges ($(echo "$edges" | grep -c . || true)):"
echo "$edges" | awk '{ printf "  %s -> %s (%d)\n", $1, $2, $3 }'

fail=0
# tsort names each loop it meets on stderr ("tsort: -: input contains a
# loop:" and the folders in it) and breaks it to go on, so every cycle
# shows once.
loops=$(echo "$edges" | awk '{ print $1, $2 }' | tsort 2>&1 >/dev/null || true)
if [ -n "$loops" ]; then
	echo "FAIL: include cycles between folders (each loop's folders, as tsort found them):"
	echo "$loops" | sed -e "s/^tsort: //" -e "s/^/  /"
	fail=1
else
	echo "ok: no include cycle between folders"
fi

leaks=$(echo "$includes" | awk '$4 ~ /_int\.h$/ && $1 != $2 { print "  " $3 " includes " $4 }')
if [ -n "$leaks" ]; then
	echo "FAIL: a private header (_int.h) included outside its folder:"
	echo "$leaks"
	fail=1
else
	echo "ok: every _int.h is included only in its own folder"
fi
exit $fail
