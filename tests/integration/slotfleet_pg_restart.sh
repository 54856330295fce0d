#!/bin/sh
# slotfleet's report consumer on PostgreSQL across a server crash: reports
# stored (their statements prepared on the connection), PostgreSQL killed,
# more reports queued meanwhile: the consumer fails to store them, keeps
# them unacknowledged and retries; PostgreSQL started again, the consumer
# stores them on a new connection (its statements prepared again), each
# state once; the first reports delivered again change nothing.
. "$SLOTD_SRC/tests/support/lib.sh"
. "$SLOTD_SRC/tests/support/guest.sh"
. "$SLOTD_SRC/tests/support/postgres.sh"
. "$SLOTD_SRC/tests/support/slotfleet.sh"
S=$SLOTD_SRC/tests/support
N=200

pg_start "$T/pg" || exit 1
rabbit_start "$T/rabbit" || { echo "rabbitmq did not start"; exit 1; }
AMQP=amqp://guest:guest@127.0.0.1:$RABBIT_PORT/
fleet_tokens
fleet_ini "url = $PG_URL" "prefetch = 64"
fleet_start || exit 1

sql() { "$PG_BINDIR/psql" -h 127.0.0.1 -p "$PG_PORT" -U slotfleet -d fleet -Atc "$1"; }
# stored PREFIX: "SUCCESS-records events" for PREFIX's upgrades.
stored() {
	sql "SELECT (SELECT count(*) FROM upgrades WHERE id LIKE '$1-%' AND state = 6) || ' ' ||
		(SELECT count(*) FROM upgrade_events WHERE upgrade_id LIKE '$1-%')"
}
is_stored() { [ "$(stored "$1")" = "$2" ]; }

/usr/bin/python3 "$S/report_burst.py" "$AMQP" first "$N"
check "the first $N upgrades' reports are stored, each state once" \
	wait_for 120 is_stored first "$N $((N * 5))"

pg_stop KILL
lines=$(wc -l < "$T/fleet.log")
/usr/bin/python3 "$S/report_burst.py" "$AMQP" second "$N"
check "with PostgreSQL down, the consumer keeps them and retries" \
	wait_for 60 sh -c 'tail -n +"$1" "$2" | grep -q "reports not stored: postgresql: .*retrying"' \
	_ "$((lines + 1))" "$T/fleet.log"
pg_start "$T/pg" || { echo "slotfleet_pg_restart: PostgreSQL did not restart" >&2; exit 1; }
check "PostgreSQL back: the reports queued meanwhile are stored, each state once" \
	wait_for 120 is_stored second "$N $((N * 5))"

/usr/bin/python3 "$S/report_burst.py" "$AMQP" first "$N"
/usr/bin/python3 "$S/report_burst.py" "$AMQP" marker 1
check "the first reports delivered again (then a marker after them) are consumed" \
	wait_for 60 is_stored marker "1 5"
check "and changed nothing ($(stored first))" is_stored first "$N $((N * 5))"
check "no report was refused" sh -c '! grep -q "report refused" "$1"' _ "$T/fleet.log"
fleet_stop
check "slotfleet stops cleanly (exit 0)" [ "$FLEET_RC" = 0 ]
finish
