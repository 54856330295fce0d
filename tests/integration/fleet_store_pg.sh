#!/bin/sh
# fleet_store_pg.sh: the fleet store on a private PostgreSQL: the unit suite
# against it, two processes reporting on the same upgrades at once, and a
# server stopped and started under a store that stays open.
. "$SLOTD_SRC/tests/support/lib.sh"
. "$SLOTD_SRC/tests/support/postgres.sh"

TEST="${SLOTD_BIN%/bin}/tests/test_fleet_store"
[ -x "$TEST" ] || { echo "fleet_store_pg: $TEST not built (make MODE=... tests)" >&2; exit 1; }

pg_start "$T/pg" || { echo "fleet_store_pg: PostgreSQL did not start" >&2; exit 1; }

check "unit suite passes against PostgreSQL" \
	env FLEET_TEST_PG_URL="$PG_URL" "$TEST"

# Concurrency: both processes send DOWNLOADING..SUCCESS for the same 150
# upgrades (unknown at first, so both also race to create them).  Whatever
# the interleaving, each state is applied once: 5 events per upgrade.
N=150
echo "burst $N race" | "$TEST" drive "$PG_URL" > "$T/burst1" 2>&1 &
p1=$!
echo "burst $N race" | "$TEST" drive "$PG_URL" > "$T/burst2" 2>&1 &
p2=$!
wait $p1
wait $p2
applied_sum() {
	a=$(sed -n 's/^applied //p' "$T/burst1")
	b=$(sed -n 's/^applied //p' "$T/burst2")
	[ -n "$a" ] && [ -n "$b" ] && [ $((a + b)) -eq $((N * 5)) ]
}
check "concurrent reporters apply each state once in all ($(cat "$T/burst1") + $(cat "$T/burst2"))" \
	applied_sum
echo "tally $N race" | "$TEST" drive "$PG_URL" > "$T/tally"
check "exactly 5 events per upgrade, all SUCCESS ($(cat "$T/tally"))" \
	grep -qx "events $((N * 5)) success $N" "$T/tally"

# Restart: one store stays open; commands on a fifo, answers in a file.
mkfifo "$T/cmd"
"$TEST" drive "$PG_URL" < "$T/cmd" > "$T/answers" 2>&1 &
PIDS="$PIDS $!"
exec 3> "$T/cmd"
ask() { # CMD: sends it, waits for answer number $asked
	asked=$((asked + 1))
	echo "$1" >&3
	wait_for 60 sh -c "[ \$(wc -l < '$T/answers') -ge $asked ]" || return 1
	answer=$(sed -n "${asked}p" "$T/answers")
}
asked=0
ask "get race-0"
check "store answers while the server runs ($answer)" [ "$answer" = "state SUCCESS" ]
pg_stop
ask "get race-0"
check "a call while the server is down fails naming postgresql ($answer)" \
	sh -c "case '$answer' in 'error: postgresql: '*) true ;; *) false ;; esac"
ask "get race-0"
check "and fails again, without hanging ($answer)" \
	sh -c "case '$answer' in 'error: postgresql: '*) true ;; *) false ;; esac"
pg_start "$T/pg" || { echo "fleet_store_pg: PostgreSQL did not restart" >&2; exit 1; }
ask "get race-0"
check "the first call after the restart succeeds ($answer)" [ "$answer" = "state SUCCESS" ]
ask "get race-1"
check "and the next ($answer)" [ "$answer" = "state SUCCESS" ]
exec 3>&-

finish
