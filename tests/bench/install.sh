#!/bin/sh
# Install benchmark (issue 5, BENCHMARKS.md): `slotupd install` of a signed
# bundle, with signature and block verification and a durable sync, from
# `file` and from `http` on 127.0.0.1, against GNU tar (+ sync) of the same
# payload, for gzip and zstd.  Wall time and peak RSS of the updater process.
#   tests/bench/install.sh RELEASE_BUILD_DIR OUTDIR
# BENCH_FILES (2000), BENCH_MB (40), BENCH_RUNS (3); BENCH_QUICK=1: 500 files,
# 10 MB, 1 run; BENCH_FILES=10000 BENCH_MB=200 is BENCHMARKS.md's tree.
set -eu
. "$(dirname "$0")/common.sh"
B=$build/bin
work=$(mktemp -d "${TMPDIR:-/tmp}/slotd-bench-install.XXXXXX")
chmod 711 "$work"
slotd_pid="" httpd_pid=""
cleanup() {
	[ -n "$slotd_pid" ] && kill "$slotd_pid" 2>/dev/null && wait "$slotd_pid" 2>/dev/null
	[ -n "$httpd_pid" ] && kill "$httpd_pid" 2>/dev/null && wait "$httpd_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

# Keys, the tree (with an agent so the new slot can pass its trial), bundles.
k=$work/keys
mkdir -p "$k"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench \
	-keyout "$k/key.pem" -out "$k/cert.pem" 2>/dev/null
/usr/bin/python3 "$top/tests/bench/make_tree.py" "$work/tree" "$files" "$mb"
mkdir -p "$work/tree/bin"
cp "$build/agents/demo_agent" "$work/tree/bin/agent"
mkdir -p "$work/www"
for z in gzip zstd; do
	for v in 1 2; do
		"$B/slotpack" create -d "$work/tree" -V "v$v.0.0" -C bench -k "$k/key.pem" \
			-c "$k/cert.pem" -z $z -o "$work/www/$z-v$v.bundle"
	done
done
tar -czf "$work/tree.tar.gz" -C "$work/tree" .
tar --zstd -cf "$work/tree.tar.zst" -C "$work/tree" .

/usr/bin/python3 "$top/tests/support/httpd.py" "$work/www" > "$work/httpd.out" 2>/dev/null &
httpd_pid=$!
cat > "$work/slotd.ini" <<INI
[slots]
root = $work/root
compatible = bench
[agent]
exec = bin/agent
health = uptime
min_uptime = 0ms
[updater]
keyring = $k/cert.pem
INI
"$B/slotd" -c "$work/slotd.ini" 2> "$work/slotd.log" &
slotd_pid=$!
i=0
until [ -S "$work/root/run/control.sock" ] && grep -q '^PORT ' "$work/httpd.out"; do
	i=$((i + 1)); [ $i -lt 200 ] || { echo "bench install: servers did not start" >&2; exit 1; }
	sleep 0.05
done
url=http://127.0.0.1:$(sed -n 's/^PORT //p' "$work/httpd.out")

# measure CMD...: "secs rss_kb" of one run, caches warm, dirty pages flushed first
measure() {
	sync -f "$work"
	/usr/bin/time -o "$work/time" -f '%e %M' "$@" >/dev/null 2>"$work/err" ||
		{ echo "bench install: $* failed:" >&2; cat "$work/err" >&2; exit 1; }
	cat "$work/time"
}
# row NAME PREPARE-CMD CMD...: median of BENCH_RUNS runs, max RSS
row() {
	name=$1 prepare=$2; shift 2
	: > "$work/runs"
	n=0
	while [ $n -lt "$runs" ]; do
		eval "$prepare"
		measure "$@" >> "$work/runs"
		n=$((n + 1))
	done
	secs=$(sort -n "$work/runs" | awk '{ t[NR] = $1 } END { print t[int((NR + 1) / 2)] }')
	rss=$(sort -n -k2 "$work/runs" | tail -1 | cut -d' ' -f2)
	echo "$name|$secs|$((rss / 1024))" >> "$work/rows"
}
# Each install alternates between v1 and v2 so it is never a no-op; the
# inactive slot is cleared inside the measured run, as on a guest.
flip=1
next_bundle() { # next_bundle BASE-URL-OR-DIR COMPRESSION: the location, into $work/location
	flip=$((3 - flip))
	echo "$1/$2-v$flip.bundle" > "$work/location"
}
fresh_dest() { rm -rf "$work/dest"; mkdir "$work/dest"; }
install_cmd='"$0" -c "$1" install --allow-downgrade "$(cat "$2")"'

: > "$work/rows"
for z in gzip zstd; do
	if [ $z = gzip ]; then
		row "GNU tar -xzf + sync -f" fresh_dest sh -c 'tar -xzf "$0" -C "$1" && sync -f "$1"' \
			"$work/tree.tar.gz" "$work/dest"
	else
		row "GNU tar --zstd -xf + sync -f" fresh_dest sh -c 'tar --zstd -xf "$0" -C "$1" && sync -f "$1"' \
			"$work/tree.tar.zst" "$work/dest"
	fi
	row "slotupd install, $z, file" "next_bundle $work/www $z" sh -c "$install_cmd" \
		"$B/slotupd" "$work/slotd.ini" "$work/location"
	row "slotupd install, $z, http" "next_bundle $url $z" sh -c "$install_cmd" \
		"$B/slotupd" "$work/slotd.ini" "$work/location"
done

bundle_mb=$(du -m "$work/www/gzip-v1.bundle" | cut -f1)
{
	echo
	echo "## install"
	echo
	echo "Tree: $files files, $mb MB (half incompressible); gzip bundle ${bundle_mb} MB.  slotupd"
	echo "verifies the CMS signature and every 1 MiB block, unpacks into the inactive slot"
	echo "(clearing it first), syncfs, asks slotd to activate (trial: health=uptime,"
	echo "min_uptime=0) and records the outcome; tar writes into an empty directory."
	echo "Median wall time of $runs runs, peak RSS of the measured process (\\`/usr/bin/time -f '%e %M'\\`)."
	echo "Ratio: tar's time / ours (>= 0.9 is the target)."
	echo
	echo "| method | wall s | peak RSS MiB | tar / this |"
	echo "|---|---|---|---|"
	awk -F'|' '/^GNU tar/ { base = $2 } { printf "| %s | %s | %s | %.2f |\n", $1, $2, $3, ($2 > 0 ? base / $2 : 0) }' "$work/rows"
} >> "$out/report.md"
