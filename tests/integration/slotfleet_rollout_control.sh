#!/bin/sh
# slotfleet's rollouts under control, on SQLite with a real RabbitMQ and
# simulated guests (tests/support/guest_sim.py records every cast):
#   pause stops casting, resume goes on, cancel ends it (through slotctl);
#   slotfleet SIGKILLed mid-rollout and restarted finishes it without a
#   second attempt on any instance.
. "$SLOTD_SRC/tests/support/lib.sh"
. "$SLOTD_SRC/tests/support/guest.sh"
. "$SLOTD_SRC/tests/support/slotfleet.sh"
. "$SLOTD_SRC/tests/support/slotfleet_rollout.sh"
command -v curl >/dev/null || { echo "curl not installed" >&2; exit 77; }

{
	for i in 01 02 03 04 05 06 07 08; do echo "c$i v1.5.0 ok"; done
	for i in 01 02 03 04 05 06 07 08 09 10 11 12; do echo "d$i v1.5.0 ok"; done
} > "$T/plan"
rollout_env "$T/plan" || exit 1
upgrade='"instance_version": "v2.0.0", "location": "http://127.0.0.1:9/v2.bundle"'

# C: pause, resume, cancel, through slotctl; a cast every 2 s, so that each
# step below happens between two casts even on a loaded machine.
ctl rollout create --id rc --version v2.0.0 --location http://127.0.0.1:9/v2.bundle \
	--instances c01,c02,c03,c04 --instances c05,c06,c07,c08 --waves 100 --rate 0.5 > "$T/ctl.out"
check "slotctl rollout create (options after the command)" grep -q "^rc RUNNING" "$T/ctl.out"
C="c01 c02 c03 c04 c05 c06 c07 c08"
two_cast() { [ "$(casts_total $C)" -ge 2 ]; }
check "casting starts" wait_until 30 two_cast
ctl rollout pause rc > "$T/ctl.out"
check "slotctl rollout pause: PAUSED" grep -q "^rc PAUSED" "$T/ctl.out"
check "its reason says paused, not cancelled" \
	[ "$(rollout_field rc 'j["rollout"]["reason"]')" = "paused by an admin" ]
sent='8 - j["rollout"]["waves"][0]["states"].get("PENDING", 0)'
planned=$(rollout_field rc "$sent")
casts_are() { n=$1; shift; [ "$(casts_total "$@")" = "$n" ]; }
check "casts planned before the pause arrive ($planned)" wait_until 20 casts_are "$planned" $C
check "and no more while paused" casts_stay 5 "$planned" $C
check "fewer than all were cast ($planned of 8)" [ "$planned" -lt 8 ]
ctl rollout resume rc > /dev/null
more_cast() { [ "$(casts_total $C)" -gt "$planned" ]; }
check "resume: casting goes on" wait_until 30 more_cast
check "its reason says resumed" [ "$(rollout_field rc 'j["rollout"]["reason"]')" = "resumed by an admin" ]
ctl rollout cancel rc > "$T/ctl.out"
check "slotctl rollout cancel: CANCELLED" grep -q "^rc CANCELLED" "$T/ctl.out"
cancelled=$(rollout_field rc "$sent")
check "casts planned before the cancel arrive ($cancelled)" wait_until 20 casts_are "$cancelled" $C
check "and no more after it" casts_stay 5 "$cancelled" $C
check "cancel again: 409" [ "$(api POST /rollouts/rc/action '{"cancel": {}}')" = 409 ]
ctl rollout show rc > "$T/ctl.out"
check "slotctl rollout show" grep -q "^state: *CANCELLED" "$T/ctl.out"
ctl rollout list --state CANCELLED > "$T/ctl.out"
check "slotctl rollout list --state CANCELLED" grep -q "^rc " "$T/ctl.out"

# D: SIGKILL mid-rollout; the restarted slotfleet goes on, no second attempt.
D="d01 d02 d03 d04 d05 d06 d07 d08 d09 d10 d11 d12"
code=$(api POST /rollouts "{$upgrade, \"rollout_id\": \"rd\", \"targets\": {\"instances\": [$(list d 1 12)]}, \"waves\": [50, 100], \"rate\": 4, \"probation\": \"1s\"}")
three_cast() { [ "$(casts_total $D)" -ge 3 ]; }
check "rollout D is casting" wait_until 30 three_cast
fleet_stop KILL
at_kill=$(casts_total $D)
fleet_start || exit 1
check "restarted, rollout D finishes" wait_rollout rd FINISHED 90
check "every instance got exactly one attempt (killed after $at_kill casts)" sim once $D
echo "# casts per instance (deliveries): $(sim casts $D)"
one_record_each() {
	for i in $D; do
		[ "$(api GET "/upgrades?instance_id=$i")" = 200 ] && [ "$(body_py 'len(j["upgrades"])')" = 1 ] || return 1
	done
}
check "one upgrade record per instance" one_record_each
check "slotfleet logged that it drove rd again" sh -c '[ "$(grep -c "rollout rd: driving it" "$0")" = 2 ]' "$T/fleet.log"
fleet_stop
check "slotfleet stops cleanly (exit 0)" [ "$FLEET_RC" = 0 ]
finish
