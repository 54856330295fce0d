#!/bin/sh
# slotfleet's automatic upgrades (policies) on SQLite with a real RabbitMQ
# and simulated guests (tests/support/guest_sim.py):
#   a policy upgrades the old guests and not the one at the target, with
#   args.automatic and envelope version 1.1; a guest appearing later is
#   upgraded without any request; a guest that refuses automatic upgrades
#   is not cast again; one that speaks RPC API 1.0 is recorded FAILED and
#   never cast; casts never exceed the rate; a failing target halts the
#   policy after its budget; pause stops casts and resume goes on; slotfleet
#   SIGKILLed and restarted gives no instance a second attempt; bad
#   requests are 400 naming the field, an overlapping policy 409.
. "$SLOTD_SRC/tests/support/lib.sh"
. "$SLOTD_SRC/tests/support/guest.sh"
. "$SLOTD_SRC/tests/support/slotfleet.sh"
. "$SLOTD_SRC/tests/support/slotfleet_rollout.sh"
command -v curl >/dev/null || { echo "curl not installed" >&2; exit 77; }
export HEARTBEAT=1

{
	for i in 01 02 03; do echo "p$i v1.0.0 ok"; done
	echo "p04 v2.0.0 ok"
	echo "n01 v1.0.0 noauto"
	echo "c01 v1.0.0 ok none"
	for i in 01 02 03 04; do echo "f$i v2.5.0 fail"; done
} > "$T/plan"
rollout_env "$T/plan" || exit 1
target='"instance_version": "v2.0.0", "location": "http://127.0.0.1:9/v2.bundle"'

late() { # NAME PLAN-LINES...: another simulator, its guests appearing now
	name=$1
	shift
	printf '%s\n' "$@" > "$T/plan.$name"
	/usr/bin/python3 "$S/guest_sim.py" "$AMQP" "$T/plan.$name" "$T/sim.log" > "$T/sim.$name.out" 2>&1 &
	PIDS="$PIDS $!"
	wait_for 30 grep -q READY "$T/sim.$name.out"
}

bad() { # FIELD BODY
	code=$(api POST /policies "$2")
	check "400 $1: $(printf %.50s "$2")" refused_with "$code" 400 "$1"
}
bad window "{$target, \"window\": \"25:00-01:00\"}"
bad window "{$target, \"window\": \"01:00-01:00\"}"
bad "scope.instances[1]" "{$target, \"scope\": {\"instances\": [\"a\", \"a\"]}}"
bad scope.colour "{$target, \"scope\": {\"colour\": 1}}"
bad scope.max_version "{$target, \"scope\": {\"min_version\": \"2.0\", \"max_version\": \"1.0\"}}"
bad max_failures "{$target, \"budget_window\": 3, \"max_failures\": 4}"
bad max_in_flight "{$target, \"max_in_flight\": 0}"
bad rate "{$target, \"rate\": 0}"
bad retry_after "{$target, \"retry_after\": \"soon\"}"
bad location "{\"instance_version\": \"v2.0.0\"}"
bad colour "{$target, \"colour\": 1}"
check "none of them was recorded" sh -c '[ "$(curl -s -H "X-Auth-Token: $0" "$1/policies")" = "{\"policies\":[],\"links\":[]}" ]' "$ADMIN" "$API"
check "404 for an unknown policy" [ "$(api GET /policies/nope)" = 404 ]
check "405 for PUT" [ "$(api PUT /policies/nope)" = 405 ]
check "a member token: 403" [ "$(curl -s -o /dev/null -w '%{http_code}' -H "X-Auth-Token: $MEMBER" "$API/policies")" = 403 ]

known() { [ "$(api GET "/instances?agent_version=$1&limit=100")" = 200 ] && [ "$(body_py 'len(j["instances"])')" = "$2" ]; }
check "the simulated guests' heartbeats are stored" wait_until 30 known v1.0.0 5

