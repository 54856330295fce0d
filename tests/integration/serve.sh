#!/bin/sh
# slotupd serve against a real RabbitMQ on 127.0.0.1: casts from the real
# oslo.messaging client upgrade the guest, outcomes and heartbeats reach the
# conductor topic, bad messages are refused (recorded, acknowledged) and the
# next good one still works, a non-admin rollback is refused.
. "$SLOTD_SRC/tests/support/lib.sh"
. "$SLOTD_SRC/tests/support/rabbitmq.sh"
command -v rabbitmq-server >/dev/null || { echo "rabbitmq-server not installed" >&2; exit 77; }
/usr/bin/python3 -c "import oslo_messaging, kombu" 2>/dev/null || { echo "python3-oslo.messaging not installed" >&2; exit 77; }
B=$SLOTD_BIN
S=$SLOTD_SRC/tests/support
INSTANCE=27e25b73-88a1-4526-b2b9-919a28b8b33f

make_keys "$T/keys" || exit 1
mkdir -p "$T/www"
for v in 1 2; do
	mkdir -p "$T/tree$v/bin"
	cp "$SLOTD_AGENTS/demo_agent" "$T/tree$v/bin/agent"
	echo good > "$T/tree$v/behaviour"
	"$B/slotpack" create -d "$T/tree$v" -V "v$v.0.0" -C t -k "$T/keys/ca-signer.key" \
		-c "$T/keys/ca-signer.pem" -o "$T/www/v$v.bundle" || exit 1
done
/usr/bin/python3 "$S/httpd.py" "$T/www" > "$T/httpd.out" 2>/dev/null &
PIDS="$PIDS $!"
rabbit_start "$T/rabbit" || { echo "rabbitmq did not start"; tail "$T/rabbit/server.log"; exit 1; }
AMQP=amqp://guest:guest@127.0.0.1:$RABBIT_PORT/
wait_for 10 grep -q '^PORT ' "$T/httpd.out"
URL=http://127.0.0.1:$(sed -n 's/^PORT //p' "$T/httpd.out")

cat > "$T/slotd.ini" <<INI
[slots]
root = $T/root
compatible = t
[agent]
exec = bin/agent
health = notify
min_uptime = 300ms
[updater]
keyring = $T/keys/keyring.pem
[amqp]
url = $AMQP
instance_id = $INSTANCE
heartbeat_interval = 1s
INI
"$B/slotd" -c "$T/slotd.ini" 2> "$T/slotd.log" &
PIDS="$PIDS $!"
wait_for 10 test -S "$T/root/run/control.sock"
/usr/bin/python3 "$S/amqp_listen.py" "$AMQP" conductor "$T/heard" > "$T/listen.out" 2>&1 &
PIDS="$PIDS $!"
wait_for 30 grep -q LISTENING "$T/listen.out" || { cat "$T/listen.out"; exit 1; }
"$B/slotupd" -c "$T/slotd.ini" serve 2> "$T/serve.log" &
PIDS="$PIDS $!"
wait_for 20 grep -q "connected; consuming" "$T/serve.log" || { cat "$T/serve.log"; exit 1; }

cast() { /usr/bin/python3 "$S/oslo_cast.py" "rabbit://guest:guest@127.0.0.1:$RABBIT_PORT/" "$INSTANCE" "$@"; }
raw() { printf '%s' "$1" > "$T/raw"; /usr/bin/python3 "$S/amqp_publish.py" "$AMQP" "guestagent.$INSTANCE" "$T/raw"; }
history_count() { # history_count STATE: attempts in that state
	"$B/slotctl" -c "$T/slotd.ini" history --state "$1" --json |
		/usr/bin/python3 -c "import json,sys; print(len(json.load(sys.stdin)))"
}
current_is() { [ "$("$B/slotctl" -c "$T/slotd.ini" status --json | json_get "[\"slots\"][\"$1\"][\"version\"]")" = "$2" ] &&
	[ "$("$B/slotctl" -c "$T/slotd.ini" status --json | json_get '["current"]')" = "$1" ]; }
heard() { grep -q "$1" "$T/heard"; }

cast upgrade "{\"instance_id\": \"$INSTANCE\", \"instance_version\": \"v1.0.0\", \"strategy\": \"http\", \"location\": \"$URL/v1.bundle\", \"metadata\": {}}"
check "an oslo.messaging cast upgrades the guest to v1" wait_for 30 sh -c '[ "$("$0" -c "$1" history --state SUCCESS --json | grep -c "\"to_version\": \"v1.0.0\"")" = 1 ]' "$B/slotctl" "$T/slotd.ini"
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
check "six bad messages: six FAILED records" wait_for 30 sh -c '[ "$(sh -c "$0")" -eq $(( $1 + 6 )) ]' \
	"'$B/slotctl' -c '$T/slotd.ini' history --state FAILED --json | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'" "$failed_before"
check "the refusals name the field" sh -c '"$0" -c "$1" history --state FAILED > "$2" && grep -q "instance" "$2" && grep -q "location" "$2" && grep -q "admin" "$2"' \
	"$B/slotctl" "$T/slotd.ini" "$T/failed.txt"
cast upgrade "{\"instance_id\": \"$INSTANCE\", \"instance_version\": \"v2.0.0\", \"location\": \"$URL/v2.bundle\"}"
check "after them, a good cast still upgrades to v2" wait_for 30 current_is b v2.0.0
finish
