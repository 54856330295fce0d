#!/bin/sh
# fleet_store_pg.sh: the fleet store shared by processes: the unit suites
# (test_fleet_store, test_fleet_store_batch, test_fleet_store_open,
# test_fleet_store_rollout,
# test_fleet_store_policy, test_fleet_store_outbox, test_fleet_db) against a
# private PostgreSQL, processes opening a fresh database at once
# (migrations) and reporting on the same upgrades at once, on PostgreSQL and
# on one SQLite file, and a PostgreSQL stopped and started under a store
# that stays open (its prepared statements, gone with the old session, are
# prepared again on the new one, for reads and for batched writes).
. "$SLOTD_SRC/tests/support/lib.sh"
. "$SLOTD_SRC/tests/support/postgres.sh"

TEST="${SLOTD_BIN%/bin}/tests/test_fleet_store"	# the suite and the driver
BATCH_TEST="${SLOTD_BIN%/bin}/tests/test_fleet_store_batch"
OPEN_TEST="${SLOTD_BIN%/bin}/tests/test_fleet_store_open"
ROLLOUT_TEST="${SLOTD_BIN%/bin}/tests/test_fleet_store_rollout"
POLICY_TEST="${SLOTD_BIN%/bin}/tests/test_fleet_store_policy"
OUTBOX_TEST="${SLOTD_BIN%/bin}/tests/test_fleet_store_outbox"
DBTEST="${SLOTD_BIN%/bin}/tests/test_fleet_db"
for t in "$TEST" "$BATCH_TEST" "$OPEN_TEST" "$ROLLOUT_TEST" "$POLICY_TEST" "$OUTBOX_TEST" "$DBTEST"; do
	[ -x "$t" ] || { echo "fleet_store_pg: $t not built (make MODE=... tests)" >&2; exit 1; }
done

# Three processes open one fresh database at once: each must find the
# schema created exactly once (the others wait for it), then answer.
fresh_open() { # SPEC NAME
	for i in 1 2 3; do
		echo "get none" | "$TEST" drive "$1" > "$T/$2.open$i" 2>&1 &
		eval "o$i=\$!"
	done
	wait $o1; wait $o2; wait $o3
	for i in 1 2 3; do grep -qx missing "$T/$2.open$i" || { cat "$T/$2.open$i"; return 1; }; done
}

# Both processes send DOWNLOADING..SUCCESS for the same 150 upgrades
# (unknown at first, so both also race to create them).  Whatever the
# interleaving, each state is applied once: 5 events per upgrade.  Both
# have opened the store before either gets its command, so they run side
# by side, on the same rows at the same time (a fifo opened read-write
# does not wait for a writer).
N=150
race() { # SPEC NAME
	rm -f "$T/go1" "$T/go2"
	mkfifo "$T/go1" "$T/go2"
	"$TEST" drive "$1" <> "$T/go1" > "$T/$2.burst1" 2>&1 &
	p1=$!
	"$TEST" drive "$1" <> "$T/go2" > "$T/$2.burst2" 2>&1 &
	p2=$!
	wait_for 60 grep -qx ready "$T/$2.burst1" || return 1
	wait_for 60 grep -qx ready "$T/$2.burst2" || return 1
	printf 'burst %s %s\nquit\n' $N "$2" > "$T/go1"
	printf 'burst %s %s\nquit\n' $N "$2" > "$T/go2"
	wait $p1
	wait $p2
	a=$(sed -n 's/^applied //p' "$T/$2.burst1")
	b=$(sed -n 's/^applied //p' "$T/$2.burst2")
	echo "applied $a + $b"
	[ -n "$a" ] && [ -n "$b" ] && [ $((a + b)) -eq $((N * 5)) ] || return 1
	echo "tally $N $2" | "$TEST" drive "$1" > "$T/$2.tally"
	grep -v ready "$T/$2.tally"
	grep -qx "events $((N * 5)) success $N" "$T/$2.tally"
}

check "SQLite: three processes open a fresh file at once" fresh_open "$T/fleet.db" sqlite
check "SQLite: two concurrent reporters apply each state once" race "$T/fleet.db" sqlite

pg_start "$T/pg" || { echo "fleet_store_pg: PostgreSQL did not start" >&2; exit 1; }

check "upgrade store unit suite passes against PostgreSQL" \
	env FLEET_TEST_PG_URL="$PG_URL" "$TEST"
check "batch store unit suite (multi-row statements, layers) passes against PostgreSQL" \
	env FLEET_TEST_PG_URL="$PG_URL" "$BATCH_TEST"
check "open and migration unit suite passes against PostgreSQL" \
	env FLEET_TEST_PG_URL="$PG_URL" "$OPEN_TEST"
check "rollout store unit suite passes against PostgreSQL" \
	env FLEET_TEST_PG_URL="$PG_URL" "$ROLLOUT_TEST"
check "policy store unit suite passes against PostgreSQL" \
	env FLEET_TEST_PG_URL="$PG_URL" "$POLICY_TEST"
check "outbox store unit suite (claims under leases, SKIP LOCKED) passes against PostgreSQL" \
	env FLEET_TEST_PG_URL="$PG_URL" "$OUTBOX_TEST"
check "db layer suite (pipelined batches, prepared statements) passes against PostgreSQL" \
	env FLEET_TEST_PG_URL="$PG_URL" "$DBTEST"
check "PostgreSQL: three processes open a fresh database at once" fresh_open "$PG_URL" pg
check "PostgreSQL: two concurrent reporters apply each state once" race "$PG_URL" race

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
asked=1	# the first line is "ready"
ask "get race-0"
check "store answers while the server runs ($answer)" [ "$answer" = "state SUCCESS" ]
ask "burst 4 before"
check "and writes, its statements prepared ($answer)" [ "$answer" = "applied 20" ]
pg_stop
ask "get race-0"
check "a call while the server is down fails naming postgresql ($answer)" \
	sh -c "case '$answer' in 'error: postgresql: '*) true ;; *) false ;; esac"
ask "get race-0"
check "and fails again, without hanging ($answer)" \
	sh -c "case '$answer' in 'error: postgresql: '*) true ;; *) false ;; esac"
pg_start "$T/pg" || { echo "fleet_store_pg: PostgreSQL did not restart" >&2; exit 1; }
ask "burst 4 after"
check "the first call after the restart, a write, succeeds ($answer)" [ "$answer" = "applied 20" ]
ask "get race-0"
check "and a read ($answer)" [ "$answer" = "state SUCCESS" ]
ask "tally 4 after"
check "every report of it stored once ($answer)" [ "$answer" = "events 20 success 4" ]
ask "get race-1"
check "and the next ($answer)" [ "$answer" = "state SUCCESS" ]
exec 3>&-

finish
