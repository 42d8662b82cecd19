#!/bin/bash
# install_test.sh - the install tree as the package or an operator gets
# it (make install-test, part of make test):
#
#   1. make install into a DESTDIR with the package's layout (/usr,
#      /etc, /lib/systemd/system);
#   2. systemd-analyze verify accepts both units (an install under a
#      scratch PREFIX, so the ExecStart binaries exist where they say);
#   3. systemd-analyze security rates both at most MAX_EXPOSURE;
#   4. every shipped config agrees with its unit: the unit reads that
#      file, and the store and log file lie inside the paths the unit
#      makes writable (StateDirectory, LogsDirectory, ReadWritePaths);
#   5. every shipped config passes -t (its key and certificate files,
#      which only the operator has, replaced by scratch ones);
#   6. --help and --version answer with exit 0 on every command;
#   7. each man page renders without a groff warning, carries the
#      version, and names every option and command its --help names;
#   8. the Prometheus rules are installed among the examples, and
#      promtool accepts the installed copy;
#   9. the installed create-topics.sh, run --dry-run, makes every topic
#      of the installed topics.conf with its partitions, replication and
#      configs, one home stream per region named, and the regional
#      changelog apart.
#
# Uses only a scratch directory, removed on exit; starts no daemon.
set -euo pipefail
cd "$(dirname "$0")/.."

