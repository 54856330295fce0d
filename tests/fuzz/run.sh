#!/bin/sh
# Runs the libFuzzer harnesses of a fuzz build (make fuzz-build).
#   tests/fuzz/run.sh BUILD_DIR SECONDS [NAME...]      (NAME: bundle, state, ...)
# Each harness fuzzes for SECONDS, starting from its checked-in seeds
# (tests/fuzz/corpus/NAME, read only) and a working corpus that grows between
# runs (FUZZ_CORPUS, default BUILD_DIR/corpus/NAME); crashing inputs go to
# FUZZ_CRASHES (default BUILD_DIR/crashes)/NAME/, the full log to
# FUZZ_LOGS (default BUILD_DIR/logs)/NAME.log.  Prints one line per harness:
#   fuzz NAME: N execs in S s (cpu C s), ok | CRASH <input> | FAILED (rc)
# and exits 1 if any harness crashed or failed.  FUZZ_FLAGS adds libFuzzer
# flags (e.g. FUZZ_FLAGS=-jobs=2).  FUZZ_MIN_CPU=N runs a harness again (for
# SECONDS each time, on the corpus it grew) until its runs add up to N CPU
# seconds: on a shared machine wall time is not fuzzing time.  The line then
# gives the sums over the runs.
set -u
build=$1 seconds=$2
shift 2
top=$(cd "$(dirname "$0")/../.." && pwd)
case $build in /*) ;; *) build="$top/$build" ;; esac
corpus_root=${FUZZ_CORPUS:-$build/corpus}
crash_root=${FUZZ_CRASHES:-$build/crashes}
logs=${FUZZ_LOGS:-$build/logs}
failed=0

# Inputs larger than a parser ever accepts are wasted executions.
max_len() {
	case $1 in
	bundle | extract) echo 65536 ;;		# seed bundles and tars stay below
	manifest) echo 16384 ;;			# BUNDLE_MANIFEST_MAX
	state | config) echo 8192 ;;		# STATE_TEXT_MAX; configs are small
	control_reply) echo 8193 ;;		# 2 x CONTROL_LINE_MAX + 1
	control_request) echo 2048 ;;		# the harness takes at most this
	*) echo 16384 ;;			# rpc_message, history
	esac
}

names="$*"
[ -n "$names" ] || names=$(cd "$build/fuzz" && ls fuzz_* | sed 's/^fuzz_//')
mkdir -p "$logs"
for name in $names; do
	bin="$build/fuzz/fuzz_$name"
	[ -x "$bin" ] || { echo "fuzz $name: no harness $bin"; failed=1; continue; }
	work="$corpus_root/$name" crashes="$crash_root/$name" log="$logs/$name.log"
	mkdir -p "$work" "$crashes"
	dict=""
	[ -f "$top/tests/fuzz/dict/$name.dict" ] && dict="-dict=$top/tests/fuzz/dict/$name.dict"
	timer=""	# GNU time gives the CPU seconds; optional
	[ -x /usr/bin/time ] && timer="/usr/bin/time -f %U+%S -o $logs/$name.time"
	total_execs=0 total_secs=0 total_cpu=0 rc=0
	while :; do
		rm -f "$logs/$name.time"
		# shellcheck disable=SC2086
		$timer "$bin" -max_total_time="$seconds" -max_len="$(max_len "$name")" \
			-rss_limit_mb=2048 -timeout=30 -print_final_stats=1 \
			-artifact_prefix="$crashes/" $dict ${FUZZ_FLAGS:-} \
			"$work" "$top/tests/fuzz/corpus/$name" > "$log" 2>&1
		rc=$?
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
		secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
		cpu=$(awk -F+ '/^[0-9.]+\+[0-9.]+$/ { printf "%.1f", $1 + $2 }' \
			"$logs/$name.time" 2>/dev/null)
		total_execs=$((total_execs + ${execs:-0})) total_secs=$((total_secs + ${secs:-0}))
		total_cpu=$(awk "BEGIN { printf \"%.1f\", $total_cpu + ${cpu:-0} }")
		[ $rc -eq 0 ] && [ -n "$cpu" ] || break
		awk "BEGIN { exit !($total_cpu < ${FUZZ_MIN_CPU:-0}) }" || break
	done
	execs=$total_execs secs=$total_secs cpu=$total_cpu
	input=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
	if [ $rc -eq 0 ]; then
		result=ok
	elif [ -n "$input" ]; then
		result="CRASH $input (log $log)"
		failed=1
	else
		result="FAILED rc=$rc (log $log)"
		failed=1
	fi
	echo "fuzz $name: ${execs:-?} execs in ${secs:-?} s (cpu ${cpu:-?} s), $result"
done
exit $failed
