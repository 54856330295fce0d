#!/bin/sh
# slotfleet on SQLite with a real RabbitMQ and one real guest (slotd +
# slotupd serve): the core scenario of tests/support/slotfleet_scenario.sh.
. "$SLOTD_SRC/tests/support/lib.sh"
. "$SLOTD_SRC/tests/support/guest.sh"
. "$SLOTD_SRC/tests/support/slotfleet.sh"
FLEET_DB="path = $T/fleet.db"
. "$SLOTD_SRC/tests/support/slotfleet_scenario.sh"
check "slotfleet stops cleanly on SIGTERM" sh -c 'kill -TERM "$0"; wait_pid() { while kill -0 "$0" 2>/dev/null; do sleep 0.1; done; }; wait_pid' "$FLEET_PID"
fleet_stop
check "exit status 0 and a 'stopped' line" sh -c '[ "$0" = 0 ] && grep -q "slotfleet: stopped" "$1"' "$FLEET_RC" "$T/fleet.log"
finish
