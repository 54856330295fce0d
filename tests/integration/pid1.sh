#!/bin/sh
# slotd as PID 1 of a new PID namespace (unshare --pid --fork --mount-proc):
# orphans the agent leaves are reaped, signals reach the agent, and SIGTERM
# stops the agent within stop_timeout (SIGKILL for one that ignores SIGTERM),
# after which slotd exits with the agent's status.
. "$SLOTD_SRC/tests/support/lib.sh"
B=$SLOTD_BIN
command -v unshare >/dev/null || { echo "unshare not available" >&2; exit 77; }
unshare --pid --fork --mount-proc true 2>/dev/null || { echo "cannot create a PID namespace here" >&2; exit 77; }
make_keys "$T/keys" || exit 1
for b in orphans ignore-term; do
	mkdir -p "$T/tree-$b/bin"
	cp "$SLOTD_AGENTS/demo_agent" "$T/tree-$b/bin/agent"
	echo $b > "$T/tree-$b/behaviour"
done
"$B/slotpack" create -d "$T/tree-orphans" -V v1.0.0 -C t -k "$T/keys/ca-signer.key" \
	-c "$T/keys/ca-signer.pem" -o "$T/v1.bundle" || exit 1
"$B/slotpack" create -d "$T/tree-ignore-term" -V v2.0.0 -C t -k "$T/keys/ca-signer.key" \
	-c "$T/keys/ca-signer.pem" -o "$T/v2.bundle" || exit 1
cat > "$T/slotd.ini" <<INI
[slots]
root = $T/root
compatible = t
[agent]
exec = bin/agent
health = notify
startup_timeout = 5s
min_uptime = 500ms
stop_timeout = 1s
[updater]
keyring = $T/keys/keyring.pem
INI
export AGENT_LOG="$T/agent.log"
unshare --pid --fork --mount-proc "$B/slotd" -c "$T/slotd.ini" 2> "$T/slotd.log" &
ns=$!
PIDS="$PIDS $ns"
wait_for 10 test -S "$T/root/run/control.sock" || { cat "$T/slotd.log"; exit 1; }
slotd=$(ps -o pid= --ppid "$ns" | tr -d ' ')
check "slotd is PID 1 in its namespace" sh -c 'grep -q "^NSpid:.*[[:space:]]1$" /proc/$0/status' "$slotd"

# Only the agent is left under slotd, and nothing under slotd is a zombie.
only_agent_left() {
	n=0
	for c in $(ps -o pid= --ppid "$slotd"); do
		[ "$(cut -d' ' -f3 "/proc/$c/stat" 2>/dev/null)" = Z ] && return 1
		n=$((n + 1))
	done
	[ $n -eq 1 ]
}
check "an agent that leaves orphans installs" sh -c '"$0" -c "$1" install "$2" > /dev/null 2>&1' \
	"$B/slotupd" "$T/slotd.ini" "$T/v1.bundle"
# The 3 orphans were reparented to slotd (PID 1) and exit 0.3 s later.
check "the agent's orphans were reaped: no zombies remain" wait_for 5 only_agent_left
kill -USR1 "$slotd"
kill -HUP "$slotd"
check "SIGUSR1 reached the agent" wait_for 5 grep -q "^signal 10$" "$T/agent.log"
check "SIGHUP reached the agent" wait_for 5 grep -q "^signal 1$" "$T/agent.log"

check "an agent that ignores SIGTERM installs" sh -c '"$0" -c "$1" install "$2" > /dev/null 2>&1' \
	"$B/slotupd" "$T/slotd.ini" "$T/v2.bundle"
start=$(date +%s%N)
kill -TERM "$slotd"
wait "$ns"
status=$?
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
PIDS=""
check "the agent saw SIGTERM" grep -q "^signal 15$" "$T/agent.log"
check "slotd waited stop_timeout before SIGKILL ($elapsed ms)" [ "$elapsed" -ge 900 ]
check "and not much longer" [ "$elapsed" -lt 5000 ]
check "slotd exited with the agent's status (SIGKILL: 137, got $status)" [ "$status" = 137 ]
check "slotd logged the SIGKILL" grep -q "ignored SIGTERM" "$T/slotd.log"
finish
