#!/bin/sh
# Runs every unit test binary and integration script of a build.
#   tests/run.sh BUILD_DIR [NAME...]   (NAME filters by test name)
# Unit tests are cmocka programs; integration tests are shell scripts that get
#   SLOTD_BIN=<build>/bin  SLOTD_AGENTS=<build>/agents  SLOTD_SRC=<repo>
# and exit 0 (pass), 77 (skipped, with a reason on stderr) or anything else (fail).
# Ends with the line "N passed, N failed, N skipped" and exits 1 on any failure.
set -u
build=$1; shift
top=$(cd "$(dirname "$0")/.." && pwd)
export SLOTD_BIN="$top/$build/bin" SLOTD_AGENTS="$top/$build/agents" SLOTD_SRC="$top"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=23" UBSAN_OPTIONS="print_stacktrace=1"
passed=0 failed=0 skipped=0 failures=""


want() {
	name=$1; shift
	[ -z "${filters:-}" ] && return 0
	for f in $filters; do case "$name" in *"$f"*) return 0 ;; esac; done
	return 1
}
filters="$*"

for t in "$top/$build"/tests/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	want "$name" || continue
	echo "=== unit $name"
	if "$t"; then passed=$((passed + 1)); else failed=$((failed + 1)); failures="$failures $name"; fi
done

for t in "$top"/tests/integration/*.sh; do
	[ -f "$t" ] || continue
	name=$(basename "$t" .sh)
	want "$name" || continue
	echo "=== integration $name"
	start=$(date +%s)
	sh "$t"
	rc=$?
	echo "--- $name: rc=$rc ($(( $(date +%s) - start ))s)"
	case $rc in
	0) passed=$((passed + 1)) ;;
	77) skipped=$((skipped + 1)) ;;
	*) failed=$((failed + 1)); failures="$failures $name" ;;
	esac
done

[ -n "$failures" ] && echo "failed:$failures"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
