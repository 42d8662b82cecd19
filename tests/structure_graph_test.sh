#!/bin/bash
# structure_graph_test.sh - shows that tests/structure_graph.sh can fail:
# a tiny tree in a temporary folder, compiled there, with two files that
# call each other (must fail and name the symbols), the same folder known
# (must pass, said known), two headers that include each other (must
# fail) and a clean folder, one file calling the other (must pass).
# Run by make structure-check before the check of the real tree.
set -euo pipefail
check=$(cd "$(dirname "$0")" && pwd)/structure_graph.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fails=0
# shellcheck source=tests/selftest_lib.sh
. "$(dirname "$check")/selftest_lib.sh"

# compile FOLDER: each FOLDER/*.c into obj/FOLDER/*.o, as the build does.
compile() {
	local c
	mkdir -p "obj/$1"
	for c in "$1"/*.c; do
		"${CC:-cc}" -iquote . -c -o "obj/$1/$(basename "$c" .c).o" "$c"
	done
}

# expect NAME RC TEXT ARGS...: the check on ARGS exits RC and prints TEXT.
expect() {
	local name=$1 want=$2 text=$3 rc=0 out
	shift 3
	out=$("$check" -o obj "$@" 2>&1) || rc=$?
	outcome "$name" "$rc" "$want" "$text" "$out"
}

mkdir -p circle clean heads
printf 'int b_fn(int);\nint a_fn(int x) { return x ? b_fn(x - 1) : 0; }\n' >circle/a.c
printf 'int a_fn(int);\nint b_fn(int x) { return x ? a_fn(x - 1) : 1; }\n' >circle/b.c
printf 'int b_fn(int);\nint a_fn(int x) { return b_fn(x); }\n' >clean/a.c
printf 'int b_fn(int x) { return x + 1; }\n' >clean/b.c
printf '#ifndef X_H\n#define X_H\n#include "y.h"\n#endif\n' >heads/x.h
printf '#ifndef Y_H\n#define Y_H\n#include "heads/x.h"\n#endif\n' >heads/y.h
printf '#include "x.h"\nint h(void) { return 0; }\n' >heads/h.c
compile circle
compile clean
compile heads

expect "two files calling each other fail" 1 "a.c -> b.c: b_fn" circle
expect "the circle names both ways" 1 "b.c -> a.c: a_fn" circle
expect "a known circle is said, not failed" 0 "(known, issue 67)" -k "clean circle" circle clean
expect "two headers including each other fail" 1 "circle by includes of 2 files: x.h y.h" heads
expect "a folder in layers passes" 0 "clean: calls 2 files, 1 edge, 0 circles" clean
exit $fails
