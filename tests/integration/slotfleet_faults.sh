#!/bin/sh
# slotfleet under faults, with a real guest whose casts and reports are
# sealed with its RPC key: slotfleet SIGKILLed mid-upgrade and restarted
# (the record completes from the reports queued meanwhile); every report
# delivered again changes nothing (no duplicate events); a plain report for
# a keyed instance is refused, and so is a 40 MiB one, without being held;
# the broker killed: reads still answer, a
# write is accepted (its cast pending in the outbox), the consumer
# reconnects once it is back and the pending cast goes out.
. "$SLOTD_SRC/tests/support/lib.sh"
. "$SLOTD_SRC/tests/support/guest.sh"
. "$SLOTD_SRC/tests/support/slotfleet.sh"

KEY=fleet-faults-key-0123456789
GUEST_AMQP_EXTRA="rpc_key = $KEY"
guest_bundles 1 2 || exit 1
guest_start || exit 1
printf '# instance keys\n%s %s\n' "$INSTANCE" "$KEY" > "$T/rpc_keys"
fleet_tokens
fleet_ini "path = $T/fleet.db" "rpc_keys = $T/rpc_keys"
fleet_start || exit 1

api POST /upgrade "{\"instance_id\": \"$INSTANCE\", \"instance_version\": \"v1.0.0\", \"location\": \"$URL/v1.bundle?gate=g1\", \"upgrade_id\": \"held-1\"}" > "$T/status"
check "a sealed upgrade cast is accepted (202)" [ "$(cat "$T/status")" = 202 ]
check "the guest's download is half-way" wait_for 30 test -e "$T/www/g1.waiting"
fleet_stop KILL
touch "$T/www/g1"
check "with slotfleet dead, the guest completes" wait_for 60 current_is a v1.0.0
fleet_start || exit 1
check "restarted, slotfleet reads the queued reports: SUCCESS" wait_state held-1 SUCCESS
event_count() { # ID: prints the number of events; fails unless NEW ... SUCCESS, each once
	api GET "/upgrades/$1" > /dev/null && /usr/bin/python3 -c '
import json, sys
ev = [e["state"] for e in json.load(open(sys.argv[1]))["upgrade"]["events"]]
print(len(ev))
sys.exit(0 if ev[0] == "NEW" and ev[-1] == "SUCCESS" and len(ev) == len(set(ev)) else 1)' "$T/body"
}
events_once() { event_count "$1" > /dev/null; }
check "each state once in its events" events_once held-1
before=$(event_count held-1)
check "the instance shows v1 from sealed heartbeats" wait_for 30 sh -c \
	'curl -s -H "X-Auth-Token: $1" "$2/instances/$3" | grep -q "\"agent_version\":\"v1.0.0\""' _ "$ADMIN" "$API" "$INSTANCE"

# Every sealed report the conductor listener heard, delivered again.
queue_drained() {
	rabbitmqctl -n "$RABBIT_NODE" -q list_queues name messages | grep "^slotfleet.trove-conductor" | grep -q "[[:space:]]0$"
}
n=0
grep guest_upgrade_outcome "$T/heard" | while IFS= read -r inner; do
	n=$((n + 1))
	/usr/bin/python3 -c 'import json,sys; print(json.dumps({"oslo.version": "2.0", "oslo.message": sys.argv[1]}))' "$inner" > "$T/again.$n"
	/usr/bin/python3 "$S/amqp_publish.py" "$AMQP" trove-conductor "$T/again.$n"
done
check "the listener had heard sealed outcomes" sh -c 'grep guest_upgrade_outcome "$0" | grep -q csz-instance-id' "$T/heard"
check "slotfleet's queue took them all" wait_for 30 queue_drained
same_events() { [ "$(event_count held-1)" = "$before" ]; }
check "none of them was refused" sh -c '! grep -q "report refused" "$0"' "$T/fleet.log"
check "redelivered reports added no event ($before events)" same_events

# A plain (unsealed) heartbeat naming the keyed instance: anyone could send it.
/usr/bin/python3 -c 'import json,sys; print(json.dumps({"oslo.version": "2.0", "oslo.message": json.dumps({"method": "heartbeat", "args": {"instance_id": sys.argv[1], "payload": {"agent_version": "v9.9.9", "agent_slot": "b"}, "sent": 9999999999.0}})}))' "$INSTANCE" > "$T/forged"
/usr/bin/python3 "$S/amqp_publish.py" "$AMQP" trove-conductor "$T/forged"
check "a plain report for a keyed instance is refused" wait_for 20 grep -q "report refused.*a plain report" "$T/fleet.log"
check "and the instance still shows v1" sh -c \
	'curl -s -H "X-Auth-Token: $1" "$2/instances/$3" | grep -q "\"agent_version\":\"v1.0.0\""' _ "$ADMIN" "$API" "$INSTANCE"

# A 40 MiB report (the broker takes up to 128 MiB): refused by its size,
# read and dropped frame by frame, never held (threat-model gap 8).
hwm_before=$(peak_rss_kib "$FLEET_PID")
head -c 41943040 /dev/zero | tr '\0' a > "$T/big"
/usr/bin/python3 "$S/amqp_publish.py" "$AMQP" trove-conductor "$T/big"
rm -f "$T/big"
check "a 40 MiB report is refused by its size" wait_for 30 grep -q "report refused.*body: 41943040 bytes, more than 262144" "$T/fleet.log"
grew=$(($(peak_rss_kib "$FLEET_PID") - hwm_before))
check "and slotfleet's peak RSS grew by less than 8 MiB for it ($grew KiB)" [ "$grew" -lt 8192 ]

# The broker dies: reads go on, a write fails cleanly, the consumer comes back.
kill "$PID_listen" 2>/dev/null
rabbit_stop KILL
check "reads still answer without a broker" [ "$(api GET /upgrades/held-1)" = 200 ]
code=$(api POST /upgrade "{\"instance_id\": \"$INSTANCE\", \"instance_version\": \"v2.0.0\", \"location\": \"$URL/v2.bundle\", \"upgrade_id\": \"nobroker-2\"}")
check "a write is accepted all the same (202, its cast pending)" [ "$code" = 202 ]
cast_pending() { api GET /upgrades/nobroker-2 > /dev/null && grep -q '"cast": *"pending"' "$T/body"; }
check "and its record says cast pending" cast_pending
rabbit_start "$T/rabbit" || { echo "rabbitmq did not restart"; exit 1; }
check "the consumer reconnects" wait_for 90 sh -c '[ "$(grep -c "consumer: connected" "$0")" -ge 3 ]' "$T/fleet.log"
check "the guest reconnects" wait_for 90 sh -c '[ "$(grep -c "connected; consuming" "$0")" -ge 2 ]' "$T/serve.log"
check "after the broker is back, the upgrade recorded meanwhile goes through: SUCCESS" wait_state nobroker-2 SUCCESS
code=$(api POST /upgrade '{"instance_id": "nobody-here", "instance_version": "v2.0.0", "location": "http://h/x", "upgrade_id": "nobody-1"}')
check "a cast to an instance nobody serves is accepted ($code)" [ "$code" = 202 ]
# Within 30 s of the broker's return a cast no queue takes waits (the
# guests bind again); then it is refused.
check "then its record is FAILED" wait_state nobody-1 FAILED 60
check "naming the missing queue" sh -c 'grep -q "cast not queued: .*no queue is bound" "$0"' "$T/body"
fleet_stop
finish
