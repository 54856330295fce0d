#!/bin/sh
# Rollouts chosen in the database (issue 28): 20,000 instances written with
# the sqlite3 program into slotfleet's SQLite, then
#   a version selector: the targets and their waves are counted by the
#   store, in version order (v1.10.0 is above v1.9.0, though not as text),
#   the view's per-wave sizes match the percents;
#   a draft: created PAUSED over a selector, pages of ids appended (an id
#   already a target, or twice in a page, is a 400 naming it and keeps
#   nothing of the page), resume makes its waves from its count, and it
#   is fixed after (409);
#   bounds: more than 10,000 ids in one request, hostile fields.
# No broker: the driver cannot cast, so every target stays PENDING (or
# planned, once) and the counts are the plan's.
. "$SLOTD_SRC/tests/support/lib.sh"
. "$SLOTD_SRC/tests/support/slotfleet.sh"
. "$SLOTD_SRC/tests/support/slotfleet_rollout.sh"
command -v curl >/dev/null || { echo "curl not installed" >&2; exit 77; }
command -v sqlite3 >/dev/null || { echo "sqlite3 not installed (packaging/deps.sh)" >&2; exit 77; }
N=20000

FLEET_NO_BROKER=1
FLEET_API_EXTRA="max_body = 1048576"
fleet_tokens
fleet_ini "path = $T/fleet.db"
fleet_start || exit 1
fleet_stop
# i % 4: v1.0.0, v1.9.0, v1.10.0, v2.0.0 (5,000 each); every 1000th of the v1.10.0 ones never reported.
sqlite3 "$T/fleet.db" <<SQL || { echo "FAIL - filling the database"; exit 1; }
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $N - 1)
INSERT INTO instances (id, agent_version, agent_slot, last_seen_us)
SELECT printf('inst-%05d', i), CASE WHEN i % 1000 = 998 THEN ''
       ELSE 'v' || CASE i % 4 WHEN 0 THEN '1.0.0' WHEN 1 THEN '1.9.0' WHEN 2 THEN '1.10.0'
       ELSE '2.0.0' END END, 'a', 1 FROM n;
COMMIT;
SQL
fleet_start || exit 1
upgrade='"instance_version": "v2.0.0", "location": "http://127.0.0.1:9/v2.bundle"'

# A selector over the fleet: v1.0.0 and v1.9.0, 10,000 targets.
code=$(api POST /rollouts "{$upgrade, \"rollout_id\": \"below\", \"targets\": {\"agent_version_below\": \"v1.10.0\"}, \"waves\": [1, 10, 50, 100], \"rate\": 1}")
check "a rollout over a version selector: 202" [ "$code" = 202 ]
check "with its 10,000 targets counted" [ "$(body_get '["rollout"]["target_count"]')" = 10000 ]
sizes() { # ID SIZES
	[ "$(api GET "/rollouts/$1")" = 200 ] &&
		[ "$(body_py '[w["size"] for w in j["rollout"]["waves"]]')" = "$2" ]
}
check "its waves hold 1, 10, 50 and 100 % of them" sizes below "[100, 900, 4000, 5000]"
check "the view counts them all" [ "$(body_get '["rollout"]["target_count"]')" = 10000 ]
check "later waves all PENDING" [ "$(body_py '[w["states"] for w in j["rollout"]["waves"][1:]]')" = "[{'PENDING': 900}, {'PENDING': 4000}, {'PENDING': 5000}]" ]
check "and it is RUNNING, not a draft" [ "$(body_py '(j["rollout"]["state"], j["rollout"]["draft"])')" = "('RUNNING', False)" ]
code=$(api POST /rollouts "{$upgrade, \"targets\": {\"agent_version\": \"v2.0.0\"}, \"waves\": [3, 100]}")
check "agent_version (equal): 202" [ "$code" = 202 ]
check "5,000 targets" [ "$(body_get '["rollout"]["target_count"]')" = 5000 ]
lists_both() { [ "$(api GET /rollouts)" = 200 ] && [ "$(body_py 'len(j["rollouts"])')" = 2 ]; }
check "GET rollouts lists both" lists_both