# P1: every instance below v2.0.0, 2 casts/s.
code=$(api POST /policies "{$target, \"policy_id\": \"p1\", \"rate\": 2, \"max_failures\": 2, \"budget_window\": 10}")
check "POST policies answers 201" [ "$code" = 201 ]
check "with Location: .../mgmt/policies/p1" grep -qi "^Location: http://127.0.0.1:$FLEET_PORT/v1.0/acme/mgmt/policies/p1" "$T/headers"
check "the same policy_id again: 409" [ "$(api POST /policies "{$target, \"policy_id\": \"p1\", \"scope\": {\"instances\": [\"zz\"]}}")" = 409 ]
code=$(api POST /policies "{\"instance_version\": \"v2.1.0\", \"location\": \"http://h/x\", \"policy_id\": \"p2\"}")
overlap_refused() {
	[ "$code" = 409 ] && [ "$(body_get '["error"]["field"]')" = scope ] &&
		body_get '["error"]["message"]' | grep -q "policy p1"
}
check "an overlapping policy of the same line: 409 naming p1" overlap_refused
upgraded() { # INSTANCE...: each at v2.0.0 by its heartbeat
	for i in "$@"; do
		[ "$(api GET "/instances/$i")" = 200 ] && [ "$(body_get '["instance"]["agent_version"]')" = v2.0.0 ] || return 1
	done
}
check "the three old guests are upgraded" wait_until 60 upgraded p01 p02 p03
check "each got one attempt" sim once p01 p02 p03
check "the one at the target got none" sim none p04
check "casts say automatic, envelope version 1.1" sh -c '! grep " CAST p0[123] upgrade" "$0" | grep -v "v=1.1 automatic=1"' "$T/sim.log"
api GET "/upgrades?instance_id=p02" > /dev/null
check "the upgrade record carries the policy id" [ "$(body_py '[u["policy_id"] for u in j["upgrades"]]')" = "['p1']" ]
refused() { # INSTANCE REASON-START
	[ "$(api GET "/upgrades?instance_id=$1")" = 200 ] &&
		[ "$(body_py "[u['state'] + ':' + str(u['reason'].startswith('$2')) for u in j['upgrades']]")" = "['FAILED:True']" ]
}
check "a guest with automatic = no refused: its record says why" wait_until 30 refused n01 "automatic upgrades disabled on this guest"
check "a guest speaking RPC API 1.0: FAILED, not cast" wait_until 30 refused c01 "instance c01 speaks RPC API 1.0, this cast needs 1.1"
check "c01 got no cast" sim none c01
check "n01 is not cast again" casts_stay 4 1 n01
check "never more than 2 casts in a second" sim pace 0.1 2 p01 p02 p03 n01

# A guest appearing later is upgraded without any request.
late l1 "l01 v1.0.0 ok"
check "a late guest is upgraded by the policy" wait_until 60 upgraded l01
check "with one attempt" sim once l01

# Pause: nothing cast; resume: goes on.
action_gives() { # ACTION FIELD VALUE: 200 and the policy's FIELD is VALUE
	[ "$(api POST /policies/p1/action "{\"$1\": {}}")" = 200 ] && [ "$(body_get "[\"policy\"][\"$2\"]")" = "$3" ]
}
check "pause: 200" action_gives pause state PAUSED
check "pause again: 409" [ "$(api POST /policies/p1/action '{"pause": {}}')" = 409 ]
late l2 "l02 v1.0.0 ok"
check "paused: the new guest heartbeats" wait_until 30 known v1.0.0 3
check "paused: no cast to it" casts_stay 3 0 l02
check "resume: 200" action_gives resume reason "resumed by an admin"
check "resumed: it is upgraded" wait_until 60 upgraded l02

# SIGKILL while casting: restarted, no instance gets a second attempt.
K="k01 k02 k03 k04 k05 k06 k07 k08"
late k "k01 v1.0.0 ok" "k02 v1.0.0 ok" "k03 v1.0.0 ok" "k04 v1.0.0 ok" "k05 v1.0.0 ok" \
	"k06 v1.0.0 ok" "k07 v1.0.0 ok" "k08 v1.0.0 ok"
two_cast() { [ "$(casts_total $K)" -ge 2 ]; }
check "casting to the k guests" wait_until 30 two_cast
fleet_stop KILL
at_kill=$(casts_total $K)
fleet_start || exit 1
check "restarted, every k guest is upgraded" wait_until 90 upgraded $K
check "each got exactly one attempt (killed after $at_kill casts)" sim once $K
check "the restarted slotfleet drives p1" sh -c 'fleet_new_log() { tail -n +"$1" "$2"; }; fleet_new_log "$1" "$2" | grep -q "policy p1: driving it"' _ "$((fleet_lines + 1))" "$T/fleet.log"

# A failing target: halted past its budget (1 of 10), nothing more cast.
code=$(api POST /policies '{"instance_version": "v3.0.0", "location": "http://h/v3.bundle", "policy_id": "pf", "scope": {"instances": ["f01", "f02", "f03", "f04"]}, "max_in_flight": 1, "max_failures": 1, "budget_window": 10, "rate": 5}')
check "a policy of another line is accepted" [ "$code" = 201 ]
policy_is() { [ "$(api GET "/policies/$1")" = 200 ] && [ "$(body_get '["policy"]["state"]')" = "$2" ]; }
check "it halts" wait_until 60 policy_is pf HALTED
check "saying its budget is spent" starts_with "$(body_get '["policy"]["reason"]')" "failure budget spent: 2 of the last 2"
check "two of its instances were cast, not the others" [ "$(casts_total f01 f02 f03 f04)" = 2 ]
check "and no more after" casts_stay 3 2 f01 f02 f03 f04
check "resume a HALTED policy: 409" [ "$(api POST /policies/pf/action '{"resume": {}}')" = 409 ]
check "DELETE: 200" [ "$(api DELETE /policies/pf)" = 200 ]
check "then 404" [ "$(api GET /policies/pf)" = 404 ]
# A guest that never answers: FAILED `timeout` after its cast, counted in
# the budget (here 0: the policy halts).
late q "q01 v3.5.0 silent"
check "the silent guest heartbeats" wait_until 30 known v3.5.0 1
code=$(api POST /policies '{"instance_version": "v4.0.0", "location": "http://h/v4.bundle", "policy_id": "pt", "scope": {"instances": ["q01"]}, "timeout": "2s", "max_failures": 0, "budget_window": 10, "rate": 5}')
check "a policy with timeout 2s: 201, the view says it" answered "$code" 201 '["policy"]["timeout"]' 2s
check "it casts to the silent guest" wait_until 30 sh -c '[ "$(/usr/bin/python3 "$0" "$1" casts q01)" = 1 ]' "$S/rollout_check.py" "$T/sim.log"
check "which stays silent: the policy halts" wait_until 30 policy_is pt HALTED
check "  its budget spent by the timeout" starts_with "$(body_get '["policy"]["reason"]')" "failure budget spent: 1 of the last 1"
silent_failed() {
	[ "$(api GET "/upgrades?instance_id=q01")" = 200 ] &&
		[ "$(body_py '[(u["policy_id"], u["state"], u["reason"]) for u in j["upgrades"]]')" = \
		"[('pt', 'FAILED', 'no answer within 2s')]" ]
}
check "  its record FAILED: no answer within 2s" silent_failed
check "a timeout of 0 is a 400 naming it" refused_with "$(api POST /policies '{"instance_version": "v5.0.0", "location": "http://h/v5.bundle", "timeout": 0}')" 400 timeout
check "another tenant does not see p1" [ "$(curl -s -o /dev/null -w '%{http_code}' -H "X-Auth-Token: $OTHER" "http://127.0.0.1:$FLEET_PORT/v1.0/other/mgmt/policies/p1")" = 404 ]

fleet_stop
check "slotfleet stops cleanly (exit 0)" [ "$FLEET_RC" = 0 ]
finish
