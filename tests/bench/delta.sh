#!/bin/sh
# Delta updates (issue 30, docs/delta.md): a guest running v0 of the
# benchmark tree (common.sh: make_tree.py, BENCH_FILES files, BENCH_MB MB)
# installs a format 3 bundle with 1, 5 and 25 % of its files changed
# (tests/support/delta_tree.py), from nginx on 127.0.0.1: bytes over the wire
# (nginx's $body_bytes_sent) and wall time of `slotupd install` by delta
# against the whole bundle ([updater] delta = no), each from v0 again (both
# slots holding v0's tree); and
# what casync would fetch for the same change (the chunks of v1's index not
# in v0's store, and the index), where casync is installed.
#   tests/bench/delta.sh RELEASE_BUILD_DIR OUTDIR
# Wall times are the median of BENCH_RUNS (3; BENCH_QUICK=1: 1) and include
# the trial (min_uptime 100ms); peak RSS (/usr/bin/time %M) the highest of
# the runs.  Appends a section to OUTDIR/report.md.
set -eu
. "$(dirname "$0")/common.sh"
B=$build/bin
for tool in nginx curl; do
	command -v $tool >/dev/null || { echo "bench delta: skipped: no $tool (packaging/deps.sh)" >&2; exit 77; }
done
SLOTD_SRC=$top SLOTD_AGENTS=$build/agents
# `make bench` builds the programs; the guest's agent is the demo agent
[ -x "$SLOTD_AGENTS/demo_agent" ] ||
	make --no-print-directory -s -C "$top" MODE=release BUILD="$build" agents >&2
. "$top/tests/support/lib.sh"
. "$top/tests/support/nginx.sh"
k=$T/keys
make_keys "$k" || exit 1
mkdir -p "$T/www"
/usr/bin/python3 "$top/tests/bench/make_tree.py" "$T/v0" "$files" "$mb" "$dirs"
mkdir -p "$T/v0/bin"
cp "$SLOTD_AGENTS/demo_agent" "$T/v0/bin/agent"
echo good > "$T/v0/behaviour"
pack() { SOURCE_DATE_EPOCH=$2 "$B/slotpack" create --format 3 -d "$T/$1" -V "v1.0.$2" -C bench \
	-k "$k/ca-signer.key" -c "$k/ca-signer.pem" -o "$T/www/$1.bundle"; }
pack v0 0
cp -a "$T/v0" "$T/v0b" && pack v0b 100	# v0's tree, another digest: see "back to v0"
for p in 1 5 25; do
	cp -a "$T/v0" "$T/v$p"
	/usr/bin/python3 "$top/tests/support/delta_tree.py" change "$T/v$p" "$p" "$p" >/dev/null
	pack "v$p" "$p"
done

nginx_start "$T/www" "$T/nginx" || { echo "bench delta: nginx did not start" >&2; exit 1; }
for mode in delta whole; do
	cat > "$T/$mode.ini" <<INI
[slots]
root = $T/root
compatible = bench
[agent]
exec = bin/agent
health = notify
startup_timeout = 10s
min_uptime = 100ms
stop_timeout = 2s
[updater]
keyring = $k/keyring.pem
delta = $( [ $mode = delta ] && echo yes || echo no )
INI
done
export AGENT_LOG="$T/agent.log"
"$B/slotd" -c "$T/delta.ini" 2> "$T/slotd.log" &
PIDS="$PIDS $!"
wait_for 10 test -S "$T/root/run/control.sock" || { echo "bench delta: slotd did not start" >&2; exit 1; }
install() { /usr/bin/time -o "$T/rss" -f %M "$B/slotupd" -c "$T/$1.ini" install --allow-downgrade \
	"$NGINX/$2.bundle" >> "$T/slotupd.out" 2>&1 || { tail -5 "$T/slotupd.out" >&2; exit 1; }; }
