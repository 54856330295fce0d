#!/bin/sh
# Privilege separation of slotupd's download (docs/architecture.md, Privilege
# separation): while httpd.py holds a download half-way (?gate=), the fetch
# process is inspected from outside: its uid is the fetch user's (not root,
# when slotupd runs as root), no_new_privs is set, and it holds no descriptor
# but /dev/null, sockets, pipes and the shared stderr (nothing under the slot
# root).  Then the held download completes through it; a fetch process killed
# mid-download fails the attempt naming the signal, the running slot kept;
# a fetch_user that does not exist fails the attempt naming it.
# (That the confined process cannot write the state file, even one its uid
# could write: tests/unit/test_privsep.c.)
. "$SLOTD_SRC/tests/support/lib.sh"
B=$SLOTD_BIN

make_keys "$T/keys" || { echo "openssl failed"; exit 1; }
pack() { # pack VERSION OUT
	tree=$T/tree-$1
	mkdir -p "$tree/bin"
	cp "$SLOTD_AGENTS/demo_agent" "$tree/bin/agent"
	echo good > "$tree/behaviour"
	head -c 2097152 /dev/urandom > "$tree/noise"	# two blocks: a gate half-way
	"$B/slotpack" create -d "$tree" -V "$1" -C test-guest -k "$T/keys/ca-signer.key" \
		-c "$T/keys/ca-signer.pem" -o "$T/www/$2" >/dev/null
}
mkdir -p "$T/www"
pack v1.0.0 v1.bundle
pack v2.0.0 v2.bundle

/usr/bin/python3 "$SLOTD_SRC/tests/support/httpd.py" "$T/www" > "$T/httpd.out" 2> "$T/httpd.log" &
PIDS="$PIDS $!"
wait_for 10 grep -q '^PORT ' "$T/httpd.out" || { echo "httpd did not start"; exit 1; }
URL=http://127.0.0.1:$(sed -n 's/^PORT //p' "$T/httpd.out")

config() { # config FILE [FETCH_USER]
	cat > "$1" <<INI
[slots]
root = $T/root
compatible = test-guest
[agent]
exec = bin/agent
health = notify
startup_timeout = 5s
min_uptime = 500ms
[updater]
keyring = $T/keys/keyring.pem
retries = 1
retry_backoff = 100ms
retry_backoff_max = 1s
low_speed_time = 60s
# whole downloads (the gated ones below): a delta's head request would be
# held by the gate first; its fetch process is the same fetch_child_run
delta = no
${2:+fetch_user = $2}
INI
}
config "$T/slotd.ini"
config "$T/numeric.ini" 4242
config "$T/nouser.ini" no-such-user-here
export AGENT_LOG="$T/agent.log"
"$B/slotd" -c "$T/slotd.ini" 2> "$T/slotd.log" &
PIDS="$PIDS $!"
wait_for 10 test -S "$T/root/run/control.sock" || { echo "slotd did not start"; cat "$T/slotd.log"; exit 1; }

