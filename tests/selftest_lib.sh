# shellcheck shell=bash
# selftest_lib.sh - what the checks' own tests (tests/*_test.sh) share;
# sourced, never run. The caller sets fails=0 first.

# outcome NAME RC WANT_RC TEXT OUT: a run of the check exited RC and
# printed OUT; it should have exited WANT_RC and printed TEXT. Prints
# ok or FAIL (with the output) and sets fails=1 on a FAIL.
outcome() {
	if [ "$2" != "$3" ] || ! grep -qF -- "$4" <<<"$5"; then
		echo "FAIL: $1: exit $2 (want $3), wanted \"$4\" in:"
		sed 's/^/  /' <<<"$5"
		fails=1
	else
		echo "ok: $1"
	fi
}
