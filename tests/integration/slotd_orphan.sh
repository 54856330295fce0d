#!/bin/sh
# slotd_orphan: slotd (a service, not PID 1) SIGKILLed and started again runs
# exactly one agent.  Plain agents die with slotd (PR_SET_PDEATHSIG); an agent
# that cleared its pdeathsig survives, and the next slotd stops it (found by
# run/agent.pid: pid, start time, boot id) before it launches its own, with
# SIGKILL for one that ignores SIGTERM.  A record naming some other process
# (a recycled pid, another boot, a live process without the launch's token
# in its environment) makes slotd signal nobody; one that survives SIGKILL
# delays the agent's launch but never prevents it.
. "$SLOTD_SRC/tests/support/lib.sh"
B=$SLOTD_BIN
make_keys "$T/keys" || { echo "openssl failed"; exit 1; }

pack_demo v1.0.0 good
pack_demo v1.0.0 ignore-term

SLOTD_PID=""
start_slotd() { # start_slotd NAME
	R=$T/$1
	mkdir -p "$R"
	demo_ini "$R.ini" "$R/root" "[agent]" "restart_backoff_max = ${HOLD:-60s}"
	export AGENT_LOG="$R/agent.log"
	rm -f "$R/root/run/control.sock"	# a killed slotd's: wait for the new one
	"$B/slotd" -c "$R.ini" 2>> "$R/slotd.log" &
	SLOTD_PID=$!
	PIDS="$PIDS $SLOTD_PID"
	wait_for 20 test -S "$R/root/run/control.sock"
}
stop_slotd() {
	kill -TERM "$SLOTD_PID" 2>/dev/null
	wait "$SLOTD_PID" 2>/dev/null
}
kill_slotd() {
	kill -KILL "$SLOTD_PID"
	wait "$SLOTD_PID" 2>/dev/null
}
install() { "$B/slotupd" -c "$R.ini" install "$@" >> "$R/slotupd.log" 2>&1; }
last_pid() { grep '^start ' "$R/agent.log" | tail -1 | cut -d' ' -f4; }
# slotd runs the agent it launched last, and says so.
serving() { slotd_serving "$R.ini" "$R/agent.log"; }
alive() { proc_alive "$1"; }
gone() { ! proc_alive "$1"; }
# Agents of this test's root: slotd puts SLOTD_SLOT in their environment and
# the test AGENT_LOG=$R/agent.log (slotd has the latter only).
agents() {
	n=0
	for e in /proc/[0-9]*/environ; do
		env=$({ tr '\0' '\n' < "$e"; } 2>/dev/null) || continue	# gone meanwhile
		printf '%s\n' "$env" | grep -q '^SLOTD_SLOT=' || continue
		printf '%s\n' "$env" | grep -qx "AGENT_LOG=$R/agent.log" || continue
		n=$((n + 1))
	done
	echo $n
}
one_agent() { [ "$(agents)" = 1 ]; }

