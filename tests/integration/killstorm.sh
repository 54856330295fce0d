#!/bin/sh
# Kill storm (issue 16, item 2): many rounds, each an install of the next
# version (every fifth one's agent crashes during its trial) during which
# slotd, slotupd or both are SIGKILLed at a random moment.  slotd runs as PID 1
# of its own PID namespace (unshare --pid --fork, as pid1.sh), so its agent
# dies with it, as on a machine whose init died; every other boot without a
# /proc of its own (--mount-proc left out), as a plain unshare leaves it.  After each round
# what was killed is restarted (a slotupd that survived a slotd kill is left to
# finish on its own), and tests/support/torture_check.py checks the invariants
# (see its header): a good slot settles, its agent runs its version, `current`
# points at it, its files have the packed bytes, state and history read back,
# no outcome printed before the kill is lost or contradicted.
#   KILLSTORM_ROUNDS (default 20; `make torture` runs 1000), TORTURE_OUT (where
#   a failing round's logs go).
. "$SLOTD_SRC/tests/support/lib.sh"
B=$SLOTD_BIN
ROUNDS=${KILLSTORM_ROUNDS:-20}
command -v unshare >/dev/null || { echo "killstorm: skipped: unshare not available" >&2; exit 77; }
unshare --pid --fork --mount-proc true 2>/dev/null ||
	{ echo "killstorm: skipped: cannot create a PID namespace here" >&2; exit 77; }

ROOT=$T/root
UPD_PID="" SLOTD_PID=""
. "$SLOTD_SRC/tests/support/torture.sh"
ours_cleanup() {
	[ -n "$UPD_PID" ] && tt_kill_upd
	[ -n "$SLOTD_PID" ] && tt_kill_slotd
	return 0
}
AT_EXIT=ours_cleanup

tt_setup "${KILLSTORM_DATA_KB:-256}" || exit 1
tt_pack 1 good || { echo "slotpack failed"; exit 1; }
tt_boot || { cat "$T/slotd.log"; exit 1; }
tt_install 0 1
wait "$UPD_PID" || { cat "$UPD_LOG"; exit 1; }
TT_SPAN_MS=$(( ($(tt_now_ms) - UPD_START) * 5 / 4 ))
tt_note_outcome 0
tt_check 0 || exit 1

KILLS_SLOTD=0 KILLS_SLOTUPD=0 KILLS_BOTH=0 MISSED=0
: > "$T/kills"
start=$(date +%s)
round=1
while [ "$round" -le "$ROUNDS" ]; do
	n=$((round + 1))
	kind=good
	[ $((round % 5)) = 4 ] && kind=crash
	tt_pack $n $kind || { echo "slotpack failed"; exit 1; }
	tt_install $round $n
	set -- slotd slotupd both
	shift "$(tt_rand 3)"
	victim=$1
	case $victim in
	slotd) set -- --kill "$SLOTD_PID" ;;
	slotupd) set -- --kill "$UPD_PID" ;;
	both) set -- --kill "$UPD_PID" --kill "$SLOTD_PID"
	      [ "$(tt_rand 2)" = 1 ] && set -- --kill "$SLOTD_PID" --kill "$UPD_PID" ;;
	esac
	tt_strike "$@" || { echo "the strike failed"; exit 1; }
	case $victim in
	slotd) tt_kill_slotd; KILLS_SLOTD=$((KILLS_SLOTD + 1)) ;;
	slotupd) tt_kill_upd; KILLS_SLOTUPD=$((KILLS_SLOTUPD + 1)) ;;
	both) tt_kill_upd; tt_kill_slotd; KILLS_BOTH=$((KILLS_BOTH + 1)) ;;
	esac
	[ "$EXITED" = 1 ] && [ $victim != slotd ] && MISSED=$((MISSED + 1))
	echo "$victim $PHASE" >> "$T/kills"
	echo "round $round: v$n ($kind), killed $victim in $PHASE ($MODE)"
	[ -z "$SLOTD_PID" ] && { tt_boot || { tail "$T/slotd.log"; exit 1; }; }
	# A slotupd that outlived slotd goes on by itself (it may reach the new
	# slotd): its outcome, once printed, is as durable as any other.
	wait "$UPD_PID" 2>/dev/null
	rc=$?
	[ "$victim" = slotd ] || [ "$EXITED" = 1 ] && tt_note_outcome $rc
	UPD_PID=""
	tt_check $round
	round=$((round + 1))
done

n=$((ROUNDS + 2))
tt_pack $n good
tt_install final $n
check "a clean install after $ROUNDS rounds succeeds" wait "$UPD_PID"
tt_note_outcome 0
UPD_PID=""
check "every invariant holds after it" tt_check final
check "no attempt is left pending in the history" tt_none_pending

echo "summary: killstorm rounds=$ROUNDS failures=$TT_FAILS still_failing=$TT_STILL kills_slotd=$KILLS_SLOTD kills_slotupd=$KILLS_SLOTUPD kills_both=$KILLS_BOTH slotupd_already_done=$MISSED seconds=$(( $(date +%s) - start ))"
tt_count "$T/phases" | sed 's/^/phase: /'
tt_count "$T/kills" | sed 's/^/kill: /'
check "no invariant broke in $ROUNDS rounds of kills ($TT_FAILS rounds failed)" [ $((TT_FAILS + TT_STILL)) = 0 ]
finish
