#!/bin/sh
# slotpack: round trips for every compression with and without encryption,
# in format 2 (the default), format 1 (--format 1) and format 3 (--format 3,
# delta updates: also slotpack diff), stock tools (tar,
# openssl cms, gzip/xz/zstd -dc, the block hash recipes of FORMAT.md) on
# bundles of both formats, reproducible payloads, and every kind of bad
# bundle refused with a reason that names what is wrong.
. "$SLOTD_SRC/tests/support/lib.sh"
B=$SLOTD_BIN
make_keys "$T/keys" || exit 1
K=$T/keys
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$K/payload.key"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$K/other.key"

# A tree with a bit of everything a slot holds, and 2.5 MiB of noise (3 blocks).
tree=$T/tree
mkdir -p "$tree/bin" "$tree/etc/conf.d" "$tree/empty"
cp "$SLOTD_AGENTS/demo_agent" "$tree/bin/agent"
echo "port = 8080" > "$tree/etc/conf.d/agent.conf"
ln -s ../etc/conf.d/agent.conf "$tree/bin/config"
head -c 2621440 /dev/urandom > "$tree/noise"
chmod 0750 "$tree/bin"

create() { "$B/slotpack" create -d "$tree" -V v1.2.3 -C guest -k "$K/ca-signer.key" -c "$K/ca-signer.pem" "$@"; }
same_tree() { diff -r "$tree" "$1" >/dev/null && [ "$(stat -c %a "$1/bin")" = 750 ] &&
	[ "$(readlink "$1/bin/config")" = ../etc/conf.d/agent.conf ]; }

for z in gzip xz zstd; do
	check "create with $z" create -z $z -o "$T/$z.bundle"
	check "verify $z" "$B/slotpack" verify -K "$K/keyring.pem" "$T/$z.bundle"
	mkdir -p "$T/out-$z"
	check "extract $z gives the same tree" sh -c '"$0" extract -K "$1" -o "$2" "$3" && diff -r "$4" "$2"' \
		"$B/slotpack" "$K/keyring.pem" "$T/out-$z" "$T/$z.bundle" "$tree"
	check "extract $z keeps modes and links" same_tree "$T/out-$z"
	check "create encrypted with $z" create -z $z -e "$K/payload.key" -o "$T/$z-enc.bundle"
	mkdir -p "$T/out-$z-enc"
	check "extract encrypted $z gives the same tree" sh -c '"$0" extract -K "$1" -e "$2" -o "$3" "$4" && diff -r "$5" "$3"' \
		"$B/slotpack" "$K/keyring.pem" "$K/payload.key" "$T/out-$z-enc" "$T/$z-enc.bundle" "$tree"
done
for enc in "" "-e $K/payload.key"; do
	f1=$T/f1${enc:+-enc}.bundle
	check "create format 1 ${enc:+encrypted}" create --format 1 $enc -o "$f1"
	rm -rf "$T/out-f1"; mkdir -p "$T/out-f1"
	check "extract format 1 ${enc:+encrypted} gives the same tree" sh -c '"$0" extract -K "$1" $2 -o "$3" "$4" && diff -r "$5" "$3"' \
		"$B/slotpack" "$K/keyring.pem" "$enc" "$T/out-f1" "$f1" "$tree"
done
check "bundles are 0644" [ "$(stat -c %a "$T/gzip.bundle")" = 644 ]
check "inspect names format, version, signer, members, encryption" sh -c '"$0" inspect "$1" > "$2" &&
	grep -q "^format: *2" "$2" && grep -q "^version: *v1.2.3" "$2" && grep -q "packager of ca" "$2" &&
	grep -q "^blocks: *[0-9]* members of 131072 bytes decoded" "$2" &&
	grep -q "^encryption: *aes-256-ctr, key id" "$2"' "$B/slotpack" "$T/gzip-enc.bundle" "$T/inspect.out"
check "inspect of format 1 names its blocks" sh -c '"$0" inspect "$1" > "$2" &&
	grep -q "^format: *1" "$2" && grep -q "^blocks: *3 of 1048576 bytes" "$2"' \
	"$B/slotpack" "$T/f1.bundle" "$T/inspect.out"
