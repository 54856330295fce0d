#!/bin/sh
# slotd as a systemd Type=notify service (supervisor/slotd/sd_notify.c):
# READY=1 reaches the manager's socket, given as a path and as an @abstract
# name, once the control socket listens; the manager's NOTIFY_SOCKET is taken
# out of the environment, so the agent sees slotd's own socket and a health
# checker sees none.  Without NOTIFY_SOCKET slotd runs as before.
. "$SLOTD_SRC/tests/support/lib.sh"
B=$SLOTD_BIN
make_keys "$T/keys" || { echo "openssl failed"; exit 1; }

tree=$T/tree
mkdir -p "$tree/bin"
# The agent and the checker write what they were given, then the agent idles.
printf '#!/bin/sh\necho "agent ${NOTIFY_SOCKET-unset}" >> "$PROBE_LOG"\nexec sleep 600\n' \
	> "$tree/bin/agent"
printf '#!/bin/sh\necho "check ${NOTIFY_SOCKET-unset}" >> "$PROBE_LOG"\n' > "$tree/bin/check"
chmod 755 "$tree/bin/agent" "$tree/bin/check"
"$B/slotpack" create -d "$tree" -V v1.0.0 -C t -k "$T/keys/ca-signer.key" \
	-c "$T/keys/ca-signer.pem" -o "$T/v1.bundle" >/dev/null || { echo "slotpack failed"; exit 1; }

# listen ADDRESS OUT: one datagram per line into OUT until killed.
listen() {
	/usr/bin/python3 - "$1" "$2" <<'PY' &
import socket, sys
addr = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + addr[1:] if addr.startswith("@") else addr)
open(sys.argv[2] + ".bound", "w").close()
while True:
    data = s.recv(4096)
    with open(sys.argv[2], "a") as out:
        out.write(data.decode("ascii", "replace").replace("\n", " ") + "\n")
PY
	PIDS="$PIDS $!"
	wait_for 10 test -e "$2.bound"
}

# run NAME ADDRESS [nolisten]: slotd with NOTIFY_SOCKET=ADDRESS ("": unset),
# a manager listening there unless told not to.
run() {
	R=$T/$1
	mkdir -p "$R"
	cat > "$R.ini" <<INI
[slots]
root = $R/root
compatible = t
[agent]
exec = bin/agent
health = exec
health_exec = bin/check
min_uptime = 1s
stop_timeout = 2s
[updater]
keyring = $T/keys/keyring.pem
INI
	export PROBE_LOG="$R/probe.log"
	if [ -n "$2" ]; then
		[ "${3:-}" = nolisten ] || listen "$2" "$R/manager.log"
		NOTIFY_SOCKET=$2 "$B/slotd" -c "$R.ini" 2>> "$R/slotd.log" &
	else
		env -u NOTIFY_SOCKET "$B/slotd" -c "$R.ini" 2>> "$R/slotd.log" &
	fi
	SLOTD_PID=$!
	PIDS="$PIDS $SLOTD_PID"
	wait_for 20 test -S "$R/root/run/control.sock"
}
installed() {
	"$B/slotupd" -c "$R.ini" install "$T/v1.bundle" >> "$R/slotupd.log" 2>&1 ||
		{ cat "$R/slotd.log" "$R/slotupd.log"; return 1; }
}
# slotd exits with its agent's status: only that it exits is checked.
stop_slotd() { kill -TERM "$SLOTD_PID"; wait "$SLOTD_PID"; ! kill -0 "$SLOTD_PID" 2>/dev/null; }

run path "$T/manager.sock"
check "path socket: READY=1 arrives" wait_for 20 grep -qx "READY=1" "$R/manager.log"
check "an install runs under it" installed
check "the agent got slotd's own notify socket" grep -qx "agent $R/root/run/notify.sock" "$R/probe.log"
check "the health checker got no NOTIFY_SOCKET" grep -qx "check unset" "$R/probe.log"
check "slotd exits on SIGTERM" stop_slotd
check "READY=1 was sent once" sh -c '[ "$(grep -c "^READY=1$" "$0")" = 1 ]' "$R/manager.log"
check "STOPPING=1 was sent on SIGTERM, after READY=1" sh -c \
	'[ "$(grep -c "^STOPPING=1$" "$0")" = 1 ] && [ "$(tail -n 1 "$0")" = STOPPING=1 ]' "$R/manager.log"

run abstract "@slotd-test-$$"
check "abstract socket: READY=1 arrives" wait_for 20 grep -qx "READY=1" "$R/manager.log"
stop_slotd

run bad "relative/socket" nolisten
check "an unusable NOTIFY_SOCKET is a warning, not a failure" wait_for 20 \
	grep -q "NOTIFY_SOCKET: not a unix socket path" "$R/slotd.log"
check "and is not handed on: the agent still gets slotd's socket" installed
check "agent socket after a bad NOTIFY_SOCKET" grep -qx "agent $R/root/run/notify.sock" "$R/probe.log"
stop_slotd

run none ""
check "without a manager slotd runs as before" installed
stop_slotd
finish
