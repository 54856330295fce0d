# tests/support/slotfleet_scenario.sh: the control plane's core scenario,
# run by tests/integration/slotfleet.sh (SQLite) and slotfleet_pg.sh
# (PostgreSQL).  Source it after lib.sh, guest.sh and slotfleet.sh, with
# FLEET_DB set to the [db] line; it starts a real guest (slotd + slotupd
# serve) and a conductor listener on a real RabbitMQ, then slotfleet, and
# drives the guest through the API only:
#   upgrade v1 -> NEW ... SUCCESS, the instance shows v1 (heartbeats);
#   upgrade v2 -> SUCCESS; rollback action -> SUCCESS, back on v1;
#   a crashing bundle (v3) -> FAILED with the guest's reason;
#   lists by state and by instance, paging with a "next" link;
#   the plain listener on the conductor topic heard every report too.
guest_bundles 1 2 || exit 1
# v3 packs an agent that crashes at once: the guest reverts and says why.
mkdir -p "$T/tree3/bin"
cp "$SLOTD_AGENTS/demo_agent" "$T/tree3/bin/agent"
echo crash > "$T/tree3/behaviour"
"$B/slotpack" create -d "$T/tree3" -V v3.0.0 -C t -k "$T/keys/ca-signer.key" \
	-c "$T/keys/ca-signer.pem" -o "$T/www/v3.bundle" || exit 1
guest_start || exit 1
fleet_tokens
fleet_ini "$FLEET_DB"
fleet_start || exit 1

post_upgrade() { # VERSION FILE [EXTRA JSON]: POST and print the new id
	api POST /upgrade "{\"instance_id\": \"$INSTANCE\", \"instance_version\": \"$1\", \"location\": \"$URL/$2\"${3:-}}" > "$T/status"
	body_get '["upgrade"]["id"]'
}

id1=$(post_upgrade v1.0.0 v1.bundle)
check "POST upgrade answers 202" [ "$(cat "$T/status")" = 202 ]
check "with Location: .../mgmt/upgrades/ID" grep -qi "^Location: http://127.0.0.1:$FLEET_PORT/v1.0/acme/mgmt/upgrades/$id1" "$T/headers"
check "and the record, for the instance" [ "$(body_get '["upgrade"]["instance_id"]')" = "$INSTANCE" ]
check "the record reaches SUCCESS" wait_state "$id1" SUCCESS
api GET "/upgrades/$id1" > /dev/null
check "its events go NEW ... SUCCESS, each state once" /usr/bin/python3 -c '
import json, sys
ev = [e["state"] for e in json.load(open(sys.argv[1]))["upgrade"]["events"]]
ok = ev[0] == "NEW" and ev[-1] == "SUCCESS" and "DOWNLOADING" in ev and len(ev) == len(set(ev))
sys.exit(0 if ok else print(ev) or 1)' "$T/body"
check "to_version is v1.0.0" [ "$(body_get '["upgrade"]["to_version"]')" = v1.0.0 ]
check "the guest runs v1 in slot a" current_is a v1.0.0
instance_at() { # VERSION SLOT
	[ "$(api GET "/instances/$INSTANCE")" = 200 ] &&
		[ "$(body_get '["instance"]["agent_version"]')" = "$1" ] &&
		[ "$(body_get '["instance"]["agent_slot"]')" = "$2" ]
}
check "the instance view shows v1 in slot a (heartbeats)" wait_for 30 instance_at v1.0.0 a
seen_and_last() { [ "$(body_get '["instance"]["last_upgrade"]["id"]')" = "$id1" ] && [ "$(body_get '["instance"]["last_seen"]')" != None ]; }
check "with last_seen and the last upgrade" seen_and_last
check "and the guest RPC API version its heartbeats say (1.1)" \
	[ "$(body_get '["instance"]["rpc_api_version"]')" = 1.1 ]

# Heartbeats as other guests send them: an older slotupd says no API
# version (it speaks 1.0); a malformed version is refused, naming the field.
heartbeat() { # INSTANCE PAYLOAD-JSON: published to the conductor topic
	/usr/bin/python3 -c 'import json,sys,time; print(json.dumps({"oslo.version": "2.0", "oslo.message": json.dumps({"method": "heartbeat", "args": {"instance_id": sys.argv[1], "payload": json.loads(sys.argv[2]), "sent": time.time()}})}))' "$1" "$2" > "$T/hb.$1"
	/usr/bin/python3 "$S/amqp_publish.py" "$AMQP" trove-conductor "$T/hb.$1"
}
heartbeat old-guest '{"agent_version": "v0.9.0", "agent_slot": "a"}'
heartbeat bad-api-guest '{"agent_version": "v1.0.0", "agent_slot": "a", "rpc_api_version": "1.x"}'
rpc_api_of() { # INSTANCE VERSION
	[ "$(api GET "/instances/$1")" = 200 ] && [ "$(body_get '["instance"]["rpc_api_version"]')" = "$2" ]
}
check "a heartbeat without rpc_api_version is stored, as 1.0" wait_for 30 rpc_api_of old-guest 1.0
check "one with rpc_api_version 1.x is refused naming the field" wait_for 20 \
	grep -q "report refused.*args.payload.rpc_api_version: not MAJOR.MINOR" "$T/fleet.log"
