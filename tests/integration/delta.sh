#!/bin/sh
# Delta updates (docs/delta.md): format 3 bundles installed from the running
# slot and the blocks it lacks, fetched by range requests from nginx on
# 127.0.0.1 (tests/support/nginx.sh).  v1 -> v2 -> v3 -> v4 change 1 %, 5 %
# and 25 % of the files: each installs byte-identical while well under the
# bundle's size comes over the wire (nginx's own count of body bytes), and
# the history says how much was fetched and reused.  Then: a file edited in
# the running slot (its blocks fetched), one range a request (max_ranges 1),
# servers without ranges (nginx max_ranges 0, python3 -m http.server), a
# tampered block (refused, then the whole bundle, refused alike), signed
# hostile indexes and a server answering ranges wrongly
# (tests/support/range_liar.py), each falling back to the whole bundle with
# one log line; format 2 bundles are fetched whole as before.  Last, the slot
# about to be overwritten as a second source.
. "$SLOTD_SRC/tests/support/lib.sh"
. "$SLOTD_SRC/tests/support/nginx.sh"
B=$SLOTD_BIN
S=$SLOTD_SRC/tests/support

make_keys "$T/keys" || { echo "openssl failed"; exit 1; }
mkdir -p "$T/www" "$T/tree"
/usr/bin/python3 "$S/delta_tree.py" make "$T/tree" 300 12 || exit 1
mkdir -p "$T/tree/bin"
cp "$SLOTD_AGENTS/demo_agent" "$T/tree/bin/agent"
echo good > "$T/tree/behaviour"
pack() { # pack VERSION OUT [SLOTPACK OPTIONS]: the current $T/tree, signed
	v=$1 out=$2
	shift 2
	rm -rf "$T/tree-$v"
	cp -a "$T/tree" "$T/tree-$v"
	SOURCE_DATE_EPOCH=$(( 1700000000 + ${v#v} )) "$B/slotpack" create --format 3 -d "$T/tree-$v" \
		-V "$v.0.0" -C test-guest -k "$T/keys/ca-signer.key" -c "$T/keys/ca-signer.pem" \
		-o "$T/www/$out" "$@" >/dev/null
}
pack v1 v1.bundle
/usr/bin/python3 "$S/delta_tree.py" change "$T/tree" 1 11 >/dev/null && pack v2 v2.bundle
/usr/bin/python3 "$S/delta_tree.py" change "$T/tree" 5 12 >/dev/null && pack v3 v3.bundle
/usr/bin/python3 "$S/delta_tree.py" change "$T/tree" 25 13 >/dev/null && pack v4 v4.bundle
/usr/bin/python3 "$S/delta_tree.py" change "$T/tree" 5 14 >/dev/null && pack v5 v5.bundle
pack v6 v6.bundle	# the same tree as v5: every block reusable
/usr/bin/python3 "$S/delta_tree.py" change "$T/tree" 5 15 >/dev/null && pack v7 v7.bundle
/usr/bin/python3 "$S/delta_tree.py" change "$T/tree" 5 16 >/dev/null && pack v8 v8.bundle
/usr/bin/python3 "$S/delta_tree.py" change "$T/tree" 5 17 >/dev/null && pack v9 v9.bundle
"$B/slotpack" create --format 2 -d "$T/tree-v9" -V v9.5.0 -C test-guest -k "$T/keys/ca-signer.key" \
	-c "$T/keys/ca-signer.pem" -o "$T/www/v95-format2.bundle" >/dev/null
/usr/bin/python3 "$S/delta_tree.py" change "$T/tree" 5 18 >/dev/null && pack v10 v10.bundle
# v10 with one byte flipped inside a block a guest on v9.5 must fetch: the
# block of the first file that changed between v9 and v10
cp "$T/www/v10.bundle" "$T/www/tampered.bundle"
changed=$(cd "$T/tree-v10" && for f in data/*/*; do cmp -s "$f" "$T/tree-v9/$f" || { echo "$f"; break; }; done)
at=$(/usr/bin/python3 - "$T/www/v10.bundle" "$changed" <<'PY'
import hashlib, sys, tarfile
t = tarfile.open(sys.argv[1])
payload = t.getmember("payload").offset_data
index = t.extractfile("delta.index").read()
hashes = t.extractfile("blocks.sha256").read()
lens = [int.from_bytes(hashes[i:i + 4], "big") for i in range(0, len(hashes), 36)]
at, pos, want = 8, payload, sys.argv[2].encode()
for n, length in enumerate(lens):
    items = int.from_bytes(index[at + 36:at + 38], "big"); at += 38
    hit = False
    for _ in range(items):
        kind = index[at]; at += 1
        if kind == 0:
            plen = int.from_bytes(index[at:at + 2], "big")
            hit |= index[at + 2:at + 2 + plen] == want
            at += 2 + plen + 12
        else:
            at += 4
    if hit:
        print(pos + length // 2); break
    pos += length
PY
)
printf 'X' | dd of="$T/www/tampered.bundle" bs=1 seek="$at" conv=notrunc 2>/dev/null

nginx_start "$T/www" "$T/nginx" || { echo "nginx did not start"; exit 1; }
/usr/bin/python3 -m http.server --bind 127.0.0.1 0 --directory "$T/www" > "$T/pyhttp.out" 2>&1 &
PIDS="$PIDS $!"
wait_for 10 grep -q 'port' "$T/pyhttp.out" || { echo "http.server did not start"; exit 1; }
PYHTTP=http://127.0.0.1:$(sed -n 's/.* port \([0-9]*\).*/\1/p' "$T/pyhttp.out" | head -1)

cat > "$T/slotd.ini" <<INI
[slots]
root = $T/root
compatible = test-guest
[agent]
exec = bin/agent
health = notify
startup_timeout = 3s
min_uptime = 300ms
max_attempts = 2
stop_timeout = 2s
[updater]
keyring = $T/keys/keyring.pem
retries = 2
retry_backoff = 100ms
retry_backoff_max = 1s
low_speed_time = 2s
INI
export AGENT_LOG="$T/agent.log"
"$B/slotd" -c "$T/slotd.ini" 2> "$T/slotd.log" &
PIDS="$PIDS $!"
wait_for 10 test -S "$T/root/run/control.sock" || { echo "slotd did not start"; cat "$T/slotd.log"; exit 1; }

install() { "$B/slotupd" -c "$T/slotd.ini" install "$@" > "$T/last.out" 2>&1; rc=$?; cat "$T/last.out" >> "$T/slotupd.out"; return $rc; }
current() { "$B/slotctl" -c "$T/slotd.ini" status --json | json_get '["current"]'; }
# the last attempt's history record, one field
last() { "$B/slotctl" -c "$T/slotd.ini" history --json |
	/usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)[-1]['$1'])"; }
same_tree() { diff -r "$T/root/slots/$(current)" "$T/tree-$1" >/dev/null; }
# bytes nginx sent for URI since the log was cut
served() { awk -v u="$1" '$1 == u { n += $3 } END { print n + 0 }' "$T/nginx/access.log"; }
cut_log() { : > "$T/nginx/access.log"; }
size() { stat -c %s "$T/www/$1"; }
# delta_step VERSION MAX_PERCENT: installs VERSION from nginx as a delta
delta_step() {
	cut_log
	install "$NGINX/$1.bundle" || { tail -5 "$T/last.out"; return 1; }
	same_tree "$1" || { echo "tree differs"; return 1; }
	sent=$(served "/$1.bundle") whole=$(size "$1.bundle")
	echo "# $1: $sent of $whole bytes over the wire ($(( sent * 100 / whole ))%), history fetched $(last bytes_fetched) reused $(last bytes_reused)"
	# the history counts the bundle's bytes; nginx also multipart's framing
	fetched=$(last bytes_fetched)
	[ "$sent" -gt 0 ] && [ $(( sent * 100 )) -le $(( whole * $2 )) ] &&
		[ "$fetched" -le "$sent" ] && [ "$sent" -le $(( fetched + fetched / 50 + 4096 )) ] &&
		[ "$(last bytes_reused)" -gt 0 ] &&
		grep -q "delta: .* blocks from the running slot" "$T/last.out"
}

status_of() { curl -s -o /dev/null -w "%{http_code}" -r 0-9 "$1/v1.bundle"; }
diff_total() { sed -n 's/^total: *\([0-9]*\) .*/\1/p' "$T/diff.out"; }
slotpack_diff() { "$B/slotpack" diff -K "$T/keys/keyring.pem" "$T/www/$1.bundle" "$T/www/$2.bundle"; }
first_install() { cut_log; install "$NGINX/v1.bundle" && same_tree v1 && [ "$(served /v1.bundle)" = "$(size v1.bundle)" ]; }
history_has_bytes() { "$B/slotctl" -c "$T/slotd.ini" history | tail -1 | grep -q "\[fetched [0-9]*, reused [0-9]*\]"; }
edit_running() { printf "local edit" >> "$T/root/slots/$(current)/data/d03/f00003"; }
edited_fetched() { # a guest on v4 fetches fewer blocks of v5 than this one did
	n=$(slotpack_diff v4 v5 | sed -n 's/^fetched: *\([0-9]*\) blocks.*/\1/p')
	got=$(sed -n 's/.*delta: \([0-9]*\) of \([0-9]*\) blocks.*/\2 \1/p' "$T/last.out")
	set -- $got
	[ -n "$n" ] && [ $(( $1 - $2 )) -gt "$n" ]
}
one_range() {
	cut_log
	install "$NGINX/one/v7.bundle" && same_tree v7 &&
		[ "$(grep -c '^/one/v7.bundle 206' "$T/nginx/access.log")" -gt 3 ] &&
		[ "$(grep -c '^/one/v7.bundle 200' "$T/nginx/access.log")" -le 1 ] &&
		[ "$(last bytes_reused)" -gt 0 ]
}
no_ranges() { # no_ranges URL VERSION
	install "$1" && same_tree "$2" && [ "$(last bytes_reused)" = 0 ] &&
		[ "$(grep -c 'delta: .*ignores range requests.*downloading the whole bundle' "$T/last.out")" = 1 ]
}
format2_whole() {
	install "$NGINX/v95-format2.bundle" && [ "$(last bytes_reused)" = 0 ] &&
		grep -q "delta: a bundle of format 2: downloading it whole" "$T/last.out"
}
tampered() {
	before=$(current)
	! install "$NGINX/tampered.bundle" || return 1
	[ "$(grep -c 'delta: bundle: payload block [0-9]* of [0-9]* does not match its signed hash; downloading the whole bundle' "$T/last.out")" = 1 ] &&
		[ "$(current)" = "$before" ] && [ "$(last state)" = FAILED ] &&
		last error | grep -q "payload block [0-9]* of [0-9]* does not match its signed hash"
}

check "python3 -m http.server ignores Range (answers 200)" [ "$(status_of "$PYHTTP")" = 200 ]
check "nginx answers a Range with 206" [ "$(status_of "$NGINX")" = 206 ]
check "v1 installs whole (no running slot), all of it fetched" first_install
check "slotpack diff v1 v2 says what a guest fetches" sh -c '"$0" diff -K "$1" "$2/v1.bundle" "$2/v2.bundle" > "$3" && grep -q "^total: " "$3"' \
	"$B/slotpack" "$T/keys/keyring.pem" "$T/www" "$T/diff.out"
check "1 % changed: v2 by delta, under 10 % of its bytes" delta_step v2 10
check "and slotpack diff predicted those bytes" [ "$(diff_total)" = "$(last bytes_fetched)" ]
check "5 % changed: v3 by delta, under 10 % of its bytes" delta_step v3 10
check "25 % changed: v4 by delta, under 40 % of its bytes" delta_step v4 40
check "slotctl history shows fetched and reused" history_has_bytes
check "a file edited locally in the running slot" edit_running
check "v5 installs by delta all the same, byte-identical" delta_step v5 15
check "the edited file's blocks came over the wire" edited_fetched
check "the same tree again: only head and index fetched" delta_step v6 5
check "one range a request where multipart is refused (max_ranges 1)" one_range
check "nginx max_ranges 0: the whole bundle, after one log line" no_ranges "$NGINX/norange/v8.bundle" v8
check "python3 -m http.server: the whole bundle, after one log line" no_ranges "$PYHTTP/v9.bundle" v9
check "a format 2 bundle is fetched whole, as before" format2_whole
check "a tampered block is refused, then the whole bundle, refused alike" tampered
check "v10 itself then installs by delta" delta_step v10 15
# Signed bundles with a hostile index (tests/support/delta_resign.py): the
# index reader refuses them, or the rebuilt bytes do not hash; either way the
# whole bundle, whose payload is sound, installs.
hostile_index() { # hostile_index MODE WHAT-THE-LOG-SAYS
	/usr/bin/python3 "$S/delta_resign.py" "$T/www/v11.bundle" "$T/www/hostile-$1.bundle" "$1" \
		"$T/keys/ca-signer.pem" "$T/keys/ca-signer.key" || return 1
	install --allow-downgrade "$NGINX/hostile-$1.bundle" && same_tree v11 &&
		grep -q "$2" "$T/last.out"
}
/usr/bin/python3 "$S/delta_tree.py" change "$T/tree" 5 19 >/dev/null && pack v11 v11.bundle
check "a signed index with a '..' path: refused, the whole bundle installs" \
	hostile_index dotdot "delta: delta.index: block [0-9]*: a path that is not a relative path beneath the tree; downloading the whole bundle"
check "a signed index claiming 65535 items: refused, the whole bundle installs" \
	hostile_index items "delta: delta.index: block 0: 65535 items, not 1 to 1922; downloading the whole bundle"
check "a signed index naming the wrong file: that block fetched, the rest rebuilt" \
	hostile_index liar "delta: [0-9]* of [0-9]* blocks from the running slot"
# A server that answers ranges wrongly (tests/support/range_liar.py): each
# answer refused as it comes, and the whole bundle, served right, installs.
/usr/bin/python3 "$S/range_liar.py" "$T/www" > "$T/liar.out" 2>&1 &
PIDS="$PIDS $!"
wait_for 10 grep -q '^PORT ' "$T/liar.out" || { echo "range_liar.py did not start"; exit 1; }
LIAR=http://127.0.0.1:$(sed -n 's/^PORT //p' "$T/liar.out")
n=12
for mode in shifted huge padded short; do	# a new version each: none is a no-op
	/usr/bin/python3 "$S/delta_tree.py" change "$T/tree" 5 $((20 + n)) >/dev/null && pack v$n v$n.bundle
	eval "liar_$mode=v$n"
	n=$((n + 1))
done
liar() { # liar MODE WHAT-THE-LOG-SAYS
	eval "v=\$liar_$1"
	install "$LIAR/$1/$v.bundle" && same_tree "$v" && [ "$(last bytes_reused)" = 0 ] &&
		[ "$(grep -c "delta: .*$2.*; downloading the whole bundle" "$T/last.out")" = 1 ]
}
check "a range answered one byte off: refused, then the whole bundle" liar shifted "answered bytes 1-16384, asked for 0-16383"
check "a range answered with 4 MiB more: refused, then the whole bundle" liar huge "more than the range it announced"
check "a multipart answer padded with 64 KiB: refused, then the whole bundle" liar padded "a multipart answer with more than 1536 bytes around its parts"
# a server that always closes halfway is asked for the rest until nothing comes
check "ranges answered short again and again: refused, then the whole bundle" liar short "an empty answer to a range request"
# The slot about to be overwritten as a second source: the guest runs the
# last liar version, the other slot holds the one before; a release made from
# that one fetches less than the running slot alone would need.
rm -rf "$T/tree" && cp -a "$T/tree-$liar_padded" "$T/tree"
/usr/bin/python3 "$S/delta_tree.py" change "$T/tree" 1 40 >/dev/null && pack v20 v20.bundle
other_slot() {
	alone=$(slotpack_diff "$liar_short" v20 | sed -n 's/^total: *\([0-9]*\) .*/\1/p')
	install "$NGINX/v20.bundle" && same_tree v20 &&
		grep -q "delta: [0-9]* of [0-9]* blocks from the running slot and [1-9][0-9]* from the other" "$T/last.out" &&
		[ "$(last bytes_fetched)" -lt "$alone" ] &&
		echo "# v20: $(last bytes_fetched) bytes fetched, $alone from the running slot alone"
}
check "blocks the other slot holds are taken from it before it is cleared" other_slot
# A verified manifest the guest refuses (another compatible): refused after
# the head, as a whole download would be, without fetching the rest.
"$B/slotpack" create --format 3 -d "$T/tree-v20" -V v21.0.0 -C other-guest -k "$T/keys/ca-signer.key" \
	-c "$T/keys/ca-signer.pem" -o "$T/www/foreign.bundle" >/dev/null
foreign() {
	cut_log
	! install "$NGINX/foreign.bundle" && [ "$(last state)" = FAILED ] &&
		last error | grep -q "compatible" && ! grep -q "downloading the whole bundle" "$T/last.out" &&
		[ "$(served /foreign.bundle)" -lt $(( $(size foreign.bundle) / 4 )) ]
}
check "a foreign bundle is refused after its head, nothing more fetched" foreign
check "no slot was left installing" sh -c '! grep -q installing "$0/root/state"' "$T"
check "no temporary file left in the cache" sh -c '[ -z "$(ls -A "$0/root/cache")" ]' "$T"
finish
