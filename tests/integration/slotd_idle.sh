#!/bin/sh
# slotd_idle: slotd sleeps once a control command has been handled.  Each
# command (rollback, mark-bad, mark-good, restart during a trial; every
# command in the idle good state and with no bootable slot) is sent, the
# state it leads to is awaited, then slotd's CPU time (utime + stime from
# /proc/PID/stat) is sampled over 2 s: a deadline left armed after a trial
# ended made the timerfd fire in a loop and burn a whole core (~200 ticks)
# once that deadline passed, so after a command that ends a trial the sample
# starts only when the trial's startup_timeout would have run out.
. "$SLOTD_SRC/tests/support/lib.sh"
B=$SLOTD_BIN
make_keys "$T/keys" || { echo "openssl failed"; exit 1; }

pack_demo v1.0.0 good
pack_demo v2.0.0 never-ready

TIMEOUT_S=10	# long enough for a loaded machine: a trial must outlive each command
SLOTD_PID=""
start_slotd() { # start_slotd NAME
	R=$T/$1
	mkdir -p "$R"
	cat > "$R.ini" <<INI
[slots]
root = $R/root
compatible = t
[agent]
exec = bin/agent
health = notify
startup_timeout = ${TIMEOUT_S}s
min_uptime = 500ms
max_attempts = 3
stop_timeout = 2s
[updater]
keyring = $T/keys/keyring.pem
INI
	export AGENT_LOG="$R/agent.log"
	: > "$AGENT_LOG"
	"$B/slotd" -c "$R.ini" 2>> "$R/slotd.log" &
	SLOTD_PID=$!
	PIDS="$PIDS $SLOTD_PID"
	wait_for 10 test -S "$R/root/run/control.sock"
}
stop_slotd() {
	kill -TERM "$SLOTD_PID" 2>/dev/null
	wait "$SLOTD_PID" 2>/dev/null
}
ctl() { "$B/slotctl" -c "$R.ini" "$@" >> "$R/slotctl.log" 2>&1; }
install() { "$B/slotupd" -c "$R.ini" install "$@" >> "$R/slotupd.log" 2>&1; }
starts() { grep -c '^start ' "$R/agent.log"; }
last_pid() { grep '^start ' "$R/agent.log" | tail -1 | cut -d' ' -f4; }

# "CURRENT AGENT-STATE AGENT-SLOT HEALTHY AGENT-PID" as slotd answers it.
status_line() {
	"$B/slotctl" -c "$R.ini" status --json | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin); a = d["agent"]
print(d["current"], a["state"], a["slot"], a["healthy"], a["pid"])'
}
# settled WANT: slotd reports WANT and the agent it reports is the last one launched.
settled() {
	case $1 in
	*running*) [ "$(status_line)" = "$1 $(last_pid)" ] ;;
	*) [ "$(status_line)" = "$1 0" ] ;;
	esac
}

# CPU ticks (utime + stime) slotd used so far; fields 14 and 15, counted
# after the ")" that ends the command name.
ticks() { sed 's/.*) //' "/proc/$SLOTD_PID/stat" | awk '{ print $12 + $13 }'; }

# idle_after DESC: slotd uses (almost) no CPU over the next 2 s.  The sample
# is a duration by nature: there is no event to wait for.
idle_after() {
	before=$(ticks)
	sleep 2
	used=$(( $(ticks) - before ))
	check "$1: slotd idle afterwards ($used ticks in 2 s)" [ "$used" -le 5 ]
	[ "$used" -le 5 ] || tail -5 "$R/slotd.log"
}

# command_then DESC WANT RELAUNCH CMD..: runs CMD; waits for a new agent when
# RELAUNCH is 1, then for slotd to report WANT, then (when STALE_NS is set)
# for the realtime clock to pass STALE_NS; then samples the CPU.
STALE_NS=""
command_then() {
	desc=$1 want=$2 relaunch=$3
	shift 3
	n=$(starts)
	"$@"
	[ "$relaunch" = 1 ] && wait_for 20 sh -c "[ \$(grep -c '^start ' '$R/agent.log') -gt $n ]"
	check "$desc: settles in '$want'" wait_for 20 settled "$want"
	[ -n "$STALE_NS" ] && wait_for 30 sh -c "[ \$(date +%s%N) -gt $STALE_NS ]"
	STALE_NS=""
	idle_after "$desc"
}

# The realtime ns at which the last trial's startup_timeout ends, plus 0.5 s
# (the agent logs its start with the realtime clock).
trial_deadline_ns() {
	echo $(( $(grep '^start b ' "$R/agent.log" | tail -1 | cut -d' ' -f5) + TIMEOUT_S * 1000000000 + 500000000 ))
}

# trial_of_v2: v2 (never ready) is activated and on trial in slot b.
UPD=""
trial_of_v2() {
	n=$(starts)
	install "$T/v2.0.0-never-ready.bundle" &
	UPD=$!
	wait_for 30 sh -c "[ \$(grep -c '^start b v2.0.0 ' '$R/agent.log') -gt 0 ] &&
		[ \$(grep -c '^start ' '$R/agent.log') -gt $n ]" &&
		wait_for 20 settled "b running b False"
}

start_slotd trial
check "v1 installs and is good" install "$T/v1.0.0-good.bundle"
check "v2 goes on trial" trial_of_v2
idle_after "a trial waiting for READY=1"

command_then "restart during a trial" "b running b False" 1 ctl restart
check "  the trial goes on (attempt 2)" grep -q "attempt 2 of 3" "$R/slotd.log"
STALE_NS=$(trial_deadline_ns)
command_then "rollback during a trial" "a running a True" 1 ctl rollback
wait "$UPD"
check "  it ended the trial (slotupd was told)" grep -q "rolled back by admin" "$R/slotupd.log"

check "v2 goes on trial again" trial_of_v2
: > "$R/slotupd.log"
STALE_NS=$(trial_deadline_ns)
command_then "mark-bad during a trial" "a running a True" 1 ctl mark-bad
wait "$UPD"
check "  it ended the trial (slotupd was told)" grep -q "rolled back by admin" "$R/slotupd.log"

check "v2 goes on trial a third time" trial_of_v2
STALE_NS=$(trial_deadline_ns)
command_then "mark-good during a trial" "b running b True" 0 ctl mark-good
check "  the activation got its verdict" wait "$UPD"

# Both slots good now (a: v1, b: v2 marked good); b runs.
command_then "status when good" "b running b True" 0 ctl status
command_then "mark-good when good" "b running b True" 0 ctl mark-good
command_then "restart when good" "b running b True" 1 ctl restart
command_then "rollback when good" "a running a True" 1 ctl rollback
command_then "mark-bad when good" "b running b True" 1 ctl mark-bad
command_then "rollback with nothing to go back to" "b running b True" 0 ctl rollback
stop_slotd

# No bootable slot: every command is answered and slotd stays asleep.
start_slotd empty
for c in status rollback mark-good mark-bad restart; do
	command_then "$c with no slot" "none stopped none False" 0 ctl $c
done
stop_slotd
finish
