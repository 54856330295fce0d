#!/bin/sh
# slotd health = http: slotd-httpcheck asks the agent's health_url after
# min_uptime.  An agent answering 200 passes; 500, a refused connection and
# an answer slower than health_timeout each revert to the previous slot, the
# helper's account of what it saw recorded as the reason (slot state, the
# activation's verdict in the history).  A URL slotd could not check safely
# (https, a host name) stops slotd at startup with the key named.
. "$SLOTD_SRC/tests/support/lib.sh"
B=$SLOTD_BIN
make_keys "$T/keys" || { echo "openssl failed"; exit 1; }
PORT=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export DEMO_AGENT_HTTP_PORT=$PORT

for b in http-ok http-error http-slow good; do pack_demo v2.0.0 $b; done
pack_demo v1.0.0 http-ok

write_ini() { # write_ini NAME URL
	R=$T/$1
	mkdir -p "$R"
	cat > "$R.ini" <<INI
[slots]
root = $R/root
compatible = t
[agent]
exec = bin/agent
health = http
health_url = $2
health_timeout = 3s
min_uptime = 500ms
max_attempts = 1
stop_timeout = 2s
[updater]
keyring = $T/keys/keyring.pem
activate_timeout = 60s
INI
}
SLOTD_PID=""
start_slotd() { # start_slotd NAME
	write_ini "$1" "http://127.0.0.1:$PORT/healthz"
	export AGENT_LOG="$R/agent.log"
	"$B/slotd" -c "$R.ini" 2>> "$R/slotd.log" &
	SLOTD_PID=$!
	PIDS="$PIDS $SLOTD_PID"
	wait_for 20 test -S "$R/root/run/control.sock"
}
stop_slotd() {
	kill -TERM "$SLOTD_PID" 2>/dev/null
	wait "$SLOTD_PID" 2>/dev/null
}
install() { "$B/slotupd" -c "$R.ini" install "$@" >> "$R/slotupd.log" 2>&1; }
field() { "$B/slotctl" -c "$R.ini" status --json | json_get "$1"; }
failed_reason() { "$B/slotctl" -c "$R.ini" history --state FAILED --json |
	/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["error"])'; }

# reverts NAME BEHAVIOUR REASON (an extended regex): v1 passes its check, v2 fails it, v1 runs again.
reverts() {
	start_slotd "$1"
	install "$T/v1.0.0-http-ok.bundle" || { echo "v1 did not install"; cat "$R/slotd.log" "$R/slotupd.log"; stop_slotd; return 1; }
	if install "$T/v2.0.0-$2.bundle"; then echo "v2 ($2) was accepted"; stop_slotd; return 1; fi
	ok=1
	[ "$(field '["current"]')" = a ] && [ "$(field '["slots"]["b"]["status"]')" = bad ] &&
		[ "$(field '["slots"]["a"]["status"]')" = good ] || ok=0
	field '["slots"]["b"]["reason"]' | grep -Eq "$3" || { ok=0; echo "slot reason: $(field '["slots"]["b"]["reason"]')"; }
	failed_reason | grep -Eq "$3" || { ok=0; echo "history: $(failed_reason)"; }
	wait_for 20 sh -c "[ \"\$(grep -c '^start a v1.0.0 ' '$R/agent.log')\" = 2 ]" || ok=0
	[ $ok = 1 ] || cat "$R/slotd.log" "$R/slotupd.log"
	stop_slotd
	[ $ok = 1 ]
}

start_slotd pass
check "v1 answering 200 commits" install "$T/v1.0.0-http-ok.bundle"
check "v2 answering 200 commits" install "$T/v2.0.0-http-ok.bundle"
check "v2 is current and good" sh -c '[ "$1" = b ] && [ "$2" = good ]' _ \
	"$(field '["current"]')" "$(field '["slots"]["b"]["status"]')"
check "the check asked the agent" grep -q "^http request" "$R/agent.log"
check "slotd logged the pass" grep -q "health check passed" "$R/slotd.log"
stop_slotd

check "500: reverted, status recorded" reverts error http-error "HTTP 500 Internal Server Error"
check "nothing listening: reverted, refusal recorded" reverts refused good "Connection refused"
# The helper gives up before health_timeout and says so; on a machine too
# loaded for it to get there first, slotd's own kill at health_timeout is the
# reason recorded.
check "slower than health_timeout: reverted, timeout recorded" reverts slow http-slow \
	"no status line within 2250 ms|health check took longer than 3000 ms"

# URLs refused at startup, naming the key and the reason; slotd never starts.
for bad in "https://127.0.0.1:$PORT/|https is not supported" \
	   "http://agent.example:$PORT/|is not an IP address or localhost"; do
	write_ini refused-url "${bad%%|*}"
	"$B/slotd" -c "$R.ini" > "$R/out" 2>&1
	rc=$?
	check "slotd refuses ${bad%%|*} (exit 2)" sh -c '[ "$0" = 2 ] && grep -q "health_url: .*$1" "$2"' \
		"$rc" "${bad#*|}" "$R/out"
done
write_ini nohelper "http://127.0.0.1:$PORT/"
echo "health_http_helper = $T/nowhere/slotd-httpcheck" > "$T/helper.line"
sed -i "/^\[agent\]/r $T/helper.line" "$R.ini"
"$B/slotd" -c "$R.ini" > "$R/out" 2>&1
check "slotd refuses a missing helper at startup" sh -c '[ "$0" = 2 ] && grep -q "needs its helper" "$1"' \
	"$?" "$R/out"

# The helper on its own: exit codes and the one line it prints.
H=$(dirname "$B")/lib/slotd/slotd-httpcheck
"$H" --timeout 500 "http://127.0.0.1:$PORT/" > "$T/h.out"
check "helper: refused connection exits 1 and says so" sh -c '[ "$0" = 1 ] && grep -q "Connection refused" "$1"' "$?" "$T/h.out"
"$H" --timeout 0 "http://127.0.0.1:$PORT/" 2> "$T/h.err"
check "helper: a zero timeout is a usage error" sh -c '[ "$0" = 2 ] && grep -q -- "--timeout" "$1"' "$?" "$T/h.err"
finish
