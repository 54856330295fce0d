#!/bin/sh
# slotfleet_quorum: [amqp] queue_type = quorum (issue 28, item 4): slotfleet's
# own report queue is a quorum queue on a real (single-node) RabbitMQ, as
# oslo.messaging's rabbit_quorum_queue makes them; reports published while
# slotfleet is down wait in it across a broker restart and are stored once
# it is back; a broker restart under a running slotfleet is ridden out
# (reconnect, redeclare) and later reports are stored; a classic queue of the
# same name is refused with the broker's reason, and slotfleet keeps trying.
. "$SLOTD_SRC/tests/support/lib.sh"
. "$SLOTD_SRC/tests/support/rabbitmq.sh"
. "$SLOTD_SRC/tests/support/slotfleet.sh"
S=$SLOTD_SRC/tests/support
/usr/bin/python3 -c "import kombu" 2>/dev/null || { echo "python3-kombu not installed" >&2; exit 77; }
command -v rabbitmq-server >/dev/null || { echo "rabbitmq-server not installed" >&2; exit 77; }
rabbit_start "$T/rabbit" || { echo "rabbitmq did not start"; exit 1; }
AMQP=amqp://guest:guest@127.0.0.1:$RABBIT_PORT/
QUEUE=slotfleet.trove-conductor
# queue_is TYPE: declaring the queue as TYPE is what the broker already has
# (a queue's type cannot change: the broker says PRECONDITION_FAILED).
queue_is() {
	/usr/bin/python3 - "$AMQP" "$QUEUE" "$1" <<'PY'
import sys, kombu
from amqp.exceptions import PreconditionFailed
url, name, kind = sys.argv[1:4]
with kombu.Connection(url) as conn:
    try:
        conn.channel().queue_declare(queue=name, durable=True, exclusive=False, auto_delete=False,
                                     arguments={"x-queue-type": kind})
    except PreconditionFailed:
        sys.exit(1)
PY
}
body_sum() { /usr/bin/python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($1)" "$T/body"; }
stored() { # stored PREFIX N: the N upgrades of report_burst PREFIX are SUCCESS
	[ "$(api GET "/upgrades?state=SUCCESS&limit=1000")" = 200 ] &&
		[ "$(body_sum "sum(u['id'].startswith('$1-') for u in j['upgrades'])")" = "$2" ]
}
burst() { /usr/bin/python3 "$S/report_burst.py" "$AMQP" "$1" "$2"; }
connects() { grep -c "consumer: connected" "$T/fleet.log"; }

fleet_tokens
fleet_ini "path = $T/fleet.db" "queue_type = quorum"
fleet_start || exit 1
check "slotfleet's queue is a quorum queue" queue_is quorum
not_classic() { ! queue_is classic 2>/dev/null; }
check "  (not a classic one: the check can fail)" not_classic
burst first 20
check "reports through the quorum queue are stored" wait_for 30 stored first 20

fleet_stop
burst second 20
rabbit_stop
rabbit_start "$T/rabbit" || { echo "rabbitmq did not restart"; exit 1; }
fleet_start || exit 1
check "reports queued while slotfleet was down survive a broker restart" wait_for 30 stored second 20

before=$(connects)
rabbit_stop KILL
rabbit_start "$T/rabbit" || { echo "rabbitmq did not restart"; exit 1; }
reconnected() { [ "$(connects)" -gt "$before" ]; }
check "slotfleet rides out a broker crash: it connects again" wait_for 60 reconnected
check "  its queue declared again, still quorum" queue_is quorum
burst third 20
check "  and stores the reports after it" wait_for 30 stored third 20
check "  slotfleet did not restart" kill -0 "$FLEET_PID"

# A classic queue of that name already there: the broker refuses the declare,
# slotfleet says why and keeps trying (a queue's type is changed by deleting it).
fleet_stop
fleet_ini "path = $T/fleet.db" "queue = slotfleet.classic-here"
QUEUE=slotfleet.classic-here
queue_is classic
fleet_ini "path = $T/fleet.db" "queue = slotfleet.classic-here
queue_type = quorum"
FLEET_NO_BROKER=1 fleet_start || exit 1
check "a classic queue of the same name: refused, the broker's reason logged" \
	wait_for 30 grep -q "declare queue: broker closed the channel: PRECONDITION_FAILED" "$T/fleet.log"
still_serving() { kill -0 "$FLEET_PID" && [ "$(api GET /upgrades)" = 200 ]; }
check "  slotfleet keeps running and serving" still_serving
fleet_stop
finish
