#!/bin/sh
# slotfleet's rollouts on SQLite with a real RabbitMQ and simulated guests
# (tests/support/guest_sim.py, which records every cast it receives):
#   waves go in order, each after the previous one's SUCCESS + probation,
#   chosen by a version selector (instances already there are left out);
#   a FAILED in the first wave (threshold 0) halts, later waves untouched
#   (no cast received, their queues empty); rollback_failed;
#   a silent guest times out ("no answer within 2s");
#   a guest's revert after SUCCESS, within probation, halts;
#   bad requests are 400 naming the field, wrong states 409.
# slotfleet_rollout_control.sh has pause, resume, cancel and a SIGKILL.
. "$SLOTD_SRC/tests/support/lib.sh"
. "$SLOTD_SRC/tests/support/guest.sh"
. "$SLOTD_SRC/tests/support/slotfleet.sh"
. "$SLOTD_SRC/tests/support/slotfleet_rollout.sh"
command -v curl >/dev/null || { echo "curl not installed" >&2; exit 77; }

{	# A's ten run v1.0.0 (a11 is newer): "below v1.1.0" selects them only.
	for i in 01 02 03 04 05 06 07 08 09 10; do echo "a$i v1.0.0 ok"; done
	echo "a11 v1.2.0 ok"
	echo "b01 v1.5.0 fail"
	for i in 02 03 04 05 06; do echo "b$i v1.5.0 ok"; done
	echo "e01 v1.5.0 revert:1"
	echo "e02 v1.5.0 ok"
	echo "f01 v1.5.0 silent"
} > "$T/plan"
rollout_env "$T/plan" || exit 1
upgrade='"instance_version": "v2.0.0", "location": "http://127.0.0.1:9/v2.bundle"'

# Bad requests: 400 naming the field, nothing recorded.
bad() { # FIELD BODY
	code=$(api POST /rollouts "$2")
	check "400 $1: $(printf %.50s "$2")" refused_with "$code" 400 "$1"
}
ok='"targets": {"instances": ["a01"]}, "waves": [100]'
bad waves "{$upgrade, \"targets\": {\"instances\": [\"a01\"]}, \"waves\": [10, 50]}"
bad "waves[1]" "{$upgrade, \"targets\": {\"instances\": [\"a01\"]}, \"waves\": [50, 50, 100]}"
bad waves "{$upgrade, \"targets\": {\"instances\": [\"a01\"]}}"
bad targets "{$upgrade, \"waves\": [100]}"
bad "targets.instances[1]" "{$upgrade, \"targets\": {\"instances\": [\"a01\", \"a01\"]}, \"waves\": [100]}"
bad "targets.instances[0]" "{$upgrade, \"targets\": {\"instances\": [\"a/1\"]}, \"waves\": [100]}"
bad targets.colour "{$upgrade, \"targets\": {\"colour\": 1}, \"waves\": [100]}"
bad targets "{$upgrade, \"targets\": {\"agent_version_below\": \"v0.1\"}, \"waves\": [100]}"
bad max_failure_rate "{$upgrade, $ok, \"max_failure_rate\": 1.5}"
bad rate "{$upgrade, $ok, \"rate\": 0}"
bad probation "{$upgrade, $ok, \"probation\": \"soon\"}"
bad timeout "{$upgrade, $ok, \"timeout\": 0}"
bad instance_version "{\"instance_version\": \"1..2\", \"location\": \"http://h/x\", $ok}"
bad colour "{$upgrade, $ok, \"colour\": 1}"
check "none of them was recorded" sh -c '[ "$(curl -s -H "X-Auth-Token: $0" "$1/rollouts")" = "{\"rollouts\":[],\"links\":[]}" ]' "$ADMIN" "$API"
check "404 for an unknown rollout" [ "$(api GET /rollouts/nope)" = 404 ]
check "405 for DELETE" [ "$(api DELETE /rollouts)" = 405 ]

