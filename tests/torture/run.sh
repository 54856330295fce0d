#!/bin/sh
# `make torture`: the power-cut and kill-storm tests with large counts.
#   tests/torture/run.sh BUILD_DIR OUT_DIR
# Runs tests/integration/powercut.sh (POWERCUT_ROUNDS, default 200) and
# tests/integration/killstorm.sh (KILLSTORM_ROUNDS, default 1000) and
# tests/integration/pip_killstorm.sh (PIP_KILLSTORM_ROUNDS, default 50) against
# BUILD_DIR's binaries, one after the other (they share two cores with
# everything else).  Each one's full output goes to OUT_DIR/NAME.log, the logs
# of a failing round to OUT_DIR/failures/round-N, and OUT_DIR/report.md gets the
# summary: rounds, cuts per phase, kills of each kind, failures, wall time.
# Ends with "N passed, N failed, N skipped" and exits 1 when either failed.
set -u
build=$1
out=$2
top=$(cd "$(dirname "$0")/../.." && pwd)
case $out in /*) ;; *) out=$top/$out ;; esac
export SLOTD_BIN="$top/$build/bin" SLOTD_AGENTS="$top/$build/agents" SLOTD_SRC="$top"
export POWERCUT_ROUNDS="${POWERCUT_ROUNDS:-200}" KILLSTORM_ROUNDS="${KILLSTORM_ROUNDS:-1000}"
export PIP_KILLSTORM_ROUNDS="${PIP_KILLSTORM_ROUNDS:-50}"
export TORTURE_OUT="$out"
rm -rf "$out"
mkdir -p "$out"
report=$out/report.md
passed=0 failed=0 skipped=0

# section NAME RC SECONDS: the report's part for one test, from its log.
section() {
	log=$out/$1.log
	summary=$(sed -n "s/^summary: $1 //p" "$log")
	echo
	echo "## $1"
	echo
	case $2 in
	0) echo "Result: **passed** (exit 0), wall time $3 s." ;;
	77) echo "Result: skipped: $(tail -1 "$log")" ; return ;;
	*) echo "Result: **FAILED** (exit $2), wall time $3 s." ;;
	esac
	echo
	echo "| figure | value |"
	echo "|---|---|"
	for kv in $summary; do echo "| ${kv%%=*} | ${kv#*=} |"; done
	for kind in phase kill; do
		grep -q "^$kind: " "$log" || continue
		echo
		if [ $kind = kill ]; then echo "| killed, in phase | count |"
		else echo "| phase at the crash | count |"; fi
		echo "|---|---|"
		sed -n "s/^$kind: \(.*\): \([0-9]*\)$/| \1 | \2 |/p" "$log"
	done
	if grep -q "FAILED:$" "$log"; then
		echo
		echo "Rounds that broke an invariant (the first 20; logs in \`failures/\`):"
		echo
		awk '/ FAILED:$/ { n++; p = n <= 20 } / FAILED:$/ || (p && /^    /) { if (p) print; next }
		     { p = 0 }' "$log" | sed 's/^/    /'
	fi
	torn=$(grep -c "torn line" "$log")
	echo
	echo "Rounds whose history reported torn lines: $torn."
}

{
	echo "# slotd torture report"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, kernel $(uname -r), binaries $build."
	echo "POWERCUT_ROUNDS=$POWERCUT_ROUNDS KILLSTORM_ROUNDS=$KILLSTORM_ROUNDS PIP_KILLSTORM_ROUNDS=$PIP_KILLSTORM_ROUNDS."
	echo "Phases are inferred from slotupd's last step line (and slotd's lines during"
	echo "ACTIVATING) just before the crash: start (lock, recovery, NEW record),"
	echo "download, extract (manifest verified, slot being written), sync, flip,"
	echo "trial, commit / revert (slotd decided), history (final record being"
	echo "appended), done (slotupd had exited: the crash hit an idle system)."
} > "$report"

for name in powercut killstorm pip_killstorm; do
	echo "=== torture $name (log: $out/$name.log)"
	start=$(date +%s)
	sh "$top/tests/integration/$name.sh" > "$out/$name.log" 2>&1
	rc=$?
	took=$(( $(date +%s) - start ))
	grep -E "^(summary|phase|kill):|FAILED:$|^# round .* broke" "$out/$name.log"
	echo "--- $name: rc=$rc (${took}s)"
	case $rc in
	0) passed=$((passed + 1)) ;;
	77) skipped=$((skipped + 1)) ;;
	*) failed=$((failed + 1)) ;;
	esac
	section $name $rc $took >> "$report"
done
echo "report: $report"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