served() { awk -v u="/$1.bundle" '$1 == u { n += $3 } END { print n + 0 }' "$T/nginx/access.log"; }
now() { date +%s.%N; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
install whole v0
[ "$quick" = 1 ] && runs=1
rows=""
for p in 1 5 25; do
	echo "bench delta: $p % changed" >&2
	: > "$T/times.delta"; : > "$T/times.whole"; : > "$T/rss.delta"; : > "$T/rss.whole"
	for r in $(seq "$runs"); do
		for mode in delta whole; do
			: > "$T/nginx/access.log"
			t0=$(now); install "$mode" "v$p"; t1=$(now)
			awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f\n", b - a }' >> "$T/times.$mode"
			cat "$T/rss" >> "$T/rss.$mode"
			eval "sent_$mode=\$(served v$p)"
			# back to v0, untimed, with v0's tree in both slots: else the
			# other slot would hold v$p, a source of every block
			install delta v0
			install delta v0b
		done
	done
	size=$(stat -c %s "$T/www/v$p.bundle")
	reused=$("$B/slotpack" diff -K "$k/keyring.pem" "$T/www/v0.bundle" "$T/www/v$p.bundle" |
		sed -n 's/^reused: *\([0-9]*\) blocks.*/\1/p')
	blocks=$("$B/slotpack" inspect "$T/www/v$p.bundle" | sed -n 's/^blocks: *\([0-9]*\) .*/\1/p')
	casync_bytes="-"
	if command -v casync >/dev/null; then
		rm -rf "$T/ca0" "$T/ca1"
		if ! casync make --store="$T/ca0" "$T/v0.caidx" "$T/v0" >/dev/null 2>"$T/casync.err" ||
		   ! casync make --store="$T/ca1" "$T/v$p.caidx" "$T/v$p" >/dev/null 2>>"$T/casync.err"; then
			echo "bench delta: casync: $(head -c 300 "$T/casync.err" | tr -d '\000-\037')" >&2
			casync_bytes="casync failed"
		else casync_bytes=$( (cd "$T/ca1" && find . -name '*.cacnk' | sort) > "$T/ca1.list"
			(cd "$T/ca0" && find . -name '*.cacnk' | sort) > "$T/ca0.list"
			comm -23 "$T/ca1.list" "$T/ca0.list" | (cd "$T/ca1" && xargs -r stat -c %s) |
				awk -v idx="$(stat -c %s "$T/v$p.caidx")" '{ n += $1 } END { print n + idx }')
		casync_bytes="$casync_bytes ($(awk -v a="$casync_bytes" -v b="$size" 'BEGIN { printf "%.1f", 100 * a / b }') %)"
		fi
	fi
	td=$(median < "$T/times.delta") tw=$(median < "$T/times.whole")
	rd=$(sort -n "$T/rss.delta" | tail -1) rw=$(sort -n "$T/rss.whole" | tail -1)
	rows="$rows| $p % | $size | $sent_delta ($(awk -v a="$sent_delta" -v b="$size" 'BEGIN { printf "%.1f", 100 * a / b }') %) | $reused of $blocks | $casync_bytes | $td | $tw | $((rd / 1024)).$((rd % 1024 * 10 / 1024)) / $((rw / 1024)).$((rw % 1024 * 10 / 1024)) |
"
done
{
	echo
	echo "## delta"
	echo
	echo "A guest running v0 ($files files, $mb MB, make_tree.py; format 3 bundle of $(stat -c %s "$T/www/v0.bundle") bytes)"
	echo "installs v1 with that share of its files changed (delta_tree.py: a new 64-byte region each,"
	echo "every tenth grown by 1 KiB), from nginx on 127.0.0.1.  Bytes: nginx's body bytes for the"
	echo "bundle (the whole download sends all of it); casync: its chunks of v1 missing from v0's"
	echo "store, plus v1's index.  Wall: \`slotupd install\` to SUCCESS (trial included), median of $runs;"
	echo "peak RSS of slotupd, the highest of the runs."
	echo
	echo "| changed | bundle bytes | delta fetched | blocks reused | casync would fetch | delta wall s | whole wall s | peak RSS MiB, delta / whole |"
	echo "|---|---|---|---|---|---|---|---|"
	printf '%s' "$rows"
} | tee "$out/delta.md" >> "$out/report.md"
set +e	# lib.sh's cleanup (the EXIT trap) kills what may be gone already