# A draft: the v2.0.0 instances, then pages of ids.
code=$(api POST /rollouts "{$upgrade, \"rollout_id\": \"d\", \"draft\": true, \"targets\": {\"agent_version\": \"v2.0.0\"}, \"waves\": [10, 100]}")
check "a draft: 202" [ "$code" = 202 ]
check "PAUSED, a draft, its waves not made" [ "$(body_py '(j["rollout"]["state"], j["rollout"]["draft"], j["rollout"]["target_count"])')" = "('PAUSED', True, 5000)" ]
ids() { # PREFIX FROM TO
	awk -v p="$1" -v a="$2" -v b="$3" 'BEGIN { for (i = a; i <= b; i++) printf "%s\"%s%05d\"", (i > a ? ", " : ""), p, i }'
}
code=$(api POST /rollouts/d/targets "{\"instances\": [$(ids ext- 0 9999)]}")
check "a page of 10,000 ids appended: 200" [ "$code" = 200 ]
check "15,000 targets now" [ "$(body_get '["rollout"]["target_count"]')" = 15000 ]
code=$(api POST /rollouts/d/targets "{\"instances\": [$(ids ext- 10000 10999)]}")
check "another page: 16,000" answered "$code" 200 '["rollout"]["target_count"]' 16000
code=$(api POST /rollouts/d/targets "{\"instances\": [\"new-1\", \"inst-00003\"]}")
check "an id already a target: 400 naming it" refused_with "$code" 400 instances
check "by its place" grep -q 'instances\[1\] is a target already' "$T/body"
code=$(api POST /rollouts/d/targets "{\"instances\": [\"new-1\", \"new-2\", \"new-1\"]}")
check "an id twice in a page: 400 instances[2]" refused_with "$code" 400 "instances[2]"
code=$(api POST /rollouts/d/targets "{\"instances\": [$(ids big- 0 10000)]}")
check "10,001 ids at once: 400" refused_with "$code" 400 instances
code=$(api POST /rollouts/d/targets "{\"instances\": [\"ok\", \"a/b\"]}")
check "a bad id: 400 naming it" refused_with "$code" 400 "instances[1]"
code=$(api POST /rollouts/d/targets "{\"instances\": [\"ok\"], \"more\": 1}")
check "an unknown field: 400 naming it" refused_with "$code" 400 more
code=$(api POST /rollouts/d/targets "{\"ids\": [\"ok\"]}")
check "no instances: 400" refused_with "$code" 400 ids
code=$(api POST /rollouts/nope/targets "{\"instances\": [\"ok\"]}")
check "an unknown rollout: 404" [ "$code" = 404 ]
check "none of the refused pages was kept" sizes d "[]"
check "still 16,000" [ "$(body_get '["rollout"]["target_count"]')" = 16000 ]
code=$(api POST /rollouts/d/action '{"resume": {}}')
check "resume starts the draft: 200 RUNNING" answered "$code" 200 '["rollout"]["state"]' RUNNING
check "its waves made from 16,000: 1,600 and 14,400" sizes d "[1600, 14400]"
check "no longer a draft" \
	[ "$(body_py 'j["rollout"]["draft"]')" = False ]
code=$(api POST /rollouts/d/targets "{\"instances\": [\"late\"]}")
check "started: its targets are fixed (409)" refused_with "$code" 409 instances
check "the 409 names the state" grep -q RUNNING "$T/body"

# Bounds of a creation.
code=$(api POST /rollouts "{$upgrade, \"targets\": {\"instances\": [$(ids big- 0 10000)]}, \"waves\": [100]}")
check "10,001 ids in a creation: 400 targets.instances" refused_with "$code" 400 targets.instances
check "which says to use a draft" grep -q draft "$T/body"
code=$(api POST /rollouts "{$upgrade, \"draft\": \"yes\", \"targets\": {\"instances\": [\"a\"]}, \"waves\": [100]}")
check "draft not a boolean: 400" refused_with "$code" 400 draft
code=$(api POST /rollouts "{$upgrade, \"targets\": {\"agent_version\": \"1..2\"}, \"waves\": [100]}")
check "a bad version: 400 targets.agent_version" refused_with "$code" 400 targets.agent_version
code=$(api POST /rollouts "{$upgrade, \"targets\": {\"agent_version\": \"v9.9.9\"}, \"waves\": [100]}")
check "no instance matches: 400 targets" refused_with "$code" 400 targets
fleet_stop
check "slotfleet stops cleanly (exit 0)" [ "$FLEET_RC" = 0 ]
finish
