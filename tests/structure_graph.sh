#!/bin/bash
# structure_graph.sh - circles of files inside a folder (make structure-check,
# part of make test). include_graph.sh keeps the folders apart; this keeps
# the files of one folder in layers: no two files of a folder may reach each
# other, however far round,
#
#   by calls     A.o takes a symbol B.o defines (nm: A's U, B's T/D/B/R),
#                and B.o one that A.o defines; no .c includes another, so
#                this is where circles of .c files show;
#   by includes  A.h includes B.h and B.h, through any number of headers of
#                the folder, A.h.
#
# Each circle is a strongly connected component of more than one file; it is
# printed with every edge between its files and the symbols (or the #include
# line) behind it, which is what to cut. Every folder gets one summary line:
# files, edges and circles, by calls and by includes.
#
#   tests/structure_graph.sh [-o OBJDIR] [-k "FOLDER..."] FOLDER...
#
# Run from the root of the tree. OBJDIR (default build/obj) holds the
# build's objects, OBJDIR/FOLDER/NAME.o for FOLDER/NAME.c: a folder's call
# graph is only as complete as its objects (make all first; a source the
# build does not compile there, sim/bench/wakemem.c, is left out). A
# folder named in -k is one whose circles are known (issue 67): they are
# printed as such and do not fail. Exits 1 when another folder has a
# circle; prints, for each folder with none left, that -k may drop it.
set -euo pipefail
objdir=build/obj
known=
while getopts o:k: opt; do
	case $opt in
	o) objdir=$OPTARG ;;
	k) known=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || {
	echo "usage: $0 [-o OBJDIR] [-k \"FOLDER...\"] FOLDER..." >&2
	exit 2
}

