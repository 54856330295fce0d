#!/bin/sh
# The main job, end to end, on a throw-away root:
#   keys and a keyring -> pack v1, v2 and a broken v3 of a demo agent ->
#   start slotd -> install v1, then v2 over http from a local server ->
#   install v3, whose agent fails its health check and is reverted by slotd
#   itself -> print `slotctl status` and `slotctl history` -> then the
#   operator's way: a private RabbitMQ on 127.0.0.1, `slotupd serve` on the
#   guest, `slotfleet` (SQLite), and v1.3.0 asked for through its management
#   API; the record goes NEW -> ... -> SUCCESS from the guest's own reports,
#   and the upgrades list and the instance view (agent version from its
#   heartbeats) are printed.
# Usage: packaging/demo.sh BUILD_DIR   (what `make demo` runs)
# Every process it starts is stopped by PID on exit; nothing outside
# 127.0.0.1 is contacted.
set -eu
build=$(cd "${1:-build/release}" && pwd)
top=$(cd "$(dirname "$0")/.." && pwd)
bin=$build/bin
work=$(mktemp -d /tmp/slotd-demo.XXXXXX)
chmod 711 "$work"	# the broker runs as user rabbitmq and must reach its data dir
slotd_pid="" httpd_pid="" serve_pid="" fleet_pid=""
AT_EXIT=""

stop_pid() {
	[ -n "$1" ] && kill -TERM "$1" 2>/dev/null && wait "$1" 2>/dev/null
	return 0
}

cleanup() {
	set +e	# best effort: every process is tried, whatever one of them does
	stop_pid "$fleet_pid"
	stop_pid "$serve_pid"
	for hook in $AT_EXIT; do $hook; done
	stop_pid "$slotd_pid"
	stop_pid "$httpd_pid"
	rm -rf "$work"
}
trap 'rc=$?; cleanup; exit $rc' EXIT
trap 'exit 130' INT TERM

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

# Waits until a command succeeds, at most $1 seconds, polling an event source
# we do not control (a server's readiness) rather than sleeping blindly.
wait_for() {
	limit=$1; shift
	i=0
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -gt $((limit * 10)) ] && { echo "demo: timed out waiting for: $*" >&2; return 1; }
		sleep 0.1
	done
}

say "keys: a CA, a signing certificate, the guest's keyring"
mkdir -p "$work/keys"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
	-subj "/CN=slotd demo CA" -keyout "$work/keys/ca.key" -out "$work/keys/ca.pem" \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=demo packager" \
	-keyout "$work/keys/signer.key" -out "$work/keys/signer.csr" 2>/dev/null
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n' > "$work/keys/ext"
openssl x509 -req -in "$work/keys/signer.csr" -CA "$work/keys/ca.pem" -CAkey "$work/keys/ca.key" \
	-CAcreateserial -days 30 -extfile "$work/keys/ext" -out "$work/keys/signer.pem" 2>/dev/null
cp "$work/keys/ca.pem" "$work/keys/keyring.pem"