MAX_EXPOSURE=${MAX_EXPOSURE:-2.0}
tmp=$(mktemp -d /tmp/likes-install-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

root=$tmp/root
make --no-print-directory install DESTDIR="$root" PREFIX=/usr SYSCONFDIR=/etc \
	UNITDIR=/lib/systemd/system DOCDIR=/usr/share/doc/likes >/dev/null
units=$root/lib/systemd/system
edge=$root/usr/bin/likes-edge
central=$root/usr/bin/likes-central

# --- 2. verify ---------------------------------------------------------------
local_root=$tmp/local
make --no-print-directory install PREFIX="$local_root/usr" SYSCONFDIR="$local_root/etc" \
	UNITDIR="$local_root/units" DOCDIR="$local_root/doc" >/dev/null
cp "$local_root/units/likes-edge@.service" "$local_root/units/likes-edge@mumbai.service"
if out=$(systemd-analyze verify "$local_root/units/likes-central.service" \
	"$local_root/units/likes-edge@mumbai.service" 2>&1) && [ -z "$out" ]; then
	echo "ok: systemd-analyze verify: both units"
else
	bad "systemd-analyze verify: $out"
fi

# --- 3. security -------------------------------------------------------------
for unit in likes-central.service likes-edge@mumbai.service; do
	score=$(systemd-analyze security --offline=yes --root="$root" "$unit" 2>&1 |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	if [ -z "$score" ]; then
		bad "systemd-analyze security gave no score for $unit"
	elif awk -v s="$score" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(s <= m) }'; then
		echo "ok: $unit exposure $score (at most $MAX_EXPOSURE)"
	else
		bad "$unit exposure $score, over $MAX_EXPOSURE"
	fi
done

# --- 4. configs against units ------------------------------------------------
# ini_get FILE SECTION KEY: the value, empty when absent.
ini_get() {
	awk -v sec="$2" -v key="$3" '
		/^[ \t]*[;#]/ { next }
		/^[ \t]*\[/ { gsub(/[][ \t]/, ""); cur = $0; next }
		cur == sec {
			split($0, kv, "=")
			k = kv[1]; gsub(/[ \t]/, "", k)
			if (k == key) { v = substr($0, index($0, "=") + 1); gsub(/^[ \t]+|[ \t]+$/, "", v); print v; exit }
		}' "$1"
}

# writable UNITFILE INSTANCE: the paths the unit makes writable, one a line.
writable() {
	sed -n -e 's/^StateDirectory=/\/var\/lib\//p' -e 's/^LogsDirectory=/\/var\/log\//p' \
		-e 's/^ReadWritePaths=//p' "$1" | tr ' ' '\n' | sed "s/%i/$2/g" | grep -v '^$'
}

# inside PATH LIST: PATH is one of LIST's paths or below one.
inside() {
	local p=$1 w
	while read -r w; do
		case "$p" in "$w" | "$w"/*) return 0 ;; esac
	done <<<"$2"
	return 1
}

# check_config CONFIG UNITFILE INSTANCE SECTION
check_config() {
	local cfg=$1 unitfile=$2 inst=$3 sec=$4 name
	name=$(basename "$cfg")
	local exec
	exec=$(sed -n 's/^ExecStart=//p' "$unitfile" | sed "s/%i/$inst/g")
	case "$exec" in
	*" -c /etc/likes/$name") ;;
	*) bad "$(basename "$unitfile") ($inst) runs '$exec', not with /etc/likes/$name" ;;
	esac
	local w data log
	w=$(writable "$unitfile" "$inst")
	data=$(ini_get "$cfg" "$sec" data_dir)
	log=$(ini_get "$cfg" log file)
	if [ -z "$data" ] || ! inside "$data" "$w"; then
		bad "$name: data_dir '$data' is not writable under $(basename "$unitfile") ($inst): $(echo $w)"
	else
		echo "ok: $name: data_dir $data is the unit's ($inst)"
	fi
	if [ -n "$log" ] && ! inside "$(dirname "$log")" "$w"; then
		bad "$name: log.file '$log' is not writable under its unit"
	fi
}

configs=0
for cfg in "$root"/etc/likes/edge-*.ini; do
	inst=$(basename "$cfg" .ini)
	inst=${inst#edge-}
	check_config "$cfg" "$units/likes-edge@.service" "$inst" edge
	configs=$((configs + 1))
done
check_config "$root/etc/likes/central.ini" "$units/likes-central.service" "" central
[ "$configs" -ge 1 ] || bad "no edge config was installed"
for cfg in "$root"/etc/likes/*.ini; do
	perm=$(stat -c %a "$cfg")
	[ "$perm" = 640 ] || bad "$(basename "$cfg") is mode $perm, not 640 (it holds tokens)"
done

# --- 5. -t -------------------------------------------------------------------
# The files only the operator has: a TLS pair and the ES256 keys the
# configs name, made here and substituted with -s.
keys=$tmp/keys
mkdir -p "$keys"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
	-subj /CN=edge.test -keyout "$keys/edge.key" -out "$keys/edge.crt" 2>/dev/null
for cfg in "$root"/etc/likes/edge-*.ini; do
	name=$(basename "$cfg")
	jwt=$(ini_get "$cfg" identity jwt_keys)
	subst=""
	IFS=, read -ra entries <<<"$jwt"
	for e in "${entries[@]}"; do
		kid=${e%%:*}
		rest=${e#*:}
		alg=${rest%%:*}
		openssl ecparam -name prime256v1 -genkey -noout -out "$keys/$kid.pem" 2>/dev/null
		openssl ec -in "$keys/$kid.pem" -pubout -out "$keys/$kid.pub" 2>/dev/null
		subst="${subst:+$subst,}$kid:$alg:$keys/$kid.pub"
	done
	if out=$("$edge" -t -c "$cfg" -s "http.tls_cert=$keys/edge.crt" \
		-s "http.tls_key=$keys/edge.key" -s "identity.jwt_keys=$subst" 2>&1); then
		echo "ok: likes-edge -t -c $name: $out"
	else
		bad "likes-edge -t -c $name: $out"
	fi
done
if out=$("$central" -t -c "$root/etc/likes/central.ini" 2>&1); then
	echo "ok: likes-central -t -c central.ini: $out"
else
	bad "likes-central -t -c central.ini: $out"
fi

# --- 6. --help and --version ----------------------------------------------------
version=$(cat VERSION)
for cmd in "$edge" "$edge inspect" "$central" "$central verify" "$central stats" \
	"$central get" "$central export" "$central backup" "$central prune" "$central tail" \
	"build/sim"; do
	for flag in --help --version; do
		if ! out=$($cmd $flag 2>&1); then
			bad "'$(basename "${cmd%% *}")${cmd#* } $flag' exited non-zero: $out"
		elif [ "$flag" = --version ] && ! grep -q " $version (commit [0-9a-f]*\|unknown, built " <<<"$out"; then
			bad "'$cmd --version' says '$out'"
		elif [ "$flag" = --help ] && ! grep -q '^usage:' <<<"$out"; then
			bad "'$cmd --help' prints no usage: $out"
		fi
	done
done
[ "$fail" = 0 ] && echo "ok: --help and --version on every command"

# --- 7. man pages -------------------------------------------------------------
man8=$root/usr/share/man/man8
for name in likes-edge likes-central; do
	page=$man8/$name.8
	if [ ! -f "$page" ]; then
		bad "$name.8 not installed"
		continue
	fi
	if ! warn=$(groff -man -ww -z "$page" 2>&1) || [ -n "$warn" ]; then
		bad "groff warns on $name.8: $warn"
	fi
	grep -q "\"likes $version\"" "$page" || bad "$name.8 does not carry version $version"
	# The page's words with roff's escaped hyphens as plain ones.
	words=$(sed 's/\\-/-/g; s/\\f[BIRP]//g' "$page" | tr -cs 'A-Za-z0-9-' '\n' | sort -u)
	bin=$root/usr/bin/$name
	helps=$("$bin" --help 2>&1)
	[ "$name" = likes-edge ] && helps+=$'\n'$("$bin" inspect --help 2>&1)
	[ "$name" = likes-central ] && helps+=$'\n'$("$bin" verify --help 2>&1)$'\n'$("$bin" tail --help 2>&1)
	# Options (-x, --xyz) and the commands named after the program.
	want=$( { grep -o -- '\(^\|[ [|(]\)--\?[a-z][a-z-]*' <<<"$helps" | tr -d ' [|(';
		sed -n 's/^ *\(usage: \)\?\(edge\|central\) \([a-z|]*\).*/\3/p' <<<"$helps" |
			tr '|' '\n'; } | sort -u)
	for w in $want; do
		grep -qx -- "$w" <<<"$words" || bad "$name.8 does not mention '$w' from --help"
	done
done
[ "$fail" = 0 ] && echo "ok: man pages render and cover --help"

# --- 8. Prometheus rules ------------------------------------------------------
rules=$root/usr/share/doc/likes/examples/prometheus/likes-rules.yml
if [ ! -f "$rules" ]; then
	bad "no $rules"
elif out=$(promtool check rules "$rules" 2>&1); then
	echo "ok: promtool check rules on the installed likes-rules.yml"
else
	bad "promtool check rules $rules: $out"
fi

# --- 9. the topics ---------------------------------------------------------------
ex=$root/usr/share/doc/likes/examples
if [ ! -x "$ex/create-topics.sh" ] || [ ! -f "$ex/topics.conf" ] || [ ! -f "$ex/kafka-broker.properties" ]; then
	bad "create-topics.sh, topics.conf or kafka-broker.properties not installed among the examples"
else
	out=$("$ex/create-topics.sh" --dry-run central k1:9092 mumbai virginia 2>&1) || bad "create-topics.sh central: $out"
	for t in likes.batches likes.snapshots likes.deadletter likes.changes likes.milestones \
		likes.home.mumbai likes.home.virginia; do
		grep -q -- "--topic $t --partitions [0-9]* --replication-factor 3 --config min.insync.replicas=2" <<<"$out" ||
			bad "create-topics.sh central makes no $t with replication 3 and min.insync.replicas 2"
	done
	grep -q -- "--topic likes.changelog" <<<"$out" && bad "create-topics.sh central makes the regional changelog"
	out=$("$ex/create-topics.sh" --dry-run regional r1:9092 2 2>&1) || bad "create-topics.sh regional: $out"
	[ "$(grep -c -- '--create' <<<"$out")" = 1 ] &&
		grep -q -- "--topic likes.changelog --partitions 2 --replication-factor 3 --config min.insync.replicas=2 .*--config cleanup.policy=delete" <<<"$out" ||
		bad "create-topics.sh regional: $out"
	"$ex/create-topics.sh" --dry-run central k1:9092 >/dev/null 2>&1 && bad "create-topics.sh central without regions was taken"
	[ "$fail" = 0 ] && echo "ok: create-topics.sh makes the topics of topics.conf"
fi

if [ "$fail" != 0 ]; then
	echo "install test FAILED"
	exit 1
fi
echo "install test passed"
