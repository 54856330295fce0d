#!/bin/sh
# The web UI's reads at scale (issue 29): with 100,000 instances and
# 100,000 upgrade records in slotfleet's SQLite, GET .../summary and a page
# of GET .../instances and GET .../upgrades each answer in under 1 s.  A
# bound check, not a benchmark: the bound is the issue's number, met here by
# the sanitizer build (slower than a release build) on a shared machine,
# which is the margin; each request is timed by curl, the best of three
# (one slow try on a loaded machine is not the server's time).  The rows
# are written with the sqlite3 program into the schema slotfleet created,
# so the numbers measure the reads only.
. "$SLOTD_SRC/tests/support/lib.sh"
. "$SLOTD_SRC/tests/support/slotfleet.sh"
command -v curl >/dev/null || { echo "curl not installed" >&2; exit 77; }
command -v sqlite3 >/dev/null || { echo "sqlite3 not installed (packaging/deps.sh)" >&2; exit 77; }
N=${SCALE_INSTANCES:-100000}

FLEET_NO_BROKER=1
fleet_tokens
fleet_ini "path = $T/fleet.db"
fleet_start || exit 1
fleet_stop
now=$(($(date +%s) * 1000000))
sqlite3 "$T/fleet.db" <<SQL || { echo "FAIL - filling the database"; exit 1; }
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $N)
INSERT INTO instances (id, agent_version, agent_slot, last_seen_us, rpc_api_version)
SELECT printf('inst-%06d', i), 'v1.' || (i % 7) || '.0', CASE i % 2 WHEN 0 THEN 'a' ELSE 'b' END,
       CASE WHEN i % 100 = 0 THEN 0 ELSE $now - (i % 600) * 1000000 END, '1.' || (i % 2) FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $N)
INSERT INTO upgrades (id, tenant, kind, instance_id, from_version, to_version, strategy, location,
                      sha256, rollout_id, state, reason, created_us, updated_us)
SELECT printf('up-%06d', i), 'acme', 'upgrade', printf('inst-%06d', i), 'v1.0.0', 'v2.0.0', 'http',
       'http://127.0.0.1:9/v2.bundle', '', '', i % 8, '', $now - i * 1000, $now - i * 1000 FROM n;
COMMIT;
SQL
fleet_start || exit 1

# best_of URL: the shortest of three total times, in ms.
best_of() {
	for _ in 1 2 3; do
		curl -s -o "$T/body" -w '%{time_total}\n' -H "X-Auth-Token: $ADMIN" "$1"
	done | sort -n | head -n 1 | awk '{ printf "%d\n", $1 * 1000 }'
}
under() { # NAME URL
	ms=$(best_of "$2")
	echo "   $1: $ms ms"
	[ "$ms" -lt 1000 ]
}
check "summary of $N instances in under 1 s" under summary "$API/summary"
check "it counted them all" [ "$(json_get '["summary"]["instances"]' < "$T/body")" = "$N" ]
check "and by version: 7 versions" [ "$(json_get '["summary"]["agent_versions"].__len__()' < "$T/body")" = 7 ]
check "and the never heard from" [ "$(json_get '["summary"]["never_seen"]' < "$T/body")" = "$((N / 100))" ]
check "a page of 1000 instances from the middle in under 1 s" \
	under instances "$API/instances?limit=1000&marker=inst-050000"
check "a page of FAILED upgrades in under 1 s" under upgrades "$API/upgrades?state=FAILED&limit=100"
check "a version's page in under 1 s" under version "$API/instances?agent_version=v1.3.0&limit=100&marker=inst-090000"
fleet_stop
finish