# The graph as records, one a line, for the awk below:
#   F FOLDER                 a folder to report, in the order given
#   N KIND FOLDER FILE       a file of the folder (KIND: calls or includes)
#   D FOLDER FILE SYMBOL     FILE's object defines SYMBOL
#   U FOLDER FILE SYMBOL     FILE's object takes SYMBOL from elsewhere
#   I FOLDER FILE LINE NAME  FILE's line LINE includes "NAME"
# One nm and one grep for the whole tree: a process per file is slow.
records() {
	local dir f
	local -a objs=() srcs=()
	for dir in "$@"; do
		echo "F $dir"
		# The object of each source there is: one left from a file
		# since renamed or removed would draw edges that are gone.
		for f in "$dir"/*.c; do
			[ -e "$objdir/${f%.c}.o" ] || continue
			objs+=("$objdir/${f%.c}.o")
			echo "N calls $dir ${f##*/}"
		done
		for f in "$dir"/*.c "$dir"/*.h; do
			[ -e "$f" ] || continue
			srcs+=("$f")
			echo "N includes $dir ${f##*/}"
		done
	done
	# nm -A -P -g: "OBJECT: NAME TYPE VALUE SIZE", external symbols only.
	if [ ${#objs[@]} -gt 0 ]; then
		nm -A -P -g "${objs[@]}" | awk -v o="$objdir/" '{
			f = substr($1, length(o) + 1); sub(/:$/, "", f); sub(/\.o$/, ".c", f)
			d = f; sub(/\/[^\/]*$/, "", d); sub(/^.*\//, "", f)
			print ($3 == "U" ? "U" : "D"), d, f, $2 }'
	fi
	if [ ${#srcs[@]} -gt 0 ]; then
		{ grep -nHE '^[[:space:]]*#[[:space:]]*include[[:space:]]+"[^"]+"' "${srcs[@]}" || true; } |
			sed -E 's/^(.*)\/([^/:]*):([0-9]+):[^"]*"([^"]+)".*/I \1 \2 \3 \4/'
	fi
}

records "$@" | awk -v known=" $known " '
# Tarjan: the strongly connected components of the graph of one folder and
# kind; comp[v] numbers the component of v, size[c] counts its files.
function visit(v,   i, w) {
	idx[v] = low[v] = ++counter
	stack[++top] = v
	onstack[v] = 1
	for (i = 1; i <= nout[v]; i++) {
		w = out[v, i]
		if (!(w in idx)) {
			visit(w)
			if (low[w] < low[v]) low[v] = low[w]
		} else if (onstack[w] && idx[w] < low[v])
			low[v] = idx[w]
	}
	if (low[v] == idx[v]) {
		ncomp++
		do {
			w = stack[top--]
			onstack[w] = 0
			comp[w] = ncomp
			size[ncomp]++
		} while (w != v)
	}
}

# Reports one folder by one kind; sets its counts in nfiles, nedges, ncirc.
function report(dir, kind,   k, n, i, j, v, w, c, e, parts, list, out_text) {
	split("", idx); split("", low); split("", onstack); split("", comp)
	split("", size); split("", out); split("", nout); split("", nodes)
	counter = top = ncomp = 0
	list = ""
	for (k in node) {
		split(k, parts, SUBSEP)
		if (parts[1] == kind && parts[2] == dir) list = list " " parts[3]
	}
	n = split(sortw(list), nodes, " ")
	nfiles = n
	nedges = 0
	for (k in label) {
		split(k, parts, SUBSEP)
		if (parts[1] != kind || parts[2] != dir) continue
		nedges++
		out[parts[3], ++nout[parts[3]]] = parts[4]
	}
	for (i = 1; i <= n; i++)
		if (!(nodes[i] in idx)) visit(nodes[i])
	ncirc = 0
	text = ""
	for (c = 1; c <= ncomp; c++) {
		if (size[c] < 2) continue
		ncirc++
		list = ""
		for (i = 1; i <= n; i++)
			if (comp[nodes[i]] == c) list = list " " nodes[i]
		text = text sprintf("  circle by %s of %d files: %s\n", kind, size[c], sortw(list))
		e = ""
		for (k in label) {
			split(k, parts, SUBSEP)
			if (parts[1] == kind && parts[2] == dir &&
			    comp[parts[3]] == c && comp[parts[4]] == c)
				e = e sprintf("    %s -> %s: %s\n", parts[3], parts[4], sortw(label[k]))
		}
		text = text sortl(e)
	}
}

# The summary of the last report: "12 files, 48 edges, 1 circle".
function counts() {
	return nfiles " file" (nfiles == 1 ? "" : "s") ", " nedges " edge" (nedges == 1 ? "" : "s") \
	    ", " ncirc " circle" (ncirc == 1 ? "" : "s")
}

# Sorts the words of a string (insertion sort: the lists are short).
function sortw(s,   a, n, i, j, t, r) {
	n = split(s, a, " ")
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
	r = ""
	for (i = 1; i <= n; i++) r = r " " a[i]
	return substr(r, 2)
}
function sortl(s,   a, n, i, j, t, r) {
	n = split(s, a, "\n")
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
	r = ""
	for (i = 1; i <= n; i++) if (a[i] != "") r = r a[i] "\n"
	return r
}

$1 == "F" { dirs[++ndirs] = $2 }
$1 == "N" { node[$2, $3, $4] = 1 }
$1 == "D" { def[$2, $4] = $3 }
$1 == "U" { want[++nwant] = $2 SUBSEP $3 SUBSEP $4 }
$1 == "I" { inc[++ninc] = $0 }

END {
	# A call edge: a symbol one object takes and another of its folder
	# defines (a symbol from elsewhere, libc or another folder, is no edge).
	for (i = 1; i <= nwant; i++) {
		split(want[i], p, SUBSEP)
		if (!((p[1], p[3]) in def) || def[p[1], p[3]] == p[2]) continue
		k = "calls" SUBSEP p[1] SUBSEP p[2] SUBSEP def[p[1], p[3]]
		label[k] = (k in label) ? label[k] " " p[3] : p[3]
	}
	# An include edge: "x.h" names a file of the same folder when
	# it is there (else include/x.h), "edge/ledger/x.h" one from the root.
	for (i = 1; i <= ninc; i++) {
		split(inc[i], p, " ")
		to = p[5]
		if (index(to, "/")) {
			dir = to; sub(/\/[^\/]*$/, "", dir); sub(/^.*\//, "", to)
			if (dir != p[2]) continue
		}
		if (!(("includes", p[2], to) in node)) continue
		k = "includes" SUBSEP p[2] SUBSEP p[3] SUBSEP to
		label[k] = (k in label) ? label[k] " " p[3] ":" p[4] : p[3] ":" p[4]
	}
	fail = 0
	for (d = 1; d <= ndirs; d++) {
		dir = dirs[d]
		report(dir, "calls")
		line = dir ": calls " counts()
		all = text; bad = ncirc
		report(dir, "includes")
		line = line "; includes " counts()
		all = all text; bad += ncirc
		if (bad && index(known, " " dir " ")) line = line " (known, issue 67)"
		else if (bad) { line = line " FAIL"; fail = 1 }
		else if (index(known, " " dir " ")) line = line " (no circle left: drop it from STRUCTURE_KNOWN_CIRCLES)"
		printf "%s\n%s", line, all
	}
	if (fail) print "FAIL: circles of files inside a folder above: cut an edge of each (a lower file must not call or include the one above it)"
	else print "ok: no circle of files inside a folder but the known ones"
	exit fail
}'
