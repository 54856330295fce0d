# tests/support/slotfleet.sh: a slotfleet for the tests, on 127.0.0.1.
# Source it after lib.sh (and guest.sh when a broker is needed); it defines:
#   fleet_tokens         writes $T/tokens: ADMIN (tenant acme, admin),
#                        MEMBER (acme, member), OTHER (tenant other, admin)
#   fleet_ini DB [EXTRA] writes $T/fleet.ini: listen on a free port, the token
#                        file, [db] DB ("path = ..." or "url = ..."), [amqp] url
#                        $AMQP; EXTRA lines are appended
#   fleet_start          starts slotfleet -c $T/fleet.ini (log $T/fleet.log,
#                        appended); sets FLEET_PID and API (the tenant's
#                        .../v1.0/acme/mgmt URL); waits for the consumer
#                        unless FLEET_NO_BROKER is set
#   fleet_start_second   another one on the same database and broker (PID_fleet2, API2)
#   fleet_stop [SIG]     stops it (TERM, or SIG) and waits
#   api METHOD PATH [BODY]  curl with the admin token; prints the status,
#                        the body goes to $T/body, the headers to $T/headers
#   body_get EXPR        a field of $T/body (json_get)
#   wait_state ID STATE  polls GET upgrades/ID until its state is STATE
#   refused_with CODE STATUS FIELD  an answer STATUS whose error names FIELD
#   answered CODE STATUS EXPR VALUE  an answer STATUS whose EXPR is VALUE
ADMIN=admin-token-0123456789
MEMBER=member-token-0123456789
OTHER=other-token-0123456789
B=${B:-$SLOTD_BIN}

# refused_with CODE STATUS FIELD: CODE (what api printed) is STATUS and $T/body's
# error names FIELD
refused_with() { [ "$1" = "$2" ] && [ "$(body_get '["error"]["field"]')" = "$3" ]; }
# answered CODE STATUS EXPR VALUE: CODE is STATUS and body_get EXPR is VALUE
answered() { [ "$1" = "$2" ] && [ "$(body_get "$3")" = "$4" ]; }

fleet_tokens() {
	{
		echo "# tenant acme"
		printf '%s acme admin\n' "$(printf %s "$ADMIN" | sha256sum | cut -d' ' -f1)"
		printf '%s acme member\n' "$(printf %s "$MEMBER" | sha256sum | cut -d' ' -f1)"
		printf '%s other admin\n' "$(printf %s "$OTHER" | sha256sum | cut -d' ' -f1)"
	} > "$T/tokens"
}

fleet_ini() {
	cat > "$T/fleet.ini" <<INI
[api]
listen = 127.0.0.1:${FLEET_PORT:-0}
tokens = $T/tokens
${FLEET_API_EXTRA:-}
[db]
$1
[amqp]
url = ${AMQP:-amqp://guest:guest@127.0.0.1:1/}
${2:-}
INI
}

fleet_start() {
	fleet_lines=$(cat "$T/fleet.log" 2>/dev/null | wc -l)
	"$B/slotfleet" -c "$T/fleet.ini" >> "$T/fleet.log" 2>&1 &
	FLEET_PID=$!
	PIDS="$PIDS $FLEET_PID"
	fleet_new_log() { tail -n +"$((fleet_lines + 1))" "$T/fleet.log"; }
	wait_for 30 sh -c 'tail -n +"$1" "$2" | grep -q "listening on"' _ "$((fleet_lines + 1))" "$T/fleet.log" ||
		{ cat "$T/fleet.log"; return 1; }
	FLEET_PORT=$(fleet_new_log | sed -n 's/.*listening on .* port \([0-9]*\).*/\1/p' | head -n 1)
	API=http://127.0.0.1:$FLEET_PORT/v1.0/acme/mgmt
	[ -n "${FLEET_NO_BROKER:-}" ] && return 0
	wait_for 30 sh -c 'tail -n +"$1" "$2" | grep -q "consumer: connected"' _ "$((fleet_lines + 1))" "$T/fleet.log" ||
		{ cat "$T/fleet.log"; return 1; }
}

# fleet_start_second: another slotfleet on $T/fleet.ini's database and
# broker, its own port, log $T/fleet2.log; sets PID_fleet2 and API2 once its
# consumer runs
fleet_start_second() {
	sed 's/^listen = .*/listen = 127.0.0.1:0/' "$T/fleet.ini" > "$T/fleet2.ini"
	"$B/slotfleet" -c "$T/fleet2.ini" > "$T/fleet2.log" 2>&1 &
	PID_fleet2=$!
	PIDS="$PIDS $PID_fleet2"
	wait_until 30 grep -q "consumer: connected" "$T/fleet2.log" || return 1
	API2=http://127.0.0.1:$(sed -n 's/.*listening on .* port \([0-9]*\).*/\1/p' "$T/fleet2.log" | head -n 1)/v1.0/acme/mgmt
}

fleet_stop() {
	kill -"${1:-TERM}" "$FLEET_PID" 2>/dev/null
	wait "$FLEET_PID" 2>/dev/null
	FLEET_RC=$?
}

api() {
	method=$1 path=$2
	shift 2
	if [ $# -gt 0 ]; then
		curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' -X "$method" \
			-H "X-Auth-Token: $ADMIN" -H 'Content-Type: application/json' \
			--data-binary "$1" "$API$path"
	else
		curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' -X "$method" \
			-H "X-Auth-Token: $ADMIN" "$API$path"
	fi
}

body_get() {
	json_get "$1" < "$T/body"
}

upgrade_state() {
	[ "$(api GET "/upgrades/$1")" = 200 ] && [ "$(body_get '["upgrade"]["state"]')" = "$2" ]
}

wait_state() {
	wait_for "${3:-60}" upgrade_state "$1" "$2"
}

# wait_until SECS CMD...: polls CMD every 0.25 s until it succeeds, for at
# most SECS seconds of wall time (the rollout tests and benchmark).
wait_until() {
	until_end=$(($(date +%s) + $1))
	shift
	until "$@" > /dev/null 2>&1; do
		[ "$(date +%s)" -lt "$until_end" ] || return 1
		sleep 0.25
	done
}
