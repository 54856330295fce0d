#!/bin/sh
# slotfleet's automatic upgrades (policies) over real guests (slotd +
# slotupd serve, each its own slot root and rpc_key) on a real RabbitMQ and
# SQLite, with no admin request for any upgrade:
#   A: a policy to v2.0.0 upgrades three guests on v1.0.0; a guest with
#      `[updater] automatic = no` stays on v1.0.0, its record FAILED with the
#      guest's reason and the instance view naming the policy; a fourth
#      guest started afterwards from v1.0.0 is upgraded too;
#   B: a policy to v3.0.0, whose agent passes its trial and exits 3 s later:
#      the first guest's slotd reverts it in probation, the guest casts
#      FAILED, the policy (max_failures 0) halts itself saying why, and no
#      other guest gets v3.0.0;
#   C: a policy to v4.0.0 at 1 cast/s, slotfleet SIGKILLed once it casts
#      and restarted: every guest ends on v4.0.0 with one attempt and one
#      record, the automatic = no guest one refusal.
. "$SLOTD_SRC/tests/support/lib.sh"
. "$SLOTD_SRC/tests/support/guest.sh"
. "$SLOTD_SRC/tests/support/slotfleet.sh"
. "$SLOTD_SRC/tests/support/slotfleet_rollout.sh"
command -v curl >/dev/null || { echo "curl not installed" >&2; exit 77; }

guest_bundles 1 2 4 || exit 1
pack_demo v3.0.0 crash-3s && mv "$T/v3.0.0-crash-3s.bundle" "$T/www/v3.bundle" || exit 1
AUTO="real-1 real-2 real-3"
GUEST_AGENT_EXTRA="probation = 10s
probation_max_exits = 0"
guest_env || exit 1
printf '# instance keys\n' > "$T/rpc_keys"
for g in $AUTO real-4 real-n; do
	printf '%s policy-real-key-%s-0123456789\n' "$g" "$g" >> "$T/rpc_keys"
done
add() { # G [UPDATER-LINES]: a guest on v1.0.0
	GUEST_UPDATER_EXTRA=${2:-} GUEST_AMQP_EXTRA="rpc_key = policy-real-key-$1-0123456789" \
		guest_add "$T/$1" "$1" || return 1
	"$B/slotupd" -c "$T/$1/slotd.ini" install "$T/www/v1.bundle" > /dev/null 2>> "$T/$1/install.log" ||
		{ cat "$T/$1/install.log"; return 1; }
}
for g in $AUTO; do add "$g" || exit 1; done
add real-n "automatic = no" || exit 1
fleet_tokens
fleet_ini "path = $T/fleet.db" "rpc_keys = $T/rpc_keys"
fleet_start || exit 1

instance_is() { # G VERSION: slotfleet has G's heartbeat of VERSION
	[ "$(api GET "/instances/$1")" = 200 ] && [ "$(body_get '["instance"]["agent_version"]')" = "$2" ]
}
all_at() { # VERSION G...
	v=$1
	shift
	for g in "$@"; do instance_is "$g" "$v" || return 1; done
}
# records G POLICY EXPR: EXPR over G's upgrade records cast by POLICY (bound to r)
records() {
	api GET "/upgrades?instance_id=$1" > /dev/null &&
		body_py "(lambda r: $3)([u for u in j['upgrades'] if u['policy_id'] == '$2'])"
}
policy_is() { [ "$(api GET "/policies/$1")" = 200 ] && [ "$(body_get '["policy"]["state"]')" = "$2" ]; }
policy() { # ID VERSION BUNDLE EXTRA-JSON: POST it, prints the status
	api POST /policies "{\"policy_id\": \"$1\", \"instance_version\": \"$2\", \"location\": \"$URL/$3\", $4}"
}
check "slotfleet heard every guest on v1.0.0" wait_until 60 all_at v1.0.0 $AUTO real-n

# A
check "policy pa to v2.0.0: 201" [ "$(policy pa v2.0.0 v2.bundle '"rate": 5, "probation": "1s"')" = 201 ]
check "the three guests report v2.0.0 with no admin request" wait_until 180 all_at v2.0.0 $AUTO
for g in $AUTO; do
	id=$(records "$g" pa 'r[0]["id"]')
	check "$g: one record, cast by pa, SUCCESS from v1.0.0 to v2.0.0" \
		[ "$(records "$g" pa '[(u["state"], u["from_version"], u["to_version"]) for u in r]')" = \
		"[('SUCCESS', 'v1.0.0', 'v2.0.0')]" ]
	check "$g: its history has the attempt SUCCESS" [ "$(guest_record "$g" "$id" state)" = SUCCESS ]
	check "$g: slot b runs v2.0.0" guest_runs "$g" b v2.0.0