check "chunk size: --chunk-size 65536 gives more members" sh -c '"$0" create -d "$1" -V v1 -C g -k "$2" -c "$3" --chunk-size 65536 -o "$4" &&
	"$0" inspect "$4" | grep -q "members of 65536 bytes"' "$B/slotpack" "$tree" "$K/ca-signer.key" "$K/ca-signer.pem" "$T/c64.bundle"
check "bad --chunk-size and --format are usage errors" sh -c '"$0" create -d "$1" -V v1 -C g -k "$2" -c "$3" --chunk-size 4096 -o "$4"; [ $? = 2 ] &&
	{ "$0" create -d "$1" -V v1 -C g -k "$2" -c "$3" --format 4 -o "$4"; [ $? = 2 ]; } && [ ! -e "$4" ]' \
	"$B/slotpack" "$tree" "$K/ca-signer.key" "$K/ca-signer.pem" "$T/bad-chunk.bundle"

# Format 3 (docs/delta.md): each compression round-trips, the payload and the
# index are reproducible, -e is a usage error, FORMAT.md's recipe gives block
# 0's tar hash, and slotpack diff of a bundle against itself fetches no block.
for z in gzip xz zstd; do
	check "format 3 with $z: create, verify, extract the same tree" sh -c '"$0" create -d "$1" -V v1.2.3 -C guest -k "$2" -c "$3" --format 3 -z $4 -o "$5" &&
		"$0" verify -K "$6" "$5" && rm -rf "$7" && mkdir -p "$7" && "$0" extract -K "$6" -o "$7" "$5" && diff -r "$1" "$7"' \
		"$B/slotpack" "$tree" "$K/ca-signer.key" "$K/ca-signer.pem" $z "$T/f3-$z.bundle" "$K/keyring.pem" "$T/out-f3"
done
check "format 3: the same tree and SOURCE_DATE_EPOCH give the same payload and index" sh -c '
	for i in 1 2; do SOURCE_DATE_EPOCH=1700000000 "$0" create -d "$1" -V v1 -C g -k "$2" -c "$3" --format 3 -o "$4.$i" || exit 1; done
	[ "$(tar -xOf "$4.1" payload | sha256sum)" = "$(tar -xOf "$4.2" payload | sha256sum)" ] &&
	[ "$(tar -xOf "$4.1" delta.index | sha256sum)" = "$(tar -xOf "$4.2" delta.index | sha256sum)" ]' \
	"$B/slotpack" "$tree" "$K/ca-signer.key" "$K/ca-signer.pem" "$T/f3-repro.bundle"
check "format 3 cannot be encrypted: a usage error" sh -c '"$0" create -d "$1" -V v1 -C g -k "$2" -c "$3" --format 3 -e "$4" -o "$5"; [ $? = 2 ] && [ ! -e "$5" ]' \
	"$B/slotpack" "$tree" "$K/ca-signer.key" "$K/ca-signer.pem" "$K/payload.key" "$T/f3-enc.bundle"
check "format 3: tar lists five members, the index before the payload" sh -c \
	'[ "$(tar -tf "$0" | tr "\n" " ")" = "manifest.ini manifest.sig blocks.sha256 delta.index payload " ]' "$T/f3-zstd.bundle"