status() { "$B/slotctl" -c "$T/slotd.ini" status --json | json_get "$1"; }
current_is() { [ "$(status '["current"]')" = "$1" ] && [ "$(status "[\"slots\"][\"$1\"][\"version\"]")" = "$2" ]; }
last_failure_has() {
	"$B/slotctl" -c "$T/slotd.ini" history --state FAILED --json |
		/usr/bin/python3 -c "import json,sys; r=json.load(sys.stdin); sys.exit(0 if r and sys.argv[1] in r[-1]['error'] else 1)" "$1"
}
# The fetch process: slotupd's child, named slotupd-fetch.
fetch_child() { # fetch_child SLOTUPD_PID: prints its pid
	for c in $(pgrep -P "$1"); do
		[ "$(cat "/proc/$c/comm" 2>/dev/null)" = slotupd-fetch ] && echo "$c" && return 0
	done
	return 1
}
# Every descriptor is /dev/null, a socket, a pipe, or the log we gave as stderr.
fds_harmless() { # fds_harmless PID LOG
	for fd in /proc/"$1"/fd/*; do
		target=$(readlink "$fd") || return 1
		case $target in
		/dev/null | socket:* | pipe:* | anon_inode:* | "$2") ;;
		*) echo "fd $fd -> $target" >&2; return 1 ;;
		esac
		case $target in "$T/root"*) return 1 ;; esac
	done
}

if [ "$(id -u)" = 0 ]; then
	want_uid=$(id -u _slotupd-fetch 2>/dev/null || id -u nobody)
else
	want_uid=$(id -u)
fi

# 1. A download held open by the server: the fetch process, seen from outside.
"$B/slotupd" -c "$T/slotd.ini" install --id held-1 "$URL/v1.bundle?gate=g1" > "$T/held.out" 2> "$T/held.log" &
held=$!
wait_for 60 test -e "$T/www/g1.waiting" || { echo "download never started"; cat "$T/held.log"; exit 1; }
child=$(fetch_child "$held")
check "slotupd runs its download in a child process" test -n "$child"
child=${child:-0}
uids=$(status_field "$child" Uid)
check "its real, effective, saved and fs uids are all $want_uid ($uids)" \
	test "$uids" = "$(printf '%s\t%s\t%s\t%s' "$want_uid" "$want_uid" "$want_uid" "$want_uid")"
if [ "$(id -u)" = 0 ]; then
	check "slotupd runs as root, the fetch process not" sh -c '[ "$0" != 0 ] && [ "$(stat -c %u /proc/$1)" = 0 ]' "$want_uid" "$held"
	check "no supplementary groups" test -z "$(status_field "$child" Groups)"
fi
check "no_new_privs is set" test "$(status_field "$child" NoNewPrivs)" = 1
check "no capabilities left" test "$(status_field "$child" CapEff)" = 0000000000000000
check "it holds no file: /dev/null, sockets, stderr only" fds_harmless "$child" "$T/held.log"
check "slotupd itself holds the slot state (the privileged side)" sh -c 'ls -l /proc/$0/fd | grep -q "$1/root"' "$held" "$T"
touch "$T/www/g1"
wait "$held"
check "the held download completes through the fetch process" test $? -eq 0
check "and v1 is current" current_is a v1.0.0
check "the fetch process is gone" sh -c '! kill -0 "$0" 2>/dev/null' "$child"

# 2. The fetch process killed mid-download (a numeric fetch_user this time).
"$B/slotupd" -c "$T/numeric.ini" install --id killed-1 "$URL/v2.bundle?gate=g2" > "$T/killed.out" 2> "$T/killed.log" &
victim=$!
wait_for 60 test -e "$T/www/g2.waiting" || { echo "download never started"; cat "$T/killed.log"; exit 1; }
child=$(fetch_child "$victim")
child=${child:-0}
[ "$(id -u)" = 0 ] && check "fetch_user = 4242 runs it as uid 4242" test "$(status_field "$child" Uid | cut -f1)" = 4242
kill -KILL "$child"
wait "$victim"
check "a killed fetch process fails the attempt" test $? -eq 1
check "naming the signal" last_failure_has "fetch process: killed by signal 9"
check "v1 still current" current_is a v1.0.0
check "no slot left installing" sh -c '! grep -q "status = installing" "$0/root/state"' "$T"
touch "$T/www/g2"

# 3. The same through the file strategy (the parent opens, the child reads).
check "a file location installs through the fetch process" \
	sh -c '"$0" -c "$1" install --id file-1 "$2/www/v2.bundle" > "$2/file.out" 2>&1' "$B/slotupd" "$T/slotd.ini" "$T"
check "and v2 is current" current_is b v2.0.0
check "a missing file is named" sh -c '! "$0" -c "$1" install --id file-2 "$2/www/none.bundle" > "$2/none.out" 2>&1 &&
	grep -q "none.bundle: No such file" "$2/none.out"' "$B/slotupd" "$T/slotd.ini" "$T"

# 4. A fetch_user that does not exist: refused, named.
if [ "$(id -u)" = 0 ]; then
	"$B/slotupd" -c "$T/nouser.ini" install --id nouser-1 --allow-downgrade "$URL/v1.bundle" > /dev/null 2>&1
	check "an unknown fetch_user fails the attempt, naming it" last_failure_has "no user 'no-such-user-here'"
fi
check "v2 still current" current_is b v2.0.0
finish