done
refused() { [ "$(records real-n pa '[u["state"] for u in r]')" = "['FAILED']" ]; }
check "real-n (automatic = no): its record under pa is FAILED" wait_until 60 refused
reason=$(records real-n pa 'r[0]["reason"]')
check "with the guest's reason ($reason)" starts_with "$reason" "message refused: automatic upgrades disabled on this guest"
view_says() {
	[ "$(api GET /instances/real-n)" = 200 ] &&
		[ "$(body_py '[j["instance"]["last_upgrade"][k] for k in ("policy_id", "state", "to_version")]')" = \
		"['pa', 'FAILED', 'v2.0.0']" ] && [ "$(body_get '["instance"]["last_upgrade"]["reason"]')" = "$reason" ]
}
check "the instance view names the policy and the reason" view_says
printf '%s\n' "$ADMIN" > "$T/token"
check "slotctl --api instance says so too" sh -c '"$1/slotctl" --api "$2" --token-file "$3" --tenant acme instance real-n |
	grep -q "^cast by: *policy pa$"' _ "$B" "http://127.0.0.1:$FLEET_PORT" "$T/token"
stays() { guest_runs "$1" "$2" "$3" && [ "$(guest_attempts "$1" "$4")" = 0 ]; } # G SLOT V NOT-V
check "real-n runs v1.0.0 still, no attempt at v2.0.0" stays real-n a v1.0.0 v2.0.0

add real-4 || exit 1
check "real-4, started later from v1.0.0, reports v2.0.0" wait_until 120 all_at v2.0.0 real-4
only_pa() {
	[ "$(api GET "/upgrades?instance_id=real-4")" = 200 ] &&
		[ "$(body_py '[(u["policy_id"], u["state"]) for u in j["upgrades"]]')" = "[('pa', 'SUCCESS')]" ]
}
check "real-4: every record it has is pa's, one SUCCESS" only_pa
check "real-4: slot b runs v2.0.0" guest_runs real-4 b v2.0.0
check "real-n was not cast again" [ "$(records real-n pa 'len(r)')" = 1 ]
check "pa deleted: 200" [ "$(api DELETE /policies/pa)" = 200 ]

# B
check "policy pb to v3.0.0 (crashes in probation): 201" [ "$(policy pb v3.0.0 v3.bundle \
	'"rate": 5, "max_in_flight": 1, "probation": "300s", "max_failures": 0, "budget_window": 10')" = 201 ]
check "pb halts itself" wait_until 120 policy_is pb HALTED
check "saying why" starts_with "$(body_get '["policy"]["reason"]')" \
	"failure budget spent: 1 of the last 1 finished upgrades FAILED"
victims() { for g in $AUTO real-4; do [ "$(records "$g" pb 'len(r)')" = 0 ] || echo "$g"; done; }
v=$(victims)
check "exactly one guest got v3.0.0 ($v)" [ "$(echo "$v" | wc -w)" = 1 ]
id=$(records "$v" pb 'r[0]["id"]')
reverted() { [ "$(guest_record "$v" "$id" state)" = FAILED ] && starts_with "$(guest_record "$v" "$id" error)" "probation: "; }
check "$v: its slotd reverted it in probation" reverted
recorded() {
	[ "$(records "$v" pb '(r[0]["state"], r[0]["reason"])')" = "('FAILED', '$(guest_record "$v" "$id" error)')" ]
}
check "$v: slotfleet's record FAILED with the guest's reason" recorded
check "$v: back on v2.0.0 in slot b" guest_runs "$v" b v2.0.0
for g in $AUTO real-4; do
	[ "$g" = "$v" ] && continue
	check "$g: no attempt at v3.0.0, still on v2.0.0" stays "$g" b v2.0.0 v3.0.0
done

# C
check "policy pc to v4.0.0 at 1/s: 201" [ "$(policy pc v4.0.0 v4.bundle '"rate": 1, "probation": "1s"')" = 201 ]
cast_some() {
	n=0
	for g in $AUTO real-4; do n=$((n + $(records "$g" pc 'len(r)'))); done
	[ "$n" -ge 1 ]
}
check "pc casts" wait_until 60 cast_some
fleet_stop KILL
fleet_start || exit 1
check "restarted, every guest reports v4.0.0" wait_until 240 all_at v4.0.0 $AUTO real-4
once_pc() { [ "$(records "$1" pc '[u["state"] for u in r]')" = "['SUCCESS']" ] && [ "$(guest_attempts "$1" v4.0.0)" = 1 ]; }
for g in $AUTO real-4; do
	check "$g: one record under pc, SUCCESS; one attempt at v4.0.0" once_pc "$g"
	check "$g: slot a runs v4.0.0" guest_runs "$g" a v4.0.0
done
refused_pc() { [ "$(records real-n pc '[u["state"] for u in r]')" = "['FAILED']" ]; }
check "real-n: one refusal under pc" wait_until 30 refused_pc
check "real-n: still on v1.0.0, no attempt at v4.0.0" stays real-n a v1.0.0 v4.0.0
fleet_stop
check "slotfleet stops cleanly (exit 0)" [ "$FLEET_RC" = 0 ]
finish
