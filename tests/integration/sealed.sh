#!/bin/sh
# A keyed guest obeys sealed casts only (a real RabbitMQ on 127.0.0.1, a real
# guest: slotd + slotupd serve with [amqp] rpc_key and max_age):
# slotctl notify seals per instance from a key file; a forged plaintext
# admin rollback and a plaintext upgrade are refused and recorded under fresh
# ids (the real attempt's record is untouched); a replayed sealed cast is a
# no-op; the same cast replayed after max_age is refused.
. "$SLOTD_SRC/tests/support/lib.sh"
. "$SLOTD_SRC/tests/support/guest.sh"

KEY=sealed-test-key-0123456789
GUEST_AMQP_EXTRA="rpc_key = $KEY
max_age = 20s"
guest_bundles 1 2 || exit 1
guest_start || exit 1
# A copy of every cast to the guest, as it came, to replay later.
/usr/bin/python3 "$S/amqp_listen.py" "$AMQP" spy "$T/spy" "guestagent.$INSTANCE" raw > "$T/spy.out" 2>&1 &
PIDS="$PIDS $!"
wait_for 30 grep -q LISTENING "$T/spy.out" || { cat "$T/spy.out"; exit 1; }
printf '# per-instance keys\nsome-other-instance another-key\n%s %s\n' "$INSTANCE" "$KEY" > "$T/rpc-keys"
printf '[amqp]\nurl = %s\nrpc_keys = %s\n' "$AMQP" "$T/rpc-keys" > "$T/fleet.ini"

check "serve does not warn about unauthenticated casts when keyed" sh -c '! grep -q "not authenticated" "$0"' "$T/serve.log"
sent_at=$(date +%s)
check "notify seals with the instance's key from [amqp] rpc_keys" sh -c \
	'"$0" -c "$1" notify --instance "$2" --version v1.0.0 --location "$3/v1.bundle" --id up-1 | grep -qx "$2 up-1 queued"' \
	"$B/slotctl" "$T/fleet.ini" "$INSTANCE" "$URL"
v1_once() { [ "$(successes_to v1.0.0)" = 1 ]; }
check "the sealed cast upgraded the guest to v1" wait_for 30 v1_once
# Replays of the real, sealed cast.
head -n 1 "$T/spy" > "$T/replay"
check "the spy captured the sealed cast" grep -q _context_context "$T/replay"
/usr/bin/python3 "$S/amqp_publish.py" "$AMQP" "guestagent.$INSTANCE" "$T/replay"
check "a replay within max_age is a no-op" wait_for 20 grep -q "message up-1: attempt already SUCCESS" "$T/serve.log"
check "an instance missing from the key file is refused before anything is sent" sh -c \
	'"$0" -c "$1" notify --instance nokey --version v1.0.0 --location "$2/v1.bundle" 2> "$3"; [ $? = 2 ] && grep -q "no key for instance nokey" "$3"' \
	"$B/slotctl" "$T/fleet.ini" "$URL" "$T/nokey.err"

refusals() { grep -c "refused: message: not sealed" "$T/serve.log"; }
inner() { # inner JSON -> oslo envelope
	/usr/bin/python3 -c 'import json,sys; print(json.dumps({"oslo.version": "2.0", "oslo.message": sys.argv[1]}))' "$1"
}
inner '{"method":"rollback","args":{"upgrade_id":"up-1"},"_unique_id":"up-1","_context_is_admin":true}' > "$T/forged-rollback"
/usr/bin/python3 "$S/amqp_publish.py" "$AMQP" "guestagent.$INSTANCE" "$T/forged-rollback"
check "a plaintext admin rollback is refused" wait_for 20 sh -c '[ "$(grep -c "refused: message: not sealed" "$0")" = 1 ]' "$T/serve.log"
check "v1 still current" current_is a v1.0.0
up1_success() {
	slotctl_json history | /usr/bin/python3 -c '
import json, sys
r = [r for r in json.load(sys.stdin) if r["id"] == "up-1"]
sys.exit(0 if len(r) == 1 and r[0]["state"] == "SUCCESS" and r[0]["kind"] == "upgrade" else 1)'
}
check "the forger's id did not overwrite the real record up-1" up1_success
check "the refusal is recorded FAILED under a fresh id" sh -c \
	'"$0" -c "$1" history --state FAILED --json | grep -q "not sealed with this instance"' "$B/slotctl" "$INI"

inner "{\"method\":\"upgrade\",\"args\":{\"instance_id\":\"$INSTANCE\",\"instance_version\":\"v2.0.0\",\"location\":\"$URL/v2.bundle\"},\"_unique_id\":\"forged-2\",\"_context_is_admin\":true}" > "$T/forged-upgrade"
/usr/bin/python3 "$S/amqp_publish.py" "$AMQP" "guestagent.$INSTANCE" "$T/forged-upgrade"
check "a plaintext upgrade is refused" wait_for 20 sh -c '[ "$(grep -c "refused: message: not sealed" "$0")" = 2 ]' "$T/serve.log"
check "v1 is still current after the forged upgrade" current_is a v1.0.0
check "no attempt reached v2" [ "$(successes_to v2.0.0)" = 0 ]

# max_age is 20 s: wait until the cast is older than that.
past() { [ "$(date +%s)" -ge "$1" ]; }
check "the cast is now older than max_age" wait_for 40 past $(( sent_at + 25 ))
/usr/bin/python3 -c '
import json, sys
env = json.loads(open(sys.argv[1]).read())
inner = json.loads(env["oslo.message"])
inner["_unique_id"] = "a-fresh-id-from-the-attacker"
env["oslo.message"] = json.dumps(inner)
print(json.dumps(env))' "$T/replay" > "$T/replay-late"
/usr/bin/python3 "$S/amqp_publish.py" "$AMQP" "guestagent.$INSTANCE" "$T/replay-late"
check "the same sealed cast replayed after max_age is refused" wait_for 20 grep -q "more than \[amqp\] max_age" "$T/serve.log"
check "and up-1 is still the one SUCCESS record" up1_success
finish
