#!/bin/sh
# slotfleet with [api] auth = keystone against a real Keystone (Debian's
# python3-keystone, tests/support/keystone.sh) and RabbitMQ for the 202s:
# an admin token of the path's project passes (202, 200); a member token,
# another project's token 403; garbage or no token 401; a revoked token 401
# within cache_ttl; Keystone stopped: 503 with Retry-After for an uncached
# token, a cached one still passes, slotfleet alive, one log line; Keystone
# slow (a listener that never answers): 503 within [keystone] timeout;
# Keystone back: normal again without restarting slotfleet; slotfleet's own
# token expiring (30 s tokens) renewed, and revoked (its user disabled and
# enabled) re-issued after Keystone's 401; /metrics counts; slotctl --api
# with OS_* variables and with OS_TOKEN; a refused service password: 503.
# Only 127.0.0.1 is contacted.
. "$SLOTD_SRC/tests/support/lib.sh"
. "$SLOTD_SRC/tests/support/slotfleet.sh"
. "$SLOTD_SRC/tests/support/keystone.sh"
command -v curl >/dev/null || { echo "curl not installed" >&2; exit 77; }
command -v rabbitmq-server >/dev/null || { echo "rabbitmq-server not installed" >&2; exit 77; }
ks_available || { echo "python3-keystone not installed (packaging/deps.sh)" >&2; exit 77; }
. "$SLOTD_SRC/tests/support/rabbitmq.sh"

EXPIRATION=30	# seconds: slotfleet's own token is renewed during the run
TTL=4
KS_TIMEOUT=8	# a loaded machine's Keystone (Python, SQLite) can take seconds to answer
ks_start "$EXPIRATION" || exit 1
rabbit_start "$T/rabbit" || { echo "rabbitmq did not start"; exit 1; }
AMQP=amqp://guest:guest@127.0.0.1:$RABBIT_PORT/
I=27e25b73-88a1-4526-b2b9-919a28b8b33f
# A queue bound to the instance's topic stands in for its guest: casts are
# queued (202).
/usr/bin/python3 "$SLOTD_SRC/tests/support/amqp_listen.py" "$AMQP" guest "$T/casts" "guestagent.$I" raw \
	> "$T/listen.out" 2>&1 &
PIDS="$PIDS $!"
wait_for 30 grep -q LISTENING "$T/listen.out" || { cat "$T/listen.out"; exit 1; }

ks_project service > /dev/null
ACME=$(ks_project acme)
OTHERP=$(ks_project other)
SVC_USER=$(ks_user slotfleet svc-secret service admin)
ks_user alice alice-pw acme admin > /dev/null
ks_user bob bob-pw acme member > /dev/null
ks_user olga olga-pw other admin > /dev/null
printf 'svc-secret\n' > "$T/ks-password"
# Keystone's first validation loads code: not on slotfleet's clock.
curl -s -o /dev/null -H "X-Auth-Token: $(ks_admin_token)" -H "X-Subject-Token: $(ks_admin_token)" \
	"$KS_URL/auth/tokens"

FLEET_API_EXTRA="auth = keystone
rate = 1000/s"
fleet_ini "path = $T/fleet.db" "[keystone]
auth_url = $KS_URL
username = slotfleet
password_file = $T/ks-password
project_name = service
cache_ttl = ${TTL}s
timeout = ${KS_TIMEOUT}s
admin_roles = admin, superuser"
fleet_start || exit 1
ROOT=http://127.0.0.1:$FLEET_PORT/v1.0
API=$ROOT/$ACME/mgmt
BODY="{\"instance_id\": \"$I\", \"instance_version\": \"v2.0.0\", \"location\": \"http://127.0.0.1:9/v2.bundle\"}"