# Agents that outlived their slotd are this test's doing: on failure, end
# them (by pid, found by the AGENT_LOG under $T that only they and their
# slotd carry), or they would outlive the test too.
end_our_agents() {
	for e in /proc/[0-9]*/environ; do
		env=$({ tr '\0' '\n' < "$e"; } 2>/dev/null) || continue
		printf '%s\n' "$env" | grep -q '^SLOTD_SLOT=' || continue
		printf '%s\n' "$env" | grep -q "^AGENT_LOG=$T/" || continue
		p=${e#/proc/}
		kill -KILL "${p%/environ}" 2>/dev/null
	done
}
AT_EXIT="$AT_EXIT end_our_agents"

# 1. pdeathsig: the agent goes with slotd.
start_slotd plain
check "plain: v1 installs" install "$T/v1.0.0-good.bundle"
old=$(last_pid)
check "plain: run/agent.pid names the agent" sh -c '[ "$(cut -d" " -f1 "$0")" = "$1" ]' \
	"$R/root/run/agent.pid" "$old"
kill_slotd
check "plain: the agent is gone with slotd (pdeathsig)" wait_for 10 gone "$old"
start_slotd plain
check "plain: the new slotd serves a new agent" wait_for 20 serving
check "plain: exactly one agent runs" one_agent
stop_slotd
check "plain: run/agent.pid is removed once the agent is reaped" test ! -e "$R/root/run/agent.pid"

# 2. An agent that cleared its pdeathsig outlives slotd; the next slotd stops it first.
export DEMO_AGENT_NO_PDEATHSIG=1
start_slotd survivor
check "survivor: v1 installs" install "$T/v1.0.0-good.bundle"
old=$(last_pid)
kill_slotd
check "survivor: the agent outlived slotd (the test's premise)" alive "$old"
start_slotd survivor
check "survivor: the new slotd serves a new agent" wait_for 20 serving
check "survivor: the old agent was stopped" gone "$old"
check "survivor: by SIGTERM" grep -q "^signal 15$" "$R/agent.log"
check "survivor: slotd said so" grep -q "agent pid $old of a previous slotd is still running" "$R/slotd.log"
check "survivor: exactly one agent runs" one_agent
stop_slotd

# 3. ... and one that ignores SIGTERM gets SIGKILL after stop_timeout.
start_slotd stubborn
check "stubborn: v1 installs" install "$T/v1.0.0-ignore-term.bundle"
old=$(last_pid)
kill_slotd
check "stubborn: the agent outlived slotd" alive "$old"
start_slotd stubborn
check "stubborn: the new slotd serves a new agent" wait_for 20 serving
check "stubborn: the old agent was killed" gone "$old"
check "stubborn: after SIGTERM was ignored" grep -q "agent pid $old ignored SIGTERM" "$R/slotd.log"
check "stubborn: exactly one agent runs" one_agent
stop_slotd
unset DEMO_AGENT_NO_PDEATHSIG

# 4. A record naming another process: never signalled, the record replaced.
sleep 300 &
bystander=$!
PIDS="$PIDS $bystander"
run=$T/survivor/root/run
boot=$(cat /proc/sys/kernel/random/boot_id)
start=$(proc_start_time "$bystander")
# record LABEL TEXT: slotd started over run/agent.pid = TEXT signals nobody.
record() {
	printf '%b\n' "$2" > "$run/agent.pid"
	start_slotd survivor
	check "record $1: slotd serves" wait_for 20 serving
	check "  the bystander was not signalled" alive "$bystander"
	check "  the record names the new agent" sh -c '[ "$(cut -d" " -f1 "$0")" = "$1" ]' \
		"$run/agent.pid" "$(last_pid)"
	stop_slotd
}
record "with another start time" "$bystander $((start + 1)) $boot"
record "from another boot" "$bystander $start 00000000-0000-0000-0000-000000000000"
record "without start time" "$bystander"
record "of garbage and control characters" "garbage \033[31m"
check "a bad record is reported" grep -q "agent.pid: not \"PID STARTTIME BOOT_ID TOKEN\"" "$R/slotd.log"

# 5. A record naming a live process slotd did not start, right in pid, start
#    time and boot id (the test's own shell, the bystander): without the
#    launch's token first in its environment it is never signalled (issue 23).
token=0123456789abcdef0123456789abcdef
record "naming the test's own shell" "$$ $(proc_start_time $$) $boot $token"
check "  the shell was not taken for an agent" sh -c '! grep -q "agent pid $0 of a previous" "$1"' \
	"$$" "$R/slotd.log"
record "naming the bystander, start time right" "$bystander $start $boot $token"
check "  slotd said why" grep -q "pid $bystander is not an agent slotd started" "$R/slotd.log"

# 6. A process with the token first in its environment is an agent of ours:
#    stopped by SIGTERM like the survivor above.
ours() {
	env -i "SLOTD_AGENT_TOKEN=$token" /bin/sleep 300 &
	OURS=$!
	PIDS="$PIDS $OURS"
	wait_for 5 sh -c 'tr "\0" "\n" < /proc/$0/environ | grep -q "^SLOTD_AGENT_TOKEN="' "$OURS"
	printf '%s %s %s %s\n' "$OURS" "$(proc_start_time "$OURS")" "$boot" "$token" > "$run/agent.pid"
}
ours
start_slotd survivor
check "token: slotd serves" wait_for 20 serving
check "  the recorded process was stopped" gone "$OURS"
check "  slotd said so" grep -q "agent pid $OURS of a previous slotd is still running" "$R/slotd.log"
stop_slotd

# 7. One that survives SIGKILL (a process in uninterruptible sleep; this test
#    build's slotd sends it nothing) delays the launch, says so in status, and
#    never keeps the agent down: it starts when the survivor is gone ...
leftover() { "$B/slotctl" -c "$R.ini" status --json | json_get '["agent"]["leftover"]'; }
held() { leftover | grep -q "^pid $OURS of a previous slotd survived"; }
no_leftover() { [ -z "$(leftover)" ]; }
agent_stopped() { [ "$("$B/slotctl" -c "$R.ini" status --json | json_get '["agent"]["state"]')" = stopped ]; }
export SLOTD_TEST_UNKILLABLE_LEFTOVER=1
ours
start_slotd survivor
check "survivor of SIGKILL: status names it" held
check "  the agent waits for it" agent_stopped
check "  slotctl status shows it" sh -c '"$0" -c "$1" status | grep -q "^leftover: pid $2 "' \
	"$B/slotctl" "$R.ini" "$OURS"
kill -KILL "$OURS"
wait "$OURS" 2>/dev/null
check "  the agent starts once it is gone" wait_for 20 serving
check "  status no longer names it" no_leftover
check "  slotd said it is gone" grep -q "agent pid $OURS of a previous slotd is gone" "$R/slotd.log"
stop_slotd
# ... or beside it, once restart_backoff_max is over.
HOLD=2s
ours
start_slotd survivor
check "survivor held past restart_backoff_max: the agent starts beside it" wait_for 20 serving
check "  it still runs" alive "$OURS"
check "  status still names it" held
check "  slotd said so" grep -q "still survives SIGKILL: starting the agent beside it" "$R/slotd.log"
kill -KILL "$OURS"
wait "$OURS" 2>/dev/null
check "  status drops it once it is gone" wait_for 10 no_leftover
check "  and the record still names our agent" sh -c '[ "$(cut -d" " -f1 "$0")" = "$1" ]' \
	"$run/agent.pid" "$(last_pid)"
stop_slotd
unset SLOTD_TEST_UNKILLABLE_LEFTOVER HOLD
finish
