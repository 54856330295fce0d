#!/bin/sh
# Hostile bundles, validly signed: the corpus of tests/support/bundlegen.py
# (a second writer of packaging/FORMAT.md) fed to `slotupd install` with
# slotd running, every install under RLIMIT_NOFILE 1024.  Each case must be
# refused naming its reason, or installed harmlessly, and after each one:
# nothing written outside the slot root, the running slot unchanged (for a
# refusal), slotd alive, no slot left `installing`, no control byte in
# slotupd's output, within the time bound.  Then the memory bombs again with
# the release slotupd (when built), each under 16 MiB peak RSS; a slot left
# `installing` over a 2,000-level tree is recovered by the next install; and
# the history shows no control byte.
. "$SLOTD_SRC/tests/support/lib.sh"
B=$SLOTD_BIN
RELEASE=$SLOTD_SRC/build/release/bin
RSS_MAX_KIB=16384
TIME_MAX_S=60

command -v zstd >/dev/null || { echo "zstd(1) not installed" >&2; exit 77; }
make_keys "$T/keys" || { echo "openssl failed"; exit 1; }
/usr/bin/python3 "$SLOTD_SRC/tests/support/bundlegen.py" "$T/corpus" "$T/keys" \
	"$SLOTD_AGENTS/demo_agent" || { echo "bundlegen failed"; exit 1; }
mkdir -p "$T/outside" "$T/good/bin"
echo canary > "$T/outside/canary"
cp "$SLOTD_AGENTS/demo_agent" "$T/good/bin/agent"
echo good > "$T/good/behaviour"

cat > "$T/slotd.ini" <<INI
[slots]
root = $T/root
compatible = hostile
[agent]
exec = bin/agent
health = notify
startup_timeout = 5s
min_uptime = 300ms
[updater]
keyring = $T/keys/keyring.pem
decrypt_key = $T/corpus/enc.key
max_bytes = 67108864
max_entries = 6000
INI
"$B/slotd" -c "$T/slotd.ini" 2> "$T/slotd.log" &
SLOTD=$!
PIDS="$PIDS $SLOTD"
wait_for 10 test -S "$T/root/run/control.sock" || { echo "slotd did not start"; cat "$T/slotd.log"; exit 1; }

