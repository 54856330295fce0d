#!/bin/sh
# slotfleet on PostgreSQL (a private cluster on 127.0.0.1) with a real
# RabbitMQ and one real guest: the core scenario of
# tests/support/slotfleet_scenario.sh, the same as slotfleet.sh on SQLite.
. "$SLOTD_SRC/tests/support/lib.sh"
. "$SLOTD_SRC/tests/support/guest.sh"
. "$SLOTD_SRC/tests/support/postgres.sh"
. "$SLOTD_SRC/tests/support/slotfleet.sh"
pg_start "$T/pg" || exit 1
FLEET_DB="url = $PG_URL"
. "$SLOTD_SRC/tests/support/slotfleet_scenario.sh"
check "the store is PostgreSQL" grep -q "store: postgresql" "$T/fleet.log"
fleet_stop
check "slotfleet stops cleanly (exit 0)" [ "$FLEET_RC" = 0 ]
finish
