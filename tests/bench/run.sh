#!/bin/sh
# `make bench`: runs every tests/bench/*.sh (except this one and common.sh) against a
# release build and collects their sections in OUTDIR/report.md.
#   tests/bench/run.sh RELEASE_BUILD_DIR OUTDIR
# Each script gets $1 = the release build dir, $2 = OUTDIR and appends its own
# markdown section; exit 77 means skipped (a missing facility, said on stderr).
# BENCH_QUICK=1 asks the scripts for small inputs.
set -eu
build=$(cd "$1" && pwd)
mkdir -p "$2"
out=$(cd "$2" && pwd)
top=$(cd "$(dirname "$0")/../.." && pwd)
{
	echo "# slotd benchmark report"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "- commit: $(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)"
	echo "- machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
	echo "- command: make bench (tests/bench/run.sh $1 $2)"
	echo
} > "$out/report.md"
status=0
for script in "$top"/tests/bench/*.sh; do
	case "$(basename "$script")" in run.sh|common.sh) continue ;; esac
	echo "=== bench $(basename "$script" .sh)"
	rc=0
	sh "$script" "$build" "$out" || rc=$?
	case $rc in
	0) ;;
	77)	# the script printed why (e.g. no loop device) and wrote no figures
		printf '\n## %s\n\nskipped; see the make bench output.\n' "$(basename "$script" .sh)" >> "$out/report.md" ;;
	*)	echo "bench $(basename "$script"): failed" >&2
		printf '\n## %s\n\nfailed; see the make bench output.\n' "$(basename "$script" .sh)" >> "$out/report.md"
		status=1 ;;
	esac
done
echo "report: $out/report.md"
exit $status
