# tests/support/lib.sh: shared helpers for integration scripts (POSIX sh).
# Source it after setting nothing; it defines:
#   T                 a fresh temp dir, removed on exit
#   spawn NAME CMD..  starts CMD in the background, remembers its pid as NAME
#   stop_all          TERM then KILL every spawned pid (only ours, by pid)
#   wait_for SECS CMD.. polls CMD until it succeeds (for servers we do not control)
#   check DESC CMD..  runs CMD, counts a pass or a failure with DESC
#   finish            prints the tally and exits 0 or 1
#   make_keys DIR [CN] a CA, a signer cert (and a second, untrusted CA) with openssl
#   pack_demo VERSION BEHAVIOUR  $T/VERSION-BEHAVIOUR.bundle: the demo agent
#                     (compatible t) acting out BEHAVIOUR, signed by make_keys' CA
#                     signer (make_keys "$T/keys" first)
T=$(mktemp -d /tmp/slotd-it.XXXXXX)
chmod 711 "$T"
PIDS=""
PASSED=0
FAILED=0

spawn() {
	name=$1; shift
	"$@" &
	eval "PID_$name=$!"
	PIDS="$PIDS $!"
}

stop_all() {
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
	for p in $PIDS; do
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	PIDS=""
}

AT_EXIT=""	# more cleanup functions, run first (e.g. rabbit_stop)
cleanup_lib() {
	# Every hook runs, whatever the one before returned: a script under
	# set -e (the benchmarks) would otherwise leave its servers running
	# when one kill finds its pid gone.
	set +e
	for hook in $AT_EXIT; do $hook; done
	stop_all
	[ -n "${KEEP:-}" ] && { echo "kept $T"; return; }
	rm -rf "$T"
}
trap cleanup_lib EXIT INT TERM

wait_for() {
	limit=$1; shift
	i=0
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -gt $((limit * 20)) ] && return 1
		sleep 0.05
	done
}

check() {
	desc=$1; shift
	if "$@"; then
		PASSED=$((PASSED + 1)); echo "ok   - $desc"
	else
		FAILED=$((FAILED + 1)); echo "FAIL - $desc"
	fi
}

# For a guest whose slotd.ini is $INI and slot root $R (slotctl at $B):
# record ID FIELD: FIELD of attempt ID's latest history snapshot ("" if none)
record() {
	"$B/slotctl" -c "$INI" history --json | /usr/bin/python3 -c 'import json, sys
r = [r for r in json.load(sys.stdin) if r["id"] == sys.argv[1]]
print(r[-1][sys.argv[2]] if r else "")' "$1" "$2"
}
# slot_of SLOT KEY: KEY of slot SLOT in slotctl status
slot_of() { "$B/slotctl" -c "$INI" status --json | json_get "[\"slots\"][\"$1\"][\"$2\"]"; }
# running SLOT VERSION: SLOT holds VERSION, good, and is current
running() { [ "$(slot_of "$1" version)/$(slot_of "$1" status)" = "$2/good" ] &&
	[ "$(readlink "$R/current")" = "slots/$1" ]; }
# fails CMD...: CMD fails
fails() { ! "$@"; }

# starts_with STRING PREFIX
starts_with() { case $1 in "$2"*) return 0 ;; esac; return 1; }

finish() {
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
	exit $?
}

make_keys() {
	d=$1
	mkdir -p "$d"
	for ca in ca rogue; do
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
			-subj "/CN=slotd test $ca" -keyout "$d/$ca.key" -out "$d/$ca.pem" \
			-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
			2>/dev/null || return 1
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-subj "/CN=packager of $ca" -keyout "$d/$ca-signer.key" -out "$d/$ca-signer.csr" \
			2>/dev/null || return 1
		printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n' > "$d/ext"
		openssl x509 -req -in "$d/$ca-signer.csr" -CA "$d/$ca.pem" -CAkey "$d/$ca.key" \
			-CAcreateserial -days 30 -extfile "$d/ext" -out "$d/$ca-signer.pem" 2>/dev/null ||
			return 1
	done
	cp "$d/ca.pem" "$d/keyring.pem"
}

pack_demo() {
	tree=$T/tree-$1-$2
	mkdir -p "$tree/bin"
	cp "$SLOTD_AGENTS/demo_agent" "$tree/bin/agent"
	echo "$2" > "$tree/behaviour"
	"$SLOTD_BIN/slotpack" create -d "$tree" -V "$1" -C t -k "$T/keys/ca-signer.key" \
		-c "$T/keys/ca-signer.pem" -o "$T/$1-$2.bundle" >/dev/null
}

# proc_alive PID: the process runs (not a zombie waiting for whoever adopted it)
proc_alive() { [ -r "/proc/$1/stat" ] && [ "$(sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f1)" != Z ]; }
# proc_start_time PID: its start time, field 22 of /proc/PID/stat (clock ticks
# since boot; fields are counted after the command name's last ")")
proc_start_time() { sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f20; }
# slotd_serving INI AGENT_LOG: slotd runs the demo agent it launched last
# (the pid of the agent's last "start" line is the one status reports)
slotd_serving() {
	last=$(grep '^start ' "$2" | tail -1 | cut -d' ' -f4)
	[ -n "$last" ] && [ "$last" -gt 0 ] &&
		[ "$("$SLOTD_BIN/slotctl" -c "$1" status --json | json_get '["agent"]["pid"]')" = "$last" ]
}
# demo_ini FILE ROOT [LINE...]: a guest's slotd.ini for pack_demo's bundles
# (compatible t, health notify with short timeouts, make_keys' keyring in
# $T/keys), then the LINEs (more sections; "[agent]" again adds to it)
demo_ini() {
	file=$1 root=$2
	shift 2
	{
		printf '[slots]\nroot = %s\ncompatible = t\n' "$root"
		printf '[agent]\nexec = bin/agent\nhealth = notify\nstartup_timeout = 10s\n'
		printf 'min_uptime = 300ms\nstop_timeout = 1s\n'
		printf '[updater]\nkeyring = %s\n' "$T/keys/keyring.pem"
		for line in "$@"; do printf '%s\n' "$line"; done
	} > "$file"
}
# status_field PID FIELD: a field of /proc/PID/status (Uid, NoNewPrivs, ...)
status_field() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status"; }
# peak_rss_kib PID: the process's peak RSS so far (VmHWM), in KiB
peak_rss_kib() { status_field "$1" VmHWM | sed 's/ kB$//'; }

# JSON field from stdin, e.g. json_get '["slots"]["a"]["status"]'
json_get() {
	/usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)$1)"
}
