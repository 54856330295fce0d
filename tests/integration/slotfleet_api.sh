#!/bin/sh
# slotfleet's API against hostile input, without a broker (the consumer
# keeps retrying meanwhile; the API must answer regardless): a table of bad
# requests with their expected status and field (nothing of them recorded),
# 401/403/404/405/413, a cast the broker cannot take (202, the record NEW
# with its cast pending), 429 with Retry-After, slow clients that do not block a GET, and a
# log without tokens or control characters.
. "$SLOTD_SRC/tests/support/lib.sh"
. "$SLOTD_SRC/tests/support/slotfleet.sh"
command -v curl >/dev/null || { echo "curl not installed" >&2; exit 77; }

FLEET_NO_BROKER=1
fleet_tokens
FLEET_API_EXTRA="rate = 1000/s
threads = 2"
fleet_ini "path = $T/fleet.db"
fleet_start || exit 1

field_is() { [ "$(body_get '["error"]["field"]')" = "$1" ] && [ "$(body_get '["error"]["code"]')" = "$2" ]; }
bad() { # STATUS FIELD METHOD PATH [BODY]
	want=$1 field=$2
	shift 2
	got=$(api "$@")
	if [ "$got" = "$want" ] && field_is "$field" "$want"; then
		PASSED=$((PASSED + 1)); printf "ok   - %s %s: %s %.60s\n" "$want" "$field" "$1" "$2"
	else
		FAILED=$((FAILED + 1)); printf "FAIL - %s %s: %s %s (got %s: %s)\n" "$want" "$field" "$1" "$2" "$got" "$(cat "$T/body")"
	fi
}
I=27e25b73-88a1-4526-b2b9-919a28b8b33f
ok_body() { # the fields of a good request, with $1 replacing some
	printf '{"instance_id": "%s", "instance_version": "v2.0.0", "location": "http://127.0.0.1:9/v2.bundle"%s}' "$I" "${1:-}"
}
bad 400 body POST /upgrade '{"instance_id": '
bad 400 body POST /upgrade '[1, 2]'
bad 400 body POST /upgrade ''
bad 400 body POST /upgrade '{"instance_id": "a", "instance_id": "b"}'
bad 400 instance_id POST /upgrade '{"instance_id": 3, "instance_version": "v2.0.0", "location": "http://h/x"}'
bad 400 instance_version POST /upgrade "{\"instance_id\": \"$I\", \"instance_version\": 2.0, \"location\": \"http://h/x\"}"
bad 400 location POST /upgrade "{\"instance_id\": \"$I\", \"instance_version\": \"v2.0.0\", \"location\": [\"http://h/x\"]}"
bad 400 location POST /upgrade "{\"instance_id\": \"$I\", \"instance_version\": \"v2.0.0\"}"
bad 400 instance_version POST /upgrade "{\"instance_id\": \"$I\", \"location\": \"http://h/x\"}"
bad 400 metadata POST /upgrade "$(ok_body ', "metadata": "sha"')"
# the guests' bound (2048 bytes as JSON): a cast they would refuse is never sent
bad 400 metadata POST /upgrade "$(ok_body ", \"metadata\": {\"k\": \"$(head -c 2100 /dev/zero | tr '\0' x)\"}")"
bad 400 colour POST /upgrade "$(ok_body ', "colour": "red"')"
bad 400 instance_id POST /upgrade '{"instance_id": "a/b", "instance_version": "v2.0.0", "location": "http://h/x"}'
bad 400 instance_id POST /upgrade '{"instance_id": "../etc", "instance_version": "v2.0.0", "location": "http://h/x"}'
bad 400 body POST /upgrade '{"instance_id": "a\u0000b", "instance_version": "v2.0.0", "location": "http://h/x"}'
bad 400 instance_id POST /upgrade "{\"instance_id\": \"$(printf 'x%.0s' $(seq 1 200))\", \"instance_version\": \"v2.0.0\", \"location\": \"http://h/x\"}"
bad 400 instance_version POST /upgrade "{\"instance_id\": \"$I\", \"instance_version\": \"1..2\", \"location\": \"http://h/x\"}"
bad 400 instance_version POST /upgrade "{\"instance_id\": \"$I\", \"instance_version\": \"\", \"location\": \"http://h/x\"}"
bad 400 location POST /upgrade "{\"instance_id\": \"$I\", \"instance_version\": \"v2.0.0\", \"location\": \"htp:/x\"}"
bad 400 location POST /upgrade "{\"instance_id\": \"$I\", \"instance_version\": \"v2.0.0\", \"location\": \"http://h/a\\nb\"}"
bad 400 location POST /upgrade "{\"instance_id\": \"$I\", \"instance_version\": \"v2.0.0\", \"location\": \"ftp://h/x\"}"
bad 400 location POST /upgrade "{\"instance_id\": \"$I\", \"instance_version\": \"v2.0.0\", \"strategy\": \"file\", \"location\": \"relative/x\"}"
bad 400 strategy POST /upgrade "$(ok_body ', "strategy": "Carrier Pigeon"')"
bad 400 strategy POST /upgrade "$(ok_body ', "strategy": "abcdefghijklmnopqrstuvwxyz0123456"')"
bad 400 location POST /upgrade "{\"instance_id\": \"$I\", \"instance_version\": \"v2.0.0\", \"strategy\": \"jenkins\", \"location\": \"job\\tx\"}"
bad 400 strategy POST /upgrade "$(ok_body ', "strategy": 7')"
bad 400 sha256 POST /upgrade "$(ok_body ', "sha256": "abc"')"
bad 400 metadata.sha256 POST /upgrade "$(ok_body ', "metadata": {"sha256": "ABC"}')"
bad 400 sha256 POST /upgrade "$(ok_body ", \"sha256\": \"$(printf a%.0s $(seq 1 64))\", \"metadata\": {\"sha256\": \"$(printf b%.0s $(seq 1 64))\"}")"
bad 400 upgrade_id POST /upgrade "$(ok_body ', "upgrade_id": "a;b"')"
head -c 100000 /dev/zero | tr '\0' ' ' > "$T/huge"
bad 413 body POST /upgrade "$(cat "$T/huge")"
bad 400 instance_id POST "/instances/a;b/action" '{"rollback": {}}'
bad 400 rollback POST "/instances/$I/action" '{}'
bad 400 rollback POST "/instances/$I/action" '{"rollback": 1}'
bad 400 reboot POST "/instances/$I/action" '{"reboot": {}}'
bad 400 rollback.force POST "/instances/$I/action" '{"rollback": {"force": true}}'
bad 400 state GET "/upgrades?state=BOGUS"
bad 400 limit GET "/upgrades?limit=0"
bad 400 limit GET "/upgrades?limit=1001"
bad 400 limit GET "/upgrades?limit=ten"
bad 400 marker GET "/upgrades?marker=a;b"
bad 400 instance_id GET "/upgrades?instance_id=a%2Fb"
bad 400 colour GET "/upgrades?colour=red"
bad 400 state GET "/upgrades?state=NEW&state=FAILED"
bad 400 agent_version GET "/instances?agent_version=v1%200"
bad 400 id GET "/upgrades/a;b"
bad 404 id GET "/upgrades/nosuchid"
bad 404 instance_id GET "/instances/nosuchinstance"
bad 400 instance_id GET "/instances/a%0Ab"
bad 404 "" GET "/nothing"
bad 404 "" GET "/upgrades/x/y/z"
bad 405 "" DELETE "/upgrades"
bad 405 "" GET "/upgrade"
bad 405 "" PUT "/instances/$I/action" '{"rollback": {}}'
check "405 names the allowed methods" grep -qi "^Allow: POST" "$T/headers"
bad 400 state GET "/rollouts?state=BOGUS"
bad 404 id GET "/rollouts/nosuchrollout"
bad 400 body POST "/rollouts" '[1]'
bad 405 "" PUT "/rollouts/x"
none_recorded() { [ "$(api GET /upgrades)" = 200 ] && [ "$(body_get '["upgrades"]')" = "[]" ]; }
check "nothing of the refused requests was recorded" none_recorded

