#!/bin/sh
# slotfleet on SQLite with a real RabbitMQ and one real guest (slotd +
# slotupd serve): the core scenario of tests/support/slotfleet_scenario.sh.
. "$SLOTD_SRC/tests/support/lib.sh"
. "$SLOTD_SRC/tests/support/guest.sh"
. "$SLOTD_SRC/tests/support/slotfleet.sh"
FLEET_DB="path = $T/fleet.db"
. "$SLOTD_SRC/tests/support/slotfleet_scenario.sh"
fleet_stop
check "slotfleet stops on SIGTERM with exit 0" [ "$FLEET_RC" = 0 ]
check "after a 'stopped' line" grep -q "slotfleet: stopped" "$T/fleet.log"
finish
