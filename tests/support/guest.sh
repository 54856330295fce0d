# tests/support/guest.sh: one guest driven over RabbitMQ, for the AMQP tests.
# Source it after lib.sh: it skips the test (exit 77) without RabbitMQ or
# oslo.messaging, sources rabbitmq.sh, and defines:
#   guest_bundles N...  packs $T/www/vN.bundle (version vN.0.0, a good demo agent)
#   guest_start         starts the HTTP server, RabbitMQ, slotd, a conductor
#                       listener and `slotupd serve`; sets URL, AMQP, RABBIT_URL
#                       (oslo's rabbit:// form) and INI.  $GUEST_AMQP_EXTRA is
#                       appended to the [amqp] section.
#   guest_listen        (re)starts the conductor listener, appending to $T/heard
#   slotctl_json ARGS   `slotctl ARGS --json` for the guest's config
#   current_is SLOT V   slot SLOT is current and holds version V
#   successes_to V      how many attempts ended SUCCESS with to_version V
command -v rabbitmq-server >/dev/null || { echo "rabbitmq-server not installed" >&2; exit 77; }
/usr/bin/python3 -c "import oslo_messaging, kombu" 2>/dev/null || { echo "python3-oslo.messaging not installed" >&2; exit 77; }
. "$SLOTD_SRC/tests/support/rabbitmq.sh"
B=$SLOTD_BIN
S=$SLOTD_SRC/tests/support
INSTANCE=${INSTANCE:-27e25b73-88a1-4526-b2b9-919a28b8b33f}
INI=$T/slotd.ini

guest_bundles() {
	[ -d "$T/keys" ] || make_keys "$T/keys" || return 1
	mkdir -p "$T/www"
	for v in "$@"; do
		mkdir -p "$T/tree$v/bin"
		cp "$SLOTD_AGENTS/demo_agent" "$T/tree$v/bin/agent"
		echo good > "$T/tree$v/behaviour"
		"$B/slotpack" create -d "$T/tree$v" -V "v$v.0.0" -C t -k "$T/keys/ca-signer.key" \
			-c "$T/keys/ca-signer.pem" -o "$T/www/v$v.bundle" || return 1
	done
}

guest_listen() {
	/usr/bin/python3 "$S/amqp_listen.py" "$AMQP" conductor "$T/heard" > "$T/listen.out" 2>&1 &
	PID_listen=$!
	PIDS="$PIDS $PID_listen"
	wait_for 30 grep -q LISTENING "$T/listen.out" || { cat "$T/listen.out"; return 1; }
}

guest_start() {
	/usr/bin/python3 "$S/httpd.py" "$T/www" > "$T/httpd.out" 2>/dev/null &
	PIDS="$PIDS $!"
	rabbit_start "$T/rabbit" || { echo "rabbitmq did not start"; tail "$T/rabbit/server.log"; return 1; }
	AMQP=amqp://guest:guest@127.0.0.1:$RABBIT_PORT/
	RABBIT_URL=rabbit://guest:guest@127.0.0.1:$RABBIT_PORT/
	wait_for 10 grep -q '^PORT ' "$T/httpd.out" || return 1
	URL=http://127.0.0.1:$(sed -n 's/^PORT //p' "$T/httpd.out")
	cat > "$INI" <<INI
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
${GUEST_AMQP_EXTRA:-}
INI
	AGENT_LOG=$T/agent.log "$B/slotd" -c "$INI" 2> "$T/slotd.log" &
	PIDS="$PIDS $!"
	wait_for 10 test -S "$T/root/run/control.sock" || return 1
	guest_listen || return 1
	"$B/slotupd" -c "$INI" serve 2> "$T/serve.log" &
	PID_serve=$!
	PIDS="$PIDS $PID_serve"
	wait_for 20 grep -q "connected; consuming" "$T/serve.log" || { cat "$T/serve.log"; return 1; }
}

slotctl_json() {
	"$B/slotctl" -c "$INI" "$@" --json
}

current_is() {
	[ "$(slotctl_json status | json_get "[\"slots\"][\"$1\"][\"version\"]")" = "$2" ] &&
		[ "$(slotctl_json status | json_get '["current"]')" = "$1" ]
}

successes_to() {
	slotctl_json history --state SUCCESS |
		/usr/bin/python3 -c "import json,sys; print(sum(r['to_version'] == sys.argv[1] for r in json.load(sys.stdin)))" "$1"
}