status() { # TOKEN METHOD URL: the status only
	curl -s -o "$T/body" -w '%{http_code}' -X "$2" ${1:+-H "X-Auth-Token: $1"} "$3"
}
check "401 without a token" [ "$(status "" GET "$API/upgrades")" = 401 ]
check "401 with an unknown token" [ "$(status wrong-token GET "$API/upgrades")" = 401 ]
check "401 names X-Auth-Token" field_is X-Auth-Token 401
check "403 with a member's token" [ "$(status "$MEMBER" GET "$API/upgrades")" = 403 ]
check "403 with another tenant's admin token" [ "$(status "$OTHER" GET "$API/upgrades")" = 403 ]
check "and the other tenant's own path works" \
	[ "$(status "$OTHER" GET "http://127.0.0.1:$FLEET_PORT/v1.0/other/mgmt/upgrades")" = 200 ]
check "401 before a body is looked at" [ "$(status "" POST "$API/upgrade")" = 401 ]

# A good request while the broker is unreachable: recorded, its cast pending
# in the outbox (sent once the broker answers; slotfleet_outbox.sh).
check "a cast the broker cannot take yet is accepted: 202" [ "$(api POST /upgrade "$(ok_body ', "upgrade_id": "up-nobroker"')")" = 202 ]
check "with the record, cast pending" sh -c 'grep -q "\"cast\": *\"pending\"" "$0"' "$T/body"
check "and the stored record is NEW, cast pending" sh -c \
	'[ "$(curl -s -H "X-Auth-Token: $1" "$2/upgrades/up-nobroker" | /usr/bin/python3 -c "import json,sys; u=json.load(sys.stdin)[\"upgrade\"]; print(u[\"state\"], u[\"cast\"])")" = "NEW pending" ]' \
	_ "$ADMIN" "$API"
check "the same upgrade_id again is a 409" [ "$(api POST /upgrade "$(ok_body ', "upgrade_id": "up-nobroker"')")" = 409 ]
# A deployer's strategy: any well-formed name, an opaque location (the guest judges).
check "a strategy the guest may define passes through (202)" \
	[ "$(api POST /upgrade "{\"instance_id\": \"$I\", \"instance_version\": \"v2.0.0\", \"strategy\": \"jenkins\", \"location\": \"agent/job #42\", \"upgrade_id\": \"up-jenkins\"}")" = 202 ]

# Slow clients (more than the API's threads) do not block a GET.
/usr/bin/python3 "$SLOTD_SRC/tests/support/slow_client.py" "$FLEET_PORT" 6 8 > "$T/slow.out" 2>&1 &
PID_slow=$!
PIDS="$PIDS $PID_slow"
wait_for 10 grep -q SLOW "$T/slow.out"
start=$(date +%s%N)
check "a GET while six clients send a byte a second" [ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' -H "X-Auth-Token: $ADMIN" "$API/upgrades")" = 200 ]
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "answered in under 2 s (took $ms ms)" [ "$ms" -lt 2000 ]
kill "$PID_slow" 2>/dev/null

curl -s -o /dev/null -H "X-Auth-Token: $ADMIN" "$API/x%0Ainjected%1B%5B31m"
check "the log carries no token" sh -c '! grep -q -e "$1" -e "$2" -e "$3" "$0"' "$T/fleet.log" "$ADMIN" "$MEMBER" "$OTHER"
check "nor control characters from a path" sh -c \
	'grep -q "GET /v1.0/acme/mgmt/x?injected?\[31m 404" "$0" && ! grep -q "^injected" "$0" && ! grep -q "$(printf "\033")" "$0"' "$T/fleet.log"
check "one line per request" sh -c '[ "$(grep -c " /v1.0/" "$0")" -ge 60 ]' "$T/fleet.log"

# 429 over the rate, with Retry-After; the refused request records nothing.
fleet_stop
FLEET_API_EXTRA="rate = 2/m
burst = 2"
fleet_ini "path = $T/fleet.db"
fleet_start || exit 1
api POST "/instances/$I/action" '{"rollback": {}}' > /dev/null
api POST "/instances/$I/action" '{"rollback": {}}' > /dev/null
check "the third write in a minute is refused with 429" [ "$(api POST /upgrade "$(ok_body ', "upgrade_id": "up-limited"')")" = 429 ]
check "with Retry-After in whole seconds (about 30)" sh -c \
	'r=$(sed -n "s/^Retry-After: \([0-9]*\).*/\1/ip" "$0"); [ "$r" -ge 25 ] && [ "$r" -le 30 ]' "$T/headers"
check "nothing was recorded for it" [ "$(api GET /upgrades/up-limited)" = 404 ]
check "reads are not limited" [ "$(api GET /upgrades)" = 200 ]
count_rollbacks() { /usr/bin/python3 -c 'import json,sys; print(sum(u["kind"] == "rollback" for u in json.load(open(sys.argv[1]))["upgrades"]))' "$T/body"; }
check "the two allowed writes were recorded" [ "$(count_rollbacks)" = 2 ]
fleet_stop
finish
