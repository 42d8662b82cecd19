#!/bin/bash
# move-partitions.sh - the file-level steps of moving partitions from one
# central shard to another on this host (docs/ops.md, "Moving partitions
# between shards"). Both centrals must be stopped; this script neither
# stops nor starts them.
#
#   move-partitions.sh [--dry-run] [--central BIN] SRC.ini DST.ini SRC_PARTS DST_PARTS
#
# SRC_PARTS and DST_PARTS are the new central.partitions of each (e.g.
# 0-5 and 6-7,8-15). Steps:
#   1. checks both stores are not in use (central stats --offline);
#   2. moves the target's data_dir aside (DIR.before-move-TIME) and copies
#      the source's data_dir in its place (the target starts from the
#      source's state and offsets; partitions it kept that the source never
#      had are read again from the topic's beginning);
#   3. sets partitions = ... in [central] of both configs (a .bak copy of
#      each file is kept);
#   4. runs central prune --offline on both, which drops the keys of the
#      partitions each no longer owns.
# What it does not check: that the two sets are disjoint, that together
# they cover the topic, or that retention still holds what a store lacks.
# Read the plan it prints; --dry-run prints it and changes nothing.
set -euo pipefail

DRY=0
CENTRAL=${CENTRAL:-build/central}
usage() {
	echo "usage: $0 [--dry-run] [--central BIN] SRC.ini DST.ini SRC_PARTS DST_PARTS" >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case "$1" in
	--dry-run) DRY=1; shift ;;
	--central) [ $# -ge 2 ] || usage; CENTRAL=$2; shift 2 ;;
	-h|--help) usage ;;
	-*) echo "unknown option $1" >&2; usage ;;
	*) break ;;
	esac
done
[ $# -eq 4 ] || usage
SRC=$1 DST=$2 SRC_PARTS=$3 DST_PARTS=$4

say() { echo "move-partitions: $*"; }
die() { echo "move-partitions: error: $*" >&2; exit 1; }
run() {
	say "+ $*"
	if [ "$DRY" -eq 0 ]; then "$@"; fi
}

[ -r "$SRC" ] || die "cannot read $SRC"
[ -r "$DST" ] || die "cannot read $DST"
[ -x "$CENTRAL" ] || die "$CENTRAL is not executable (set --central or CENTRAL)"
[[ "$SRC_PARTS" =~ ^[0-9,\ -]+$|^all$ ]] || die "SRC_PARTS '$SRC_PARTS' is not a partition list"
[[ "$DST_PARTS" =~ ^[0-9,\ -]+$|^all$ ]] || die "DST_PARTS '$DST_PARTS' is not a partition list"

# The value of [central] KEY in an ini file (empty when absent).
ini_get() {
	awk -v key="$2" '
		/^[ \t]*\[/ { sec = $0; gsub(/[ \t\[\]]/, "", sec); next }
		sec == "central" {
			line = $0; sub(/^[ \t]*/, "", line)
			if (index(line, key) == 1) {
				rest = substr(line, length(key) + 1)
				if (rest ~ /^[ \t]*=/) { sub(/^[ \t]*=[ \t]*/, "", rest); sub(/[ \t]*$/, "", rest); print rest; exit }
			}
		}' "$1"
}

# Sets [central] partitions = VALUE in FILE (replacing or adding the line).
ini_set_partitions() {
	local file=$1 value=$2 tmp
	tmp=$(mktemp "$file.XXXXXX")
	awk -v value="$value" '
		function flush() { if (in_central && !done) { print "partitions = " value; done = 1 } }
		/^[ \t]*\[/ {
			flush()
			sec = $0; gsub(/[ \t\[\]]/, "", sec); in_central = (sec == "central")
			print; next
		}
		in_central && /^[ \t]*partitions[ \t]*=/ { if (!done) { print "partitions = " value; done = 1 } next }
		{ print }
		END {
			flush()
			if (!done) { print "[central]"; print "partitions = " value }
		}' "$file" > "$tmp"
	cp -p "$file" "$file.bak"
	mv "$tmp" "$file"
}

SRC_DIR=$(ini_get "$SRC" data_dir)
DST_DIR=$(ini_get "$DST" data_dir)
[ -n "$SRC_DIR" ] || SRC_DIR=run/central
[ -n "$DST_DIR" ] || DST_DIR=run/central
[ "$SRC_DIR" != "$DST_DIR" ] || die "both configs use data_dir $SRC_DIR"
[ -f "$SRC_DIR/store/CURRENT" ] || die "no store at $SRC_DIR/store (source data_dir)"

say "plan (dry run: $([ "$DRY" -eq 1 ] && echo yes || echo no)):"
say "  source $SRC: data_dir $SRC_DIR, partitions $(ini_get "$SRC" partitions || true) -> $SRC_PARTS"
say "  target $DST: data_dir $DST_DIR, partitions $(ini_get "$DST" partitions || true) -> $DST_PARTS"

# 1. Both stopped: an offline read fails with exit 3 on a locked store.
for cfg in "$SRC" "$DST"; do
	dir=$(ini_get "$cfg" data_dir)
	[ -f "${dir:-run/central}/store/CURRENT" ] || continue
	rc=0
	"$CENTRAL" stats -c "$cfg" --offline > /dev/null 2>&1 || rc=$?
	[ "$rc" -eq 0 ] || die "the store of $cfg is in use or unreadable (exit $rc): stop that central first"
done
say "both stores are free (no central running on them)"

# 2. The target starts from a copy of the source's store.
STAMP=$(date +%Y%m%d-%H%M%S)
if [ -e "$DST_DIR" ]; then
	run mv "$DST_DIR" "$DST_DIR.before-move-$STAMP"
fi
run cp -a "$SRC_DIR" "$DST_DIR"

# 3. The new partition sets.
say "+ set [central] partitions = $SRC_PARTS in $SRC (old file kept as $SRC.bak)"
[ "$DRY" -eq 1 ] || ini_set_partitions "$SRC" "$SRC_PARTS"
say "+ set [central] partitions = $DST_PARTS in $DST (old file kept as $DST.bak)"
[ "$DRY" -eq 1 ] || ini_set_partitions "$DST" "$DST_PARTS"

# 4. Each store keeps only what its config owns; prune checks the lists.
run "$CENTRAL" prune -c "$SRC" --offline
run "$CENTRAL" prune -c "$DST" --offline

say "done. Start both centrals; each logs its changed partition set. Point the"
say "edges' read-through for the moved partitions at the target."
if [ -e "$DST_DIR.before-move-$STAMP" ]; then
	say "the target's previous store is in $DST_DIR.before-move-$STAMP: remove it once satisfied"
fi
