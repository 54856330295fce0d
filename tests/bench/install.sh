#!/bin/sh
# Install benchmark against the peers (issue 18, docs/benchmarks.md "Install against the peers").
# One payload (common.sh's tree plus the demo agent) installed by
#   GNU tar and bsdtar, gzip and zstd, each followed by `sync -f`;
#   SWUpdate (signed .swu, `archive` handler, streamed) followed by `sync -f`;
#   `slotupd install` (signature, every block, unpack, syncfs, activation and
#   the agent's trial) from `file` and from `http` (nginx on 127.0.0.1);
# into targets on an ext4 of its own on a loop device, made with the inode
# tables and journal initialised up front: on the machine's main ext4, the
# same `tar -xzf` took 9.0 s into a new directory and 2.6 s into an emptied
# one (lazy inode table init; docs/benchmarks.md).  Every run starts from
# an emptied, reused directory (emptied and synced untimed); the rounds
# alternate the tools, each round starting one tool later, and the ratios are
# medians of each round's paired ratios, so a slow minute of the shared
# machine hits every tool alike.
#   tests/bench/install.sh RELEASE_BUILD_DIR OUTDIR
# Writes OUTDIR/install.md and appends it to OUTDIR/report.md.  Tree: common.sh
# (BENCH_FILES, BENCH_MB); BENCH_RUNS rounds (default 5, BENCH_QUICK=1: 3)
# after one untimed warm-up round.  Exits 77 (skipped) without a loop device
# or a peer tool (packaging/deps.sh installs them).
set -eu
. "$(dirname "$0")/common.sh"
[ -n "${BENCH_RUNS:-}" ] || runs=5
[ -n "${BENCH_RUNS:-}" ] || [ "$quick" != 1 ] || runs=3
B=$build/bin

missing=""
for tool in tar bsdtar zstd swupdate nginx curl openssl losetup mkfs.ext4 fallocate /usr/bin/time; do
	command -v $tool >/dev/null || missing="$missing $tool"
done
if [ -n "$missing" ]; then
	echo "bench install: skipped: missing$missing (packaging/deps.sh installs them)" >&2
	exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/slotd-bench-install.XXXXXX")
chmod 711 "$work"	# nginx's worker (nobody) reads $work/www
mnt=$work/mnt
loopdev="" mounted="" slotd_pid="" nginx_pid=""
# stop PID: TERM, then wait for it (our own child) for at most 10 s; an
# exited child stays a zombie (state Z) until the wait reaps it
stop() {
	kill "$1" 2>/dev/null || return 0
	i=0
	while [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null || echo Z)" != Z ] && [ $i -lt 100 ]; do
		sleep 0.1; i=$((i + 1))
	done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}
