#!/bin/sh
# The fleet side of slotctl against a real RabbitMQ on 127.0.0.1:
# `slotctl notify` and `slotctl rollback --instance` drive a real guest
# (slotd + slotupd serve, casts sealed with an rpc_key), a redelivered
# notification is a no-op, real oslo.messaging RPC servers accept slotctl's
# casts, --rate throttles an instance list, and bad input or an instance
# nobody listens for is an error.
. "$SLOTD_SRC/tests/support/lib.sh"
. "$SLOTD_SRC/tests/support/guest.sh"

GUEST_AMQP_EXTRA="rpc_key = fleet-test-key-0123456789"
guest_bundles 1 2 || exit 1
guest_start || exit 1
# The operator's side: same broker, a config of its own, without the guest's key.
printf '[amqp]\nurl = %s\n' "$AMQP" > "$T/fleet.ini"

notify() { "$B/slotctl" -c "$INI" notify --instance "$INSTANCE" "$@"; }
check "notify queues an upgrade and prints its id" sh -c \
	'"$0" -c "$1" notify --instance "$2" --version v1.0.0 --location "$3/v1.bundle" --id up-1 > "$4" && grep -qx "$2 up-1 queued" "$4"' \
	"$B/slotctl" "$INI" "$INSTANCE" "$URL" "$T/notify.out"
v1_once() { [ "$(successes_to v1.0.0)" = 1 ]; }
check "the guest upgraded to v1 under that id (the sealed cast was decrypted)" wait_for 30 v1_once
check "v1 is current" current_is a v1.0.0
check "its outcomes reach the conductor sealed with the key" wait_for 10 sh -c \
	'grep guest_upgrade_outcome "$0" | grep -q csz-instance-id && ! grep guest_upgrade_outcome "$0" | grep -q up-1' "$T/heard"

starts_v1=$(grep -c "start a v1.0.0" "$T/agent.log")
check "the same notification again is queued" notify --version v1.0.0 --location "$URL/v1.bundle" --id up-1
check "and acknowledged as a no-op" wait_for 20 grep -q "message up-1: attempt already SUCCESS" "$T/serve.log"
v1_not_restarted() { [ "$(successes_to v1.0.0)" = 1 ] && [ "$(grep -c "start a v1.0.0" "$T/agent.log")" = "$starts_v1" ]; }
check "still one SUCCESS to v1, and the agent was not restarted" v1_not_restarted

notify --version v2.0.0 --location "$URL/v2.bundle" --id up-2 > /dev/null
check "a second notify upgrades to v2" wait_for 30 current_is b v2.0.0
check "rollback --instance queues an admin rollback" sh -c \
	'"$0" -c "$1" rollback --instance "$2" --id back-1 | grep -qx "$2 back-1 queued"' "$B/slotctl" "$INI" "$INSTANCE"
check "the guest rolled back to v1" wait_for 30 current_is a v1.0.0
check "the rollback is in the history as SUCCESS" wait_for 10 sh -c \
	'"$0" -c "$1" history --state SUCCESS | grep "^back-1" | grep -q rollback' "$B/slotctl" "$INI"

# Guests that run the real oslo.messaging RPC server.
/usr/bin/python3 "$S/oslo_server.py" "$RABBIT_URL" "$T/oslo.calls" g1 g2 g3 g4 > "$T/oslo.out" 2>&1 &
PIDS="$PIDS $!"
wait_for 30 grep -q LISTENING "$T/oslo.out" || { cat "$T/oslo.out"; exit 1; }
printf '# canary group\ng1\n\n  g2   # rack 7\ng3\ng4\n' > "$T/instances"
start=$(date +%s%N)
check "notify --instances --rate 4/s queues all four" sh -c \
	'"$0" -c "$1" notify --instances "$2" --version v2.0.0 --location "$3/v2.bundle" --rate 4/s > "$4" && [ "$(grep -c " queued$" "$4")" = 4 ]' \
	"$B/slotctl" "$T/fleet.ini" "$T/instances" "$URL" "$T/rate.out"
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "--rate 4/s spaced four casts over at least 750 ms (took $elapsed_ms ms)" [ "$elapsed_ms" -ge 750 ]
calls() { [ "$(wc -l < "$T/oslo.calls")" -ge "$1" ]; }
check "oslo.messaging servers dispatched the four upgrade calls" wait_for 20 calls 4
check "as admin, with the guest's args" /usr/bin/python3 -c '
import json, sys
calls = [json.loads(l) for l in open(sys.argv[1])]
want = {"g1", "g2", "g3", "g4"}
ok = {c["instance"] for c in calls if c["method"] == "upgrade" and c["is_admin"] is True
      and c["args"]["instance_version"] == "v2.0.0" and c["args"]["instance_id"] == c["instance"]
      and c["args"]["location"].endswith("/v2.bundle") and c["args"]["upgrade_id"]}
sys.exit(0 if ok == want else 1)' "$T/oslo.calls"

check "an instance nobody listens for is an error" sh -c \
	'! "$0" -c "$1" notify --instance nobody-here --version v2.0.0 --location "$2/v2.bundle" 2> "$3" && grep -q "no queue is bound" "$3"' \
	"$B/slotctl" "$T/fleet.ini" "$URL" "$T/nobody.err"
printf 'g1\ng2\nbad/id\n' > "$T/bad-instances"
refused() { # refused WHAT ARGS...: exit 2 and stderr names WHAT
	what=$1; shift
	"$B/slotctl" -c "$T/fleet.ini" "$@" 2> "$T/refused.err"
	[ $? -eq 2 ] && grep -q -- "$what" "$T/refused.err"
}
check "a bad line in the instance file is named" refused "bad-instances:3: instance id" \
	notify --instances "$T/bad-instances" --version v2.0.0 --location "$URL/v2.bundle"
check "a malformed location is refused" refused "location" notify --instance g1 --version v2.0.0 --location "htp:/x"
check "a malformed strategy name is refused" refused "strategy" notify --instance g1 --version v2.0.0 --location "$URL/v2.bundle" --strategy "Pigeon!"
check "a bad version is refused" refused "version" notify --instance g1 --version "" --location "$URL/v2.bundle"
check "a bad rate is refused" refused "rate" notify --instance g1 --version v2.0.0 --location "$URL/v2.bundle" --rate 0/s
check "--id with many instances is refused" refused "--id" rollback --instances "$T/instances" --id x
# Nothing of the refused commands went out: the next cast to g1 is the only new one.
"$B/slotctl" -c "$T/fleet.ini" rollback --instance g1 --id marker > /dev/null
check "refused commands sent nothing; rollback reached g1" wait_for 20 calls 5
check "the fifth call is the marker rollback" sh -c \
	'[ "$(wc -l < "$0")" = 5 ] && tail -n 1 "$0" | grep "\"rollback\"" | grep -q marker' "$T/oslo.calls"
finish
