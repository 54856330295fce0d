#!/bin/sh
# slotd probation: a slot that passes its trial and then crash-loops within
# [agent] probation of its commit is reverted like a failed trial, the reason
# in the slot state and the history (the upgrade's own record turns FAILED,
# and an entry of kind "probation" names it).  The window counts from the
# commit time on disk: a slotd SIGKILLed during it and restarted keeps it,
# and one restarted after it is over does not revert.
. "$SLOTD_SRC/tests/support/lib.sh"
B=$SLOTD_BIN
make_keys "$T/keys" || { echo "openssl failed"; exit 1; }

pack_demo v1.0.0 good
pack_demo v2.0.0 crash-3s

SLOTD_PID=""
start_slotd() { # start_slotd NAME PROBATION
	R=$T/$1
	mkdir -p "$R"
	cat > "$R.ini" <<INI
[slots]
root = $R/root
compatible = t
[agent]
exec = bin/agent
health = notify
startup_timeout = 20s
min_uptime = 1s
stop_timeout = 5s
restart_backoff_max = 1s
probation = $2
probation_max_exits = 1
[supervisor]
metrics_file = $R/slotd.prom
[updater]
keyring = $T/keys/keyring.pem
INI
	export AGENT_LOG="$R/agent.log"
	rm -f "$R/root/run/control.sock"
	"$B/slotd" -c "$R.ini" 2>> "$R/slotd.log" &
	SLOTD_PID=$!
	PIDS="$PIDS $SLOTD_PID"
	wait_for 20 test -S "$R/root/run/control.sock"
}
stop_slotd() {
	kill -TERM "$SLOTD_PID" 2>/dev/null
	wait "$SLOTD_PID" 2>/dev/null
}
install() { "$B/slotupd" -c "$R.ini" install "$@" 2>> "$R/slotupd.log"; }
field() { "$B/slotctl" -c "$R.ini" status --json | json_get "$1"; }
slot_b_bad() { [ "$(field '["slots"]["b"]["status"]')" = bad ]; }
# history_of ID KEY: KEY of attempt ID (the latest snapshot)
history_of() { "$B/slotctl" -c "$R.ini" history --json |
	/usr/bin/python3 -c 'import json,sys; print([r for r in json.load(sys.stdin) if r["id"] == sys.argv[1]][0][sys.argv[2]])' "$1" "$2"; }
probation_entry() { "$B/slotctl" -c "$R.ini" history --json |
	/usr/bin/python3 -c 'import json,sys; r = [r for r in json.load(sys.stdin) if r["kind"] == "probation"]; print(r[-1]["state"], r[-1]["error"]) if r else print("none")'; }

# 1. A crash loop within the window: b reverted, a runs, reasons recorded.
start_slotd loop 1m
install "$T/v1.0.0-good.bundle" > /dev/null || { cat "$R/slotd.log" "$R/slotupd.log"; exit 1; }
id=$(install "$T/v2.0.0-crash-3s.bundle" | cut -d' ' -f2)
check "v2 passes its trial (SUCCESS)" test -n "$id"
wait_for 60 slot_b_bad
reason="probation: agent exited 2 times within 1m after commit"
check "v2 crash-looping in probation: b is bad with the reason" \
	sh -c '[ "$1" = bad ] && [ "$2" = "$3" ]' _ "$(field '["slots"]["b"]["status"]')" \
	"$(field '["slots"]["b"]["reason"]')" "$reason"
check "a is current and its agent runs again" sh -c '[ "$1" = a ] && [ "$2" = running ]' _ \
	"$(field '["current"]')" "$(field '["agent"]["state"]')"
check "b was launched twice, not more" sh -c '[ "$(grep -c "^start b v2.0.0 " "$0")" = 2 ]' "$R/agent.log"
check "the upgrade's record turned FAILED with the reason" sh -c \
	'[ "$1" = FAILED ] && [ "$2" = "$3" ]' _ "$(history_of "$id" state)" "$(history_of "$id" error)" "$reason"
check "a probation entry names the upgrade" sh -c '[ "$0" = "FAILED $1 (upgrade $2)" ]' \
	"$(probation_entry)" "$reason" "$id"
check "slotd logged the probation" grep -q "slot b on probation for" "$R/slotd.log"
check "the metrics count the probation revert" sh -c \
	'[ "$(/usr/bin/python3 "$0" "$1" slotd_probation_reverts_total)" = 1 ] &&
	 [ "$(/usr/bin/python3 "$0" "$1" slotd_reverts_total)" = 1 ]' \
	"$SLOTD_SRC/tests/support/prom_get.py" "$R/slotd.prom"
stop_slotd

# 2. slotd SIGKILLed during the window: the restarted one keeps the window
# from the commit time on disk, and the crash loop is still caught.
start_slotd killed 1m
install "$T/v1.0.0-good.bundle" > /dev/null
id=$(install "$T/v2.0.0-crash-3s.bundle" | cut -d' ' -f2)
committed=$(date +%s)
kill -KILL "$SLOTD_PID"
wait "$SLOTD_PID" 2>/dev/null
wait_for 10 sh -c '[ $(date +%s) -ge $(($0 + 2)) ]' "$committed"	# some of the window gone
: > "$R/slotd.log"
start_slotd killed 1m
wait_for 20 grep -q "slot b on probation for" "$R/slotd.log"
left=$(sed -n 's/.*slot b on probation for \([0-9]*\) ms more.*/\1/p' "$R/slotd.log" | head -1)
check "restarted slotd: b on probation, counted from the commit ($left ms left)" \
	sh -c '[ -n "$0" ] && [ "$0" -lt 59000 ]' "$left"
wait_for 60 slot_b_bad
check "restarted slotd: the crash loop reverts b" sh -c '[ "$1" = a ] && [ "$2" = "$3" ]' _ \
	"$(field '["current"]')" "$(field '["slots"]["b"]["reason"]')" "$reason"
check "restarted slotd: the upgrade's record turned FAILED" sh -c '[ "$0" = FAILED ]' \
	"$(history_of "$id" state)"
stop_slotd

# 3. Restarted after the window: b is simply good, its crashes restarted.
start_slotd over 4s
install "$T/v1.0.0-good.bundle" > /dev/null
install "$T/v2.0.0-crash-3s.bundle" > /dev/null
committed=$(date +%s)
kill -KILL "$SLOTD_PID"
wait "$SLOTD_PID" 2>/dev/null
wait_for 20 sh -c '[ $(date +%s) -ge $(($0 + 6)) ]' "$committed"
: > "$R/slotd.log"
starts=$(grep -c "^start b v2.0.0 " "$R/agent.log")
start_slotd over 4s
wait_for 60 sh -c "[ \$(grep -c '^start b v2.0.0 ' '$R/agent.log') -ge $((starts + 3)) ]"
check "after the window: b crashed twice more and stays good" sh -c '[ "$1" = b ] && [ "$2" = good ]' _ \
	"$(field '["current"]')" "$(field '["slots"]["b"]["status"]')"
check "after the window: no probation" sh -c '! grep -q "probation" "$0"' "$R/slotd.log"
stop_slotd
finish
