#!/bin/sh
# The outbox of the API's casts (docs/fleet.md "The outbox"), on SQLite and
# on PostgreSQL, with a real RabbitMQ and a stand-in for the guests that
# records every cast it gets (tests/support/cast_sink.py, durable queues,
# reconnecting as a guest does):
# - with the broker up, a POST is 202, its cast arrives once, the record
#   says cast "queued";
# - with the broker stopped, POSTs still answer 202 and the records say
#   cast "pending" (state NEW, one event), an existing id is still a 409;
#   slotfleet SIGKILLed then and restarted: still pending; the broker
#   started: every cast arrives exactly once, in order per instance, with
#   its own upgrade id, and the records say "queued";
# - slotfleet dying after a cast was published but before its confirmation
#   was recorded (the crash point outbox-published): restarted, it sends it
#   again with the same id: two deliveries of that id, and no third;
# - the broker restarted while POSTs go on: every cast arrives, none FAILED;
# - PostgreSQL: two slotfleets on one database drain one backlog, then
#   both claim at once while POSTs go to both: each cast arrives exactly
#   once (claims do not overlap).
. "$SLOTD_SRC/tests/support/lib.sh"
. "$SLOTD_SRC/tests/support/guest.sh"
. "$SLOTD_SRC/tests/support/postgres.sh"
. "$SLOTD_SRC/tests/support/slotfleet.sh"
command -v curl >/dev/null || { echo "curl not installed" >&2; exit 77; }

rabbit_start "$T/rabbit" || { echo "rabbitmq did not start"; tail "$T/rabbit/server.log"; exit 1; }
AMQP=amqp://guest:guest@127.0.0.1:$RABBIT_PORT/
INSTANCES="i-01 i-02 i-03 i-04"
/usr/bin/python3 "$S/cast_sink.py" "$AMQP" "$T/sink.log" $INSTANCES > "$T/sink.out" 2>&1 &
PID_sink=$!
PIDS="$PIDS $PID_sink"
touch "$T/sink.log"
connected() { [ "$(grep -c CONNECTED "$T/sink.out")" -ge "$1" ]; }
check "the guests' stand-in consumes its queues" wait_until 30 connected 1
fleet_tokens
FLEET_API_EXTRA="rate = 10000/s"	# the POSTs here are not rate-limited

post() { # ID INSTANCE: prints the status
	api POST /upgrade "{\"instance_id\": \"$2\", \"instance_version\": \"v2.0.0\", \"location\": \"http://127.0.0.1:9/v2.bundle\", \"upgrade_id\": \"$1\"}"
}
field() { # ID EXPR: a Python expression on GET upgrades/ID's record u
	api GET "/upgrades/$1" > /dev/null &&
		/usr/bin/python3 -c 'import json,sys; u=json.load(open(sys.argv[1]))["upgrade"]; print(eval(sys.argv[2]))' "$T/body" "$2"
}
cast_is() { [ "$(field "$1" 'u["cast"]')" = "$2" ]; }
arrived() { # ID: how many times its cast arrived
	awk -v id="$1" '$5 == id { n++ } END { print n + 0 }' "$T/sink.log"
}
arrived_is() { [ "$(arrived "$1")" = "$2" ]; }
all_arrived() { # PREFIX N: each of PREFIX-1..N at least once
	for n in $(seq 1 "$2"); do [ "$(arrived "$1-$n")" -ge 1 ] || return 1; done
}
each_once() { # PREFIX N
	for n in $(seq 1 "$2"); do [ "$(arrived "$1-$n")" = 1 ] || { echo "$1-$n: $(arrived "$1-$n")"; return 1; }; done
}
all_cast() { # PREFIX N STATE: every record's cast says STATE
	for n in $(seq 1 "$2"); do cast_is "$1-$n" "$3" || { echo "$1-$n: $(field "$1-$n" 'u["cast"]')"; return 1; }; done
}
instance_of() { echo "i-0$(($1 % 4 + 1))"; }
in_order() { # PREFIX N: per instance, the casts arrived in the order they were posted
	for i in $INSTANCES; do
		want=$(for n in $(seq 1 "$2"); do [ "$(instance_of "$n")" = "$i" ] && echo "$1-$n"; done)
		got=$(awk -v i="$i" -v p="$1-" '$3 == i && index($5, p) == 1 { print $5 }' "$T/sink.log")
		[ "$want" = "$got" ] || { echo "$i: want $want got $got"; return 1; }
	done
}

