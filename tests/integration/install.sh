#!/bin/sh
# slotupd install, end to end: slotd supervising, bundles from slotpack,
# served over http by tests/support/httpd.py on 127.0.0.1.
# Good path: v1 -> v2 -> broken v3 reverted by slotd.  Then every kind of bad
# request: each leaves the running slot as it was and a FAILED record naming why.
# Bundles are format 2 (slotpack's default) but big.bundle, format 1 (--format
# 1): an old bundle still installs, resumed over http; big2.bundle is its
# format 2 twin, tampered and cut the same way.
. "$SLOTD_SRC/tests/support/lib.sh"
B=$SLOTD_BIN

make_keys "$T/keys" || { echo "openssl failed"; exit 1; }

pack() { # pack VERSION BEHAVIOUR COMPATIBLE SIGNER OUT [SLOTPACK OPTIONS]
	tree=$T/tree-$1
	mkdir -p "$tree/bin"
	cp "$SLOTD_AGENTS/demo_agent" "$tree/bin/agent"
	echo "$2" > "$tree/behaviour"
	version=$1 compatible=${3:-test-guest} signer=${4:-ca} out=$5
	shift 5
	"$B/slotpack" create -d "$tree" -V "$version" -C "$compatible" -k "$T/keys/$signer-signer.key" \
		-c "$T/keys/$signer-signer.pem" -o "$T/www/$out" "$@" >/dev/null
}
mkdir -p "$T/www"
pack v1.0.0 good test-guest ca v1.bundle
pack v2.0.0 good test-guest ca v2.bundle
pack v3.0.0 crash test-guest ca v3.bundle
pack v3.1.0 good other-guest ca foreign.bundle
pack v3.2.0 good test-guest rogue rogue.bundle
pack v0.9.0 good test-guest ca old.bundle
# A multi-block bundle (3 MiB of noise), then copies of it with one byte
# flipped in its second payload block, and cut short.
mkdir -p "$T/tree-v2.5.0"
head -c 3145728 /dev/urandom > "$T/tree-v2.5.0/noise"
pack v2.5.0 good test-guest ca big.bundle --format 1
cp "$T/www/big.bundle" "$T/www/tampered.bundle"
size=$(stat -c %s "$T/www/big.bundle")
printf 'X' | dd of="$T/www/tampered.bundle" bs=1 seek=$((size - 1048576 - 4096)) conv=notrunc 2>/dev/null
head -c $((size / 2)) "$T/www/big.bundle" > "$T/www/truncated.bundle"
mkdir -p "$T/tree-v2.6.0"
cp "$T/tree-v2.5.0/noise" "$T/tree-v2.6.0/"
pack v2.6.0 good test-guest ca big2.bundle
cp "$T/www/big2.bundle" "$T/www/tampered2.bundle"
size=$(stat -c %s "$T/www/big2.bundle")
at=$(/usr/bin/python3 -c 'import sys, tarfile; print(tarfile.open(sys.argv[1]).getmember("payload").offset_data)' "$T/www/big2.bundle")
printf 'X' | dd of="$T/www/tampered2.bundle" bs=1 seek=$((at + 10)) conv=notrunc 2>/dev/null
head -c $((size / 2)) "$T/www/big2.bundle" > "$T/www/truncated2.bundle"

/usr/bin/python3 "$SLOTD_SRC/tests/support/httpd.py" "$T/www" > "$T/httpd.out" 2> "$T/httpd.log" &
PIDS="$PIDS $!"
wait_for 10 grep -q '^PORT ' "$T/httpd.out" || { echo "httpd did not start"; exit 1; }
URL=http://127.0.0.1:$(sed -n 's/^PORT //p' "$T/httpd.out")

cat > "$T/slotd.ini" <<INI
[slots]
root = $T/root
compatible = test-guest
[agent]
exec = bin/agent
health = notify
startup_timeout = 3s
min_uptime = 500ms
max_attempts = 2
stop_timeout = 2s
[updater]
keyring = $T/keys/keyring.pem
retries = 3
retry_backoff = 100ms
retry_backoff_max = 1s
low_speed_time = 2s
# whole downloads only: delta updates have tests/integration/delta.sh
delta = no
INI
export AGENT_LOG="$T/agent.log"
"$B/slotd" -c "$T/slotd.ini" 2> "$T/slotd.log" &
PIDS="$PIDS $!"
wait_for 10 test -S "$T/root/run/control.sock" || { echo "slotd did not start"; cat "$T/slotd.log"; exit 1; }

