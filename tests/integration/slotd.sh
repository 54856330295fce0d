#!/bin/sh
# slotd: trials that pass and fail, a slotd killed in the middle of a trial,
# the control socket's peer check and malformed requests.  Slots are filled
# the real way: bundles from slotpack, installed by slotupd from files.
. "$SLOTD_SRC/tests/support/lib.sh"
B=$SLOTD_BIN
make_keys "$T/keys" || { echo "openssl failed"; exit 1; }

pack() { # pack VERSION BEHAVIOUR
	tree=$T/tree-$1-$2
	mkdir -p "$tree/bin"
	cp "$SLOTD_AGENTS/demo_agent" "$tree/bin/agent"
	echo "$2" > "$tree/behaviour"
	printf '#!/bin/sh\nexit %s\n' "$([ "$2" = check-fails ] && echo 1 || echo 0)" > "$tree/bin/check"
	chmod 755 "$tree/bin/check"
	"$B/slotpack" create -d "$tree" -V "$1" -C t -k "$T/keys/ca-signer.key" \
		-c "$T/keys/ca-signer.pem" -o "$T/$1-$2.bundle" >/dev/null
}
for b in good never-ready crash crash-later check-fails ignore-term; do pack v2.0.0 $b; done
pack v1.0.0 good

SLOTD_PID=""
start_slotd() { # start_slotd NAME HEALTH [STARTUP_TIMEOUT]
	name=$1
	R=$T/$name
	mkdir -p "$R"
	cat > "$R.ini" <<INI
[slots]
root = $R/root
compatible = t
[agent]
exec = bin/agent
health = $2
health_exec = bin/check
startup_timeout = ${3:-1s}
min_uptime = 1s
max_attempts = 2
stop_timeout = 1s
[updater]
keyring = $T/keys/keyring.pem
INI
	export AGENT_LOG="$R/agent.log"
	rm -f "$R/root/run/control.sock"	# a killed slotd's: wait for the new one
	"$B/slotd" -c "$R.ini" 2>> "$R/slotd.log" &
	SLOTD_PID=$!
	PIDS="$PIDS $SLOTD_PID"
	wait_for 10 test -S "$R/root/run/control.sock"
}
stop_slotd() {
	kill -TERM "$SLOTD_PID" 2>/dev/null
	wait "$SLOTD_PID" 2>/dev/null
}
install() { "$B/slotupd" -c "$R.ini" install "$@" >> "$R/slotupd.log" 2>&1; }
field() { "$B/slotctl" -c "$R.ini" status --json | json_get "$1"; }
launches_of() { grep -c "^start [ab] $1 " "$R/agent.log"; }

# reverts NAME HEALTH BEHAVIOUR REASON: v1 runs, v2 fails its trial, v1 runs again.
reverts() {
	start_slotd "$1" "$2"
	install "$T/v1.0.0-good.bundle" || { echo "v1 did not install"; cat "$R/slotd.log"; return 1; }
	if install "$T/v2.0.0-$3.bundle"; then echo "v2 ($3) was accepted"; stop_slotd; return 1; fi
	ok=0
	[ "$(field '["current"]')" = a ] && [ "$(field '["slots"]["b"]["status"]')" = bad ] &&
		[ "$(field '["slots"]["a"]["status"]')" = good ] &&
		[ "$(field '["agent"]["state"]')" = running ] &&
		grep -q "$4" "$R/slotupd.log" && ok=1
	# v1 was launched twice (first install, after the revert), v2 once.
	[ "$(launches_of v1.0.0)" = 2 ] && [ "$(launches_of v2.0.0)" = 1 ] || ok=0
	[ $ok = 1 ] || { cat "$R/slotd.log" "$R/slotupd.log"; }
	stop_slotd
	[ $ok = 1 ]
}

start_slotd commit notify
check "v1 commits" install "$T/v1.0.0-good.bundle"
check "v2 commits" install "$T/v2.0.0-good.bundle"
check "v2 is current, good and healthy" sh -c '[ "$1" = b ] && [ "$2" = good ] && [ "$3" = True ]' _ \
	"$(field '["current"]')" "$(field '["slots"]["b"]["status"]')" "$(field '["agent"]["healthy"]')"
check "the agent got SLOTD_VERSION" sh -c "grep -q '^start b v2.0.0 ' '$R/agent.log'"
stop_slotd