n=0
pack_good() { # a fresh good bundle, its version above everything in the corpus
	n=$((n + 1))
	"$B/slotpack" create -d "$T/good" -V "v9.$n.0" -C hostile -k "$T/keys/ca-signer.key" \
		-c "$T/keys/ca-signer.pem" -o "$T/good-$n.bundle" >/dev/null && echo "$T/good-$n.bundle"
}
running() { # "SLOT DIGEST" of the current slot, from the files slotd keeps
	slot=$(readlink "$T/root/current")
	slot=${slot##*/}
	echo "$slot $(sed -n "/^\[slot $slot\]/,/^\[/s/^digest = //p" "$T/root/state")"
}
# install BIN ID BUNDLE: slotupd under RLIMIT_NOFILE 1024, peak RSS and time in $T/usage
install() {
	sh -c 'ulimit -n 1024 && exec /usr/bin/time -f "%M %e" -o "$0/usage" "$1/slotupd" -c "$0/slotd.ini" install --allow-downgrade --id "$2" "$3"' \
		"$T" "$1" "$2" "$3" > "$T/out" 2>&1
}
no_control_bytes() { ! LC_ALL=C grep -q "$(printf '[\001-\010\013-\037\177]')" "$1"; }
outside_intact() {
	[ "$(ls -A "$T/outside")" = canary ] && [ "$(cat "$T/outside/canary")" = canary ] &&
		[ ! -e /tmp/slotd-hostile-abs ] && [ ! -e "$T/root/escape" ] && [ ! -e "$T/escape" ]
}

check "a good bundle installs first" install "$B" first "$(pack_good)"
# Per case: exit code, running slot, slotd, state, outside, output, time;
# the recorded outcome and reason are checked for all cases at once after.
failures=0
while IFS='	' read -r name expect reason flags; do
	before=$(running)
	# Upgrade ids are [0-9A-Za-z_-]: the case name's other bytes become '-'.
	install "$B" "case-$(printf %s "$name" | tr -c 'A-Za-z0-9_-' '-')" "$T/corpus/$name.bundle"
	rc=$?
	echo "$name	$rc" >> "$T/rcs"
	why=""
	if [ "$expect" = refuse ]; then
		[ "$(running)" = "$before" ] || why="$why; running slot changed from $before to $(running)"
	fi
	kill -0 "$SLOTD" 2>/dev/null || why="$why; slotd died"
	! grep -q "status = installing" "$T/root/state" || why="$why; a slot left installing"
	outside_intact || why="$why; something was written outside the slot"
	no_control_bytes "$T/out" || why="$why; a control byte in slotupd's output"
	secs=$(tail -1 "$T/usage" | cut -d" " -f2)
	[ "${secs%.*}" -lt $TIME_MAX_S ] || why="$why; took ${secs}s"
	if [ -n "$why" ]; then
		failures=$((failures + 1))
		echo "FAIL - $name: ${why#; }"
		sed 's/^/    /' "$T/out" | tail -3
	else
		echo "ran  - $name ($expect) in ${secs}s, rc=$rc"
	fi
done < "$T/corpus/cases.tsv"
check "every case: slotd alive, running slot kept, nothing outside, no slot installing, clean output, in time" \
	[ $failures -eq 0 ]
"$B/slotctl" -c "$T/slotd.ini" history --json > "$T/history.json"
check "every case: refused with its reason or installed (exit code and history)" /usr/bin/python3 -c '
import json, re, sys
history, cases, rcs = sys.argv[1:4]
last = {}
for r in json.load(open(history)):
    last[r["id"]] = r
rc = dict(l.rstrip("\n").split("\t") for l in open(rcs))
bad = 0
for line in open(cases):
    name, expect, reason, flags = line.rstrip("\n").split("\t")
    r = last.get("case-" + re.sub(r"[^A-Za-z0-9_-]", "-", name), {"state": "NONE", "error": ""})
    if expect == "refuse":
        ok = rc[name] != "0" and r["state"] == "FAILED" and reason in r["error"]
    else:
        ok = rc[name] == "0" and r["state"] == "SUCCESS"
    if not ok:
        bad += 1
        print("  %s: expected %s %r, got rc=%s %s %r" % (name, expect, reason, rc[name],
                                                      r["state"], r["error"]))
sys.exit(1 if bad else 0)' "$T/history.json" "$T/corpus/cases.tsv" "$T/rcs"
check "the setuid bit was stripped" sh -c '[ "$(stat -c %a "$0"/root/slots/*/suid 2>/dev/null | head -1)" != 4755 ]' "$T"
check "history and status carry no control byte" sh -c \
	'"$0" -c "$1" history > "$2/h" && "$0" -c "$1" history --json >> "$2/h" && "$0" -c "$1" status >> "$2/h" &&
	 ! LC_ALL=C grep -q "$(printf "[\001-\010\013-\037\177]")" "$2/h"' "$B/slotctl" "$T/slotd.ini" "$T"

# Peak RSS of the memory bombs (and the valid xz/zstd payloads) with the
# release slotupd: sanitizer builds measure their own shadow memory.
if [ -x "$RELEASE/slotupd" ]; then
	grep '	mem$' "$T/corpus/cases.tsv" | while IFS='	' read -r name expect reason flags; do
		install "$RELEASE" "rss-$name" "$T/corpus/$name.bundle"
		rc=$?
		kib=$(tail -1 "$T/usage" | cut -d" " -f1)
		echo "rss  - $name: $kib KiB ($expect, rc=$rc)"
		if [ "$expect" = refuse ]; then [ $rc -ne 0 ]; else [ $rc -eq 0 ]; fi || echo "$name: rc=$rc" >> "$T/rss-bad"
		[ "$kib" -lt $RSS_MAX_KIB ] || echo "$name: $kib KiB" >> "$T/rss-bad"
	done
	check "every bomb under $RSS_MAX_KIB KiB peak RSS (release slotupd)" sh -c '! cat "$0/rss-bad" 2>/dev/null | grep .' "$T"
else
	echo "skip - peak RSS: no release build at $RELEASE (make all)"
fi

# A slotupd killed mid-install left its slot `installing`; a 2,000-level tree
# sits in it.  The next install (RLIMIT_NOFILE 1024) clears it, no human.
"$B/slotctl" -c "$T/slotd.ini" status --json > "$T/st"
inactive=$(/usr/bin/python3 -c 'import json,sys; print("b" if json.load(open(sys.argv[1]))["current"] == "a" else "a")' "$T/st")
slow=$(pack_good)
/usr/bin/python3 "$SLOTD_SRC/tests/support/httpd.py" "$T" > "$T/httpd.out" 2>/dev/null &
PIDS="$PIDS $!"
wait_for 10 grep -q '^PORT ' "$T/httpd.out"
"$B/slotupd" -c "$T/slotd.ini" install --allow-downgrade --id killed \
	"http://127.0.0.1:$(sed -n 's/^PORT //p' "$T/httpd.out")/$(basename "$slow")?stall=1" > "$T/out" 2>&1 &
victim=$!
wait_for 20 grep -q "status = installing" "$T/root/state"
kill -KILL "$victim"; wait "$victim" 2>/dev/null
/usr/bin/python3 -c '
import os, sys
os.chdir(sys.argv[1])
for i in range(2000):
    os.mkdir("d"); os.chdir("d")
    if i % 100 == 0:
        open("f", "w").write("x")
' "$T/root/slots/$inactive"
check "the killed install left its slot installing" grep -q "status = installing" "$T/root/state"
check "the next install recovers the deep slot and succeeds" install "$B" after-deep "$(pack_good)"
check "no slot is left installing" sh -c '! grep -q "status = installing" "$0/root/state"' "$T"
check "slotd is alive" kill -0 "$SLOTD"
finish