check "and stores nothing" [ "$(api GET /instances/bad-api-guest)" = 404 ]
listed_api() { # the list shows each instance's API version
	[ "$(api GET /instances)" = 200 ] && /usr/bin/python3 -c '
import json, sys
got = {i["id"]: i["rpc_api_version"] for i in json.load(open(sys.argv[1]))["instances"]}
sys.exit(0 if got == {sys.argv[2]: "1.1", "old-guest": "1.0"} else print(got) or 1)' "$T/body" "$INSTANCE"
}
check "GET instances shows rpc_api_version too" listed_api

id2=$(post_upgrade v2.0.0 v2.bundle)
check "upgrade to v2 reaches SUCCESS" wait_state "$id2" SUCCESS
check "the instance shows v2 in slot b" wait_for 30 instance_at v2.0.0 b
listed_at() { # VERSION [ID...]: GET instances?agent_version= lists exactly these
	v=$1
	shift
	[ "$(api GET "/instances?agent_version=$v")" = 200 ] &&
		/usr/bin/python3 -c 'import json,sys; sys.exit(0 if [i["id"] for i in json.load(open(sys.argv[1]))["instances"]] == sys.argv[2:] else 1)' "$T/body" "$@"
}
check "GET instances?agent_version=v2.0.0 lists it" listed_at v2.0.0 "$INSTANCE"
check "and ?agent_version=v1.0.0 does not" listed_at v1.0.0

check "rollback action answers 202" [ "$(api POST "/instances/$INSTANCE/action" '{"rollback": {}}')" = 202 ]
idr=$(body_get '["upgrade"]["id"]')
check "recorded as kind rollback" [ "$(body_get '["upgrade"]["kind"]')" = rollback ]
check "the rollback reaches SUCCESS" wait_state "$idr" SUCCESS
check "the guest is back on v1 in slot a" wait_for 30 current_is a v1.0.0
check "the instance shows v1 in slot a again" wait_for 30 instance_at v1.0.0 a

id3=$(post_upgrade v3.0.0 v3.bundle)
check "a crashing bundle ends FAILED" wait_state "$id3" FAILED 90
reason=$(body_get '["upgrade"]["reason"]')
guest_error=$(slotctl_json history --state FAILED | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["error"])')
guest_said() { [ -n "$reason" ] && [ "$reason" = "$guest_error" ]; }
check "with the guest's reason ($reason)" guest_said
check "the guest stays on v1" current_is a v1.0.0

succeeded() {
	[ "$(api GET "/upgrades?state=SUCCESS&instance_id=$INSTANCE")" = 200 ] && /usr/bin/python3 -c '
import json, sys
ups = json.load(open(sys.argv[1]))["upgrades"]
sys.exit(0 if [u["id"] for u in ups] == sys.argv[2:] else 1)' "$T/body" "$idr" "$id2" "$id1"
}
check "state=SUCCESS lists the three that succeeded, newest first" succeeded
failed_only() {
	[ "$(api GET "/upgrades?state=FAILED")" = 200 ] &&
		/usr/bin/python3 -c 'import json,sys; sys.exit(0 if [u["id"] for u in json.load(open(sys.argv[1]))["upgrades"]] == [sys.argv[2]] else 1)' "$T/body" "$id3"
}
check "state=FAILED lists only the crash" failed_only
paged() {
	[ "$(api GET "/upgrades?instance_id=$INSTANCE&limit=3")" = 200 ] || return 1
	/usr/bin/python3 -c '
import json, sys
page = json.load(open(sys.argv[1]))
ids = [u["id"] for u in page["upgrades"]]
nxt = [l["href"] for l in page["links"] if l["rel"] == "next"]
print(nxt[0] if ids == sys.argv[2:] and len(nxt) == 1 else "")' "$T/body" "$id3" "$idr" "$id2" > "$T/next"
	[ -s "$T/next" ] && next=$(cat "$T/next") &&
		[ "$(curl -s -o "$T/body" -w '%{http_code}' -H "X-Auth-Token: $ADMIN" "$next")" = 200 ] &&
		/usr/bin/python3 -c '
import json, sys
page = json.load(open(sys.argv[1]))
sys.exit(0 if [u["id"] for u in page["upgrades"]] == [sys.argv[2]] and page["links"] == [] else 1)' "$T/body" "$id1"
}
check "instance_id=...&limit=3 pages with a next link to the last one" paged

