# tests/support/torture.sh: what powercut.sh and killstorm.sh share (POSIX sh).
# Source it after lib.sh, with B (the binaries), and ROOT (the slot root) set.
#   tt_rand MAX            a random integer in [0, MAX)
#   tt_setup DATA_KB       keys, $INI, and a base data set of about DATA_KB KiB
#   tt_pack N KIND         tree $T/trees/vN (kept: the checker compares slots with it)
#                          and bundle $T/bundles/vN.bundle, version vN.0.0; KIND is
#                          good or crash (the demo agent exits during its trial);
#                          odd N in format 3 (delta updates)
#   tt_boot                slotd as PID 1 of its own PID namespace (its agent dies
#                          with it), every other boot under the host's /proc:
#                          SLOTD_NS (unshare's pid) and SLOTD_PID; logs to
#                          $T/slotd.log, one "=== boot N" line before each boot
#   tt_kill_slotd          SIGKILL to slotd by pid (the namespace goes with it), reaped
#   tt_install ROUND N     `slotupd install --id rROUND-vN` of vN in the background:
#                          UPD_PID, UPD_ID, UPD_LOG (stderr), UPD_LOG.out (stdout);
#                          with nginx installed, odd N from its URL: a delta
#                          install (blocks rebuilt from the slots, the rest by
#                          HTTP ranges) is struck as often as a whole one
#   tt_exited PID          true once PID is gone or a zombie
#   tt_kill_upd            SIGKILL to slotupd by pid (if it still runs), reaped
#   tt_strike ARGS         waits for a random moment of the install and strikes
#                          (tests/support/torture_strike.py: power cut, SIGKILLs);
#                          PHASE (appended to $T/phases), MODE, EXITED
#   tt_check ROUND         tests/support/torture_check.py check (settles first)
#   tt_note_outcome RC     after a cut: remembers an exited install's durable outcome
#   tt_none_pending        no attempt in the history is left unfinished
# Counters: TT_FAILS (rounds that broke an invariant anew), TT_STILL (rounds
# that found one broken as before).  The logs of the first 20 failing rounds
# are copied to $TT_OUT/failures/round-N.
S=$SLOTD_SRC/tests/support
INI=$T/slotd.ini
# lib.sh's handler cleans up on INT and TERM but lets the script go on; a
# storm must stop there (and the EXIT trap cleans up once).
trap 'exit 143' INT TERM
TT_OUT=${TORTURE_OUT:-$T}
TT_FAILS=0
TT_STILL=0
TT_BOOTS=0
TT_SPAN_MS=3000		# follows the last install seen ending (see tt_strike)
TT_MIN_VERSION=0	# the highest vN that printed SUCCESS and exited before a crash

tt_rand() {
	od -An -N4 -tu4 /dev/urandom | awk -v m="$1" '{ print $1 % m }'
}

tt_now_ms() {
	echo $(( $(date +%s%N) / 1000000 ))
}

tt_setup() {
	make_keys "$T/keys" || { echo "openssl failed"; return 1; }
	mkdir -p "$T/base/data" "$T/trees" "$T/bundles" "$T/logs"
	TT_HTTP=""
	if command -v nginx > /dev/null; then
		. "$S/nginx.sh"
		nginx_start "$T/bundles" "$T/nginx" || { echo "nginx did not start"; return 1; }
		TT_HTTP=$NGINX
	fi
	# Many small files and a few large ones: extraction, then syncfs, take a while.
	i=0
	while [ $i -lt 32 ]; do
		head -c $(( $1 * 1024 / 64 )) /dev/urandom > "$T/base/data/small-$i"
		i=$((i + 1))
	done
	head -c $(( $1 * 1024 / 2 )) /dev/urandom > "$T/base/data/large"
	cp "$SLOTD_AGENTS/demo_agent" "$T/base/agent"
	cat > "$INI" <<INI
[slots]
root = $ROOT
compatible = torture
[agent]
exec = bin/agent
health = notify
startup_timeout = 10s
min_uptime = 300ms
max_attempts = 2
stop_timeout = 2s
[updater]
keyring = $T/keys/keyring.pem
activate_timeout = 2m
INI
	: > "$T/agent.log"
	: > "$T/durable"
	: > "$T/phases"
	: > "$T/fails-seen"
}