cleanup() {
	[ -z "$slotd_pid" ] || stop "$slotd_pid"
	[ -z "$nginx_pid" ] || stop "$nginx_pid"
	if [ -n "$mounted" ]; then
		i=0	# the agent slotd stopped may still hold its cwd for a moment
		until umount "$mnt" 2>/dev/null || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
	fi
	[ -z "$loopdev" ] || losetup -d "$loopdev" || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the filesystem under test ---
# Three trees at once (two slots, one target), each with up to 8 KiB a file
# of block rounding and inode; 256 MiB for the journal and slack.
img_mb=$((3 * (mb + files / 128 + 16) + 256))
fallocate -l "${img_mb}M" "$work/ext4.img"	# allocated now, not under the figures
if ! loopdev=$(losetup -f --show --direct-io=on "$work/ext4.img" 2>"$work/err"); then
	loopdev=""
	echo "bench install: skipped: no loop device ($(head -c 200 "$work/err" | tr -d '\000-\037'))" >&2
	exit 77
fi
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$loopdev"
mkdir "$mnt"
if ! mount "$loopdev" "$mnt" 2>"$work/err"; then
	echo "bench install: skipped: cannot mount an ext4 on $loopdev ($(head -c 200 "$work/err" | tr -d '\000-\037'))" >&2
	exit 77
fi
mounted=1
mkdir "$mnt/target"

# --- inputs, on the main filesystem: keys, tree, archives, .swu, bundles ---
k=$work/keys
mkdir -p "$k" "$work/www" "$work/swtmp"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench \
	-keyout "$k/key.pem" -out "$k/cert.pem" 2>/dev/null
/usr/bin/python3 "$top/tests/bench/make_tree.py" "$work/tree" "$files" "$mb" "$dirs"
mkdir -p "$work/tree/bin"
cp "$build/agents/demo_agent" "$work/tree/bin/agent"
nfiles=$(find "$work/tree" -type f | wc -l)
ndirs=$(find "$work/tree" -mindepth 1 -type d | wc -l)
tree_bytes=$(du -sb "$work/tree" | cut -f1)
tar --format=pax -czf "$work/tree.tar.gz" -C "$work/tree" .
tar --format=pax --zstd -cf "$work/tree.tar.zst" -C "$work/tree" .
for z in gzip zstd; do
	for v in v1 v2; do
		"$B/slotpack" create -d "$work/tree" -V "$v.0.0" -C bench -k "$k/key.pem" \
			-c "$k/cert.pem" -z $z -o "$work/www/$z-$v.bundle"
	done
done

# swu Z IMAGE: $work/Z.swu, SWUpdate's cpio (newc) of a CMS-signed
# sw-description and the tar image, which the `archive` handler streams into
# $mnt/target (installed-directly: no copy to $TMPDIR first) and hashes.
swu() {
	mkdir -p "$work/swu-$1"
	cp "$2" "$work/swu-$1/image"
	cat > "$work/swu-$1/sw-description" <<EOF
software = {
	version = "1.0.0";
	hardware-compatibility = [ "1.0" ];
	files: (
		{
			filename = "image";
			type = "archive";
			path = "$mnt/target";
			sha256 = "$(sha256sum "$2" | cut -d' ' -f1)";
			installed-directly = true;
		}
	);
}
EOF
	openssl cms -sign -in "$work/swu-$1/sw-description" -out "$work/swu-$1/sw-description.sig" \
		-signer "$k/cert.pem" -inkey "$k/key.pem" -outform DER -nosmimecap -binary
	(cd "$work/swu-$1" && bsdtar --format newc -cf "$work/$1.swu" sw-description sw-description.sig image)
	rm -rf "$work/swu-$1"
}
swu gzip "$work/tree.tar.gz"
swu zstd "$work/tree.tar.zst"
echo 'globals : { loglevel = 2; };' > "$work/swupdate.cfg"

# --- nginx on 127.0.0.1, its config, logs and pid file in the work dir ---
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/nginx"
cat > "$work/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 64; }
http {
	access_log off;
	sendfile on;
	default_type application/octet-stream;
	client_body_temp_path $work/nginx/body;
	proxy_temp_path $work/nginx/proxy;
	fastcgi_temp_path $work/nginx/fastcgi;
	uwsgi_temp_path $work/nginx/uwsgi;
	scgi_temp_path $work/nginx/scgi;
	server {
		listen 127.0.0.1:$port;
		root $work/www;
	}
}
EOF
nginx -p "$work/nginx/" -e "$work/nginx/error.log" -c "$work/nginx/nginx.conf" &
nginx_pid=$!
U=http://127.0.0.1:$port

# --- slotd, its root on the loop filesystem ---
cat > "$work/slotd.ini" <<INI
[slots]
root = $mnt/root
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
until [ -S "$mnt/root/run/control.sock" ] &&
	curl -sf -r 0-0 -o /dev/null "$U/gzip-v1.bundle"; do
	i=$((i + 1))
	if [ $i -ge 600 ] || ! kill -0 "$slotd_pid" 2>/dev/null || ! kill -0 "$nginx_pid" 2>/dev/null; then
		echo "bench install: slotd or nginx did not start:" >&2
		cat "$work/slotd.log" "$work/nginx/error.log" >&2 2>/dev/null || true
		exit 1
	fi
	sleep 0.05
done

# Untimed first install, so `current` exists and names the inactive slot.
"$B/slotupd" -c "$work/slotd.ini" install "$work/www/gzip-v1.bundle" > /dev/null 2> "$work/err" ||
	{ echo "bench install: first slotupd install failed:" >&2; cat "$work/err" >&2; exit 1; }
flip=1	# the version last installed; each install takes the other, never a no-op

# The tools: ID|LABEL|TARGET (dir: $mnt/target, slot: the inactive slot)|COMMAND.
# Commands run under sh -c with W (work dir, main fs), T (target), B (our
# binaries), U (nginx's URL) and V (v1 or v2) in the environment.
cat > "$work/tools" <<'EOF'
tar-gz|GNU tar, gzip|dir|tar -xzf "$W/tree.tar.gz" -C "$T" && sync -f "$T"
bsdtar-gz|bsdtar, gzip|dir|bsdtar -xf "$W/tree.tar.gz" -C "$T" && sync -f "$T"
swu-gz|SWUpdate, gzip|dir|TMPDIR="$W/swtmp" swupdate -f "$W/swupdate.cfg" -H bench:1.0 -k "$W/keys/cert.pem" -M -m -i "$W/gzip.swu" && sync -f "$T"
file-gz|slotupd install, gzip, file|slot|"$B/slotupd" -c "$W/slotd.ini" install --allow-downgrade "$W/www/gzip-$V.bundle"
http-gz|slotupd install, gzip, http|slot|"$B/slotupd" -c "$W/slotd.ini" install --allow-downgrade "$U/gzip-$V.bundle"
tar-zst|GNU tar --zstd|dir|tar --zstd -xf "$W/tree.tar.zst" -C "$T" && sync -f "$T"
bsdtar-zst|bsdtar, zstd|dir|bsdtar -xf "$W/tree.tar.zst" -C "$T" && sync -f "$T"
swu-zst|SWUpdate, zstd|dir|TMPDIR="$W/swtmp" swupdate -f "$W/swupdate.cfg" -H bench:1.0 -k "$W/keys/cert.pem" -M -m -i "$W/zstd.swu" && sync -f "$T"
file-zst|slotupd install, zstd, file|slot|"$B/slotupd" -c "$W/slotd.ini" install --allow-downgrade "$W/www/zstd-$V.bundle"
http-zst|slotupd install, zstd, http|slot|"$B/slotupd" -c "$W/slotd.ini" install --allow-downgrade "$U/zstd-$V.bundle"
EOF
export W="$work" B U
ntools=$(wc -l < "$work/tools")

# target KIND: the directory a tool of KIND writes into
target() {
	[ "$1" = dir ] && { echo "$mnt/target"; return; }
	case $(readlink "$mnt/root/current") in
	slots/a) echo "$mnt/root/slots/b" ;;
	slots/b) echo "$mnt/root/slots/a" ;;
	*) echo "bench install: $mnt/root/current names no slot" >&2; return 1 ;;
	esac
}