say "pack v1.0.0, v1.1.0, a broken v1.2.0 and v1.3.0 of the demo agent"
mkdir -p "$work/www"
for v in 1.0.0:good 1.1.0:good 1.2.0:crash 1.3.0:good; do
	version=v${v%%:*} behaviour=${v#*:}
	tree=$work/tree-$version
	mkdir -p "$tree/bin"
	cp "$build/agents/demo_agent" "$tree/bin/agent"
	echo "$behaviour" > "$tree/behaviour"
	echo "$version" > "$tree/VERSION"
	SOURCE_DATE_EPOCH=1700000000 "$bin/slotpack" create -d "$tree" -V "$version" \
		-C demo-guest -k "$work/keys/signer.key" -c "$work/keys/signer.pem" \
		-o "$work/www/agent-$version.bundle"
	echo "    $work/www/agent-$version.bundle ($behaviour)"
done
"$bin/slotpack" inspect "$work/www/agent-v1.1.0.bundle" | sed 's/^/    /'

say "an HTTP server on 127.0.0.1 serving the bundles"
/usr/bin/python3 "$top/tests/support/httpd.py" "$work/www" > "$work/httpd.out" 2> "$work/httpd.log" &
httpd_pid=$!
wait_for 10 grep -q '^PORT ' "$work/httpd.out"
port=$(sed -n 's/^PORT //p' "$work/httpd.out")
echo "    http://127.0.0.1:$port/"

say "slotd supervises the slots under $work/root"
cat > "$work/slotd.ini" <<INI
[slots]
root = $work/root
compatible = demo-guest
[agent]
exec = bin/agent
health = notify
startup_timeout = 3s
min_uptime = 1s
max_attempts = 2
stop_timeout = 2s
[updater]
keyring = $work/keys/keyring.pem
retries = 2
retry_backoff = 200ms
INI
"$bin/slotd" -c "$work/slotd.ini" 2> "$work/slotd.log" &
slotd_pid=$!
wait_for 10 test -S "$work/root/run/control.sock"

for version in v1.0.0 v1.1.0 v1.2.0; do
	say "slotupd install http://127.0.0.1:$port/agent-$version.bundle"
	if "$bin/slotupd" -c "$work/slotd.ini" install "http://127.0.0.1:$port/agent-$version.bundle"; then
		echo "    -> installed $version"
	else
		echo "    -> $version failed and was rolled back (exit $?)"
	fi
	"$bin/slotctl" -c "$work/slotd.ini" status | sed 's/^/    /'
done

say "slotctl status"
"$bin/slotctl" -c "$work/slotd.ini" status
say "slotctl history"
"$bin/slotctl" -c "$work/slotd.ini" history
say "what slotd logged"
sed 's/^/    /' "$work/slotd.log"

say "the operator's way: RabbitMQ on 127.0.0.1, slotupd serve on the guest, slotfleet"
if ! command -v rabbitmq-server >/dev/null; then
	echo "    rabbitmq-server is not installed: skipping the slotfleet part"
	exit 0
fi
. "$top/tests/support/rabbitmq.sh"
rabbit_start "$work/rabbit" || { tail "$work/rabbit/server.log"; exit 1; }
amqp=amqp://guest:guest@127.0.0.1:$RABBIT_PORT/
instance=demo-guest-0001
rpc_key=demo-instance-key-0123456789
cat >> "$work/slotd.ini" <<INI
[amqp]
url = $amqp
instance_id = $instance
rpc_key = $rpc_key
heartbeat_interval = 1s
INI
"$bin/slotupd" -c "$work/slotd.ini" serve 2> "$work/serve.log" &
serve_pid=$!
wait_for 30 grep -q "connected; consuming" "$work/serve.log"
echo "    slotupd serve consumes guestagent.$instance (casts must be sealed with its key)"

token=demo-admin-token
printf '%s demo admin\n' "$(printf %s "$token" | sha256sum | cut -d' ' -f1)" > "$work/tokens"
printf '%s %s\n' "$instance" "$rpc_key" > "$work/rpc_keys"
cat > "$work/slotfleet.ini" <<INI
[api]
listen = 127.0.0.1:0
tokens = $work/tokens
[db]
path = $work/fleet.db
[amqp]
url = $amqp
rpc_keys = $work/rpc_keys
INI
"$bin/slotfleet" -c "$work/slotfleet.ini" 2> "$work/fleet.log" &
fleet_pid=$!
wait_for 30 grep -q "consumer: connected" "$work/fleet.log"
api_port=$(sed -n 's/.*listening on .* port \([0-9]*\).*/\1/p' "$work/fleet.log" | head -n 1)
api=http://127.0.0.1:$api_port/v1.0/demo/mgmt
echo "    slotfleet API on http://127.0.0.1:$api_port (SQLite $work/fleet.db)"

say "POST $api/upgrade  (instance $instance, v1.3.0)"
body="{\"instance_id\": \"$instance\", \"instance_version\": \"v1.3.0\", \"strategy\": \"http\", \"location\": \"http://127.0.0.1:$port/agent-v1.3.0.bundle\"}"
curl -s -D "$work/headers" -o "$work/post.json" -H "X-Auth-Token: $token" \
	-H 'Content-Type: application/json' --data-binary "$body" "$api/upgrade"
sed -n '1p;/^[Ll]ocation:/p' "$work/headers" | tr -d '\r' | sed 's/^/    /'
id=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["upgrade"]["id"])' "$work/post.json")
state_is() {
	curl -s -H "X-Auth-Token: $token" "$api/upgrades/$id" |
		/usr/bin/python3 -c 'import json,sys; sys.exit(json.load(sys.stdin)["upgrade"]["state"] != sys.argv[1])' "$1"
}
wait_for 60 state_is SUCCESS
echo "    upgrade $id: SUCCESS, from the guest's own reports"
heard_v13() {
	curl -s -H "X-Auth-Token: $token" "$api/instances/$instance" | grep -q '"v1.3.0"'
}
wait_for 30 heard_v13

say "slotctl --api ... upgrades   (the upgrades table, newest first)"
printf '%s\n' "$token" > "$work/token"
"$bin/slotctl" --api "http://127.0.0.1:$api_port" --token-file "$work/token" --tenant demo upgrades
say "slotctl --api ... instance $instance   (agent version from its heartbeats)"
"$bin/slotctl" --api "http://127.0.0.1:$api_port" --token-file "$work/token" --tenant demo instance "$instance"
say "GET $api/upgrades/$id  (the record and its state changes)"
curl -s -H "X-Auth-Token: $token" "$api/upgrades/$id" | /usr/bin/python3 -m json.tool | sed 's/^/    /'
