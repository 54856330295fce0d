#!/bin/sh
# slotctl: exit codes (0 done, 1 refused or failed, 2 usage/config), the
# answers of an idle slotd, and the on-disk fallback once slotd has gone.
. "$SLOTD_SRC/tests/support/lib.sh"
B=$SLOTD_BIN
ROOT=$T/root
cat > "$T/s.ini" <<INI
[slots]
root = $ROOT
compatible = t
[agent]
exec = bin/agent
INI
printf '[slots]\nroot = %s\nbogus = 1\n' "$ROOT" > "$T/bad.ini"
ctl() { "$B/slotctl" -c "$T/s.ini" "$@"; }
rc_is() { # rc_is WANT CMD..: CMD's exit code is WANT (output kept in $T/out, $T/err)
	want=$1; shift
	"$@" > "$T/out" 2> "$T/err"
	[ $? -eq "$want" ]
}
err_has() { grep -q -- "$1" "$T/err"; }
out_is() { # out_is PYEXPR WANT: PYEXPR on d, the JSON slotctl printed
	[ "$(/usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$T/out")" = "$2" ]
}

check "a bad config exits 2" rc_is 2 "$B/slotctl" -c "$T/bad.ini" status
check "  naming file, line and key" err_has "bad.ini:3: \[slots\] bogus"
check "an unknown command exits 2" rc_is 2 ctl frobnicate
check "  with the usage" err_has "usage: slotctl"
check "no command exits 2" rc_is 2 ctl
check "an unknown history state exits 2" rc_is 2 ctl history --state BOGUS
check "  naming it" err_has "unknown state 'BOGUS'"
check "status on a root that does not exist exits 1" rc_is 1 ctl status
check "  naming the path" err_has "$ROOT"

spawn slotd "$B/slotd" -c "$T/s.ini"
# status falls back to the disk while slotd is not answering ("not
# supervised"), so slotd's own answer ("stopped") is the readiness event.
slotd_answers() { ctl status --json > "$T/out" 2>/dev/null && out_is 'd["agent"]["state"]' stopped; }
check "slotd answers on its control socket" wait_for 10 slotd_answers
check "status from an idle slotd exits 0" rc_is 0 ctl status --json
check "  no current slot" out_is 'd["current"]' none
check "  agent stopped, answered by slotd" out_is 'd["agent"]["state"]' stopped
check "  slot a empty" out_is 'd["slots"]["a"]["status"]' empty
check "  slot b empty" out_is 'd["slots"]["b"]["status"]' empty
check "human status is a table" rc_is 0 ctl status
check "  with a header and both slots" sh -c 'grep -q "^SLOT  *STATUS  *VERSION" "$0" && grep -q "^a  *empty" "$0" && grep -q "^b  *empty" "$0"' "$T/out"
check "history of a fresh root is an empty JSON list" rc_is 0 ctl history --json
check "  []" out_is 'd' "[]"
# The slot state slotd keeps outside run/ (state, current, slots): names,
# sizes, contents.  The history log is meant to grow (checked below).
state_sum() {
	find "$ROOT" \( -path "$ROOT/run" -o -path "$ROOT/history" \) -prune -o \
		\( -type d -printf '%p\n' \) -o -printf '%p %s %l\n' | sort
	find "$ROOT" \( -path "$ROOT/run" -o -path "$ROOT/history" \) -prune -o \
		-type f -exec cksum {} +
}
before=$(state_sum)
check "rollback with nothing active exits 1" rc_is 1 ctl rollback
check "  saying why" err_has "nothing to roll back"
check "mark-good with nothing active exits 1" rc_is 1 ctl mark-good
check "mark-bad with nothing active exits 1" rc_is 1 ctl mark-bad
check "refused commands changed no slot state" [ "$before" = "$(state_sum)" ]
check "history lists the refused admin commands" rc_is 0 ctl history --state FAILED --json
check "  2 records (mark-good is not one)" out_is 'len(d)' 2
check "  a FAILED rollback with its reason" out_is 'd[0]["kind"]+" "+d[0]["error"]' \
	"rollback no slot is active: nothing to roll back from"
check "  then a FAILED mark-bad" out_is 'd[1]["kind"]+" "+d[1]["state"]' "mark-bad FAILED"

slotd_pid=$PID_slotd
kill -TERM "$slotd_pid"
wait "$slotd_pid"
check "slotd exited 0 on SIGTERM with no agent" [ $? -eq 0 ]
PIDS=""
check "status without slotd still exits 0" rc_is 0 ctl status --json
check "  says it shows the state on disk" err_has "showing the state on disk"
check "  agent not supervised" out_is 'd["agent"]["state"]' "not supervised"
check "  slot a still empty" out_is 'd["slots"]["a"]["status"]' empty
check "rollback without slotd exits 1" rc_is 1 ctl rollback
check "  naming the socket" err_has "cannot reach slotd at $ROOT/run/control.sock"
finish
