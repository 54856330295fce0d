#!/bin/sh
# slotfleet's rollouts over real guests: three of them (slotd + slotupd serve,
# each its own slot root and rpc_key, on probation after a commit) and
# simulated ones (tests/support/guest_sim.py) in the same rollouts, on a real
# RabbitMQ and SQLite:
#   A: a good bundle in two waves: each real guest upgraded (its history, its
#      agent on the new version, slotfleet's record with its from/to
#      versions), the second wave planned only after the first one's last
#      SUCCESS + the rollout's probation;
#   B: probation end to end: a bundle whose agent passes its trial and exits
#      3 s later; the real guest's slotd reverts it, slotupd serve casts
#      FAILED with slotd's reason for the same upgrade id, slotfleet's record
#      goes SUCCESS -> FAILED, the rollout (threshold 0) is HALTED and the
#      second wave, real and simulated, gets nothing; rollback_failed is
#      refused by the guest, already back on the good slot;
#   C: slotfleet SIGKILLed mid-rollout and restarted: the rollout finishes
#      and every guest, real or simulated, ran one attempt.
. "$SLOTD_SRC/tests/support/lib.sh"
. "$SLOTD_SRC/tests/support/guest.sh"
. "$SLOTD_SRC/tests/support/slotfleet.sh"
. "$SLOTD_SRC/tests/support/slotfleet_rollout.sh"
command -v curl >/dev/null || { echo "curl not installed" >&2; exit 77; }

guest_bundles 1 2 4 || exit 1
pack_demo v3.0.0 crash-3s && mv "$T/v3.0.0-crash-3s.bundle" "$T/www/v3.bundle" || exit 1
REAL="real-1 real-2 real-3"
# Probation on the guests: the first exit of a committed agent within 10 s
# reverts it (v3's agent exits 3 s after its start).
GUEST_AGENT_EXTRA="probation = 10s
probation_max_exits = 0"
guest_env || exit 1
printf '# instance keys\n' > "$T/rpc_keys"
for g in $REAL; do
	key=rollout-real-key-$g-0123456789
	printf '%s %s\n' "$g" "$key" >> "$T/rpc_keys"
	GUEST_AMQP_EXTRA="rpc_key = $key" guest_add "$T/$g" "$g" || exit 1
	"$B/slotupd" -c "$T/$g/slotd.ini" install "$T/www/v1.bundle" > /dev/null 2>> "$T/$g/install.log" ||
		{ cat "$T/$g/install.log"; exit 1; }
done
{
	for i in 01 02 03 04; do echo "s$i v1.0.0 ok"; done
	for i in 01 02 03; do echo "t$i v1.0.0 ok"; done
	for i in 01 02 03 04; do echo "u$i v1.0.0 ok"; done
} > "$T/plan"
sim_start "$T/plan" || exit 1
fleet_tokens
fleet_ini "path = $T/fleet.db" "rpc_keys = $T/rpc_keys"
fleet_start || exit 1