tt_pack() {
	tree=$T/trees/v$1
	rm -rf "$tree"
	mkdir -p "$tree/bin" "$tree/data"
	# Hard links: the trees share the base data, so 1000 versions cost nothing.
	ln "$T/base/agent" "$tree/bin/agent"
	for f in "$T/base/data"/*; do ln "$f" "$tree/data/"; done
	echo "$2" > "$tree/behaviour"
	echo "v$1.0.0" > "$tree/VERSION"
	head -c 65536 /dev/urandom > "$tree/data/only-v$1"
	ln -s "data/only-v$1" "$tree/mine"
	tt_format=2
	[ $(($1 % 2)) -eq 1 ] && tt_format=3
	"$B/slotpack" create -d "$tree" -V "v$1.0.0" -C torture -k "$T/keys/ca-signer.key" \
		-c "$T/keys/ca-signer.pem" -z zstd --format "$tt_format" \
		-o "$T/bundles/v$1.bundle" >/dev/null
}

# Boots alternate between the two layouts of a PID namespace found in the
# field: with a /proc of its own (containers) and with the host's (a plain
# `unshare --pid`, some init wrappers), where /proc/PID is another process.
tt_boot() {
	TT_BOOTS=$((TT_BOOTS + 1))
	tt_proc=--mount-proc
	[ $((TT_BOOTS % 2)) -eq 0 ] && tt_proc=
	echo "=== boot $TT_BOOTS (${tt_proc:-the host's /proc})" >> "$T/slotd.log"
	rm -f "$ROOT/run/control.sock"	# a dead slotd's: wait for the new one's
	AGENT_LOG=$T/agent.log unshare --pid --fork $tt_proc \
		"$B/slotd" -c "$INI" 2>> "$T/slotd.log" &
	SLOTD_NS=$!
	wait_for 30 test -S "$ROOT/run/control.sock" || { echo "slotd did not start"; return 1; }
	SLOTD_PID=$(ps -o pid= --ppid "$SLOTD_NS" | tr -d ' ')
	[ -n "$SLOTD_PID" ]
}

# Kills PID only while it is still the program we started with our config:
# a reaped pid may have been reused by somebody else's process.
tt_kill_ours() {
	grep -qF "$INI" "/proc/$1/cmdline" 2>/dev/null && kill -KILL "$1" 2>/dev/null
	return 0
}

tt_kill_slotd() {
	tt_kill_ours "$SLOTD_PID"
	wait "$SLOTD_NS" 2>/dev/null
	SLOTD_NS="" SLOTD_PID=""
}

tt_install() {
	UPD_ID=r$1-v$2
	UPD_LOG=$T/logs/upd-$1.log
	UPD_VERSION=$2
	UPD_SLOTD_LINE=$(wc -l < "$T/slotd.log")
	UPD_START=$(tt_now_ms)
	upd_from=$T/bundles/v$2.bundle
	[ -n "$TT_HTTP" ] && [ $(($2 % 2)) -eq 1 ] && upd_from=$TT_HTTP/v$2.bundle
	"$B/slotupd" -c "$INI" install --id "$UPD_ID" "$upd_from" \
		> "$UPD_LOG.out" 2> "$UPD_LOG" &
	UPD_PID=$!
}

tt_exited() {
	state=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)
	[ -z "$state" ] || [ "$state" = Z ]
}

tt_kill_upd() {
	tt_kill_ours "$UPD_PID"
	wait "$UPD_PID" 2>/dev/null
}

# tt_strike [--shutdown MOUNTPOINT] [--kill PID]...: tests/support/torture_strike.py
# waits for a random moment of the install and strikes; sets PHASE, MODE and
# EXITED (1: slotupd had exited before), and sets the uniform window to a
# quarter more than the install took when it was seen ending.
tt_strike() {
	# shellcheck disable=SC2046
	set -- $(/usr/bin/python3 "$S/torture_strike.py" --upd-pid "$UPD_PID" --upd-id "$UPD_ID" \
		--upd-log "$UPD_LOG" --slotd-log "$T/slotd.log" --slotd-line "$UPD_SLOTD_LINE" \
		--start-ms "$UPD_START" --span-ms "$TT_SPAN_MS" --ours "$INI" "$@")
	[ $# = 4 ] || return 1
	# shellcheck disable=SC2034 # the callers read them
	PHASE=$1 MODE=$2 EXITED=$3
	[ "$4" -gt 0 ] && TT_SPAN_MS=$(( $4 * 5 / 4 ))
	echo "$PHASE" >> "$T/phases"
	return 0
}

# Called with the install's exit status once it is reaped, when it had exited
# before the crash: its outcome was durable, and must survive.
tt_note_outcome() {
	if [ "$1" = 0 ] && grep -q "^SUCCESS $UPD_ID " "$UPD_LOG.out"; then
		echo "$UPD_ID SUCCESS" >> "$T/durable"
		[ "$UPD_VERSION" -gt "$TT_MIN_VERSION" ] && TT_MIN_VERSION=$UPD_VERSION
	elif grep -qE "^slotupd: FAILED $UPD_ID" "$UPD_LOG"; then
		echo "$UPD_ID FAILED" >> "$T/durable"
	fi
	return 0
}

# tt_check ROUND: every invariant.  A round that breaks one is counted in
# TT_FAILS and its logs are kept; a broken invariant that an earlier round
# already reported (a bad record stays bad) is counted in TT_STILL instead.
tt_check() {
	if /usr/bin/python3 "$S/torture_check.py" check --slotctl "$B/slotctl" --ini "$INI" \
		--timeout 90 --root "$ROOT" --trees "$T/trees" --agent-log "$T/agent.log" \
		--min-version "$TT_MIN_VERSION" --durable "$T/durable" > "$T/check.out" 2>&1; then
		torn=$(sed -n 's/^torn //p' "$T/check.out")
		[ -n "$torn" ] && echo "round $1: history reports $torn torn line(s)"
		return 0
	fi
	# A FAIL line not seen before, or no FAIL line at all (the checker broke).
	if grep '^FAIL' "$T/check.out" | grep -qvxF -f "$T/fails-seen" ||
	   ! grep -q '^FAIL' "$T/check.out"; then
		TT_FAILS=$((TT_FAILS + 1))
		echo "round $1 FAILED:"
		sed 's/^/    /' "$T/check.out"
	else
		TT_STILL=$((TT_STILL + 1))
		echo "round $1: still broken as reported before"
	fi
	grep '^FAIL' "$T/check.out" >> "$T/fails-seen"
	# Logs of the first 20 failing rounds (a storm can fail hundreds of times).
	[ "$((TT_FAILS + TT_STILL))" -gt 20 ] && return 1
	keep=$TT_OUT/failures/round-$1
	mkdir -p "$keep"
	cp "$T/check.out" "$T/durable" "$keep/" 2>/dev/null
	tail -n 400 "$T/slotd.log" > "$keep/slotd.log"
	tail -n 100 "$T/agent.log" > "$keep/agent.log"
	cp "$UPD_LOG" "$UPD_LOG.out" "$keep/" 2>/dev/null
	cp "$ROOT/state" "$ROOT/history" "$keep/" 2>/dev/null
	ls -la "$ROOT" "$ROOT/slots/a" "$ROOT/slots/b" > "$keep/ls" 2>&1
	return 1
}

# Recovery left no attempt hanging: every one is SUCCESS or FAILED.
tt_none_pending() {
	"$B/slotctl" -c "$INI" history --json | /usr/bin/python3 -c '
import json, sys
pending = [r["id"] for r in json.load(sys.stdin) if r["state"] not in ("SUCCESS", "FAILED")]
pending and print("pending:", *pending)
sys.exit(1 if pending else 0)'
}

# tt_count FILE: "LINE: COUNT" for each distinct line, most frequent first.
tt_count() {
	sort "$1" | uniq -c | sort -rn | sed 's/^ *\([0-9]*\) \(.*\)$/\2: \1/'
}
