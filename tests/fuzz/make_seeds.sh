#!/bin/sh
# Regenerates the seed corpora in tests/fuzz/corpus/ (checked in; run this
# only to refresh them).  Needs a release build (slotpack) and the test keys
# in tests/fuzz/keys/:   tests/fuzz/make_seeds.sh build/release
# Seeds are small (bundles < 64 KiB): the fuzzer mutates them, it does not
# need realistic sizes.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
bin="$top/${1:-build/release}/bin"
K="$top/tests/fuzz/keys"
C="$top/tests/fuzz/corpus"
T=$(mktemp -d /tmp/slotd-seeds.XXXXXX)
trap 'rm -rf "$T"' EXIT
export SOURCE_DATE_EPOCH=1700000000 TZ=UTC

rm -rf "$C"
mkdir -p "$C/bundle" "$C/manifest" "$C/index" "$C/extract" "$C/member" "$C/rpc_message" "$C/config" \
	"$C/state" "$C/history" "$C/control_reply" "$C/control_request"

# A tiny tree: a directory, a file, an executable, a symlink, a hardlink.
tree="$T/tree"
mkdir -p "$tree/bin" "$tree/etc"
printf '#!/bin/sh\necho agent\n' > "$tree/bin/agent"
chmod 755 "$tree/bin/agent"
printf 'setting = 1\n' > "$tree/etc/agent.conf"
ln -s ../etc/agent.conf "$tree/bin/agent.conf"
ln "$tree/etc/agent.conf" "$tree/etc/hardlink.conf"

# format 3 (delta updates, never encrypted): bundles, manifests, and the
# index with its block count before it (fuzz_index.c), plus a handmade one;
# a 40 KB file gets blocks of its own.
head -c 40000 /dev/zero | tr '\0' 'a' > "$T/big"
cp -a "$tree" "$T/tree3" && cp "$T/big" "$T/tree3/etc/big"
for z in zstd gzip; do
	"$bin/slotpack" create -d "$T/tree3" -V 1.0.0 -C fuzz -k "$K/signer.key" -c "$K/signer.pem" \
		-z "$z" --format 3 -o "$C/bundle/format3-$z.bundle"
	tar -xOf "$C/bundle/format3-$z.bundle" manifest.ini > "$C/manifest/format3-$z.ini"
done
blocks=$(( $(tar -xOf "$C/bundle/format3-zstd.bundle" blocks.sha256 | wc -c) / 36 - 1 ))
{ printf "\\$(printf %03o $blocks)"; tar -xOf "$C/bundle/format3-zstd.bundle" delta.index; } > "$C/index/tiny-tree"
{ printf '\000SLOTDIX\001\000\000\002\000'; head -c 32 /dev/zero; printf '\000\002'
  printf '\000\000\001a\000\000\000\000\000\000\000\000\000\000\001\000\001\000\000\001\000'; } > "$C/index/handmade"

# bundle: each compression, plain and encrypted, in format 2 (the default)
# and format 1 (format1-*); manifest: their manifests.
for f in 2 1; do
	p=; [ $f = 1 ] && p=format1-
	for z in gzip xz zstd; do
		"$bin/slotpack" create -d "$tree" -V 1.0.0 -C fuzz -k "$K/signer.key" -c "$K/signer.pem" \
			-z "$z" --format $f -o "$C/bundle/$p$z.bundle"
		tar -xOf "$C/bundle/$p$z.bundle" manifest.ini > "$C/manifest/$p$z.ini"
	done
	"$bin/slotpack" create -d "$tree" -V 2.0.0-rc.1 -C fuzz -k "$K/signer.key" -c "$K/signer.pem" \
		-e "$K/payload.key" --format $f -o "$C/bundle/${p}gzip-encrypted.bundle"
	tar -xOf "$C/bundle/${p}gzip-encrypted.bundle" manifest.ini > "$C/manifest/${p}encrypted.ini"
done

# extract: the payload formats, plus hand-made hostile entries.
tar -C "$tree" --format=ustar -cf "$C/extract/plain.tar" .
tar -C "$tree" --format=pax -czf "$C/extract/pax.tar.gz" .
tar -C "$tree" --format=gnu -cJf "$C/extract/gnu.tar.xz" .
tar -C "$tree" -cf - . | zstd -q -c > "$C/extract/tree.tar.zst"
dd if=/dev/zero of="$T/sparse" bs=1 count=0 seek=65536 2>/dev/null
printf 'x' | dd of="$T/sparse" bs=1 seek=32768 conv=notrunc 2>/dev/null
tar -C "$T" --format=gnu --sparse -cf "$C/extract/sparse.tar" sparse
mkdir -p "$T/hostile"
ln -s /etc/passwd "$T/hostile/abs"
ln -s ../../outside "$T/hostile/up"
tar -C "$T/hostile" --format=ustar -cf "$C/extract/symlinks.tar" .
tar -C "$tree" --format=ustar --transform 's,^\./etc,../etc,' -cf "$C/extract/dotdot.tar" ./etc \
	2>/dev/null

