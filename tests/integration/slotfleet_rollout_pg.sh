#!/bin/sh
# Two slotfleet processes on one PostgreSQL (a private cluster on
# 127.0.0.1), a real RabbitMQ and simulated guests: a rollout created
# through one API is driven by exactly one process (the other sees it
# RUNNING but not its lock); SIGKILLed mid-rollout, the other takes it over
# and finishes it; every instance got exactly one attempt.
. "$SLOTD_SRC/tests/support/lib.sh"
. "$SLOTD_SRC/tests/support/guest.sh"
. "$SLOTD_SRC/tests/support/postgres.sh"
. "$SLOTD_SRC/tests/support/slotfleet.sh"
. "$SLOTD_SRC/tests/support/slotfleet_rollout.sh"
command -v curl >/dev/null || { echo "curl not installed" >&2; exit 77; }

pg_start "$T/pg" || exit 1
rabbit_start "$T/rabbit" || { echo "rabbitmq did not start"; exit 1; }
AMQP=amqp://guest:guest@127.0.0.1:$RABBIT_PORT/
G="g01 g02 g03 g04 g05 g06 g07 g08 g09 g10 g11 g12"
for i in $G; do echo "$i v1.5.0 ok"; done > "$T/plan"
sim_start "$T/plan" || exit 1
fleet_tokens
fleet_ini "url = $PG_URL"
check "the second slotfleet starts" fleet_start_second
fleet_start || exit 1
upgrade='"instance_version": "v2.0.0", "location": "http://127.0.0.1:9/v2.bundle"'
code=$(api POST /rollouts "{$upgrade, \"rollout_id\": \"rg\", \"targets\": {\"instances\": [$(list g 1 12)]}, \"waves\": [25, 100], \"rate\": 3, \"probation\": \"1s\"}")
check "the rollout is accepted" [ "$code" = 202 ]
driving() { grep -q "rollout rg: driving it" "$1"; }
one_drives() { driving "$T/fleet.log" || driving "$T/fleet2.log"; }
check "one process drives it" wait_until 30 one_drives
four_cast() { [ "$(casts_total $G)" -ge 4 ]; }
check "casting goes on" wait_until 60 four_cast
if driving "$T/fleet.log"; then
	first=$FLEET_PID; first_log=$T/fleet.log; other_log=$T/fleet2.log
else
	first=$PID_fleet2; first_log=$T/fleet2.log; other_log=$T/fleet.log
fi
check "and only that one" sh -c '! grep -q "rollout rg: driving it" "$0"' "$other_log"
kill -KILL "$first"
wait "$first" 2>/dev/null
at_kill=$(casts_total $G)
check "killed after $at_kill casts, the other process takes it over" wait_until 60 driving "$other_log"
# Ask the surviving API.
[ "$first" = "$FLEET_PID" ] && API=$API2
check "and finishes it" wait_rollout rg FINISHED 90
check "every instance got exactly one attempt" sim once $G
echo "# casts per instance (deliveries): $(sim casts $G)"
check "the store is PostgreSQL" grep -q "store: postgresql" "$first_log"
check "nothing was logged as a rollout error" sh -c '! grep -q "rollout rg: step" "$0" "$1"' "$first_log" "$other_log"
finish
