# tests/support/guest.sh: one guest driven over RabbitMQ, for the AMQP tests.
# Source it after lib.sh: it skips the test (exit 77) without RabbitMQ or
# oslo.messaging, sources rabbitmq.sh, and defines:
#   guest_bundles N...  packs $T/www/vN.bundle (version vN.0.0, a good demo agent)
#   guest_start         starts the HTTP server, RabbitMQ, slotd, a conductor
#                       listener and `slotupd serve`; sets URL, AMQP, RABBIT_URL
#                       (oslo's rabbit:// form) and INI.  $GUEST_AMQP_EXTRA is
#                       appended to the [amqp] section, $GUEST_AGENT_EXTRA to
#                       [agent], $GUEST_UPDATER_EXTRA to [updater].
#   guest_env           only the HTTP server and RabbitMQ of guest_start
#   guest_add DIR ID    one more guest (slotd + slotupd serve) for instance ID
#                       on guest_env's broker: DIR/slotd.ini, DIR/root, logs
#                       DIR/slotd.log, DIR/serve.log, DIR/agent.log; sets
#                       PID_serve (guest_start is guest_env, guest_listen and
#                       guest_add "$T" "$INSTANCE")
#   guest_listen        (re)starts the conductor listener, appending to $T/heard
#   slotctl_json ARGS   `slotctl ARGS --json` for the guest's config
#   current_is SLOT V   slot SLOT is current and holds version V
#   successes_to V      how many attempts ended SUCCESS with to_version V
# and, for guests made by guest_add in $T/G:
#   guest_json G ARGS   slotctl ARGS --json on guest G
#   guest_record G ID KEY   KEY of the latest snapshot of attempt ID in its history
#   guest_attempts G V  distinct upgrade attempts to version V in its history
#   guest_runs G SLOT V slot SLOT is current, holds V, and its agent runs
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

guest_env() {
	/usr/bin/python3 "$S/httpd.py" "$T/www" > "$T/httpd.out" 2>/dev/null &
	PIDS="$PIDS $!"
	rabbit_start "$T/rabbit" || { echo "rabbitmq did not start"; tail "$T/rabbit/server.log"; return 1; }
	AMQP=amqp://guest:guest@127.0.0.1:$RABBIT_PORT/
	RABBIT_URL=rabbit://guest:guest@127.0.0.1:$RABBIT_PORT/
	wait_for 10 grep -q '^PORT ' "$T/httpd.out" || return 1
	URL=http://127.0.0.1:$(sed -n 's/^PORT //p' "$T/httpd.out")
}

guest_add() {
	mkdir -p "$1"
	cat > "$1/slotd.ini" <<INI
[slots]
root = $1/root
compatible = t
[agent]
exec = bin/agent
health = notify
min_uptime = 300ms
${GUEST_AGENT_EXTRA:-}
[updater]
keyring = $T/keys/keyring.pem
${GUEST_UPDATER_EXTRA:-}
[amqp]
url = $AMQP
instance_id = $2
heartbeat_interval = 1s
${GUEST_AMQP_EXTRA:-}
INI
	AGENT_LOG=$1/agent.log "$B/slotd" -c "$1/slotd.ini" 2> "$1/slotd.log" &
	PIDS="$PIDS $!"
	wait_for 10 test -S "$1/root/run/control.sock" || return 1
	"$B/slotupd" -c "$1/slotd.ini" serve 2> "$1/serve.log" &
	PID_serve=$!
	PIDS="$PIDS $PID_serve"
	wait_for 20 grep -q "connected; consuming" "$1/serve.log" || { cat "$1/serve.log"; return 1; }
}

guest_start() {
	guest_env || return 1
	guest_listen || return 1
	guest_add "$T" "$INSTANCE"
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

# guest_json G ARGS: slotctl ARGS --json on real guest G
guest_json() { gj=$1; shift; "$B/slotctl" -c "$T/$gj/slotd.ini" "$@" --json; }
# guest_record G ID KEY: KEY of the latest snapshot of attempt ID in G's history
guest_record() {
	guest_json "$1" history | /usr/bin/python3 -c '
import json, sys
r = [r for r in json.load(sys.stdin) if r["id"] == sys.argv[1]]
print(r[-1][sys.argv[2]] if r else "none")' "$2" "$3"
}
# guest_attempts G VERSION: distinct attempt ids in G's history to VERSION
guest_attempts() {
	guest_json "$1" history | /usr/bin/python3 -c '
import json, sys
print(len({r["id"] for r in json.load(sys.stdin) if r["kind"] == "upgrade" and r["to_version"] == sys.argv[1]}))' "$2"
}
guest_runs() { # G SLOT VERSION: current, and its agent running
	guest_json "$1" status > "$T/status.json" && /usr/bin/python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
ok = s["current"] == sys.argv[2] and s["slots"][sys.argv[2]]["version"] == sys.argv[3]
sys.exit(0 if ok and s["agent"]["state"] == "running" else 1)' "$T/status.json" "$2" "$3"
}