# record_of INSTANCE ROLLOUT: slotfleet's upgrade record (with its events)
# of the rollout's attempt on the instance, into $T/rec.INSTANCE
record_of() {
	[ "$(api GET "/upgrades?instance_id=$1")" = 200 ] || return 1
	rec_id=$(body_py "[u['id'] for u in j['upgrades'] if u['rollout_id'] == '$2'][0]") &&
		[ "$(api GET "/upgrades/$rec_id")" = 200 ] && cp "$T/body" "$T/rec.$1"
}
rec() { # INSTANCE EXPR: EXPR on record_of's record, bound to u
	/usr/bin/python3 -c 'import json,sys; u=json.load(open(sys.argv[1]))["upgrade"]; print(eval(sys.argv[2]))' \
		"$T/rec.$1" "$2"
}
guest_queue_depth() {
	rabbitmqctl -n "$RABBIT_NODE" -q list_queues name messages |
		awk -v q="slotupd.$1" '$1 == q { print $2 }'
}
# planned_after PROBATION ROLLOUT "A,B;C,D": every record of the second wave
# was created (planned, before its cast) after the first wave's last SUCCESS
# report + PROBATION seconds
planned_after() {
	for i in $(echo "$3" | tr ',;' '  '); do record_of "$i" "$2" || return 1; done
	/usr/bin/python3 -c '
import datetime, json, sys
def t(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
probation, first, second = float(sys.argv[2]), *(w.split(",") for w in sys.argv[3].split(";"))
ups = {i: json.load(open(sys.argv[1] + "/rec." + i))["upgrade"] for i in first + second}
done = max(t(e["at"]) for i in first for e in ups[i]["events"] if e["state"] == "SUCCESS")
planned = min(t(e["at"]) for i in second for e in ups[i]["events"] if e["state"] == "NEW")
print("second wave planned %.3f s after the last SUCCESS" % (planned - done))
sys.exit(0 if planned >= done + probation else 1)' "$T" "$1" "$3"
}

# A: v2.0.0, good, in two waves mixing real and simulated guests.  (Its
# agents never exit, so the rollout's probation may be shorter than the
# guests' own here; docs/fleet.md says why it should not be otherwise.)
code=$(api POST /rollouts "{\"rollout_id\": \"ra\", \"instance_version\": \"v2.0.0\", \"location\": \"$URL/v2.bundle\",
	\"targets\": {\"instances\": [\"real-1\", \"s01\", \"s02\", \"real-2\", \"real-3\", \"s03\", \"s04\"]},
	\"waves\": [40, 100], \"rate\": 5, \"probation\": \"2s\"}")
check "rollout A accepted (202)" [ "$code" = 202 ]
check "rollout A finishes" wait_rollout ra FINISHED 180
check "its waves had 3 and 4 instances, all SUCCESS" \
	[ "$(rollout_field ra '[(w["size"], w["states"]) for w in j["rollout"]["waves"]]')" = \
	"[(3, {'SUCCESS': 3}), (4, {'SUCCESS': 4})]" ]
for g in $REAL; do
	record_of "$g" ra
	id=$(rec "$g" 'u["id"]')
	check "$g: slotfleet's record SUCCESS, from v1.0.0 to v2.0.0 (the guest's versions)" \
		[ "$(rec "$g" '(u["state"], u["from_version"], u["to_version"])')" = "('SUCCESS', 'v1.0.0', 'v2.0.0')" ]
	check "$g: its history has the attempt $id SUCCESS to v2.0.0" \
		[ "$(guest_record "$g" "$id" state) $(guest_record "$g" "$id" to_version)" = "SUCCESS v2.0.0" ]
	check "$g: slot b runs v2.0.0" guest_runs "$g" b v2.0.0
	check "$g: its agent was started from v2.0.0" grep -q "^start b v2.0.0 " "$T/$g/agent.log"
done
check "wave 2 was planned after wave 1's last SUCCESS + 2 s" \
	planned_after 2 ra "real-1,s01,s02;real-2,real-3,s03,s04"
check "the simulated guests saw the same order" sim order 2 "s01,s02;s03,s04"
check "each simulated guest got one attempt" sim once s01 s02 s03 s04

# B: v3.0.0, whose agent passes its trial and exits 3 s later: real-1 (wave
# 1) reverts it in probation; threshold 0 halts the rollout.
before_b=$(date +%s)
code=$(api POST /rollouts "{\"rollout_id\": \"rb\", \"instance_version\": \"v3.0.0\", \"location\": \"$URL/v3.bundle\",
	\"targets\": {\"instances\": [\"real-1\", \"t01\", \"real-2\", \"real-3\", \"t02\", \"t03\"]},
	\"waves\": [33, 100], \"rate\": 5, \"probation\": \"300s\", \"max_failure_rate\": 0}")
check "rollout B accepted (202)" [ "$code" = 202 ]
check "rollout B halts" wait_rollout rb HALTED 120
check "on wave 1: 1 of 2 failed" [ "$(body_py 'j["rollout"]["reason"].startswith("wave 1: 1 of 2 failed")')" = True ]
check "well within its 300 s probation" [ $(($(date +%s) - before_b)) -lt 300 ]
record_of real-1 rb
id=$(rec real-1 'u["id"]')
reason=$(guest_record real-1 "$id" error)
reverted() { [ "$(guest_record real-1 "$id" state)" = FAILED ] && starts_with "$reason" "probation: "; }
check "real-1's slotd reverted the attempt: FAILED in its history ($reason)" reverted
probation_entry() { guest_json real-1 history | /usr/bin/python3 -c '
import json, sys
r = [r for r in json.load(sys.stdin) if r["kind"] == "probation"]
print(r[-1]["state"], r[-1]["error"]) if r else print("none")'; }
check "and a probation entry names the upgrade" [ "$(probation_entry)" = "FAILED $reason (upgrade $id)" ]
back_on_b() { guest_runs real-1 b v2.0.0 && [ "$(guest_json real-1 status | json_get '["slots"]["a"]["status"]')" = bad ]; }
check "real-1 is back on v2.0.0 in slot b, slot a bad" back_on_b
check "slotupd serve cast FAILED for the same upgrade id" grep -q "upgrade $id failed its probation: $reason" "$T/real-1/serve.log"
check "slotfleet's record went SUCCESS, then FAILED with slotd's reason" \
	[ "$(rec real-1 '[(e["state"], e["source"], e["reason"]) for e in u["events"]][-2:]')" = \
	"[('SUCCESS', 'guest', ''), ('FAILED', 'guest', '$reason')]" ]
check "the rollout lists real-1 as failed, with that reason" \
	[ "$(rollout_field rb '[(f["instance_id"], f["upgrade_id"], f["reason"]) for f in j["rollout"]["failed"]]')" = \
	"[('real-1', '$id', '$reason')]" ]
check "t01 (wave 1) got its cast" sim once t01
check "the second wave's simulated guests got none" sim none t02 t03
check "nor arrives later" casts_stay 3 0 t02 t03
for g in real-2 real-3; do
	check "$g (wave 2): nothing waits in its queue" [ "$(guest_queue_depth "$g")" = 0 ]
	check "$g: no attempt at v3.0.0 in its history" [ "$(guest_attempts "$g" v3.0.0)" = 0 ]
	check "$g: still on v2.0.0" guest_runs "$g" b v2.0.0
done
api GET "/upgrades?state=FAILED" > /dev/null
check "slotfleet has no upgrade of rb but real-1's FAILED" \
	[ "$(body_py '[u["instance_id"] for u in j["upgrades"] if u["rollout_id"] == "rb"]')" = "['real-1']" ]
# The operator's next step: the revert already put real-1 back, so its
# slotd refuses the rollback (the other slot is the bad one) and stays.
one_rollback() {
	[ "$(api POST /rollouts/rb/action '{"rollback_failed": {}}')" = 202 ] &&
		[ "$(body_py '[(r["instance_id"], r["kind"]) for r in j["rollbacks"]]')" = "[('real-1', 'rollback')]" ]
}
check "rollback_failed answers 202, one rollback, for real-1" one_rollback
rollback_id=$(body_py 'j["rollbacks"][0]["id"]')
check "real-1 refuses it: FAILED, nothing to roll back to" wait_until 60 upgrade_state "$rollback_id" FAILED
rollback_reason=$(body_get '["upgrade"]["reason"]')
guest_refused() {
	[ "$rollback_reason" = "$(guest_record real-1 "$rollback_id" error)" ] &&
		case $rollback_reason in *"slot a is bad: nothing to roll back to") true ;; *) false ;; esac
}
check "with the guest's reason ($rollback_reason)" guest_refused
check "real-1 stays on v2.0.0" guest_runs real-1 b v2.0.0

