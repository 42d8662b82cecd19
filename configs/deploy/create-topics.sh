#!/bin/bash
# create-topics.sh - creates the topics of configs/deploy/topics.conf on
# one cluster with Kafka's own kafka-topics.sh (docs/ops.md, "The
# topics"): every topic of the table's central rows on central's cluster,
# or its regional rows on one region's own cluster, with the table's
# partitions, replication factor and configs. A row that names a prefix
# (likes.home.*) is created once per region given.
#
#   create-topics.sh [--dry-run] [--topics-conf FILE] [--kafka-topics BIN]
#                    central BOOTSTRAP REGION...
#   create-topics.sh [--dry-run] [--topics-conf FILE] [--kafka-topics BIN]
#                    regional BOOTSTRAP [PARTITIONS]
#
# REGION: each region's name (likes.home.REGION). PARTITIONS: of the
# regional changelog, one per edge id of the region (default: the
# table's). --dry-run prints the commands and runs none; a topic that
# exists already makes kafka-topics.sh fail, and this script with it.
set -euo pipefail

DRY=0
HERE=$(cd "$(dirname "$0")" && pwd)
CONF=$HERE/topics.conf
TOOL=${KAFKA_TOPICS:-kafka-topics.sh}
usage() {
	echo "usage: $0 [--dry-run] [--topics-conf FILE] [--kafka-topics BIN] central BOOTSTRAP REGION..." >&2
	echo "       $0 [--dry-run] [--topics-conf FILE] [--kafka-topics BIN] regional BOOTSTRAP [PARTITIONS]" >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case "$1" in
	--dry-run) DRY=1; shift ;;
	--topics-conf) [ $# -ge 2 ] || usage; CONF=$2; shift 2 ;;
	--kafka-topics) [ $# -ge 2 ] || usage; TOOL=$2; shift 2 ;;
	-h|--help) usage ;;
	-*) echo "unknown option $1" >&2; usage ;;
	*) break ;;
	esac
done
[ $# -ge 2 ] || usage
KIND=$1
BOOTSTRAP=$2
shift 2
case "$KIND" in
central) [ $# -ge 1 ] || { echo "central needs the regions (for likes.home.REGION)" >&2; usage; } ;;
regional) [ $# -le 1 ] || usage ;;
*) usage ;;
esac
[ -r "$CONF" ] || { echo "cannot read $CONF" >&2; exit 1; }
REGIONS=()
REGIONAL_PARTS=
if [ "$KIND" = central ]; then
	REGIONS=("$@")
elif [ $# -eq 1 ]; then
	REGIONAL_PARTS=$1
fi

run() {
	if [ $DRY -eq 1 ]; then
		printf '%q ' "$@"
		echo
	else
		"$@"
	fi
}

# One topic: name, partitions, replication, configs...
create() {
	local name=$1 parts=$2 rf=$3
	shift 3
	local cmd=("$TOOL" --bootstrap-server "$BOOTSTRAP" --create --topic "$name"
		--partitions "$parts" --replication-factor "$rf")
	local c
	for c in "$@"; do
		cmd+=(--config "$c")
	done
	run "${cmd[@]}"
}

made=0
while read -r cluster topic parts rf configs; do
	case "$cluster" in '' | '#'*) continue ;; esac
	[ "$cluster" = "$KIND" ] || continue
	# shellcheck disable=SC2086 # the configs are words
	set -- $configs
	if [ "$KIND" = regional ] && [ -n "${REGIONAL_PARTS:-}" ]; then
		parts=$REGIONAL_PARTS
	fi
	case "$topic" in
	*'*')
		for region in "${REGIONS[@]}"; do
			create "${topic%\*}$region" "$parts" "$rf" "$@"
			made=$((made + 1))
		done
		;;
	*)
		create "$topic" "$parts" "$rf" "$@"
		made=$((made + 1))
		;;
	esac
done < <(sed 's/#.*//' "$CONF")
[ $made -gt 0 ] || { echo "no $KIND topic in $CONF" >&2; exit 1; }
