#!/bin/sh
# slotpack (issue 4): `verify` throughput against sha256sum of the same bytes,
# and `create` against tar -czf of the same tree, in the same run.
#   tests/bench/slotpack.sh RELEASE_BUILD_DIR OUTDIR
# BENCH_PAYLOAD_MB (200) of incompressible data; BENCH_QUICK=1: 40 MB.
set -eu
. "$(dirname "$0")/common.sh"
mb=${BENCH_PAYLOAD_MB:-200}
[ "${BENCH_QUICK:-0}" = 1 ] && mb=40
work=$(mktemp -d "${TMPDIR:-/tmp}/slotd-bench-slotpack.XXXXXX")
trap 'rm -rf "$work"' EXIT
k=$work/keys; mkdir -p "$k"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench \
	-keyout "$k/key.pem" -out "$k/cert.pem" 2>/dev/null
mkdir -p "$work/tree"
head -c $((mb * 1048576)) /dev/urandom > "$work/tree/blob"
/usr/bin/python3 "$top/tests/bench/make_tree.py" "$work/tree/files" 1000 20

secs() { /usr/bin/time -o "$work/t" -f '%e' "$@" >/dev/null 2>"$work/err" ||
	{ cat "$work/err" >&2; exit 1; }; cat "$work/t"; }
median3() { a=$(secs "$@"); b=$(secs "$@"); c=$(secs "$@"); printf '%s\n%s\n%s\n' "$a" "$b" "$c" | sort -n | sed -n 2p; }

create=$(median3 "$build/bin/slotpack" create -d "$work/tree" -V v1 -C b -k "$k/key.pem" -c "$k/cert.pem" -o "$work/b.bundle")
targz=$(median3 tar -czf "$work/t.tar.gz" -C "$work/tree" .)
bytes=$(stat -c %s "$work/b.bundle")
verify=$(median3 "$build/bin/slotpack" verify -K "$k/cert.pem" "$work/b.bundle")
sha=$(median3 sha256sum "$work/b.bundle")
mbps() { awk -v b="$bytes" -v s="$1" 'BEGIN { printf "%.0f", (s > 0 ? b / s / 1048576 : 0) }'; }
{
	echo
	echo "## slotpack"
	echo
	echo "Tree: ${mb} MB of random bytes plus 1,000 files / 20 MB; bundle $((bytes / 1048576)) MB (gzip)."
	echo "Median of 3 runs, warm cache.  verify checks the signature and every block (SHA-256)."
	echo
	echo "| command | wall s | throughput | ratio |"
	echo "|---|---|---|---|"
	echo "| sha256sum bundle | $sha | $(mbps "$sha") MiB/s | 1.00 |"
	echo "| slotpack verify | $verify | $(mbps "$verify") MiB/s | $(awk -v a="$sha" -v b="$verify" 'BEGIN { printf "%.2f", a / b }') of sha256sum's |"
	echo "| tar -czf tree | $targz | | 1.00 |"
	echo "| slotpack create | $create | | $(awk -v a="$targz" -v b="$create" 'BEGIN { printf "%.2f", a / b }') of tar's speed |"
} >> "$out/report.md"
