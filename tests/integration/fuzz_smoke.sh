#!/bin/sh
# fuzz_smoke: every libFuzzer harness (tests/fuzz/) builds, runs its whole
# seed corpus (which holds the inputs of every crash fixed so far) and then
# fuzzes for a few seconds, without a crash.  Catches a harness broken by a
# change to the parser it drives.  Long runs are `make fuzz`.
# Skipped (77) when clang cannot link libFuzzer.
. "$SLOTD_SRC/tests/support/lib.sh"
seconds=${FUZZ_SMOKE_SECONDS:-3}

printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n);\n%s\n' \
	'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; return (int)(n & 0); }' \
	> "$T/probe.c"
if ! command -v "${FUZZ_CC:-clang}" >/dev/null 2>&1 ||
	! "${FUZZ_CC:-clang}" -fsanitize=fuzzer,address,undefined -o "$T/probe" "$T/probe.c" \
		> "$T/probe.log" 2>&1; then
	echo "fuzz_smoke: skipped: ${FUZZ_CC:-clang} cannot build a libFuzzer harness" \
		"(packages clang, libclang-rt-14-dev, libfuzzer-14-dev)" >&2
	exit 77
fi

# Incremental: only what changed since the last build is recompiled.  Run
# from `make check`, the outer make's flags (MODE=check, its jobserver) must
# not leak into this build.
if ! env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
	make -C "$SLOTD_SRC" --no-print-directory -j2 fuzz-build > "$T/build.log" 2>&1; then
	tail -n 30 "$T/build.log"
	check "the harnesses build" false
	finish
fi
check "the harnesses build" true

# A scratch corpus and crash directory per run: the result depends only on
# the checked-in seeds, not on what earlier long runs collected.
mkdir -p "$T/tmp"
TMPDIR="$T/tmp" FUZZ_CORPUS="$T/corpus" FUZZ_CRASHES="$T/crashes" FUZZ_LOGS="$T/logs" \
	"$SLOTD_SRC/tests/fuzz/run.sh" build/fuzz "$seconds" > "$T/summary"
cat "$T/summary"
n=0
while IFS= read -r line; do
	n=$((n + 1))
	case $line in
	*", ok") check "${line%%:*} runs its seeds and ${seconds} s of fuzzing" true ;;
	*)
		for log in "$T"/logs/*.log; do
			grep -q "ERROR\|fuzz: " "$log" && grep -m 20 -B2 -A12 "ERROR\|^fuzz: " "$log"
		done
		check "$line" false
		;;
	esac
done < "$T/summary"
check "every harness ran ($n of $(ls "$SLOTD_SRC"/tests/fuzz/fuzz_*.c | wc -l))" \
	[ "$n" -eq "$(ls "$SLOTD_SRC"/tests/fuzz/fuzz_*.c | wc -l)" ]
finish
