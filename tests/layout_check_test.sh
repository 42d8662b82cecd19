#!/bin/bash
# layout_check_test.sh - shows that tests/layout_check.sh can fail: on a
# copy of the tree's maps and folders in a temporary folder it must pass
# as the tree is, and fail, naming each fault, once a folder is added that
# README.md's layout table does not name, a folder README names files that
# are not there and ARCHITECTURE.md's module table names a module that is
# gone. Run by make layout-check before the check of the real tree.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
check=$here/tests/layout_check.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
# shellcheck source=tests/selftest_lib.sh
. "$(dirname "$0")/selftest_lib.sh"

# A copy of what the check reads: the folders and the two maps.
mkdir -p "$tmp/tree/docs"
cp -r "$here"/{common,edge,central,sim,include,tests,README.md} "$tmp/tree/"
cp "$here/docs/ARCHITECTURE.md" "$tmp/tree/docs/"

# run: the check on $tmp/tree, its output in $out and exit code in $rc.
run() {
	rc=0
	out=$("$check" "$tmp/tree" 2>&1) || rc=$?
}

# expect NAME RC TEXT: the last run exited RC and printed TEXT.
expect() { outcome "$1" "$rc" "$2" "$3" "$out"; }

run
expect "the tree as it is passes" 0 "ok: "
mkdir "$tmp/tree/edge/newroom"
echo 'See `gone.c` and `api/gone.h`.' >>"$tmp/tree/edge/ops/README.md"
rm "$tmp/tree/sim/broker/broker.c" "$tmp/tree/sim/broker/broker.h"
run
expect "a folder the layout table does not name fails" 1 \
	"the layout table of README.md does not name edge/newroom/"
expect "a README naming a missing file fails" 1 "edge/ops/README.md names gone.c,"
expect "... and one naming it with a folder" 1 "edge/ops/README.md names api/gone.h,"
expect "a module row of a file that is gone fails" 1 \
	"module table of docs/ARCHITECTURE.md names sim/broker/broker, which"
exit $fails