# measure ROUND ID KIND CMD: empty the target and sync (untimed), run CMD
# once, check it wrote the whole tree, append "ROUND ID NANOSECONDS RSS_KB
# USER_S SYS_S" to $work/runs.  SWUpdate may fail (its error goes into the report and it
# leaves the race); any other tool failing ends the benchmark.
measure() {
	[ ! -e "$work/failed.$2" ] || return 0
	T=$(target "$3")
	find "$T" -mindepth 1 -delete
	sync -f "$mnt"
	[ "$3" = dir ] || flip=$((3 - flip))
	t0=$(date +%s%N)
	if ! T=$T V=v$flip /usr/bin/time -o "$work/time" -f '%M %U %S' sh -c "$4" \
		< /dev/null > "$work/out" 2> "$work/err"; then
		case $2 in swu-*)
			tail -n 5 "$work/err" | tr -d '\000-\010\013-\037' > "$work/failed.$2"
			return 0 ;;
		esac
		echo "bench install: $2 failed:" >&2
		cat "$work/err" >&2
		exit 1
	fi
	t1=$(date +%s%N)
	n=$(find "$T" -type f | wc -l)
	[ "$n" -eq "$nfiles" ] || { echo "bench install: $2 wrote $n files, not $nfiles" >&2; exit 1; }
	[ "$3" = dir ] || [ "$(target slot)" != "$T" ] ||
		{ echo "bench install: $2 did not activate $T" >&2; exit 1; }
	echo "$1 $2 $((t1 - t0)) $(tail -n 1 "$work/time")" >> "$work/runs"
}

: > "$work/runs"
load_first=""
round=0
while [ $round -le "$runs" ]; do	# round 0 warms up, untimed
	awk -v s=$round -v n="$ntools" '{ l[NR - 1] = $0 } END { for (i = 0; i < n; i++) print l[(i + s) % n] }' \
		"$work/tools" > "$work/order"
	while IFS='|' read -r id label kind cmd; do
		measure $round "$id" "$kind" "$cmd"
	done < "$work/order"
	[ $round -gt 0 ] || { : > "$work/runs"; load_first=$(cut -d' ' -f1 /proc/loadavg); }
	echo "bench install: round $round of $runs done" >&2
	round=$((round + 1))
