#!/bin/sh
# Two slotfleet processes on one PostgreSQL (a private cluster on
# 127.0.0.1), a real RabbitMQ and simulated guests that heartbeat v1.0.0:
# two overlapping policies created at the same moment, one through each
# API, give one 201 and one 409 (the overlap check is in the insert's
# transaction); the policy is driven by exactly one process; SIGKILLed
# while casting, the other takes it over; every guest reports the target
# having received exactly one cast.
. "$SLOTD_SRC/tests/support/lib.sh"
. "$SLOTD_SRC/tests/support/guest.sh"
. "$SLOTD_SRC/tests/support/postgres.sh"
. "$SLOTD_SRC/tests/support/slotfleet.sh"
. "$SLOTD_SRC/tests/support/slotfleet_rollout.sh"
command -v curl >/dev/null || { echo "curl not installed" >&2; exit 77; }
export HEARTBEAT=1

pg_start "$T/pg" || exit 1
rabbit_start "$T/rabbit" || { echo "rabbitmq did not start"; exit 1; }
AMQP=amqp://guest:guest@127.0.0.1:$RABBIT_PORT/
G="g01 g02 g03 g04 g05 g06 g07 g08 g09 g10"
for i in $G; do echo "$i v1.0.0 ok"; done > "$T/plan"
sim_start "$T/plan" || exit 1
fleet_tokens
fleet_ini "url = $PG_URL"
check "the second slotfleet starts" fleet_start_second
fleet_start || exit 1
API1=$API
at() { # VERSION N: N instances report VERSION
	api GET "/instances?agent_version=$1&limit=100" > /dev/null && [ "$(body_py 'len(j["instances"])')" = "$2" ]
}
check "every guest's v1.0.0 heartbeat is stored" wait_until 30 at v1.0.0 10

post() { # API ID OUT: POST a policy to v2.0.0 over every instance
	curl -s -o "$3" -w '%{http_code}\n' -X POST -H "X-Auth-Token: $ADMIN" \
		-H 'Content-Type: application/json' --data-binary "{\"policy_id\": \"$2\",
		\"instance_version\": \"v2.0.0\", \"location\": \"http://127.0.0.1:9/v2.bundle\",
		\"rate\": 2, \"probation\": \"1s\"}" "$1/policies" > "$3.code"
}
post "$API1" pa "$T/pa" &
one=$!
post "$API2" pb "$T/pb" &
two=$!
wait "$one" "$two"
codes=$(cat "$T/pa.code" "$T/pb.code" | sort | paste -sd' ')
check "overlapping policies at once: one 201, one 409 ($codes)" [ "$codes" = "201 409" ]
if [ "$(cat "$T/pa.code")" = 201 ]; then won=pa lost=pb; else won=pb lost=pa; fi
check "the 409 names the policy that was created" \
	grep -q "overlaps policy $won" "$T/$lost"
driving() { grep -q "policy $won: driving it" "$1"; }
one_drives() { driving "$T/fleet.log" || driving "$T/fleet2.log"; }
check "one process drives $won" wait_until 30 one_drives
three_cast() { [ "$(casts_total $G)" -ge 3 ]; }
check "casting goes on" wait_until 60 three_cast
if driving "$T/fleet.log"; then
	first=$FLEET_PID other_log=$T/fleet2.log API=$API2
else
	first=$PID_fleet2 other_log=$T/fleet.log API=$API1
fi
check "and only that one" sh -c '! grep -q "policy $1: driving it" "$0"' "$other_log" "$won"
kill -KILL "$first"
wait "$first" 2>/dev/null
at_kill=$(casts_total $G)
check "killed after $at_kill casts, the other process takes it over" wait_until 60 driving "$other_log"
check "every guest reports v2.0.0" wait_until 90 at v2.0.0 10
check "every guest got exactly one cast" sim once $G
echo "# casts per instance (deliveries): $(sim casts $G)"
check "no guest has a second record under $won" sh -c '[ "$(
	curl -s -H "X-Auth-Token: $0" "$1/upgrades?limit=100" |
	/usr/bin/python3 -c "import json,sys; print(len([u for u in json.load(sys.stdin)[\"upgrades\"] if u[\"policy_id\"] == sys.argv[1]]))" "$2"
	)" = 10 ]' "$ADMIN" "$API" "$won"
finish
