#!/bin/sh
# slotfleet's rollout driver keeps to `rate` and stops casting as soon as a
# FAILED is stored (SQLite, a real RabbitMQ, simulated guests):
#   P  30 guests at rate 10: never more than 11 casts in any second, and
#      4.5/s or more on average: the driver once cast one per step and slept
#      250 ms after each, 4/s at most, for any rate between 8 and what a
#      cast costs (and burst above the rate when it fell behind); not 10: on
#      a loaded machine, with sanitizers, a step costs up to ~150 ms;
#   H  200 guests in one wave at rate 100 (2 s of casts; faster than the
#      old driver could cast, which then cast the whole wave in one step
#      before judging again), the third answers FAILED (0.3 s after its
#      cast), max_failure_rate 0: HALTED with most of the wave never cast,
#      and no cast planned after HALTED (database).
. "$SLOTD_SRC/tests/support/lib.sh"
. "$SLOTD_SRC/tests/support/guest.sh"
. "$SLOTD_SRC/tests/support/slotfleet.sh"
. "$SLOTD_SRC/tests/support/slotfleet_rollout.sh"
command -v curl >/dev/null || { echo "curl not installed" >&2; exit 77; }
command -v sqlite3 >/dev/null || { echo "sqlite3 not installed" >&2; exit 77; }

ids() { # PREFIX COUNT: PREFIX001 .. one a line
	seq -f "$1%03g" 1 "$2"
}
{
	ids p 30 | sed 's/$/ v1.0.0 ok/'
	ids h 200 | sed 's/$/ v1.0.0 ok/; s/^h003 v1.0.0 ok$/h003 v1.0.0 fail/'
} > "$T/plan"
export HEARTBEAT=30	# few heartbeats: 230 guests on one connection
rollout_env "$T/plan" || exit 1
upgrade='"instance_version": "v2.0.0", "location": "http://127.0.0.1:9/v2.bundle"'
json_list() { ids "$1" "$2" | sed 's/.*/"&"/' | paste -sd, -; }

code=$(api POST /rollouts "{$upgrade, \"rollout_id\": \"rp\", \"targets\": {\"instances\": [$(json_list p 30)]}, \"waves\": [100], \"rate\": 10}")
check "rollout P accepted" [ "$code" = 202 ]
check "rollout P finishes" wait_rollout rp FINISHED 120
check "its casts kept to rate 10: 4.5/s or more, at most 11 in any second" \
	sim pace 4.5 11 $(ids p 30)

code=$(api POST /rollouts "{$upgrade, \"rollout_id\": \"rh\", \"targets\": {\"instances\": [$(json_list h 200)]}, \"waves\": [100], \"rate\": 100}")
check "rollout H accepted" [ "$code" = 202 ]
check "rollout H halts on h003's FAILED" wait_rollout rh HALTED 120
cast_count() { sim casts $(ids h 200) | tr ' ' '\n' | awk '{ s += $1 } END { print s + 0 }'; }
planned() { sqlite3 "$T/fleet.db" "SELECT COUNT(*) FROM rollout_targets WHERE rollout_id = 'rh' AND upgrade_id <> ''"; }
unconfirmed() { [ "$(sqlite3 "$T/fleet.db" "SELECT COUNT(*) FROM rollout_targets WHERE rollout_id = 'rh' AND upgrade_id <> '' AND cast_us = 0")" = 0 ]; }
check "every planned cast is confirmed" wait_until 30 unconfirmed
delivered() { [ "$(cast_count)" = "$(planned)" ]; }
check "and delivered" wait_until 30 delivered
echo "rollout H: $(planned) of 200 cast, $(sim after_failed $(ids h 200)) after the FAILED was sent"
check "most of the wave was never cast (fewer than 120 of 200)" [ "$(planned)" -lt 120 ]
check "no cast planned after HALTED" [ "$(sqlite3 "$T/fleet.db" "SELECT COUNT(*) FROM upgrades u
	JOIN rollouts r ON r.id = u.rollout_id WHERE r.id = 'rh' AND u.created_us > r.updated_us")" = 0 ]
check "nor one arrives later" casts_stay 2 "$(planned)" $(ids h 200)

fleet_stop
check "slotfleet stops cleanly (exit 0)" [ "$FLEET_RC" = 0 ]
finish