check "format 3: block 0's tar hash by FORMAT.md's recipe" sh -c 'rm -rf "$1" && mkdir -p "$1" && cd "$1" && tar -xf "$0" &&
	len=$(head -c 4 blocks.sha256 | od -An -tu1 | awk "{ print \$1*16777216 + \$2*65536 + \$3*256 + \$4 }") &&
	[ "$(head -c $len payload | zstd -dc | sha256sum | cut -d" " -f1)" = "$(head -c 44 delta.index | tail -c 32 | od -An -tx1 | tr -d " \n")" ] &&
	[ "$(sha256sum delta.index | cut -d" " -f1)" = "$(sed -n "s/^index_sha256 = //p" manifest.ini)" ]' "$T/f3-zstd.bundle" "$T/stock3"
check "slotpack diff of a bundle against itself: no block fetched" sh -c '"$0" diff -K "$1" "$2" "$2" | grep -q "^fetched: *0 blocks in 0 ranges"' \
	"$B/slotpack" "$K/keyring.pem" "$T/f3-zstd.bundle"
check "slotpack diff needs -K and two bundles" sh -c '"$0" diff "$1" "$1"; [ $? = 2 ] && { "$0" diff -K "$2" "$1"; [ $? = 2 ]; }' \
	"$B/slotpack" "$T/f3-zstd.bundle" "$K/keyring.pem"

# Stock tools: tar lists the members, openssl checks the signature.
check "tar lists the four members in order" sh -c '[ "$(tar -tf "$0" | tr "\n" " ")" = "manifest.ini manifest.sig blocks.sha256 payload " ]' "$T/gzip.bundle"
mkdir -p "$T/stock"
tar -xf "$T/gzip.bundle" -C "$T/stock"
check "openssl cms -verify accepts the manifest signature" openssl cms -verify -binary -inform DER \
	-in "$T/stock/manifest.sig" -content "$T/stock/manifest.ini" -CAfile "$K/keyring.pem" -out /dev/null
# FORMAT.md's recipes, as written there: each block's length and hash from
# blocks.sha256 (format 2), whole-payload hashes, and the stock decoders,
# which read a payload of concatenated members as one tar.
recipe_blocks() { # every block of a format 2 payload against its entry
	at=0 i=0 count=$(($(stat -c %s "$1/blocks.sha256") / 36))
	while [ $i -lt $count ]; do
		len=$(dd if="$1/blocks.sha256" bs=36 skip=$i count=1 2>/dev/null | head -c 4 | od -An -tu1 |
			awk '{ print $1*16777216 + $2*65536 + $3*256 + $4 }')
		want=$(dd if="$1/blocks.sha256" bs=36 skip=$i count=1 2>/dev/null | tail -c 32 | od -An -tx1 | tr -d ' \n')
		got=$(tail -c +$((at + 1)) "$1/payload" | head -c "$len" | sha256sum | cut -c1-64)
		[ "$got" = "$want" ] || { echo "block $i: $got != $want"; return 1; }
		at=$((at + len)) i=$((i + 1))
	done
	[ $at = "$(stat -c %s "$1/payload")" ] && [ $i -gt 1 ]
}
check "format 2: block 0 by FORMAT.md's recipe" sh -c 'cd "$0" &&
	len=$(head -c 4 blocks.sha256 | od -An -tu1 | awk "{ print \$1*16777216 + \$2*65536 + \$3*256 + \$4 }") &&
	[ "$(head -c $len payload | sha256sum | cut -c1-64)" = "$(head -c 36 blocks.sha256 | tail -c 32 | od -An -tx1 | tr -d " \n")" ]' "$T/stock"
check "format 2: every block's length and hash" recipe_blocks "$T/stock"
check "blocks.sha256 and payload hash as the manifest says" sh -c 'cd "$0" &&
	grep -q "^blocks_sha256 = $(sha256sum blocks.sha256 | cut -c1-64)$" manifest.ini &&
	grep -q "^sha256 = $(sha256sum payload | cut -c1-64)$" manifest.ini' "$T/stock"
check "gzip -dc | tar lists a format 2 payload" sh -c 'gzip -dc "$0/payload" | tar -t | grep -qx noise' "$T/stock"
check "tar -tzf lists a format 2 payload" sh -c 'tar -tzf "$0/payload" | grep -qx bin/agent' "$T/stock"
for z in xz zstd; do
	mkdir -p "$T/stock-$z"
	tar -xf "$T/$z.bundle" -C "$T/stock-$z"
	check "$z -dc | tar lists a format 2 payload" sh -c '$1 -dc "$0/payload" | tar -t | grep -qx noise' "$T/stock-$z" $z
done
mkdir -p "$T/stock-f1"
tar -xf "$T/f1.bundle" -C "$T/stock-f1"
check "format 1: block 0's hash is the first 32 bytes of blocks.sha256" sh -c \
	'[ "$(head -c 1048576 "$0/payload" | sha256sum | cut -c1-64)" = "$(head -c 32 "$0/blocks.sha256" | od -An -tx1 | tr -d " \n")" ]' "$T/stock-f1"
check "format 1: block 2 by dd" sh -c \
	'[ "$(dd if="$0/payload" bs=1048576 skip=2 count=1 2>/dev/null | sha256sum | cut -c1-64)" = "$(tail -c 32 "$0/blocks.sha256" | od -An -tx1 | tr -d " \n")" ]' "$T/stock-f1"
check "gzip -dc | tar lists a format 1 payload" sh -c 'gzip -dc "$0/payload" | tar -t | grep -qx noise' "$T/stock-f1"

# Reproducible: same tree and SOURCE_DATE_EPOCH, same payload bytes.
SOURCE_DATE_EPOCH=1700000000 create -o "$T/r1.bundle" && touch "$tree/etc/conf.d/agent.conf" &&
SOURCE_DATE_EPOCH=1700000000 create -o "$T/r2.bundle"
mkdir -p "$T/r1" "$T/r2"; tar -xf "$T/r1.bundle" -C "$T/r1"; tar -xf "$T/r2.bundle" -C "$T/r2"
check "two builds give identical payloads" cmp "$T/r1/payload" "$T/r2/payload"
check "and identical manifests" cmp "$T/r1/manifest.ini" "$T/r2/manifest.ini"

# refused BUNDLE REASON [extra args]: verify fails (exit 1) naming REASON.
refused() {
	bundle=$1 reason=$2; shift 2
	"$B/slotpack" verify -K "$K/keyring.pem" "$@" "$bundle" > "$T/refusal" 2>&1
	rc=$?
	[ $rc = 1 ] && grep -q -- "$reason" "$T/refusal" || { echo "rc=$rc: $(cat "$T/refusal")"; return 1; }
}
rebuild() { # rebuild OUT MEMBER... : a ustar of the given members of $T/stock, in order
	out=$1; shift
	(cd "$T/stock" && tar --format=ustar -cf "$out" "$@")
}
check "wrong signer" refused "$T/gzip.bundle" "does not chain to the keyring" -K "$K/rogue.pem"
sed 's/version = v1.2.3/version = v9.9.9/' "$T/stock/manifest.ini" > "$T/m" && cp "$T/m" "$T/stock/manifest.ini"
rebuild "$T/tampered-manifest.bundle" manifest.ini manifest.sig blocks.sha256 payload
check "tampered manifest" refused "$T/tampered-manifest.bundle" "signature does not verify"
tar -xf "$T/gzip.bundle" -C "$T/stock" manifest.ini
cp "$T/gzip.bundle" "$T/tampered-block.bundle"
size=$(stat -c %s "$T/gzip.bundle")
printf 'X' | dd of="$T/tampered-block.bundle" bs=1 seek=$((size - 600000)) conv=notrunc 2>/dev/null
check "tampered block, named by number" refused "$T/tampered-block.bundle" "payload block [0-9]* of [0-9]* does not match"
head -c $((size - 700000)) "$T/gzip.bundle" > "$T/truncated.bundle"
check "truncated" refused "$T/truncated.bundle" "payload block [0-9]* of [0-9]*: Truncated"
head -c 1024 "$T/gzip.bundle" > "$T/short.bundle"
check "cut inside the manifest" refused "$T/short.bundle" "bundle"
rebuild "$T/reordered.bundle" manifest.sig manifest.ini blocks.sha256 payload
check "reordered members" refused "$T/reordered.bundle" "member 1 is 'manifest.sig', expected 'manifest.ini'"
rebuild "$T/missing.bundle" manifest.ini manifest.sig payload
check "missing hash list" refused "$T/missing.bundle" "member 3 is 'payload', expected 'blocks.sha256'"
echo extra > "$T/stock/extra"
rebuild "$T/extra.bundle" manifest.ini manifest.sig blocks.sha256 payload extra
check "extra member" refused "$T/extra.bundle" "an extra member after the payload ('extra')"
head -c 100 /dev/zero >> "$T/stock/payload"
rebuild "$T/long.bundle" manifest.ini manifest.sig blocks.sha256 payload
check "payload longer than the manifest says" refused "$T/long.bundle" "payload is .* bytes, the manifest says"
tar -xf "$T/gzip.bundle" -C "$T/stock" payload
check "wrong decryption key" refused "$T/gzip-enc.bundle" "wrong decryption key" -e "$K/other.key"
check "encrypted, no key" refused "$T/gzip-enc.bundle" "no decryption key"

# A manifest that is signed but wrong: unknown key, bad value, future format.
resign() { # resign SED-EXPR OUT [SIGNER]: edit the manifest, sign it again (trusted key by default)
	s=${3:-ca}
	sed "$1" "$T/stock/manifest.ini" > "$T/stock/m2.ini"
	openssl cms -sign -binary -in "$T/stock/m2.ini" -signer "$K/$s-signer.pem" \
		-inkey "$K/$s-signer.key" -outform DER -out "$T/stock/m2.sig" 2>/dev/null
	mkdir -p "$T/re"; cp "$T/stock/m2.ini" "$T/re/manifest.ini"; cp "$T/stock/m2.sig" "$T/re/manifest.sig"
	cp "$T/stock/blocks.sha256" "$T/stock/payload" "$T/re/"
	(cd "$T/re" && tar --format=ustar -cf "$2" manifest.ini manifest.sig blocks.sha256 payload)
}
resign 's/^compression = gzip/compression = gzip\ncolour = blue/' "$T/unknown-key.bundle"
check "unknown manifest key" refused "$T/unknown-key.bundle" "manifest.ini: \[payload\] colour: unknown key"
# Verify before parse: an untrusted signer's manifest is never parsed, so
# the refusal is the signature's, not the unknown key's.
resign 's/^compression = gzip/compression = gzip\ncolour = blue/' "$T/rogue-unknown-key.bundle" rogue
check "untrusted manifest refused before parsing" refused "$T/rogue-unknown-key.bundle" "does not chain to the keyring"
resign 's/^compatible = .*/compatible = g\x1b[2J\r/' "$T/escape.bundle"
check "control characters in a manifest value refused" refused "$T/escape.bundle" "compatible: not printable ASCII"
resign 's/^block_count = .*/block_count = three/' "$T/bad-value.bundle"
check "malformed manifest value" refused "$T/bad-value.bundle" "block_count: not a block count"
resign 's/^format = 2/format = 4/' "$T/format.bundle"
check "unsupported format version" refused "$T/format.bundle" "format: unsupported format version"
resign 's/^format = 2/format = 1/' "$T/format.bundle"
check "format 1 manifest over a format 2 payload" refused "$T/format.bundle" "block_size: missing"

# create refuses what cannot be in a slot.
bad=$T/bad-tree
mkdir -p "$bad"
echo ok > "$bad/file"
ln -s ../../etc/passwd "$bad/escape"
check "create refuses an escaping symlink" sh -c '! "$0" create -d "$1" -V v1 -C g -k "$2" -c "$3" -o "$4" 2>&1 | grep -q . ||
	"$0" create -d "$1" -V v1 -C g -k "$2" -c "$3" -o "$4" 2>&1 | grep -q "escape: symlink to .* leaves the tree"' \
	"$B/slotpack" "$bad" "$K/ca-signer.key" "$K/ca-signer.pem" "$T/bad.bundle"
rm "$bad/escape"
mkfifo "$bad/fifo"
check "create refuses a fifo" sh -c '"$0" create -d "$1" -V v1 -C g -k "$2" -c "$3" -o "$4" 2>&1 | grep -q "fifo: fifo not allowed"' \
	"$B/slotpack" "$bad" "$K/ca-signer.key" "$K/ca-signer.pem" "$T/bad.bundle"
rm "$bad/fifo"
mknod "$bad/null" c 1 3 2>/dev/null &&
	check "create refuses a device node" sh -c '"$0" create -d "$1" -V v1 -C g -k "$2" -c "$3" -o "$4" 2>&1 | grep -q "null: device node not allowed"' \
	"$B/slotpack" "$bad" "$K/ca-signer.key" "$K/ca-signer.pem" "$T/bad.bundle"
check "nothing was written for refused trees" [ ! -e "$T/bad.bundle" ]
check "create refuses a bad version" sh -c '"$0" create -d "$1" -V "1..2" -C g -k "$2" -c "$3" -o "$4" 2>&1 | grep -q "version"' \
	"$B/slotpack" "$tree" "$K/ca-signer.key" "$K/ca-signer.pem" "$T/bad.bundle"
check "usage errors exit 2" sh -c '"$0" verify; [ $? = 2 ]' "$B/slotpack"
finish