# member: the tree's tar as one member of each filter after fuzz_member's
# two leading bytes; then two gzip members of it (the first short: refused).
tar -C "$tree" --format=ustar -cf "$T/member.tar" .
i=0
for z in "gzip -n -c" "xz -2 -c" "zstd -q -c"; do
	{ printf "\\$(printf %o $i)\\000"; $z < "$T/member.tar"; } > "$C/member/one-${z%% *}"
	i=$((i + 1))
done
{ printf '\000\001'; gzip -n -c < "$T/member.tar"; gzip -n -c < "$T/member.tar"; } > "$C/member/two-gzip"

# rpc_message: every captured body (plain and sealed with the test rpc_key).
n=0
for f in "$top"/tests/data/wire/*.txt; do
	awk '/^body, exact bytes:/ { take = 1; next } take && /^\{/ { print; take = 0 }' "$f" |
	while IFS= read -r body; do
		n=$((n + 1))
		printf '%s' "$body" > "$C/rpc_message/$(basename "$f" .txt)-$n.json"
	done
done
printf '{"method": "rollback", "args": {"upgrade_id": "u-1"}, "_unique_id": "abc", "_context_is_admin": true}' \
	> "$C/rpc_message/rollback.json"

# config: the documented keys.
cat > "$C/config/full.ini" <<'INI'
[slots]
root = /var/lib/slotd
compatible = trove-guest
[agent]
exec = bin/agent --config etc/agent.conf
health = exec
health_exec = bin/health
startup_timeout = 30s
min_uptime = 250ms
max_attempts = 3
[supervisor]
admin_uid = 1000
updater_uid = -1
inhibit_timeout = 5m
[updater]
strategy = http
keyring = /etc/slotd/keyring.pem
max_rate = 1048576
allow_setuid = false
max_entries = 100000
[amqp]
url = amqp://guest:guest@127.0.0.1:5672/
instance_id = 27e25b73-88a1-4526-b2b9-919a28b8b33f
rpc_key = 0123456789abcdef0123456789abcdef
exchange_durable = yes
INI
printf '[agent]\nhealth = http\nhealth_url = http://127.0.0.1:8080/health\n' > "$C/config/http.ini"

# state: a real state file (with its trailer) and a body without one (the
# harness appends a correct trailer).
cat > "$T/state" <<'INI'
# slot state, written atomically by slotd and slotupd
[state]
format = 1
generation = 7
[slot a]
status = good
version = 1.0.0
digest = 0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0
attempts = 0
updated = 1700000000
reason =
[slot b]
status = bad
version = 2.0.0-rc.1
digest =
attempts = 3
updated = 1700000100
reason = health check failed: exit 1
INI
cp "$T/state" "$C/state/body.ini"
crc=$(python3 -c 'import sys, zlib; print("%08x" % zlib.crc32(open(sys.argv[1], "rb").read()))' "$T/state")
{ cat "$T/state"; printf '[end]\ncrc32 = %s\n' "$crc"; } > "$C/state/state"

# history: lines without their CRC prefix (the harness adds them) and one
# real line with it.
printf 'id=u1\tkind=upgrade\tinstance=i1\tfrom=1.0.0\tto=2.0.0\tstrategy=http\tlocation=http://***@h/x\tslot=b\tstate=DOWNLOADING\tstarted=1700000000\tupdated=1700000001\terror=\n' > "$C/history/one"
printf 'id=u1\tkind=upgrade\tstate=NEW\tstarted=1\nid=u1\tstate=FAILED\terror=bad%%20block%%0a7\nid=r2\tkind=rollback\tstate=SUCCESS\tnew=field\n' > "$C/history/fold"
line='id=u3	kind=upgrade	state=SUCCESS	started=5	updated=6'
crc=$(printf '%s' "$line" | python3 -c 'import sys, zlib; print("%08x" % zlib.crc32(sys.stdin.buffer.read()))')
printf '%s %s\n' "$crc" "$line" > "$C/history/with-crc"

# control_reply: first byte 0xff = a CONTROL_LINE_MAX buffer.
printf '\377ok current=a agent.pid=12 agent.state=running agent.healthy=1 a.status=good a.version=v1\n' > "$C/control_reply/status"
printf '\377error busy agent holds the upgrade inhibitor\n' > "$C/control_reply/busy"
printf '\010ok good 2.0.0\nextra' > "$C/control_reply/short"

# control_request: first byte = chunk size (0: all at once).
for r in status 'activate b' 'rollback --force' mark-good mark-bad restart 'bogus x'; do
	printf '\000%s\n' "$r" > "$C/control_request/$(echo "$r" | tr ' -' '__')"
done
printf '\003activate a\r\n' > "$C/control_request/chunked"

find "$C" -type f -size +64k -exec echo "seed too large: {}" \; | grep . && exit 1
echo "seeds: $(find "$C" -type f | wc -l) files, $(du -sk "$C" | cut -f1) KiB"
