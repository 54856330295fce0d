#!/bin/sh
# slotupd serve against a real RabbitMQ on 127.0.0.1: casts from the real
# oslo.messaging client upgrade the guest, outcomes and heartbeats reach the
# conductor topic, bad messages are refused (recorded, acknowledged) and the
# next good one still works, a non-admin rollback is refused.  Privilege
# separation (docs/architecture.md): the broker connection belongs to serve's
# AMQP process, which runs as the fetch user with no_new_privs, holds no file,
# and, asked from inside (tests/support/probe_open.py), cannot open the state
# file or create a file in the slot root even where the file modes let its
# uid, nor read outside its read paths; killed, it is restarted and serve
# goes on; it dies with serve.  A cast naming the guest's own
# [strategy.store] (a deployer's fetcher, docs/strategies.md) installs
# through it; one naming a strategy the guest lacks is refused naming the
# known ones; the cast's whole args.metadata reaches the fetcher, and one
# that is no object or over 2048 bytes is FAILED naming args.metadata.
. "$SLOTD_SRC/tests/support/lib.sh"
. "$SLOTD_SRC/tests/support/guest.sh"

guest_bundles 1 2 3 4 || exit 1
# The store fetcher copies the bundle named by the location from $T/www.
# It says the metadata object it read (args.metadata, whole) on stderr.
cat > "$T/fetch-store" <<SH
#!/bin/sh
input=\$(cat)
name=\$(printf '%s' "\$input" | sed -n 's/^{"location":"\([^"]*\)".*/\1/p')
echo "metadata \$(printf '%s' "\$input" | sed -n 's/.*"metadata":\({[^}]*}\).*/\1/p')" >&2
exec cat "$T/www/\$name"
SH
chmod 0755 "$T/fetch-store"
GUEST_AMQP_EXTRA="file_dir = $T/www
[strategy.store]
fetch = $T/fetch-store
read = $T/www"
guest_start || exit 1

cast() { /usr/bin/python3 "$S/oslo_cast.py" "$RABBIT_URL" "$INSTANCE" "$@"; }
raw() { printf '%s' "$1" > "$T/raw"; /usr/bin/python3 "$S/amqp_publish.py" "$AMQP" "guestagent.$INSTANCE" "$T/raw"; }
history_count() { # history_count STATE: attempts in that state
	slotctl_json history --state "$1" | /usr/bin/python3 -c "import json,sys; print(len(json.load(sys.stdin)))"
}
heard() { grep -q "$1" "$T/heard"; }
check "an unkeyed guest says once that casts are not authenticated" \
	[ "$(grep -c "casts are not authenticated" "$T/serve.log")" = 1 ]

