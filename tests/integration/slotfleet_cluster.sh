#!/bin/sh
# Three slotfleet processes on one PostgreSQL and one RabbitMQ, behind one
# address (tests/support/tcp_rr.py: a round-robin, as haproxy would be),
# and simulated guests: 60 upgrade POSTs through the address, each 202 from
# whichever process took it; one process SIGKILLed half-way and the POSTs
# go on through the others; every guest gets its cast exactly once and
# every record reaches SUCCESS: no double cast (the outbox's claims), no
# lost report (competing consumers on one report queue).
. "$SLOTD_SRC/tests/support/lib.sh"
. "$SLOTD_SRC/tests/support/guest.sh"
. "$SLOTD_SRC/tests/support/postgres.sh"
. "$SLOTD_SRC/tests/support/slotfleet.sh"
. "$SLOTD_SRC/tests/support/slotfleet_rollout.sh"
command -v curl >/dev/null || { echo "curl not installed" >&2; exit 77; }

pg_start "$T/pg" || exit 1
rabbit_start "$T/rabbit" || { echo "rabbitmq did not start"; exit 1; }
AMQP=amqp://guest:guest@127.0.0.1:$RABBIT_PORT/
G=$(seq -f 'h%02g' 1 60 | paste -sd' ')
for i in $G; do echo "$i v1.0.0 ok"; done > "$T/plan"
sim_start "$T/plan" || exit 1
fleet_tokens
FLEET_API_EXTRA="rate = 1000/s
burst = 1000"
fleet_ini "url = $PG_URL"
fleet_start || exit 1
check "a second slotfleet starts" fleet_start_other fleet2
P2=$OTHER_PID PORT2=$OTHER_PORT
check "a third slotfleet starts" fleet_start_other fleet3
PORT3=$OTHER_PORT
/usr/bin/python3 "$S/tcp_rr.py" "$FLEET_PORT" "$PORT2" "$PORT3" > "$T/rr.out" 2>&1 &
PIDS="$PIDS $!"
check "the round-robin listens" wait_for 30 grep -q '^PORT ' "$T/rr.out"
API=http://127.0.0.1:$(sed -n 's/^PORT //p' "$T/rr.out")/v1.0/acme/mgmt

: > "$T/codes"
post() { # INSTANCE...
	for i in "$@"; do
		api POST /upgrade "{\"instance_id\": \"$i\", \"instance_version\": \"v2.0.0\", \"location\": \"http://127.0.0.1:9/v2.bundle\"}" >> "$T/codes"
		echo >> "$T/codes"
	done
}
post $(echo "$G" | cut -d' ' -f1-30)
kill -KILL "$P2"
wait "$P2" 2>/dev/null
post $(echo "$G" | cut -d' ' -f31-60)
check "60 POSTs through one address, 60 answered 202" [ "$(grep -c '^202$' "$T/codes")" = 60 ]
served() { grep -c "POST /v1.0/acme/mgmt/upgrade 202" "$1"; }
check "each process answered some ($(served "$T/fleet.log"), $(served "$T/fleet2.log"), $(served "$T/fleet3.log"))" \
	sh -c '[ "$0" -gt 0 ] && [ "$1" -gt 0 ] && [ "$2" -gt 0 ]' \
	"$(served "$T/fleet.log")" "$(served "$T/fleet2.log")" "$(served "$T/fleet3.log")"
all_success() {
	api GET "/upgrades?state=SUCCESS&limit=100" > /dev/null && [ "$(body_py 'len(j["upgrades"])')" = 60 ]
}
check "every record reaches SUCCESS (no report lost)" wait_until 120 all_success
check "every guest got exactly one cast (none twice)" sim once $G
echo "# casts per guest (deliveries): $(sim casts $G | tr ' ' '\n' | sort | uniq -c | tr '\n' ' ')"
finish
