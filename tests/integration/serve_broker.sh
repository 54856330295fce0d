#!/bin/sh
# slotupd serve when things go wrong around it, on a real RabbitMQ on 127.0.0.1:
# an upgrade that arrives while the agent is busy (holds the inhibitor) is
# deferred, stays queued while heartbeats go on, and completes once released;
# RabbitMQ killed and restarted in the middle of a download loses nothing:
# the install completes once, the redelivered message is acknowledged as a
# no-op and its outcome reaches the conductor after the restart.  Upgrades
# start after a random delay within [amqp] download_jitter.
. "$SLOTD_SRC/tests/support/lib.sh"
. "$SLOTD_SRC/tests/support/guest.sh"

GUEST_AMQP_EXTRA="retry_interval = 500ms
download_jitter = 1500ms"
guest_bundles 1 2 3 || exit 1
guest_start || exit 1
notify() { "$B/slotctl" -c "$INI" notify --instance "$INSTANCE" "$@" > /dev/null; }
heard_count() { grep -c "$1" "$T/heard" || true; }

notify --version v1.0.0 --location "$URL/v1.bundle" --id up-1
check "v1 installed" wait_for 30 current_is a v1.0.0

# Busy agent: it holds the inhibitor (a shared flock, kept by one process).
sh -c 'exec 9< "$0/root/run/inhibit" && flock -s 9 && echo held > "$0/held" && exec sleep 120' "$T" &
holder=$!
PIDS="$PIDS $holder"
wait_for 10 test -f "$T/held"
notify --version v2.0.0 --location "$URL/v2.bundle" --id busy-2
deferred() { slotctl_json history --state DEFERRED | grep -q '"id": "busy-2"'; }
check "an upgrade while the agent is busy is DEFERRED" wait_for 20 deferred
check "the DEFERRED outcome reached the conductor" wait_for 10 sh -c \
	'grep guest_upgrade_outcome "$0" | grep busy-2 | grep -q DEFERRED' "$T/heard"
check "it is retried while held" wait_for 10 sh -c '[ "$(grep -c "busy-2.*DEFERRED" "$0")" -ge 3 ]' "$T/heard"
beats=$(heard_count '"heartbeat"')
check "heartbeats go on while the message is held" wait_for 10 sh -c \
	'[ "$(grep -c "\"heartbeat\"" "$0")" -ge $(($1 + 2)) ]' "$T/heard" "$beats"
check "v1 still runs meanwhile" current_is a v1.0.0
kill "$holder"; wait "$holder" 2>/dev/null
check "released: the same message completes" wait_for 30 current_is b v2.0.0
v2_once() { [ "$(successes_to v2.0.0)" = 1 ]; }
check "busy-2 ended SUCCESS exactly once" wait_for 10 v2_once

# RabbitMQ dies mid-download.  The download is held half-way by the HTTP
# server until the broker has been killed and started again.
notify --version v3.0.0 --location "$URL/v3.bundle?gate=g3" --id crash-3
check "the v3 download is half-way" wait_for 30 test -e "$T/www/g3.waiting"
kill "$PID_listen"; wait "$PID_listen" 2>/dev/null
rabbit_stop KILL
check "the broker is gone" sh -c '! /usr/bin/python3 -c "import socket; socket.create_connection((\"127.0.0.1\", $0), 1)" 2>/dev/null' "$RABBIT_PORT"
rabbit_start "$T/rabbit" || { echo "rabbitmq did not restart"; tail "$T/rabbit/server.log"; exit 1; }
guest_listen || exit 1
touch "$T/www/g3"
check "the interrupted download completes: v3 current" wait_for 60 current_is a v3.0.0
check "serve reconnected" wait_for 90 sh -c '[ "$(grep -c "connected; consuming" "$0")" -ge 2 ]' "$T/serve.log"
check "the redelivered message was a no-op" wait_for 30 grep -q "message crash-3: attempt already SUCCESS" "$T/serve.log"
check "its SUCCESS outcome reached the conductor after the restart" wait_for 20 sh -c \
	'grep guest_upgrade_outcome "$0" | grep crash-3 | grep -q SUCCESS' "$T/heard"
jitter_ok() { # every new upgrade waited a random delay within download_jitter first
	grep -o "starting in [0-9]* ms (download_jitter)" "$T/serve.log" | awk '
		{ n++; if ($3 > 1500) bad++ } END { exit !(n >= 3 && !bad) }'
}
check "new upgrades start after a random delay within download_jitter" jitter_ok
v3_once() { [ "$(successes_to v3.0.0)" = 1 ] && [ "$(grep -c "start a v3.0.0" "$T/agent.log")" = 1 ]; }
check "v3 installed and started exactly once" v3_once
"$B/slotctl" -c "$INI" rollback --instance "$INSTANCE" --id back-5 > /dev/null
check "after the restart, a rollback cast still works" wait_for 30 current_is b v2.0.0
finish
