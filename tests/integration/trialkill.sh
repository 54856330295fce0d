#!/bin/sh
# slotd SIGKILLed while `slotupd install` waits for the verdict of a trial
# (found by killstorm.sh).  The trial is on disk, so the restarted slotd goes on
# with it and commits the new slot; the attempt's history must then say
# SUCCESS, not FAILED: the control plane is told the outcome from the history.
# slotupd may record the outcome itself (waiting for the verdict on disk) or
# leave the attempt ACTIVATING for the next slotupd's recovery: both are
# accepted, a FAILED record of a version that runs good is not.
. "$SLOTD_SRC/tests/support/lib.sh"
B=$SLOTD_BIN
command -v unshare >/dev/null || { echo "unshare not available" >&2; exit 77; }
unshare --pid --fork --mount-proc true 2>/dev/null || { echo "cannot create a PID namespace here" >&2; exit 77; }
make_keys "$T/keys" || exit 1
for v in 1 2; do
	mkdir -p "$T/tree$v/bin"
	cp "$SLOTD_AGENTS/demo_agent" "$T/tree$v/bin/agent"
	echo good > "$T/tree$v/behaviour"
	"$B/slotpack" create -d "$T/tree$v" -V "v$v.0.0" -C t -k "$T/keys/ca-signer.key" \
		-c "$T/keys/ca-signer.pem" -o "$T/v$v.bundle" >/dev/null || exit 1
done
cat > "$T/slotd.ini" <<INI
[slots]
root = $T/root
compatible = t
[agent]
exec = bin/agent
health = notify
startup_timeout = 10s
min_uptime = 3s
max_attempts = 3
stop_timeout = 1s
[updater]
keyring = $T/keys/keyring.pem
INI
export AGENT_LOG="$T/agent.log"
# unshare ignores SIGTERM while it waits: slotd itself is killed at exit.
slotd=""
kill_slotd() { [ -n "$slotd" ] && kill -KILL "$slotd" 2>/dev/null; return 0; }
AT_EXIT=kill_slotd
boot() {
	rm -f "$T/root/run/control.sock"
	unshare --pid --fork --mount-proc "$B/slotd" -c "$T/slotd.ini" 2>> "$T/slotd.log" &
	ns=$!
	PIDS="$PIDS $ns"
	wait_for 20 test -S "$T/root/run/control.sock" || { cat "$T/slotd.log"; exit 1; }
	slotd=$(ps -o pid= --ppid "$ns" | tr -d ' ')
}
status() { "$B/slotctl" -c "$T/slotd.ini" status --json | json_get "$1"; }
state_of() {
	"$B/slotctl" -c "$T/slotd.ini" history --json | /usr/bin/python3 -c \
		"import json,sys; print(*[r['state'] + ' ' + r['error'] for r in json.load(sys.stdin) if r['id'] == sys.argv[1]])" "$1"
}
v2_good() { [ "$(status '["current"]')" = b ] && [ "$(status '["slots"]["b"]["status"]')" = good ]; }

boot
check "v1 installs" sh -c '"$0" -c "$1" install --id one "$2" >/dev/null 2>&1' "$B/slotupd" "$T/slotd.ini" "$T/v1.bundle"
"$B/slotupd" -c "$T/slotd.ini" install --id two "$T/v2.bundle" > "$T/upd.out" 2> "$T/upd.log" &
upd=$!
PIDS="$PIDS $upd"
wait_for 30 grep -q "trial of slot b" "$T/slotd.log" || { cat "$T/slotd.log"; exit 1; }
kill -KILL "$slotd"
wait "$ns"
slotd=""
boot
wait_for 60 v2_good
check "the restarted slotd finished the trial: v2 is good on slot b" v2_good
wait "$upd"
echo "slotupd said: $(tail -1 "$T/upd.log")"
# The next slotupd (an identical bundle: a no-op) runs the recovery first.
"$B/slotupd" -c "$T/slotd.ini" install --id three "$T/v2.bundle" >/dev/null 2>&1
record=$(state_of two)
echo "attempt two: $record"
check "the attempt whose version now runs is SUCCESS, not FAILED" [ "${record%% *}" = SUCCESS ]
finish
