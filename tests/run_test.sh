#!/bin/sh
# run_test.sh [--san] BIN ARGS... - runs one test binary for make's unit,
# itest and san-test targets, which give each binary a target of its own
# so that make -j runs several at once.
#
# The output goes to BIN.log and is printed whole when the binary ends,
# under a "== BIN (N s)" line and under a lock, so that tests run side by
# side do not mix their lines; a failure ends with "FAIL: BIN". The exit
# status is the binary's. With --san (the ASan+UBSan build) a sanitizer
# report in the output fails the test too: Criterion counts a test as
# passed even when LeakSanitizer reports at the worker's exit.
san=
if [ "$1" = --san ]; then
	san=1
	shift
fi
bin=$1
shift
log=$bin.log
start=$(date +%s)
rc=0
"$bin" "$@" > "$log" 2>&1 || rc=$?
if [ $rc -eq 0 ] && [ -n "$san" ] &&
	grep -qE 'LeakSanitizer|AddressSanitizer|runtime error' "$log"; then
	echo "sanitizer report in $bin" >> "$log"
	rc=1
fi
if [ $rc -ne 0 ]; then
	echo "FAIL: $bin (exit status $rc)" >> "$log"
fi
header="== $bin${san:+ (asan+ubsan)} ($(($(date +%s) - start)) s)"
flock "$(dirname "$bin")" sh -c 'echo "$1"; cat "$2"' sh "$header" "$log"
exit $rc