# A: waves in order, chosen by version: a01..a10 (a11 runs v2 already).
known() { # VERSION COUNT
	[ "$(api GET "/instances?agent_version=$1&limit=100")" = 200 ] &&
		[ "$(body_py 'len(j["instances"])')" = "$2" ]
}
check "the simulated guests' heartbeats are stored" wait_until 30 known v1.5.0 9
check "A's too" wait_until 30 known v1.0.0 10
check "and a11's" wait_until 30 known v1.2.0 1
code=$(api POST /rollouts "{$upgrade, \"rollout_id\": \"ra\", \"targets\": {\"agent_version_below\": \"v1.1.0\"}, \"waves\": [10, 50, 100], \"rate\": 20, \"probation\": \"1s\"}")
check "POST rollouts answers 202" [ "$code" = 202 ]
check "with Location: .../mgmt/rollouts/ra" grep -qi "^Location: http://127.0.0.1:$FLEET_PORT/v1.0/acme/mgmt/rollouts/ra" "$T/headers"
check "the same rollout_id again is a 409" [ "$(api POST /rollouts "{$upgrade, \"rollout_id\": \"ra\", $ok}")" = 409 ]
check "rollout A finishes" wait_rollout ra FINISHED 90
check "its three waves had 1, 4 and 5 instances" [ "$(rollout_field ra '[w["size"] for w in j["rollout"]["waves"]]')" = "[1, 4, 5]" ]
check "all SUCCESS" [ "$(body_py 'all(w["states"] == {"SUCCESS": w["size"]} for w in j["rollout"]["waves"])')" = True ]
check "each instance got one attempt" sim once a01 a02 a03 a04 a05 a06 a07 a08 a09 a10
check "the one already newer got none" sim none a11
check "waves in order, each after the previous SUCCESS + 1 s probation" \
	sim order 1 "a01;a02,a03,a04,a05;a06,a07,a08,a09,a10"
api GET "/upgrades?instance_id=a07" > /dev/null
check "the upgrade record carries the rollout id" [ "$(body_py '[u["rollout_id"] for u in j["upgrades"]]')" = "['ra']" ]

# B: a failure in the first wave, threshold 0: HALTED, later waves untouched.
code=$(api POST /rollouts "{$upgrade, \"rollout_id\": \"rb\", \"targets\": {\"instances\": [$(list b 1 6)]}, \"waves\": [20, 100], \"rate\": 20}")
check "rollout B accepted" [ "$code" = 202 ]
check "rollout B halts" wait_rollout rb HALTED 60
check "naming the wave and the failures" [ "$(body_py 'j["rollout"]["reason"].startswith("wave 1: 1 of 2 failed")')" = True ]
check "the failed instance is listed with the guest's reason" \
	[ "$(body_py '[(f["instance_id"], f["reason"]) for f in j["rollout"]["failed"]]')" = "[('b01', 'sim: download failed')]" ]
check "the second wave's instances never got a cast" sim none b03 b04 b05 b06
queues_empty() { for i in "$@"; do [ "$(queue_depth "$i")" = 0 ] || return 1; done; }
check "and nothing waits in their queues" queues_empty b03 b04 b05 b06
check "nor arrives later" casts_stay 2 0 b03 b04 b05 b06
check "resume a HALTED rollout: 409" [ "$(api POST /rollouts/rb/action '{"resume": {}}')" = 409 ]
check "naming the state" grep -q "HALTED" "$T/body"
check "rollback_failed answers 202" [ "$(api POST /rollouts/rb/action '{"rollback_failed": {}}')" = 202 ]
check "with one rollback, for b01" [ "$(body_py '[(r["instance_id"], r["kind"], r["rollout_id"]) for r in j["rollbacks"]]')" = "[('b01', 'rollback', 'rb')]" ]
check "which the guest received" wait_until 20 grep -q " CAST b01 rollback " "$T/sim.log"
bad_action() { [ "$(api POST /rollouts/rb/action '{"explode": {}}')" = 400 ] && [ "$(body_get '["error"]["field"]')" = explode ]; }
check "bad action: 400 naming it" bad_action

# F: a guest that never answers times out.
code=$(api POST /rollouts "{$upgrade, \"rollout_id\": \"rf\", \"targets\": {\"instances\": [\"f01\"]}, \"waves\": [100], \"timeout\": \"2s\"}")
check "rollout F halts on the timeout" wait_rollout rf HALTED 60
check "the upgrade says: no answer within 2s" [ "$(body_py '[f["reason"] for f in j["rollout"]["failed"]]')" = "['no answer within 2s']" ]

api GET "/rollouts?state=HALTED" > /dev/null
check "GET rollouts?state=HALTED lists B and F" [ "$(body_py 'sorted(r["id"] for r in j["rollouts"])')" = "['rb', 'rf']" ]

# E: a revert after SUCCESS, within the probation, halts (threshold 0).
code=$(api POST /rollouts "{$upgrade, \"rollout_id\": \"re\", \"targets\": {\"instances\": [\"e01\", \"e02\"]}, \"waves\": [50, 100], \"probation\": \"5s\"}")
check "rollout E halts on the revert" wait_rollout re HALTED 60
check "with the guest's probation reason" \
	[ "$(body_py '[(f["instance_id"], f["reason"][:11]) for f in j["rollout"]["failed"]]')" = "[('e01', 'probation: ')]" ]
check "the second wave got nothing" sim none e02
revert_events() {
	id=$(curl -s -H "X-Auth-Token: $ADMIN" "$API/upgrades?instance_id=e01" | json_get '["upgrades"][0]["id"]')
	[ "$(api GET "/upgrades/$id")" = 200 ] && /usr/bin/python3 -c '
import json, sys
ev = [e["state"] for e in json.load(open(sys.argv[1]))["upgrade"]["events"]]
sys.exit(0 if ev[-2:] == ["SUCCESS", "FAILED"] else 1)' "$T/body"
}
check "its upgrade record went SUCCESS, then FAILED" revert_events

fleet_stop
check "slotfleet stops cleanly (exit 0)" [ "$FLEET_RC" = 0 ]
finish