heard_all() { # the listener on the conductor topic heard every report slotfleet stored
	for id in "$id1" "$id2" "$idr" "$id3"; do
		api GET "/upgrades/$id" > /dev/null
		/usr/bin/python3 -c '
import json, sys
up = json.load(open(sys.argv[1]))["upgrade"]
stored = {e["state"] for e in up["events"] if e["source"] == "guest"}
heard = set()
for line in open(sys.argv[2]):
    m = json.loads(line)
    if m.get("method") == "guest_upgrade_outcome" and m["args"].get("upgrade_id") == up["id"]:
        heard.add(m["args"]["state"])
sys.exit(0 if stored and stored <= heard and up["state"] in heard else 1)' "$T/body" "$T/heard" || return 1
	done
}
check "a plain listener on the conductor topic heard every report too" wait_for 20 heard_all
check "and the heartbeats" grep -q '"method": *"heartbeat"' "$T/heard"

# The same through slotctl's API client (the token from a file, no slotd.ini).
printf '# slotfleet token\n%s\n' "$ADMIN" > "$T/token"
ctl() { "$B/slotctl" --api "http://127.0.0.1:$FLEET_PORT" --token-file "$T/token" "$@"; }
check "slotctl upgrade starts one through the API" sh -c \
	'"$0" --api "$1" --token-file "$2" --tenant acme upgrade --instance "$3" --version v2.0.0 --location "$4/v2.bundle" --id cli-2 > "$5" &&
	 grep -q "^$3 cli-2 [A-Z]*$" "$5"' "$B/slotctl" "http://127.0.0.1:$FLEET_PORT" "$T/token" "$INSTANCE" "$URL" "$T/ctl.out"
check "and it reaches SUCCESS" wait_state cli-2 SUCCESS
ctl_listed() {
	ctl upgrades --state SUCCESS --instance "$INSTANCE" --limit 2 --tenant acme --json > "$T/ctl.json" &&
		/usr/bin/python3 -c 'import json,sys; sys.exit(0 if [u["id"] for u in json.load(open(sys.argv[1]))] == ["cli-2", sys.argv[2]] else 1)' "$T/ctl.json" "$idr"
}
check "slotctl upgrades --state --instance --limit --json (options after the command)" ctl_listed
check "slotctl upgrades prints a table" sh -c '"$0" --api "$1" --token-file "$2" --tenant acme upgrades | grep "^cli-2 " | grep -q SUCCESS' \
	"$B/slotctl" "http://127.0.0.1:$FLEET_PORT" "$T/token"
ctl_instance() { ctl --tenant acme instance "$INSTANCE" | grep -q "^agent version: v2.0.0$"; }
check "slotctl instance shows the new version" wait_for 30 ctl_instance
check "slotctl instance --json" sh -c '"$0" --api "$1" --token-file "$2" --tenant acme instance "$3" --json | grep -q "\"agent_slot\": \"b\""' \
	"$B/slotctl" "http://127.0.0.1:$FLEET_PORT" "$T/token" "$INSTANCE"
check "an API refusal is exit 1 with the field and message" sh -c \
	'! "$0" --api "$1" --token-file "$2" --tenant acme upgrade --instance nobody-here --version v2.0.0 --location "$3/v2.bundle" --id cli-2 2> "$4"; [ $? = 0 ] && grep -q "409.*upgrade_id" "$4"' \
	"$B/slotctl" "http://127.0.0.1:$FLEET_PORT" "$T/token" "$URL" "$T/ctl.err"
check "a bad version is refused before sending (exit 2)" sh -c \
	'"$0" --api "$1" --token-file "$2" --tenant acme upgrade --instance x --version 1..2 --location http://h/x 2> /dev/null; [ $? = 2 ]' \
	"$B/slotctl" "http://127.0.0.1:$FLEET_PORT" "$T/token"
check "another tenant's token is refused (exit 1, 403)" sh -c \
	'printf "%s\n" "$3" > "$2.other"; "$0" --api "$1" --token-file "$2.other" --tenant acme upgrades 2> "$2.err"; [ $? = 1 ] && grep -q "403" "$2.err"' \
	"$B/slotctl" "http://127.0.0.1:$FLEET_PORT" "$T/token" "$OTHER"
