#!/bin/sh
# The main job, end to end, on a throw-away root:
#   keys and a keyring -> pack v1, v2 and a broken v3 of a demo agent ->
#   start slotd -> install v1, then v2 over http from a local server ->
#   install v3, whose agent fails its health check and is reverted by slotd
#   itself -> print `slotctl status` and `slotctl history`.
# Usage: packaging/demo.sh BUILD_DIR   (what `make demo` runs)
# Every process it starts is stopped by PID on exit; nothing outside
# 127.0.0.1 is contacted.
set -eu
build=$(cd "${1:-build/release}" && pwd)
top=$(cd "$(dirname "$0")/.." && pwd)
bin=$build/bin
work=$(mktemp -d /tmp/slotd-demo.XXXXXX)
slotd_pid="" httpd_pid=""

cleanup() {
	[ -n "$slotd_pid" ] && kill -TERM "$slotd_pid" 2>/dev/null && wait "$slotd_pid" 2>/dev/null
	[ -n "$httpd_pid" ] && kill -TERM "$httpd_pid" 2>/dev/null && wait "$httpd_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

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

say "pack v1.0.0, v1.1.0 and a broken v1.2.0 of the demo agent"
mkdir -p "$work/www"
for v in 1.0.0:good 1.1.0:good 1.2.0:crash; do
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
