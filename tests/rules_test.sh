#!/bin/bash
# rules_test.sh - the shipped Prometheus rules (make rules-test, part of
# make test):
#
#   1. promtool check rules accepts every file of configs/prometheus/;
#   2. promtool test rules passes tests/prometheus/*.test.yml;
#   3. every alert has a test case where it fires and one where it does
#      not, and a runbook annotation naming a runbook heading of
#      docs/ops.md;
#   4. every runbook of docs/ops.md names an alert the rules define (or
#      says it has none).
#
# Starts nothing; reads only the tree.
set -euo pipefail
cd "$(dirname "$0")/.."

fail=0
bad() { echo "FAIL: $*"; fail=1; }

rules=(configs/prometheus/*.yml)
tests=(tests/prometheus/*.test.yml)

# --- 1, 2. promtool ------------------------------------------------------------
if out=$(promtool check rules "${rules[@]}" 2>&1); then
	echo "ok: promtool check rules: $(echo "$out" | grep -c SUCCESS) file(s)"
else
	bad "promtool check rules:"; echo "$out"
fi
if out=$(promtool test rules "${tests[@]}" 2>&1); then
	echo "ok: promtool test rules"
else
	bad "promtool test rules:"; echo "$out"
fi

# --- 3. each alert tested both ways, with a runbook ------------------------------
alerts=$(sed -n 's/^[[:space:]]*- alert:[[:space:]]*\([A-Za-z0-9_]*\).*/\1/p' "${rules[@]}")
[ -n "$alerts" ] || bad "no alert in ${rules[*]}"

# "NAME fires" / "NAME quiet" for each alert_rule_test case.
cases=$(awk '
	/^[[:space:]]*alertname:/ { name = $2; next }
	/^[[:space:]]*exp_alerts:/ && name != "" {
		print name, ($0 ~ /\[\]/ ? "quiet" : "fires"); name = ""
	}' "${tests[@]}")

# slug TEXT: the anchor GitHub makes of a heading.
slug() {
	echo "$1" | tr '[:upper:]' '[:lower:]' | sed -e 's/[^a-z0-9 _-]//g' -e 's/ /-/g'
}
# The runbooks: level-3 headings after "## Runbooks", up to the next "## ".
runbooks=$(awk '/^## /{ on = ($0 == "## Runbooks") ; next } on && /^### / { sub(/^### /, ""); print }' docs/ops.md)
anchors=$(while IFS= read -r h; do slug "$h"; done <<<"$runbooks")

for a in $alerts; do
	grep -qx "$a fires" <<<"$cases" || bad "$a: no test case where it fires"
	grep -qx "$a quiet" <<<"$cases" || bad "$a: no test case where it stays quiet"
	rb=$(awk -v a="$a" '
		$0 ~ "- alert: " a "$" { on = 1; next }
		on && /- alert:/ { exit }
		on && /runbook:/ { gsub(/[" ]/, ""); sub(/^runbook:/, ""); print; exit }' "${rules[@]}")
	case "$rb" in
	docs/ops.md#*) grep -qx "${rb#docs/ops.md#}" <<<"$anchors" ||
		bad "$a: runbook $rb is no runbook heading of docs/ops.md" ;;
	*) bad "$a: runbook annotation '$rb' does not point into docs/ops.md" ;;
	esac
done

# --- 4. each runbook names its alert ----------------------------------------------
while IFS= read -r h; do
	text=$(awk -v h="### $h" '$0 == h { on = 1; next } on && /^##/ { exit } on' docs/ops.md)
	named=$(grep -o 'Likes[A-Za-z]*' <<<"$text" | sort -u || true)
	if [ -z "$named" ]; then
		grep -q 'no alert' <<<"$text" || bad "runbook '$h' names no alert"
		continue
	fi
	for n in $named; do
		grep -qx "$n" <<<"$alerts" || bad "runbook '$h' names $n, which the rules do not define"
	done
done <<<"$runbooks"

[ "$fail" -eq 0 ] && echo "ok: $(wc -w <<<"$alerts") alerts tested both ways, each with its runbook"
exit "$fail"
