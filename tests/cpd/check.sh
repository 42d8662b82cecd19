#!/bin/bash
# check.sh - the copy-paste check (make cpd-check, part of make test):
# PMD's CPD lists every run of at least MIN_TOKENS C tokens that stands
# in two or more places of the C files git tracks, and the check fails
# when those runs make more than MAX_PAIRS pairs of places (a run in n
# places is n(n-1)/2 pairs). Tokens, not text: layout and comments do
# not count, names and literals do. Prints every pair, longest first,
# then the verdict; exits 1 above MAX_PAIRS, 2 when CPD itself fails
# (a file its lexer cannot read is a failure, not a skip).
#
#   tests/cpd/check.sh JARS MIN_TOKENS MAX_PAIRS
#
# JARS is the folder of make cpd-jars (tests/cpd/pom.xml). Reads only
# the tree.
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 JARS MIN_TOKENS MAX_PAIRS" >&2; exit 2; }
jars=$1 min_tokens=$2 max_pairs=$3
cd "$(dirname "$0")/../.."

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git ls-files '*.c' '*.h' > "$tmp/files"
[ -s "$tmp/files" ] || { echo "cpd-check: git ls-files found no C files"; exit 2; }

# CPD exits 4 when it found runs (with --no-fail-on-violation, 0); any
# other status is its own failure.
rc=0
java -cp "$jars/*" net.sourceforge.pmd.cli.PmdCli cpd --language cpp \
	--minimum-tokens "$min_tokens" --file-list "$tmp/files" \
	--format csv --no-fail-on-violation > "$tmp/runs.csv" 2> "$tmp/err" || rc=$?
if [ "$rc" -ne 0 ]; then
	cat "$tmp/err"
	echo "cpd-check: CPD failed (exit $rc)"
	exit 2
fi

# CSV: lines,tokens,occurrences,line1,file1,line2,file2,... with the
# files named from /; printed from the top of the tree.
awk -F, -v max="$max_pairs" -v min="$min_tokens" -v files="$(wc -l < "$tmp/files")" \
	-v top="$PWD/" '
NR > 1 {
	for (i = 5; i <= NF; i += 2)
		if (index($i, top) == 1)
			$i = substr($i, length(top) + 1)
	n = $3
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++) {
			printf "  %d lines, %d tokens: %s:%d ~ %s:%d\n", $1, $2, \
				$(5 + 2 * i), $(4 + 2 * i), $(5 + 2 * j), $(4 + 2 * j)
			pairs++
		}
}
END {
	pairs += 0
	printf "cpd-check: %d pairs of places share a run of %d or more tokens in %d C files (at most %d)\n", \
		pairs, min, files, max
	exit pairs > max ? 1 : 0
}' "$tmp/runs.csv"