done

load_last=$(cut -d' ' -f1 /proc/loadavg)
mib() { echo "$(($(stat -c %s "$1") / 1048576))"; }
{
	echo
	echo "## install"
	echo
	echo "Tree: $nfiles files in $ndirs directories, $((tree_bytes / 1000000)) MB (\`du -sb\`), half"
	echo "incompressible (\`make_tree.py\` $files $mb $dirs, plus the demo agent as \`bin/agent\`)."
	echo "tar.gz $(mib "$work/tree.tar.gz") MiB, tar.zst $(mib "$work/tree.tar.zst") MiB (pax, default levels);"
	echo "\`slotpack create\` bundles: gzip $(mib "$work/www/gzip-v1.bundle") MiB, zstd $(mib "$work/www/zstd-v1.bundle") MiB."
	echo "Targets on an ext4 of $img_mb MiB of our own (\`mkfs.ext4 -E lazy_itable_init=0,lazy_journal_init=0\`)"
	echo "on a loop device (\`losetup --direct-io=on\`, backing file \`fallocate\`d on the main disk), so"
	echo "every \`sync\` reaches the disk.  Inputs are read from the main filesystem, page cache warm."
	echo
	echo "Each run starts from an emptied, reused directory: \`T\` = one directory for tar, bsdtar and"
	echo "SWUpdate; slotd's inactive slot for \`slotupd\` (it clears the slot itself too: emptied first,"
	echo "that finds nothing).  The emptying and a \`sync -f\` are untimed.  One untimed warm-up round,"
	echo "then $runs rounds; each round runs every tool once, starting one tool later than the round"
	echo "before.  Wall: median of the rounds (\`date +%s%N\` around the command); ratios: medians of the"
	echo "per-round paired ratios (< 1: faster than the reference); CPU: median user + system time of"
	echo "the command's processes (\`/usr/bin/time -f '%U %S'\`: tar's gzip or zstd child counts; slotd's"
	echo "share of an install does not); peak RSS: the largest \`/usr/bin/time -f %M\` of the rounds,"
	echo "that is the largest single process (tar's gzip or zstd child is not added to tar's)."
	echo "Load average (1 min) after the warm-up: $load_first, at the end: $load_last, on $(nproc) cores."
	echo
	awk -f "$top/tests/bench/install_report.awk" "$work/tools" "$work/runs"
	for f in "$work"/failed.*; do
		[ -e "$f" ] || continue
		echo
		echo "${f##*/failed.} failed, dropped after its first failing run; its last lines:"
		echo
		sed 's/^/    /' "$f"
	done
	echo
	echo "Commands, run by \`sh -c\` with W = the work dir on the main filesystem, T = the target,"
	echo "B = $build/bin, U = http://127.0.0.1:PORT (nginx, its own config, \`sendfile on\`),"
	echo "V = v1 or v2 (alternating, so no install is a no-op):"
	echo
	while IFS='|' read -r id label kind cmd; do
		echo "- $label: \`$cmd\`"
	done < "$work/tools"
	echo
	echo "What each command does: tar and bsdtar unpack (no verification) and \`sync -f\` the target"
	echo "filesystem.  SWUpdate verifies sw-description's CMS signature (-k), streams the image"
	echo "into the \`archive\` handler (\`installed-directly\`, libarchive) while it checks its sha256,"
	echo "then \`sync -f\`.  \`slotupd"
	echo "install\` fetches the bundle, verifies its CMS signature and every block's SHA-256 before it"
	echo "unpacks it, clears and fills the inactive slot, syncfs, flips \`current\`, has slotd start the"
	echo "agent on trial (health uptime, min_uptime 0) and exits once the slot is committed and the"
	echo "outcome is in the history."
	echo
	echo "Versions: $(tar --version | head -n 1), $(bsdtar --version), SWUpdate (Debian)" \
		"$(dpkg-query -W -f '${Version}' swupdate 2>/dev/null || echo unknown), $(nginx -v 2>&1 | sed 's|.*: ||')."
} > "$out/install.md"
cat "$out/install.md" >> "$out/report.md"
cat "$out/install.md"
