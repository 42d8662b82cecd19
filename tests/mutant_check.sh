#!/bin/bash
# mutant_check.sh - make mutant-check: the checks can fail. Each bug put
# back on purpose (make MUTANT=NAME, the Makefile's MUTANTS) is built
# into build-mutant-NAME/ and must make the drill or unit test that
# guards against it fail; one that passes is a check that proves
# nothing, and this script fails.
#
#   NO_FENCE      standby_zombie (short): the paused active, resumed after
#                 the takeover, must answer no write and exit fenced
#   EARLY_ACK     split_brain (short): the active cut from its region's
#                 Kafka acknowledges writes whose copies the log never
#                 took, which the standby that takes over does not have
#   CLIENT_CLOCK  test_ledger_ops: a write after the client's clock
#
# Runs sim from build/ (the tree's own) with --bin build-mutant-NAME
# (the mutant's edge, central and sim, which starts the Kafka nodes);
# the drills' run dirs go under a temp dir removed at the end. Not part
# of make test: three more builds and two drills.
set -u
cd "$(dirname "$0")/.."

root=$(mktemp -d /tmp/likes-mutants.XXXXXX)
trap 'rm -rf "$root"' EXIT
fail=0

drill_must_fail() { # MUTANT DRILL
	local m=$1 d=$2 out="build-mutant-$1/drills/$2-short"
	mkdir -p "build-mutant-$m/drills"
	rm -rf "$out"
	if ./build/sim drill --short --bin "build-mutant-$m" --run-root "$root" \
		--out "$out" "sim/drills/$d.drill" >"$out.out" 2>&1; then
		echo "FAIL: $m not caught: drill $d passed (see $out.out)"
		fail=1
	elif ! grep -q '^result   FAIL' "$out/summary.txt" 2>/dev/null; then
		# A drill that never ran (the cluster did not start) caught
		# nothing.
		echo "FAIL: $m: drill $d did not run to its checks (see $out.out)"
		fail=1
	else
		echo "ok: $m caught by drill $d: $(grep -m1 -E '^result' "$out/summary.txt")"
		grep -A4 '^violations' "$out/summary.txt" | sed 's/^/    /'
	fi
}

test_must_fail() { # MUTANT TEST
	local m=$1 t=$2 log="build-mutant-$1/tests/$2.log"
	if "build-mutant-$m/tests/$t" >"$log" 2>&1; then
		echo "FAIL: $m not caught: $t passed (see $log)"
		fail=1
	else
		echo "ok: $m caught by $t: $(grep -m1 'Synthesis' "$log")"
	fi
}

drill_must_fail NO_FENCE standby_zombie
drill_must_fail EARLY_ACK split_brain
test_must_fail CLIENT_CLOCK test_ledger_ops
exit $fail