scenario() { # NAME DB-LINE
	name=$1
	fleet_ini "$2"
	fleet_start || exit 1

	check "$name: broker up: a POST is 202" [ "$(post "$name-up" i-01)" = 202 ]
	check "$name: its answer says cast pending or queued" \
		sh -c 'grep -q "\"cast\": *\"\(pending\|queued\)\"" "$0"' "$T/body"
	check "$name: the cast arrives" wait_until 30 arrived_is "$name-up" 1
	check "$name: the record says queued" wait_until 30 cast_is "$name-up" queued

	rabbit_stop
	codes=""
	for n in $(seq 1 12); do codes="$codes $(post "$name-down-$n" "$(instance_of "$n")")"; done
	check "$name: broker stopped: 12 POSTs answer 202 ($codes )" \
		[ "$codes" = "$(printf ' 202%.0s' $(seq 1 12))" ]
	check "$name: the records say cast pending" all_cast "$name-down" 12 pending
	check "$name: state NEW, one event (NEW, api)" [ "$(field "$name-down-1" 'u["state"] + " " + str([(e["state"], e["source"]) for e in u["events"]])')" = "NEW [('NEW', 'api')]" ]
	check "$name: an existing id is still a 409" [ "$(post "$name-down-1" i-01)" = 409 ]
	fleet_stop KILL
	FLEET_NO_BROKER=1 fleet_start || exit 1
	check "$name: SIGKILLed and restarted: still pending" all_cast "$name-down" 12 pending

	rabbit_start "$T/rabbit" || { echo "rabbitmq did not restart"; exit 1; }
	check "$name: broker back: every cast arrives" wait_until 90 all_arrived "$name-down" 12
	check "$name: the records say queued" wait_until 30 all_cast "$name-down" 12 queued
	check "$name: each exactly once" each_once "$name-down" 12
	check "$name: in the order posted, per instance" in_order "$name-down" 12

	# Dies after publishing, before recording the confirmation.
	fleet_stop
	rm -f "$T/trace"
	SLOTS_CRASH_AT=1 SLOTS_CRASH_TRACE=$T/trace fleet_start || exit 1
	post "$name-crash" i-02 > "$T/crash.code"
	wait "$FLEET_PID"
	check "$name: slotfleet died at the crash point (rc $?)" grep -qx "1 outbox-published" "$T/trace"
	check "$name: the cast had gone out" wait_until 30 arrived_is "$name-crash" 1
	fleet_start || exit 1
	check "$name: restarted, it is pending no more (PostgreSQL: the dead one's lease ended with its session)" wait_until 30 cast_is "$name-crash" queued
	check "$name: sent again with the same id: two deliveries, no third" arrived_is "$name-crash" 2

	# The broker restarted while POSTs go on.
	(for n in $(seq 1 40); do post "$name-mid-$n" "$(instance_of "$n")"; echo; done > "$T/mid.codes") &
	poster=$!
	wait_until 30 sh -c '[ "$(wc -l < "$0")" -ge 10 ]' "$T/mid.codes"
	rabbit_stop
	rabbit_start "$T/rabbit" || { echo "rabbitmq did not restart"; exit 1; }
	wait "$poster"
	check "$name: restart mid-stream: 40 POSTs answered 202" [ "$(grep -c '^202$' "$T/mid.codes")" = 40 ]
	check "$name: every cast arrives" wait_until 90 all_arrived "$name-mid" 40
	check "$name: every record queued, none FAILED" wait_until 30 all_cast "$name-mid" 40 queued
	dups=$(awk -v p="$name-mid-" 'index($5, p) == 1 { n[$5]++ } END { d = 0; for (k in n) if (n[k] > 1) d++; print d }' "$T/sink.log")
	echo "     $name: casts delivered twice across the restart (same id, at least once): $dups"
	fleet_stop
}

scenario sqlite "path = $T/fleet.db"

if [ ! -x "$PG_BINDIR/postgres" ]; then
	echo "skip: PostgreSQL server binaries not installed"
	finish
fi
pg_start "$T/pg" || exit 1
scenario pg "url = $PG_URL"

# Two slotfleets on one PostgreSQL drain one backlog.
fleet_ini "url = $PG_URL"
sed 's/^listen = .*/listen = 127.0.0.1:0/' "$T/fleet.ini" > "$T/fleet2.ini"
rabbit_stop
FLEET_NO_BROKER=1 fleet_start || exit 1
for n in $(seq 1 60); do post "two-$n" "$(instance_of "$n")" > /dev/null; done
check "two: 60 casts pending" all_cast two 60 pending
"$B/slotfleet" -c "$T/fleet2.ini" > "$T/fleet2.log" 2>&1 &
PID_fleet2=$!
PIDS="$PIDS $PID_fleet2"
check "two: the second slotfleet starts" wait_until 30 grep -q "listening on" "$T/fleet2.log"
rabbit_start "$T/rabbit" || { echo "rabbitmq did not restart"; exit 1; }
check "two: every cast arrives" wait_until 90 all_arrived two 60
check "two: every record queued" wait_until 30 all_cast two 60 queued
check "two: each exactly once" each_once two 60
claimers() { # PREFIX: how many processes leased some of its casts
	"$PG_BINDIR/psql" "$PG_URL" -Atc "SELECT count(DISTINCT lease_owner) FROM casts WHERE upgrade_id LIKE '$1-%'"
}
echo "     two: processes that claimed some of the backlog: $(claimers two)"

# Both running, the broker up, POSTs to both APIs in turn: each API kicks
# its own outbox, both claim from the one table at once.
API1=$API
API2=http://127.0.0.1:$(sed -n 's/.*listening on .* port \([0-9]*\).*/\1/p' "$T/fleet2.log" | head -n 1)/v1.0/acme/mgmt
for n in $(seq 1 200); do
	if [ $((n % 2)) = 0 ]; then API=$API2; else API=$API1; fi
	post "both-$n" "$(instance_of "$n")" > /dev/null
done
API=$API1
check "both: every cast arrives" wait_until 90 all_arrived both 200
check "both: each exactly once" each_once both 200
check "both: both processes claimed casts ($(claimers both))" [ "$(claimers both)" = 2 ]
fleet_stop
finish
