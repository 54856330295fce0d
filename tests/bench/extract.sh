#!/bin/sh
# Extraction benchmark: tar -xzf, bsdtar -xzf (if installed), libarchive's
# archive_write_disk and extract_stream, each followed by a sync of the
# target filesystem; extract_stream with syncfs and with fsync per file.
#   tests/bench/extract.sh RELEASE_BUILD_DIR OUTDIR
# The tree is common.sh's (BENCH_FILES 10000, BENCH_MB 200, 800 directories,
# half of the bytes incompressible), the one install.sh uses; BENCH_RUNS
# (default 3) runs per method; BENCH_QUICK=1 shrinks it to 500 files / 10 MB,
# one run.
set -eu
. "$(dirname "$0")/common.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/slotd-bench-extract.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The driver links the release libraries; build them if `make programs` did not.
make --no-print-directory -s -C "$top" MODE=release BUILD="$build" \
	"$build/lib/libupdater.a" "$build/lib/libslots.a" >&2
cc -std=gnu11 -O2 -D_GNU_SOURCE -Wall -Wextra -Werror -I"$top/include" -I"$top/updater" \
	$(pkg-config --cflags libarchive) -o "$work/driver" "$top/tests/bench/extract_driver.c" \
	"$build/lib/libupdater.a" "$build/lib/libslots.a" \
	$(pkg-config --libs libarchive zlib liblzma libzstd libcrypto libcurl librabbitmq jansson inih)

/usr/bin/python3 "$top/tests/bench/make_tree.py" "$work/tree" "$files" "$mb" "$dirs"
tar --format=pax -czf "$work/tree.tar.gz" -C "$work/tree" .   # POSIX: the payload profile refuses GNU headers
rm -rf "$work/tree"
archive_mb=$(du -m "$work/tree.tar.gz" | cut -f1)

# run NAME CMD...: one timed run into a fresh directory; prints "secs rss_kb"
run() {
	name=$1; shift
	rm -rf "$work/dest"
	mkdir "$work/dest"
	sync -f "$work"
	/usr/bin/time -o "$work/time" -f '%e %M' "$@" >/dev/null 2>"$work/err" ||
		{ echo "bench extract: $name failed:" >&2; cat "$work/err" >&2; exit 1; }
	n=$(find "$work/dest" -type f | wc -l)
	[ "$n" -eq "$files" ] || { echo "bench extract: $name wrote $n files, not $files" >&2; exit 1; }
	cat "$work/time"
}

# syscalls per entry of a run, counted by strace (if installed)
syscalls() {
	command -v strace >/dev/null || { echo n/a; return; }
	rm -rf "$work/dest"
	mkdir "$work/dest"
	strace -f -c -o "$work/strace" "$@" >/dev/null 2>&1 || { echo n/a; return; }
	awk -v n="$files" '$NF == "total" { printf "%.1f", $4 / n }' "$work/strace"
}

# row NAME CMD...: BENCH_RUNS runs (default 3): median wall time, max RSS
row() {
	name=$1; shift
	: > "$work/runs"
	i=0
	while [ "$i" -lt "$runs" ]; do
		run "$name" "$@" >> "$work/runs"
		i=$((i + 1))
	done
	secs=$(sort -n "$work/runs" | awk '{ t[NR] = $1 } END { print t[int((NR + 1) / 2)] }')
	rss=$(sort -n -k2 "$work/runs" | tail -1 | cut -d' ' -f2)
	echo "| $name | $secs | $((rss / 1024)) | $(syscalls "$@") |" >> "$work/rows"
}

: > "$work/rows"
row "GNU tar -xzf + sync -f" sh -c 'tar -xzf "$1" -C "$2" && sync -f "$2"' sh "$work/tree.tar.gz" "$work/dest"
if command -v bsdtar >/dev/null; then
	row "bsdtar -xzf + sync -f" sh -c 'bsdtar -xzf "$1" -C "$2" && sync -f "$2"' sh "$work/tree.tar.gz" "$work/dest"
fi
row "archive_write_disk (secure flags) + syncfs" "$work/driver" write-disk "$work/tree.tar.gz" "$work/dest"
row "extract_stream + syncfs (chosen)" "$work/driver" syncfs "$work/tree.tar.gz" "$work/dest"
row "extract_stream + fsync per file and dir" "$work/driver" fsync-each "$work/tree.tar.gz" "$work/dest"

{
	echo
	echo "## extract"
	echo
	echo "Tree: $files files in up to $((dirs * 4)) directories, $mb MB (half incompressible), tar.gz of ${archive_mb} MB;"
	echo "warm page cache, median wall time of $runs runs, \`/usr/bin/time -f '%e %M'\`.  Syscalls per file are"
	echo "all syscalls of the run (including the sync step and gzip reads) over the file count,"
	echo "counted in a separate run under \`strace -f -c\`.  fsync-each walks the tree"
	echo "afterwards (open+fsync+close per file and directory)."
	echo
	echo "| method | wall s | peak RSS MiB | syscalls/file |"
	echo "|---|---|---|---|"
	cat "$work/rows"
} >> "$out/report.md"
