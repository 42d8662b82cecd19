#!/bin/bash
# layout_check.sh - the maps of the tree match the tree (make layout-check,
# part of make test). A newcomer reads README.md's layout table, the folder
# READMEs and docs/ARCHITECTURE.md's module table before the code; each
# must name what is there and nothing that is not:
#
#   1. every folder under common/, edge/, central/ and sim/ is named in
#      README.md's layout table: the component's row (`edge/`) names its
#      folders as `ledger/` (or `edge/ledger/`);
#   2. every file a folder README names (a token such as `seed.c`,
#      `api/api.c`, `bench.sh`) exists: a bare name in that folder or
#      anywhere in its component (include/ too for common), a name with a
#      folder from the tree's root, the README's folder or its component;
#   3. every folder with C sources has a row in ARCHITECTURE.md's module
#      table (`edge/ledger/...`), and every path that table's first column
#      names (`edge/ledger/ledger_view`) is a file (.c, .h) or a folder.
#
# Prints what is wrong, one line each, and exits 1 if anything is.
#
#   tests/layout_check.sh [ROOT]   the tree at ROOT (default: this one)
set -euo pipefail
root=${1:-"$(dirname "$0")/.."}
cd "$root"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# What the awk below reads, a file each: every path of the tree (builds,
# the local stack's run/ and node_modules left out), the folders to
# check, and the file tokens of the folder READMEs as "FOLDER TOKEN". A
# token is a word of name characters (letters, digits, _ . / -) that
# starts with a letter or digit and ends in .c, .h or .sh: `_int.h`, a
# kind of header, is none.
find * \( -path 'build*' -o -path run -o -name node_modules \) -prune -o -print >"$tmp/paths"
find common edge central sim -type d | sort >"$tmp/dirs"
for d in $(cat "$tmp/dirs"); do
	[ -e "$d/README.md" ] || continue
	tr -c 'A-Za-z0-9_./-' '\n' <"$d/README.md" | sed 's/\.*$//' |
		grep -E '^[A-Za-z0-9][A-Za-z0-9_./-]*\.(c|h|sh)$' | sort -u | sed "s|^|$d |" || true
done >"$tmp/tokens"

awk -F'|' '
FILENAME == ARGV[1] {	# the tree: each path, each "COMPONENT NAME" (include/ is common)
	path[$0] = 1
	n = split($0, p, "/")
	name[(p[1] == "include" ? "common" : p[1]) " " p[n]] = 1
	if (n > 1 && $0 ~ /\.c$/) { d = $0; sub(/\/[^\/]*$/, "", d); hasc[d] = 1 }
	next
}
FILENAME == ARGV[2] { dirs[++ndirs] = $0; next }
FILENAME == ARGV[3] {	# README.md: its component rows between "## Layout" and the next heading
	if (/^## /) on = ($0 == "## Layout")
	if (on && /^\|/) { table = table $0 "\n"; row[$2] = $0 }
	next
}
FILENAME == ARGV[4] {	# ARCHITECTURE.md: the first cells of the table under "## Modules"
	if (/^## /) on = ($0 == "## Modules")
	if (on && /^\| `/) mods = mods $2 "\n"
	next
}
FILENAME == ARGV[5] {	# 2. a README token: a bare name in its folder or
			# component, a path from the root, the folder or the component
	split($0, w, " ")
	d = w[1]; t = w[2]; top = d; sub(/\/.*/, "", top)
	if (index(t, "/") ? (t in path || (d "/" t) in path || (top "/" t) in path) \
	                  : ((d "/" t) in path || (top " " t) in name)) next
	fail(d "/README.md names " t ", which is not in " d "/ or the tree")
}
function fail(msg) { print "FAIL: " msg; bad = 1 }
END {
	for (i = 1; i <= ndirs; i++) {
		d = dirs[i]; top = d; sub(/\/.*/, "", top)
		# 1. the component row (first cell names `top/`) names `rest/`,
		# or the table `d/`
		r = ""
		for (k in row) if (index(k, "`" top "/`")) r = row[k]
		rest = substr(d, length(top) + 2)
		if (!(d == top ? r != "" : index(r, "`" rest "/`") || index(table, "`" d "/`")))
			fail("the layout table of README.md does not name " d "/")
		# 3. a folder with C sources has a module row
		if ((d in hasc) && !index(mods, "`" d "/") && !index(mods, "`" d "`"))
			fail("the module table of docs/ARCHITECTURE.md has no row of " d "/")
	}
	# 3. every path the module table names is a file or a folder
	s = mods
	while (match(s, /`[a-z]+\/[A-Za-z0-9_\/.]+`/)) {
		m = substr(s, RSTART + 1, RLENGTH - 2)
		s = substr(s, RSTART + RLENGTH)
		if (!(m in path) && !((m ".c") in path) && !((m ".h") in path))
			fail("the module table of docs/ARCHITECTURE.md names " m ", which is not in the tree")
	}
	if (!bad) print "ok: the layout table of README.md, the folder READMEs and the module table of docs/ARCHITECTURE.md match the tree"
	exit bad
}' "$tmp/paths" "$tmp/dirs" README.md docs/ARCHITECTURE.md "$tmp/tokens"