install() { "$B/slotupd" -c "$T/slotd.ini" install "$@" >> "$T/slotupd.out" 2>&1; }
status() { "$B/slotctl" -c "$T/slotd.ini" status --json | json_get "$1"; }
current_is() { [ "$(status '["current"]')" = "$1" ] &&
	[ "$(status "[\"slots\"][\"$1\"][\"status\"]")" = good ] &&
	[ "$(status "[\"slots\"][\"$1\"][\"version\"]")" = "$2" ]; }
last_failure_has() {
	"$B/slotctl" -c "$T/slotd.ini" history --state FAILED --json |
		/usr/bin/python3 -c "import json,sys; r=json.load(sys.stdin); sys.exit(0 if r and '''$1''' in r[-1]['error'] else 1)"
}
fails_with_v1() { # the same, while v1 runs on slot a
	reason=$1; shift
	! install "$@" && last_failure_has "$reason" && current_is a v1.0.0
}
fails_with() { # fails_with REASON ARGS...: exit 1, FAILED record with REASON, v2 still running
	reason=$1; shift
	! install "$@" && last_failure_has "$reason" && current_is b v2.0.0
}

check "v1 installs into slot a and commits" install "$URL/v1.bundle"
check "v1 is good and current" current_is a v1.0.0
check "v2 installs into slot b and commits" install "$URL/v2.bundle"
check "v2 is good and current" current_is b v2.0.0
check "v3 (crashes) fails" sh -c '! "$0" -c "$1" install "$2"' "$B/slotupd" "$T/slotd.ini" "$URL/v3.bundle"
check "v3's slot a is bad, v2 back in charge" sh -c \
	'[ "$("$0" -c "$1" status --json | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)[\"slots\"][\"a\"][\"status\"])")" = bad ]' "$B/slotctl" "$T/slotd.ini"
check "v2 still current after the revert" current_is b v2.0.0
check "FAILED record says health" last_failure_has "health"
check "same bundle again is a no-op success" install "$URL/v2.bundle"
check "no-op kept v2" current_is b v2.0.0

check "wrong compatible refused" fails_with "compatible" "$URL/foreign.bundle"
check "untrusted signer refused" fails_with "sign" "$URL/rogue.bundle"
check "downgrade refused" fails_with "downgrade" "$URL/old.bundle"
check "tampered block refused, by number" fails_with "block 2 of 4" "$URL/tampered.bundle"
check "truncated bundle refused" fails_with "payload block 1 of 4: Truncated" "$URL/truncated.bundle"
check "format 2: tampered block refused, by number" fails_with "block 0 of 25 does not match" "$URL/tampered2.bundle"
check "format 2: truncated bundle refused" fails_with "payload block 12 of 25: Truncated" "$URL/truncated2.bundle"
check "404 refused" fails_with "404" "$URL/missing.bundle"
check "unknown strategy refused" fails_with "strategy" --strategy carrier-pigeon "$URL/v1.bundle"
check "malformed location refused" fails_with "location" "htp:/nowhere"
check "wrong expected version refused" fails_with "version" --version v9.9.9 "$URL/v1.bundle"
check "wrong sha256 refused" fails_with "sha256" --sha256 0000000000000000000000000000000000000000000000000000000000000000 "$URL/big.bundle"
check "admin downgrade allowed" install --allow-downgrade "$URL/v1.bundle"
check "v1 back via admin downgrade" current_is a v1.0.0
check "500 three times, then success within the retries" install "$URL/v2.bundle?fail=500x3"
check "v2 current after the retries" current_is b v2.0.0
check "a transfer cut mid-body resumes" install "$URL/big.bundle?cut=1500000"
check "v2.5 current after the resume" current_is a v2.5.0
check "a format 2 transfer cut mid-body resumes" install "$URL/big2.bundle?cut=1500000"
check "v2.6 current after the resume" current_is b v2.6.0
check "and it is the whole tree" cmp "$T/root/slots/b/noise" "$T/tree-v2.6.0/noise"
check "format 1 again over format 2" install --allow-downgrade "$URL/big.bundle"
check "v2.5 current again" current_is a v2.5.0
check "the retry asked for the rest with Range" sh -c \
	'curl -s "$0/_stats" | /usr/bin/python3 -c "import json,sys; r=json.load(sys.stdin)[\"/big.bundle?cut=1500000\"]; sys.exit(0 if [x[\"range\"] for x in r] == [None, \"bytes=1500000-\"] else 1)"' "$URL"
# The agent holds the upgrade inhibitor (a shared flock): the upgrade is
# deferred, not dropped, and the same id goes through once it is released.
# One process holds it (fd 9 survives the exec), so killing it releases it.
sh -c 'exec 9< "$0/root/run/inhibit" && flock -s 9 && echo held > "$0/held" && exec sleep 30' "$T" &
holder=$!
PIDS="$PIDS $holder"
wait_for 10 test -f "$T/held"
check "an upgrade while the agent is busy is deferred" sh -c '! "$0" -c "$1" install --allow-downgrade --id busy-1 "$2" >/dev/null 2>&1' \
	"$B/slotupd" "$T/slotd.ini" "$URL/v2.bundle"
check "and recorded DEFERRED" sh -c '"$0" -c "$1" history --state DEFERRED | grep -q "^busy-1"' "$B/slotctl" "$T/slotd.ini"
kill "$holder"; wait "$holder" 2>/dev/null
check "released: the same id now succeeds" install --allow-downgrade --id busy-1 "$URL/v2.bundle"
check "busy-1 is SUCCESS" sh -c '"$0" -c "$1" history --state SUCCESS | grep -q "^busy-1"' "$B/slotctl" "$T/slotd.ini"
# More hostile transport: each a FAILED record with the reason, v2 left running.
check "429 with Retry-After is waited out, then installs" install --allow-downgrade "$URL/v1.bundle?retry_after=1"
check "v1 current after the 429" current_is a v1.0.0
check "a body shorter than its Content-Length fails" fails_with_v1 "after 4 attempts" --allow-downgrade "$URL/v2.bundle?bad_length=1"
check "a redirect loop fails" fails_with_v1 "redirect" --allow-downgrade "$URL/v2.bundle?redirect_loop=1"
check "a stalled server is abandoned (low-speed timeout)" fails_with_v1 "too slow" --allow-downgrade "$URL/big.bundle?stall=1"

# One updater at a time.
sh -c 'exec 9> "$0/root/run/updater.lock" && flock -x 9 && echo held > "$0/upd-held" && exec sleep 30' "$T" &
locker=$!
PIDS="$PIDS $locker"
wait_for 10 test -f "$T/upd-held"
check "a second slotupd is refused" sh -c '"$0" -c "$1" install "$2" 2>&1 | grep -q "another slotupd is running"' \
	"$B/slotupd" "$T/slotd.ini" "$URL/v2.bundle"
kill "$locker"; wait "$locker" 2>/dev/null

# slotupd killed mid-download: the next run clears the half-written slot and
# records the interrupted attempt as FAILED; the running slot is untouched.
"$B/slotupd" -c "$T/slotd.ini" install --allow-downgrade --id killed-1 "$URL/big.bundle?stall=1" >> "$T/slotupd.out" 2>&1 &
victim=$!
wait_for 20 grep -q "installing" "$T/root/state"
kill -KILL "$victim"; wait "$victim" 2>/dev/null
check "the killed run left its slot installing" grep -q "status = installing" "$T/root/state"
check "the next run succeeds" install --allow-downgrade "$URL/v2.bundle"
check "the interrupted attempt is FAILED as interrupted" sh -c '"$0" -c "$1" history --state FAILED | grep "^killed-1" | grep -q interrupted' "$B/slotctl" "$T/slotd.ini"
check "history is readable and has every attempt" sh -c \
	'[ "$("$0" -c "$1" history --json | /usr/bin/python3 -c "import json,sys; print(len(json.load(sys.stdin)))")" -ge 16 ]' "$B/slotctl" "$T/slotd.ini"
check "no slot was left installing" sh -c '! grep -q "status = installing" "$0/root/state"' "$T"

# Ids are history keys: an empty one or one with control characters is refused.
check "an empty --id is refused, naming the id" sh -c '"$0" -c "$1" install --id "" "$2" 2>&1 | grep -q "upgrade id: want"' \
	"$B/slotupd" "$T/slotd.ini" "$URL/v2.bundle"
check "an --id with a newline is refused" sh -c '"$0" -c "$1" install --id "$(printf "a\nSUCCESS")" "$2" 2>&1 | grep -q "upgrade id: want"' \
	"$B/slotupd" "$T/slotd.ini" "$URL/v2.bundle"
# A location's credentials never reach the log (nor the history).
"$B/slotupd" -c "$T/slotd.ini" install --allow-downgrade --id creds-1 \
	"http://user:s3cr3t@127.0.0.1:${URL##*:}/v1.bundle" > "$T/creds.out" 2>&1
check "a URL's password is not logged" sh -c '! grep -q s3cr3t "$0" && grep -q "DOWNLOADING http://\*\*\*@" "$0"' "$T/creds.out"
check "nor recorded" sh -c '! "$0" -c "$1" history --json | grep -q s3cr3t' "$B/slotctl" "$T/slotd.ini"
finish