# req TOKEN METHOD URL [BODY]: the status; body in $T/body, headers in $T/headers
req() {
	token=$1 method=$2 url=$3
	shift 3
	if [ $# -gt 0 ]; then
		curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' -X "$method" \
			-H "X-Auth-Token: $token" -H 'Content-Type: application/json' \
			--data-binary "$1" "$url"
	else
		curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' -X "$method" \
			-H "X-Auth-Token: $token" "$url"
	fi
}
alice() { ks_token alice alice-pw acme; }

T1=$(alice)
check "an admin token of the path's project: POST /upgrade 202" [ "$(req "$T1" POST "$API/upgrade" "$BODY")" = 202 ]
check "and GET /upgrades 200" [ "$(req "$T1" GET "$API/upgrades")" = 200 ]
check "a member token of the project: 403" [ "$(req "$(ks_token bob bob-pw acme)" GET "$API/upgrades")" = 403 ]
OLGA=$(ks_token olga olga-pw other)
check "an admin token of another project: 403" [ "$(req "$OLGA" GET "$API/upgrades")" = 403 ]
check "which passes on its own project's path" [ "$(req "$OLGA" GET "$ROOT/$OTHERP/mgmt/upgrades")" = 200 ]
check "a garbage token: 401" [ "$(req garbage-token-0123 GET "$API/upgrades")" = 401 ]
check "a token with a bad byte: 401" [ "$(req "$(printf 'a\001b')" GET "$API/upgrades")" = 401 ]
check "no token: 401" [ "$(curl -s -o /dev/null -w '%{http_code}' "$API/upgrades")" = 401 ]

# Revocation: cached for at most cache_ttl, then Keystone's 404 is a 401.
T2=$(alice)
check "a token about to be revoked passes" [ "$(req "$T2" GET "$API/upgrades")" = 200 ]
check "Keystone revokes it (DELETE /v3/auth/tokens)" [ "$(ks_revoke "$T2")" = 204 ]
sleep $((TTL + 1))
check "a revoked token is refused within cache_ttl: 401" [ "$(req "$T2" GET "$API/upgrades")" = 401 ]

# Keystone down: a token seen just before still passes, a new one is a 503.
T3=$(alice)
T4=$(alice)
check "a token used just before Keystone stops" [ "$(req "$T3" GET "$API/upgrades")" = 200 ]
warns_before=$(grep -c 'keystone: .*answering 503' "$T/fleet.log")
ks_halt
check "Keystone stopped: a cached token still gets 202" [ "$(req "$T3" POST "$API/upgrade" "$BODY")" = 202 ]
check "an uncached token gets 503" [ "$(req "$T4" GET "$API/upgrades")" = 503 ]
check "with Retry-After" grep -qi '^Retry-After: [1-9]' "$T/headers"
check "naming X-Auth-Token, not a 401" [ "$(body_get '["error"]["field"]')" = X-Auth-Token ]
req "$T4" GET "$API/upgrades" > /dev/null
req "$T4" GET "$API/upgrades" > /dev/null
check "slotfleet is alive" kill -0 "$FLEET_PID"
check "the failure is logged once, not at each request" \
	[ "$(grep -c 'keystone: .*answering 503' "$T/fleet.log")" -eq $((warns_before + 1)) ]

# Keystone slow: something listens on its port and never answers.
/usr/bin/python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(64); held = []
while True: held.append(s.accept())' "$KS_PORT" &
HOLE=$!
PIDS="$PIDS $HOLE"
wait_for 10 /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1', $KS_PORT), 1)"
t0=$(date +%s%N)
check "Keystone silent: 503" [ "$(req "$T4" GET "$API/upgrades")" = 503 ]
elapsed_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "after at most [keystone] timeout (${KS_TIMEOUT} s; took ${elapsed_ms} ms)" \
	[ "$elapsed_ms" -lt $((KS_TIMEOUT * 1000 + 1500)) ]
kill "$HOLE"; wait "$HOLE" 2>/dev/null

ks_serve || exit 1
check "Keystone back: the token refused meanwhile passes" [ "$(req "$T4" GET "$API/upgrades")" = 200 ]
check "and a new one" [ "$(req "$(alice)" GET "$API/upgrades")" = 200 ]
check "Keystone answering again is logged" grep -q 'keystone: answering again' "$T/fleet.log"

# slotfleet's own token revoked: its user disabled and enabled again
# (Keystone revokes the tokens of a disabled user); the next validation
# gets a 401, slotfleet gets a new token and retries.
issued=$(grep -c "got slotfleet's token" "$T/fleet.log")
svc_enabled() {
	curl -s -o /dev/null -w '%{http_code}' -X PATCH -H "X-Auth-Token: $(ks_admin_token)" \
		-H 'Content-Type: application/json' --data-binary "{\"user\": {\"enabled\": $1}}" \
		"$KS_URL/users/$SVC_USER"
}
check "Keystone disables slotfleet's user" [ "$(svc_enabled false)" = 200 ]
check "and enables it again" [ "$(svc_enabled true)" = 200 ]
sleep 1.5	# Keystone's revocation events have a one-second grain
check "slotfleet's token revoked: a new token still passes" [ "$(req "$(alice)" GET "$API/upgrades")" = 200 ]
check "after Keystone's 401, slotfleet got a new token" grep -q "slotfleet's token refused (401)" "$T/fleet.log"
check "and retried with it" [ "$(grep -c "got slotfleet's token" "$T/fleet.log")" -gt "$issued" ]
issued=$(grep -c "got slotfleet's token" "$T/fleet.log")
RENEW_BY=$(($(date +%s) + EXPIRATION * 3 / 4 + 2))

# slotctl --api, the OpenStack way.
export OS_AUTH_URL="$KS_URL" OS_USERNAME=alice OS_PASSWORD=alice-pw OS_PROJECT_NAME=acme \
	OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default
check "slotctl --api with OS_* lists upgrades (tenant: the token's project)" \
	sh -c '"$1/slotctl" --api "$2" upgrades > "$3/slotctl.out" 2>&1' _ "$B" "http://127.0.0.1:$FLEET_PORT" "$T"
check "and shows the upgrade made above" grep -q "$(printf %.20s "$I")" "$T/slotctl.out"
check "slotctl --api upgrade with OS_* is accepted" \
	"$B/slotctl" --api "http://127.0.0.1:$FLEET_PORT" upgrade --instance "$I" --version v3.0.0 \
	--location http://127.0.0.1:9/v3.bundle
check "slotctl with a wrong OS_PASSWORD fails (exit 1)" \
	sh -c 'OS_PASSWORD=wrong "$1/slotctl" --api "$2" upgrades; [ $? -eq 1 ]' _ "$B" "http://127.0.0.1:$FLEET_PORT"
check "slotctl --os-* options win over OS_* (bob is a member: refused)" \
	sh -c '"$1/slotctl" --api "$2" --os-username bob --os-password bob-pw upgrades; [ $? -eq 1 ]' \
	_ "$B" "http://127.0.0.1:$FLEET_PORT"
TOKEN=$(alice)
check "slotctl --api with OS_TOKEN" \
	env -u OS_PASSWORD -u OS_USERNAME OS_TOKEN="$TOKEN" "$B/slotctl" --api "http://127.0.0.1:$FLEET_PORT" upgrades
unset OS_AUTH_URL OS_USERNAME OS_PASSWORD OS_PROJECT_NAME OS_USER_DOMAIN_NAME OS_PROJECT_DOMAIN_NAME

# slotfleet's own token, 30 s long, renewed once three quarters are gone.
left=$((RENEW_BY - $(date +%s)))
[ "$left" -gt 0 ] && sleep "$left"
check "three quarters into slotfleet's token: a new token passes" [ "$(req "$(alice)" GET "$API/upgrades")" = 200 ]
check "slotfleet renewed its own token before it expired" \
	[ "$(grep -c "got slotfleet's token" "$T/fleet.log")" -gt "$issued" ]

M=$(curl -s "http://127.0.0.1:$FLEET_PORT/metrics")
check "/metrics counts cached validations" sh -c 'echo "$1" | grep -q "^slotfleet_keystone_validations_total{result=\"cached\"} [1-9]"' _ "$M"
check "/metrics counts Keystone failures" sh -c 'echo "$1" | grep -q "^slotfleet_keystone_failures_total [1-9]"' _ "$M"
check "/metrics counts slotfleet's own tokens" sh -c 'echo "$1" | grep -q "^slotfleet_keystone_service_tokens_total [3-9]"' _ "$M"
check "no token in the log" sh -c '! grep -qF "$1" "$2" && ! grep -qF "$3" "$2" && ! grep -q svc-secret "$2"' _ "$T1" "$T/fleet.log" "$T4"
fleet_stop
check "slotfleet stops cleanly (exit 0)" [ "$FLEET_RC" = 0 ]

# A second slotfleet whose service password Keystone refuses: it starts,
# and answers 503 (never 401).
printf 'wrong-secret\n' > "$T/ks-password"
FLEET_NO_BROKER=1
fleet_start || exit 1
API=http://127.0.0.1:$FLEET_PORT/v1.0/$ACME/mgmt
check "a refused service password: slotfleet starts and says why" \
	grep -q "slotfleet's own token (user slotfleet): keystone: 401" "$T/fleet.log"
T5=$(alice)
check "and answers 503, not 401" [ "$(req "$T5" GET "$API/upgrades")" = 503 ]
check "with Retry-After" grep -qi '^Retry-After: [1-9]' "$T/headers"
fleet_stop
check "and stops cleanly" [ "$FLEET_RC" = 0 ]
finish
