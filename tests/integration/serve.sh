#!/bin/sh
# slotupd serve against a real RabbitMQ on 127.0.0.1: casts from the real
# oslo.messaging client upgrade the guest, outcomes and heartbeats reach the
# conductor topic, bad messages are refused (recorded, acknowledged) and the
# next good one still works, a non-admin rollback is refused.
. "$SLOTD_SRC/tests/support/lib.sh"
. "$SLOTD_SRC/tests/support/guest.sh"

guest_bundles 1 2 || exit 1
guest_start || exit 1

cast() { /usr/bin/python3 "$S/oslo_cast.py" "$RABBIT_URL" "$INSTANCE" "$@"; }
raw() { printf '%s' "$1" > "$T/raw"; /usr/bin/python3 "$S/amqp_publish.py" "$AMQP" "guestagent.$INSTANCE" "$T/raw"; }
history_count() { # history_count STATE: attempts in that state
	slotctl_json history --state "$1" | /usr/bin/python3 -c "import json,sys; print(len(json.load(sys.stdin)))"
}
heard() { grep -q "$1" "$T/heard"; }
check "an unkeyed guest says once that casts are not authenticated" \
	[ "$(grep -c "casts are not authenticated" "$T/serve.log")" = 1 ]

cast upgrade "{\"instance_id\": \"$INSTANCE\", \"instance_version\": \"v1.0.0\", \"strategy\": \"http\", \"location\": \"$URL/v1.bundle\", \"metadata\": {}}"
v1_once() { [ "$(successes_to v1.0.0)" = 1 ]; }
check "an oslo.messaging cast upgrades the guest to v1" wait_for 30 v1_once
check "v1 is current" current_is a v1.0.0
check "the SUCCESS outcome reached the conductor topic" wait_for 10 sh -c 'grep "guest_upgrade_outcome" "$0" | grep -q "SUCCESS"' "$T/heard"
check "a heartbeat with the running version, without service_status" wait_for 10 sh -c \
	'grep "\"heartbeat\"" "$0" | grep "v1.0.0" | grep -vq service_status' "$T/heard"

failed_before=$(history_count FAILED)
raw '{"oslo.version": "2.0", "oslo.message": "{not json"}'
raw '{"oslo.version": "2.0", "oslo.message": "{\"method\": \"upgrade\", \"args\": {\"instance_version\": 5, \"location\": []}}"}'
raw '{"oslo.version": "2.0", "oslo.message": "{\"method\": \"upgrade\", \"args\": {\"instance_version\": \"v9\"}}"}'
raw "{\"oslo.version\": \"2.0\", \"oslo.message\": \"{\\\"method\\\": \\\"upgrade\\\", \\\"args\\\": {\\\"instance_id\\\": \\\"someone-else\\\", \\\"instance_version\\\": \\\"v9\\\", \\\"location\\\": \\\"$URL/v2.bundle\\\"}}\"}"
head -c 1100000 /dev/zero | tr '\0' a > "$T/big"; /usr/bin/python3 "$S/amqp_publish.py" "$AMQP" "guestagent.$INSTANCE" "$T/big"
cast rollback '{}' user
six_more_failed() { [ "$(history_count FAILED)" -eq $((failed_before + 6)) ]; }
check "six bad messages: six FAILED records" wait_for 30 six_more_failed
check "the refusals name the field" sh -c '"$0" -c "$1" history --state FAILED > "$2" && grep -q "instance" "$2" && grep -q "location" "$2" && grep -q "admin" "$2"' \
	"$B/slotctl" "$INI" "$T/failed.txt"
cast upgrade "{\"instance_id\": \"$INSTANCE\", \"instance_version\": \"v2.0.0\", \"location\": \"$URL/v2.bundle\"}"
check "after them, a good cast still upgrades to v2" wait_for 30 current_is b v2.0.0
# A request with neither upgrade_id nor _unique_id: its id comes from its bytes,
# so the same bytes twice are one attempt (the second a no-op), never an empty id.
/usr/bin/python3 -c 'import json, sys
inner = {"method": "upgrade", "args": {"instance_version": "v2.0.0", "location": sys.argv[1] + "/v2.bundle"}}
print(json.dumps({"oslo.version": "2.0", "oslo.message": json.dumps(inner)}))' "$URL" > "$T/noid"
/usr/bin/python3 "$S/amqp_publish.py" "$AMQP" "guestagent.$INSTANCE" "$T/noid"
/usr/bin/python3 "$S/amqp_publish.py" "$AMQP" "guestagent.$INSTANCE" "$T/noid"
msg_once() {
	[ "$(slotctl_json history | /usr/bin/python3 -c 'import json, sys
print(sum(r["id"].startswith("msg-") for r in json.load(sys.stdin)))')" = 1 ]
}
check "a request without ids is recorded under an id from its bytes" wait_for 30 msg_once
check "and its repeat was the same attempt (a no-op)" wait_for 30 grep -q "message msg-.*: attempt already SUCCESS" "$T/serve.log"
finish