check "never ready: reverted" reverts never-ready notify never-ready "not ready"
check "crash at start: reverted" reverts crash notify crash "exited with status 3"
check "crash within min_uptime: reverted" reverts crash-later notify crash-later "exited with status 4"
check "exec check fails: reverted" reverts check-fails exec check-fails "health check exited with status 1"
check "uptime health: crash reverted" reverts crash-uptime uptime crash "exited with status 3"

# slotd SIGKILLed during every trial launch: the attempt counter on disk bounds
# the launches of the bad slot by max_attempts, then slot a comes back.
start_slotd killed notify 30s
install "$T/v1.0.0-good.bundle"
"$B/slotupd" -c "$R.ini" install "$T/v2.0.0-never-ready.bundle" >> "$R/slotupd.log" 2>&1 &
upd=$!
for round in 1 2 3; do
	wait_for 10 sh -c "[ \$(grep -c '^start b v2.0.0 ' '$R/agent.log') -ge $round ]" || break
	agent=$(grep '^start b v2.0.0 ' "$R/agent.log" | tail -1 | cut -d' ' -f4)
	kill -KILL "$SLOTD_PID" "$agent"
	wait "$SLOTD_PID" 2>/dev/null
	# slotupd waits for the trial's verdict on disk: the restarted slotd gives it
	start_slotd killed notify 30s
	[ $round -ge 2 ] && break
done
wait_for 10 sh -c "grep -q 'gave up after 2 attempts' '$R/slotd.log'"
check "slotd killed mid-trial: at most max_attempts launches of the bad slot" \
	sh -c '[ "$(grep -c "^start b v2.0.0 " "$0")" = 2 ]' "$R/agent.log"
check "then slot b is bad and a runs again" sh -c '[ "$1" = a ] && [ "$2" = bad ] && [ "$3" = running ]' _ \
	"$(field '["current"]')" "$(field '["slots"]["b"]["status"]')" "$(field '["agent"]["state"]')"
wait $upd
check "slotupd, whose slotd was killed under it, records the trial's verdict: FAILED" \
	sh -c '"$0" -c "$1" history --state FAILED | grep -q "v2.0.0"' "$B/slotctl" "$R.ini"

# The control socket: a foreign uid is refused even when the file mode lets it in.
chmod 0666 "$R/root/run/control.sock"
chmod 0644 "$R.ini"
if command -v setpriv >/dev/null; then
	setpriv --reuid 65534 --regid 65534 --clear-groups "$B/slotctl" -c "$R.ini" status \
		> "$R/nobody.out" 2>&1
	check "uid 65534 is refused" grep -q "refused uid 65534" "$R/nobody.out" ||
		{ echo "slotctl as nobody said:"; cat "$R/nobody.out"; ls -la "$R/root/run"; }
	check "the refusal is logged" grep -q "refused uid 65534" "$R/slotd.log"
fi

# Malformed requests get an error and change nothing.
before=$(sha256sum "$R/root/state")
send() { /usr/bin/python3 - "$R/root/run/control.sock" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(sys.argv[2].encode())
print(s.makefile().readline().strip())
PY
}
for bad in "bogus\n" "activate c\n" "activate\n" "activate a b\n" "rollback --sideways\n" \
	   "mark-good now\n" "\n" "$(head -c 600 /dev/zero | tr '\0' x)\n"; do
	reply=$(send "$(printf "$bad")")
	check "malformed '$(printf '%.20s' "$bad")' gets an error" sh -c 'case "$0" in error*) ;; *) exit 1;; esac' "$reply"
done
# The usage error names what was wrong (control.h); bytes from stdin, NULs kept.
send_raw() { /usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(sys.stdin.buffer.read())
print(s.makefile().readline().strip())' "$R/root/run/control.sock"; }
check "a NUL byte is refused by name" \
	[ "$(printf 'status\000\n' | send_raw)" = "error usage request contains a NUL byte" ]
check "a line over CONTROL_LINE_MAX is refused" \
	[ "$(head -c 4096 /dev/zero | tr '\0' x | send_raw)" = "error usage request longer than 4095 bytes" ]
check "activate with a word more gets its usage" \
	[ "$(printf 'activate a b\n' | send_raw)" = "error usage activate a|b" ]
check "activate of a bad slot is refused" sh -c 'case "$0" in "error refused"*) ;; *) exit 1;; esac' "$(send "activate b
")"
check "the state file is unchanged" sh -c '[ "$(sha256sum "$0/root/state")" = "$1" ]' "$R" "$before"
check "slotd is still serving" sh -c '[ "$("$0" -c "$1" status --json | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)[\"current\"])")" = a ]' "$B/slotctl" "$R.ini"
stop_slotd
finish