# C: v4.0.0, good; slotfleet SIGKILLed once the rollout casts, restarted.
C="real-1 u01 real-2 u02 real-3 u03 u04"
code=$(api POST /rollouts "{\"rollout_id\": \"rc\", \"instance_version\": \"v4.0.0\", \"location\": \"$URL/v4.bundle\",
	\"targets\": {\"instances\": [\"real-1\", \"u01\", \"real-2\", \"u02\", \"real-3\", \"u03\", \"u04\"]},
	\"waves\": [50, 100], \"rate\": 2, \"probation\": \"2s\"}")
check "rollout C accepted (202)" [ "$code" = 202 ]
casting() { [ "$(rollout_field rc '7 - sum(w["states"].get("PENDING", 0) for w in j["rollout"]["waves"])')" -ge 2 ]; }
check "rollout C is casting" wait_until 60 casting
at_kill=$(rollout_field rc '[w["states"] for w in j["rollout"]["waves"]]')
fleet_stop KILL
fleet_start || exit 1
check "restarted, rollout C finishes (killed after $at_kill)" wait_rollout rc FINISHED 180
restarted_wave_2() { fleet_new_log | grep -q "rollout rc: wave 1 done, wave 2 starts"; }
check "killed mid-rollout: the restarted slotfleet started wave 2" restarted_wave_2
echo "# casts per simulated guest (deliveries): $(sim casts u01 u02 u03 u04)"
check "each simulated guest got one attempt" sim once u01 u02 u03 u04
for g in $REAL; do
	record_of "$g" rc
	id=$(rec "$g" 'u["id"]')
	check "$g: one attempt at v4.0.0 in its history, slotfleet's, SUCCESS" \
		[ "$(guest_attempts "$g" v4.0.0) $(guest_record "$g" "$id" state)" = "1 SUCCESS" ]
	check "$g: slot a runs v4.0.0" guest_runs "$g" a v4.0.0
done
one_record_each() {
	for i in $C; do
		[ "$(api GET "/upgrades?instance_id=$i")" = 200 ] &&
			[ "$(body_py 'len([u for u in j["upgrades"] if u["rollout_id"] == "rc"])')" = 1 ] || return 1
	done
}
check "one upgrade record per instance" one_record_each
check "slotfleet logged that it drove rc again" sh -c '[ "$(grep -c "rollout rc: driving it" "$0")" = 2 ]' "$T/fleet.log"
fleet_stop
check "slotfleet stops cleanly (exit 0)" [ "$FLEET_RC" = 0 ]
finish
