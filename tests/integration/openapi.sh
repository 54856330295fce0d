#!/bin/sh
# docs/openapi.yaml against slotfleet (issue 24): the document parses; every
# route of the route table in the source (fleet/**/routes.c) is documented
# and nothing else is; a running slotfleet (SQLite, no broker) answers every
# documented (method, path), its path parameters filled with records that
# exist, with a status that operation lists, never 404 "no such resource"
# nor 405; with every documented query argument too; a body missing a
# required field, or with an unknown one, is a 400 naming it; an
# undocumented path is a 404 and an undocumented method on a documented path
# a 405 whose Allow lists the documented methods; every JSON answer fits the
# schema its status documents.  The checks themselves are
# Python (tests/support/openapi_check.py).
. "$SLOTD_SRC/tests/support/lib.sh"
. "$SLOTD_SRC/tests/support/slotfleet.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "openapi: $PY missing" >&2; exit 77; }
"$PY" -c 'import yaml' 2>/dev/null ||
	{ echo "openapi: python3-yaml missing (packaging/deps.sh installs it)" >&2; exit 77; }
[ -x "$B/slotfleet" ] || { echo "openapi: $B/slotfleet not built" >&2; exit 77; }

ROUTES=$(find "$SLOTD_SRC/fleet" -name routes.c | head -n 1)
[ -n "$ROUTES" ] || { echo "FAIL - no routes.c under $SLOTD_SRC/fleet"; exit 1; }

FLEET_NO_BROKER=1
fleet_tokens
FLEET_API_EXTRA="rate = 1000/s
burst = 1000"
fleet_ini "path = $T/fleet.db"
fleet_start || exit 1

openapi_check() { # openapi_check YAML ROUTES.c
	"$PY" "$SLOTD_SRC/tests/support/openapi_check.py" "$1" "$2" \
		"http://127.0.0.1:$FLEET_PORT" acme "$ADMIN"
}
check "docs/openapi.yaml matches the route table and the running slotfleet" \
	openapi_check "$SLOTD_SRC/docs/openapi.yaml" "$ROUTES"

# The checker must catch what it is for.  Each mutation runs against a new
# slotfleet on a new database (the fixtures' rollout_id must be free).
mutated() { # mutated DESC YAML ROUTES.c: the checker fails
	fleet_stop
	rm -f "$T/fleet.db"*
	fleet_start || return 1
	! openapi_check "$2" "$3" > "$T/mutated.out" 2>&1 || { cat "$T/mutated.out"; return 1; }
	grep "^FAIL" "$T/mutated.out" | head -n 3 | sed "s/^FAIL - /    caught ($1): /"
}
"$PY" - "$SLOTD_SRC/docs/openapi.yaml" "$T" <<'PY'
import sys, yaml
out = sys.argv[2]
d = yaml.safe_load(open(sys.argv[1]))
del d["paths"]["/v1.0/{tenant}/mgmt/instances/{instance_id}"]
yaml.safe_dump(d, open(out + "/missing-path.yaml", "w"))
d = yaml.safe_load(open(sys.argv[1]))
del d["paths"]["/v1.0/{tenant}/mgmt/upgrade"]["post"]["responses"]["202"]
yaml.safe_dump(d, open(out + "/missing-status.yaml", "w"))
d = yaml.safe_load(open(sys.argv[1]))
d["paths"]["/v1.0/{tenant}/mgmt/upgrades/{id}"]["delete"] = d["paths"]["/v1.0/{tenant}/mgmt/upgrades/{id}"]["get"]
yaml.safe_dump(d, open(out + "/extra-method.yaml", "w"))
d = yaml.safe_load(open(sys.argv[1]))
d["components"]["schemas"]["Upgrade"]["required"].append("openapi_bogus")
yaml.safe_dump(d, open(out + "/bogus-field.yaml", "w"))
PY
awk '{ print } /routes\[\] *= *\{/ { print "\t{ \"DELETE\", { \"upgrades\", \"*\" }, NULL, 1 }," }' \
	"$ROUTES" > "$T/extra-route.c"
awk '/routes\[\] *= *\{/ { skip = 1 } !skip { print } skip && /^};/ { skip = 0 }' \
	"$ROUTES" > "$T/no-table.c"
check "an undocumented route is caught" \
	mutated undocumented "$T/missing-path.yaml" "$ROUTES"
check "a status the operation does not list is caught" \
	mutated unlisted "$T/missing-status.yaml" "$ROUTES"
check "a documented method slotfleet does not serve is caught" \
	mutated unserved "$T/extra-method.yaml" "$ROUTES"
check "a response field the answers lack is caught" \
	mutated misfit "$T/bogus-field.yaml" "$ROUTES"
check "the mutated route table has one route more" grep -q '"DELETE", { "upgrades", "\*" }' "$T/extra-route.c"
check "a route added to the table is caught" \
	mutated unlisted-route "$SLOTD_SRC/docs/openapi.yaml" "$T/extra-route.c"
check "a route table that cannot be parsed fails loudly" \
	mutated unparsed "$SLOTD_SRC/docs/openapi.yaml" "$T/no-table.c"
[ "$FAILED" -eq 0 ] || { echo "--- slotfleet's log, last lines"; tail -n 20 "$T/fleet.log"; }
finish