# The AMQP process, seen from outside.
amqp_child() { # amqp_child: the pid of serve's child named slotupd-amqp
	for c in $(pgrep -P "$PID_serve"); do
		[ "$(cat "/proc/$c/comm" 2>/dev/null)" = slotupd-amqp ] && echo "$c" && return 0
	done
	return 1
}
# The pids among serve and its children holding a TCP connection to the broker.
broker_conns() {
	/usr/bin/python3 - "$RABBIT_PORT" "$PID_serve" $(pgrep -P "$PID_serve") <<'PY'
import os, sys
port = "%04X" % int(sys.argv[1])
inodes = set()
for table in ("/proc/net/tcp", "/proc/net/tcp6"):
    for line in open(table).readlines()[1:]:
        f = line.split()
        if f[2].endswith(":" + port) and f[3] == "01":	# remote port, ESTABLISHED
            inodes.add("socket:[%s]" % f[9])
for pid in sys.argv[2:]:
    fds = "/proc/%s/fd" % pid
    if any(os.readlink(os.path.join(fds, fd)) in inodes for fd in os.listdir(fds)):
        print(pid)
PY
}
fds_harmless() { # fds_harmless PID: /dev/null, sockets, pipes and serve.log only
	for fd in /proc/"$1"/fd/*; do
		target=$(readlink "$fd") || return 1
		case $target in
		/dev/null | socket:* | pipe:* | anon_inode:* | "$T/serve.log") ;;
		*) echo "fd $fd -> $target" >&2; return 1 ;;
		esac
	done
}
if [ "$(id -u)" = 0 ]; then
	want_uid=$(id -u _slotupd-fetch 2>/dev/null || id -u nobody)
else
	want_uid=$(id -u)
fi
child=$(amqp_child)
check "serve runs an AMQP process" test -n "$child"
child=${child:-0}
check "the broker connection is that process's, and only its" test "$(broker_conns)" = "$child"
uids=$(status_field "$child" Uid)
check "its real, effective, saved and fs uids are all $want_uid ($uids)" \
	test "$uids" = "$(printf '%s\t%s\t%s\t%s' "$want_uid" "$want_uid" "$want_uid" "$want_uid")"
[ "$(id -u)" = 0 ] && check "serve runs as root, its AMQP process not" \
	sh -c '[ "$0" != 0 ] && [ "$(stat -c %u /proc/$1)" = 0 ]' "$want_uid" "$PID_serve"
check "no_new_privs is set" test "$(status_field "$child" NoNewPrivs)" = 1
check "no capabilities left" test "$(status_field "$child" CapEff)" = 0000000000000000
check "it holds no file: /dev/null, sockets, stderr only" fds_harmless "$child"

cast upgrade "{\"instance_id\": \"$INSTANCE\", \"instance_version\": \"v1.0.0\", \"strategy\": \"http\", \"location\": \"$URL/v1.bundle\", \"metadata\": {}}"
v1_once() { [ "$(successes_to v1.0.0)" = 1 ]; }
check "an oslo.messaging cast upgrades the guest to v1" wait_for 30 v1_once
check "v1 is current" current_is a v1.0.0
check "the SUCCESS outcome reached the conductor topic" wait_for 10 sh -c 'grep "guest_upgrade_outcome" "$0" | grep -q "SUCCESS"' "$T/heard"
check "a heartbeat with the running version, without service_status" wait_for 10 sh -c \
	'grep "\"heartbeat\"" "$0" | grep "v1.0.0" | grep -vq service_status' "$T/heard"
check "the heartbeat says the guest's RPC API version (1.1)" sh -c \
	'grep "\"heartbeat\"" "$0" | grep -q "rpc_api_version[^0-9]*1\.1[^0-9]"' "$T/heard"

# The AMQP process, asked from inside what it may open (root and Landlock only).
if [ "$(id -u)" = 0 ] && ! grep -q "has no Landlock" "$T/serve.log"; then
	# Modes that let its uid write: only the sandbox stands in the way.
	chmod 0666 "$T/root/state"
	chmod 0777 "$T/root" "$T/root/slots/a"
	probe() { /usr/bin/python3 "$S/probe_open.py" "$child" "$@" 2>> "$T/probe.log"; }
	check "asked from inside, it opens a library path for reading (the probe works)" \
		test "$(probe r /usr/lib/os-release)" = fd
	check "it cannot open the state file for writing" test "$(probe w "$T/root/state")" = EACCES
	check "nor read it" test "$(probe r "$T/root/state")" = EACCES
	check "nor create a file in the slot root" test "$(probe c "$T/root/planted")" = EACCES
	check "nor in a slot" test "$(probe c "$T/root/slots/a/planted")" = EACCES
	check "nor read outside its read paths (/etc/hostname)" test "$(probe r /etc/hostname)" = EACCES
	check "nothing was created" test ! -e "$T/root/planted" -a ! -e "$T/root/slots/a/planted"
	chmod 0644 "$T/root/state"
	chmod 0755 "$T/root" "$T/root/slots/a"
fi
kill -KILL "$child"
check "a killed AMQP process is logged" wait_for 20 grep -q "AMQP process killed by signal 9" "$T/serve.log"
check "and restarted: connected again" wait_for 30 sh -c '[ "$(grep -c "connected; consuming" "$0")" -ge 2 ]' "$T/serve.log"
restarted() { c=$(amqp_child) && [ "$c" != "$child" ] && [ "$(broker_conns)" = "$c" ]; }
check "a new AMQP process holds the broker connection" wait_for 10 restarted

failed_before=$(history_count FAILED)
child=$(amqp_child) && hwm_before=$(peak_rss_kib "$child")
raw '{"oslo.version": "2.0", "oslo.message": "{not json"}'
raw '{"oslo.version": "2.0", "oslo.message": "{\"method\": \"upgrade\", \"args\": {\"instance_version\": 5, \"location\": []}}"}'
raw '{"oslo.version": "2.0", "oslo.message": "{\"method\": \"upgrade\", \"args\": {\"instance_version\": \"v9\"}}"}'
raw "{\"oslo.version\": \"2.0\", \"oslo.message\": \"{\\\"method\\\": \\\"upgrade\\\", \\\"args\\\": {\\\"instance_id\\\": \\\"someone-else\\\", \\\"instance_version\\\": \\\"v9\\\", \\\"location\\\": \\\"$URL/v2.bundle\\\"}}\"}"
# 40 MiB: the broker takes it (its limit is 128 MiB); the AMQP process must
# drop it frame by frame, never hold it.
head -c 41943040 /dev/zero | tr '\0' a > "$T/big"; /usr/bin/python3 "$S/amqp_publish.py" "$AMQP" "guestagent.$INSTANCE" "$T/big"
rm -f "$T/big"
cast rollback '{}' user
six_more_failed() { [ "$(history_count FAILED)" -eq $((failed_before + 6)) ]; }
check "six bad messages: six FAILED records" wait_for 30 six_more_failed
check "the 40 MiB message is refused by its size" grep -q "body: 41943040 bytes, more than 262144" "$T/serve.log"
grew=$(($(peak_rss_kib "$child") - hwm_before))
check "and the AMQP process's peak RSS grew by less than 8 MiB for it ($grew KiB)" \
	[ "$(amqp_child)" = "$child" -a "$grew" -lt 8192 ]
check "the refusals name the field" sh -c '"$0" -c "$1" history --state FAILED > "$2" && grep -q "instance" "$2" && grep -q "location" "$2" && grep -q "admin" "$2"' \
	"$B/slotctl" "$INI" "$T/failed.txt"
# A cast of RPC API 2.0 (a newer control plane): not acted on, FAILED naming
# both versions, the outcome cast, acked (the good cast below is not stuck
# behind it); nothing installed.
raw "{\"oslo.version\": \"2.0\", \"oslo.message\": \"{\\\"method\\\": \\\"upgrade\\\", \\\"version\\\": \\\"2.0\\\", \\\"_unique_id\\\": \\\"rpc20\\\", \\\"args\\\": {\\\"instance_version\\\": \\\"v2.0.0\\\", \\\"location\\\": \\\"$URL/v2.bundle\\\"}}\"}"
rpc20_failed() {
	slotctl_json history --state FAILED | /usr/bin/python3 -c 'import json, sys
r = [r for r in json.load(sys.stdin) if r["id"] == "rpc20"]
sys.exit(0 if r and "RPC API 2.0 not supported (this guest: 1.1)" in r[0]["error"] else 1)'
}
check "an RPC API 2.0 cast is FAILED naming both versions" wait_for 30 rpc20_failed
check "its outcome reached the conductor topic" wait_for 10 sh -c \
	'grep "guest_upgrade_outcome" "$0" | grep "rpc20" | grep -q "RPC API 2.0 not supported"' "$T/heard"
check "and v1 still runs" current_is a v1.0.0
cast upgrade "{\"instance_id\": \"$INSTANCE\", \"instance_version\": \"v2.0.0\", \"location\": \"$URL/v2.bundle\"}"
check "after them, a good cast still upgrades to v2" wait_for 30 current_is b v2.0.0
# A request with neither upgrade_id nor _unique_id: its id comes from its bytes,
# so the same bytes twice are one attempt (the second a no-op), never an empty id.
/usr/bin/python3 -c 'import json, sys
inner = {"method": "upgrade", "args": {"instance_version": "v2.0.0", "location": sys.argv[1] + "/v2.bundle"}}
print(json.dumps({"oslo.version": "2.0", "oslo.message": json.dumps(inner)}))' "$URL" > "$T/noid"
/usr/bin/python3 "$S/amqp_publish.py" "$AMQP" "guestagent.$INSTANCE" "$T/noid"
/usr/bin/python3 "$S/amqp_publish.py" "$AMQP" "guestagent.$INSTANCE" "$T/noid"
msg_once() {
	[ "$(slotctl_json history | /usr/bin/python3 -c 'import json, sys
print(sum(r["id"].startswith("msg-") for r in json.load(sys.stdin)))')" = 1 ]
}
check "a request without ids is recorded under an id from its bytes" wait_for 30 msg_once
check "and its repeat was the same attempt (a no-op)" wait_for 30 grep -q "message msg-.*: attempt already SUCCESS" "$T/serve.log"
# `file` casts name local paths: only beneath [amqp] file_dir, and the
# kernel resolves them without leaving it (threat-model gap 10).
cp "$T/www/v3.bundle" "$T/v3-outside.bundle"
ln -s ../v3-outside.bundle "$T/www/escape.bundle"
file_cast() { cast upgrade "{\"instance_id\": \"$INSTANCE\", \"instance_version\": \"v3.0.0\", \"strategy\": \"file\", \"location\": \"$1\", \"upgrade_id\": \"$2\"}"; }
state_of() { slotctl_json history | /usr/bin/python3 -c 'import json, sys
print(" ".join(r["state"] + ":" + r["error"] for r in json.load(sys.stdin) if r["id"] == sys.argv[1]))' "$1"; }
file_cast "$T/v3-outside.bundle" file-out
file_cast "$T/www/escape.bundle" file-link
file_cast "file://$T/www/v3.bundle" file-in
state_like() { case "$(state_of "$1")" in $2) return 0 ;; esac; return 1; }
check "a file cast outside file_dir is refused" wait_for 30 state_like file-out 'FAILED:*not beneath*file_dir'
check "a symlink out of file_dir is refused by the kernel" wait_for 30 state_like file-link 'FAILED:*leads out of*file_dir'
check "a file cast beneath file_dir installs v3" wait_for 60 current_is a v3.0.0
check "and records SUCCESS" [ "$(state_of file-in)" = "SUCCESS:" ]
# A deployer's strategy, named by the cast.
store_cast() { # store_cast STRATEGY ID [METADATA]
	cast upgrade "{\"instance_id\": \"$INSTANCE\", \"instance_version\": \"v4.0.0\", \"strategy\": \"$1\", \"location\": \"v4.bundle\", \"upgrade_id\": \"$2\", \"metadata\": ${3:-{\}}}"
}
store_cast ftp store-ftp
check "a cast naming a strategy the guest lacks is refused naming the known ones" \
	wait_for 30 state_like store-ftp "FAILED:*unknown strategy 'ftp' (known: http, swift, file, store)*"
store_cast store meta-list '["build"]'
check "a cast whose metadata is no object is FAILED naming args.metadata" \
	wait_for 30 state_like meta-list "FAILED:message refused: args.metadata: not an object"
store_cast store meta-big "{\"k\": \"$(head -c 3000 /dev/zero | tr '\0' x)\"}"
check "one whose metadata is over 2048 bytes too" \
	wait_for 30 state_like meta-big "FAILED:message refused: args.metadata: 3008 bytes as JSON, more than 2048"
check "their outcomes reached the conductor topic" wait_for 10 sh -c \
	'grep "guest_upgrade_outcome" "$0" | grep "meta-big" | grep -q "args.metadata"' "$T/heard"
store_cast store store-in '{"build": "1234", "branch": "stable", "token_ref": "vault:ci"}'
check "a cast naming the guest's [strategy.store] installs v4 through its fetcher" \
	wait_for 60 current_is b v4.0.0
check "and records SUCCESS" [ "$(state_of store-in)" = "SUCCESS:" ]
check "the fetcher read the cast's whole metadata" \
	grep -q 'strategy store: metadata {"build":"1234","branch":"stable","token_ref":"vault:ci"}$' "$T/serve.log"
# The AMQP process dies with serve (PR_SET_PDEATHSIG), even with SIGKILL.
child=$(amqp_child)
kill -KILL "$PID_serve"
wait "$PID_serve" 2>/dev/null
check "killed with serve, the AMQP process is gone too" wait_for 10 sh -c '! kill -0 "$0" 2>/dev/null' "${child:-0}"
finish
