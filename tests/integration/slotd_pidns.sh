#!/bin/sh
# slotd_pidns: slotd in a PID namespace whose /proc is the host's (`unshare
# --pid --fork` without --mount-proc, as a plain unshare and some init
# wrappers leave it), SIGKILLed and started again the same way (issue 23).
# There /proc/PID is another process than slotd's PID, so run/agent.pid must
# be neither written nor believed: a restarted slotd serves a new agent every
# time, and signals nothing it did not start, however the pids fall.
#  1. slotd as PID 1 of the namespace: keeps no record (its agents die with
#     it); one planted naming a live host process with the right start time,
#     boot id and a token is ignored.  Five kill/restart rounds.
#  2. slotd as PID 2 under a shell as PID 1: the foreign /proc is noticed
#     (/proc/self is not its pid), the same planted record ignored.
. "$SLOTD_SRC/tests/support/lib.sh"
B=$SLOTD_BIN
command -v unshare >/dev/null || { echo "unshare not available" >&2; exit 77; }
unshare --pid --fork true 2>/dev/null || { echo "cannot create a PID namespace here" >&2; exit 77; }
make_keys "$T/keys" || exit 1
pack_demo v1.0.0 good
R=$T/root
demo_ini "$T/slotd.ini" "$R"
export AGENT_LOG="$T/agent.log" DEMO_AGENT_NO_PDEATHSIG=1

NS=""
# boot PID1|PID2: slotd in a new PID namespace under the host's /proc.
boot() {
	rm -f "$R/run/control.sock"	# a killed slotd's: wait for the new one
	if [ "$1" = PID1 ]; then
		unshare --pid --fork "$B/slotd" -c "$T/slotd.ini" 2>> "$T/slotd.log" &
	else	# a shell is the namespace's init; slotd its child
		unshare --pid --fork /bin/sh -c '"$0" -c "$1" & wait' "$B/slotd" "$T/slotd.ini" \
			2>> "$T/slotd.log" &
	fi
	NS=$!
	PIDS="$PIDS $NS"
	wait_for 20 test -S "$R/run/control.sock"
}
# The namespace's init (unshare's child) SIGKILLed: everything in it dies.
kill_ns() {
	init=$(ps -o pid= --ppid "$NS" | tr -d ' ')
	[ -n "$init" ] && kill -KILL "$init"
	wait "$NS" 2>/dev/null
}
serving() { slotd_serving "$T/slotd.ini" "$AGENT_LOG"; }

# A host process whose pid, start time and boot id a record can name exactly.
sleep 300 &
bystander=$!
PIDS="$PIDS $bystander"
boot_id=$(cat /proc/sys/kernel/random/boot_id)
plant() {
	printf '%s %s %s 0123456789abcdef0123456789abcdef\n' "$bystander" "$(proc_start_time $bystander)" \
		"$boot_id" > "$R/run/agent.pid"
}

boot PID1 || { cat "$T/slotd.log"; exit 1; }
check "PID 1: v1 installs" sh -c '"$0" -c "$1" install "$2" > /dev/null 2>&1' \
	"$B/slotupd" "$T/slotd.ini" "$T/v1.0.0-good.bundle"
check "PID 1: serving" wait_for 20 serving
check "PID 1: no run/agent.pid is kept" test ! -e "$R/run/agent.pid"
check "PID 1: slotd said why" grep -q "agent.pid not kept: slotd is PID 1" "$T/slotd.log"
for round in 1 2 3 4 5; do
	kill_ns
	[ "$round" = 3 ] && plant
	boot PID1
	check "PID 1, restart $round: a new agent is served" wait_for 20 serving
done
check "PID 1: the planted record was ignored" grep -q "agent.pid: ignored: slotd is PID 1" "$T/slotd.log"
check "PID 1: the host process it named was not signalled" proc_alive "$bystander"
check "PID 1: nothing was taken for a survivor" sh -c '! grep -q "previous slotd" "$0"' "$T/slotd.log"
kill_ns

: > "$T/slotd.log"
boot PID2 || { cat "$T/slotd.log"; exit 1; }
check "PID 2: serving" wait_for 20 serving
check "PID 2: the host's /proc is noticed" \
	grep -q "agent.pid not kept: /proc is not this PID namespace's" "$T/slotd.log"
check "PID 2: no run/agent.pid is kept" test ! -e "$R/run/agent.pid"
kill_ns
plant
boot PID2
check "PID 2, restart over a planted record: a new agent is served" wait_for 20 serving
check "PID 2: the record was ignored" grep -q "agent.pid: ignored: /proc is not" "$T/slotd.log"
check "PID 2: the host process it named was not signalled" proc_alive "$bystander"
kill_ns
finish
