#!/bin/sh
# Metrics files ([supervisor] and [updater] metrics_file): after a trial that
# passes and one that fails, slotd's file and slotupd's pass
# `promtool check metrics` and hold the values the story implies (slot
# versions and statuses, current slot, state, trials, reverts; installs by
# outcome, the last one's bytes and result).  A status request that changes
# nothing does not rewrite slotd's file (same inode), and slotd refuses a
# relative metrics_file at startup.
. "$SLOTD_SRC/tests/support/lib.sh"
B=$SLOTD_BIN
if ! command -v promtool >/dev/null && [ "$(id -u)" = 0 ]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus \
		>/dev/null 2>&1
fi
command -v promtool >/dev/null || { echo "slotd_metrics: promtool missing (Debian package prometheus)" >&2; exit 77; }
make_keys "$T/keys" || { echo "openssl failed"; exit 1; }

pack_demo v1.0.0 good
pack_demo v2.0.0 crash

R=$T/m
mkdir -p "$R/metrics"
cat > "$R.ini" <<INI
[slots]
root = $R/root
compatible = t
[agent]
exec = bin/agent
health = notify
startup_timeout = 10s
min_uptime = 500ms
max_attempts = 1
stop_timeout = 2s
[supervisor]
metrics_file = $R/metrics/slotd.prom
[updater]
keyring = $T/keys/keyring.pem
metrics_file = $R/metrics/slotupd.prom
INI
"$B/slotd" -c "$R.ini" 2>> "$R/slotd.log" &
SLOTD_PID=$!
PIDS="$PIDS $SLOTD_PID"
wait_for 20 test -S "$R/root/run/control.sock"
# The file is written after the state machine's first step, which comes
# after the control socket opens: awaited, not assumed (a CI flake).
check "slotd writes its file at startup" wait_for 20 test -f "$R/metrics/slotd.prom"
"$B/slotupd" -c "$R.ini" install "$T/v1.0.0-good.bundle" >> "$R/slotupd.log" 2>&1
"$B/slotupd" -c "$R.ini" install "$T/v2.0.0-crash.bundle" >> "$R/slotupd.log" 2>&1
wait_for 20 sh -c '[ "$("$0" -c "$1" status --json | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)[\"agent\"][\"state\"])")" = running ]' "$B/slotctl" "$R.ini"

S=$R/metrics/slotd.prom
U=$R/metrics/slotupd.prom
get() { /usr/bin/python3 "$SLOTD_SRC/tests/support/prom_get.py" "$1" "$2"; }
is() { # is FILE SAMPLE VALUE
	got=$(get "$1" "$2") || { echo "$2: absent"; return 1; }
	[ "$got" = "$3" ] || { echo "$2 = $got, want $3"; return 1; }
}
check "promtool accepts slotd's file" promtool check metrics < "$S"
check "promtool accepts slotupd's file" promtool check metrics < "$U"
check "slot a: v1.0.0 good" is "$S" 'slotd_slot_info{slot="a",version="v1.0.0",status="good"}' 1
check "slot b: v2.0.0 bad" is "$S" 'slotd_slot_info{slot="b",version="v2.0.0",status="bad"}' 1
check "current is a" is "$S" 'slotd_current_slot{slot="a"}' 1
check "state up" is "$S" 'slotd_state{state="up"}' 1
check "state trial 0" is "$S" 'slotd_state{state="trial"}' 0
check "one trial passed" is "$S" 'slotd_trials_total{result="pass"}' 1
check "one trial failed" is "$S" 'slotd_trials_total{result="fail"}' 1
check "one revert" is "$S" 'slotd_reverts_total' 1
check "no probation revert" is "$S" 'slotd_probation_reverts_total' 0
check "no restart of a good agent" is "$S" 'slotd_agent_restarts_total' 0
check "start time is recent" sh -c '[ $(($(date +%s) - $0)) -lt 600 ]' "$(get "$S" slotd_start_time_seconds)"
check "slotupd: one install succeeded" is "$U" 'slotupd_installs_total{outcome="success"}' 1
check "slotupd: one install failed" is "$U" 'slotupd_installs_total{outcome="failed"}' 1
check "slotupd: the last one failed" is "$U" 'slotupd_last_install_success' 0
check "slotupd: the last one fetched the bundle's bytes" is "$U" 'slotupd_last_install_bytes' \
	"$(stat -c %s "$T/v2.0.0-crash.bundle")"
check "slotupd: a duration" sh -c '/usr/bin/python3 -c "import sys; assert 0 < float(sys.argv[1]) < 600" "$0"' \
	"$(get "$U" slotupd_last_install_duration_seconds)"

# A good agent's crash is counted; a status request changes nothing on disk.
agent=$("$B/slotctl" -c "$R.ini" status --json | json_get '["agent"]["pid"]')
kill -KILL "$agent"
wait_for 20 sh -c '[ "$(/usr/bin/python3 "$0" "$1" slotd_agent_restarts_total)" = 1 ]' \
	"$SLOTD_SRC/tests/support/prom_get.py" "$S"
check "a good agent's crash is counted" is "$S" 'slotd_agent_restarts_total' 1
wait_for 20 sh -c '[ "$(/usr/bin/python3 "$0" "$1" "slotd_state{state=\"up\"}")" = 1 ]' \
	"$SLOTD_SRC/tests/support/prom_get.py" "$S"
inode=$(stat -c %i "$S")
"$B/slotctl" -c "$R.ini" status > /dev/null
check "a status request does not rewrite the file" sh -c '[ "$(stat -c %i "$0")" = "$1" ]' "$S" "$inode"
kill -TERM "$SLOTD_PID"
wait "$SLOTD_PID"

sed -i "s|^metrics_file = $R/metrics/slotd.prom|metrics_file = metrics/slotd.prom|" "$R.ini"
"$B/slotd" -c "$R.ini" > "$R/out" 2>&1
check "a relative metrics_file is refused" sh -c '[ "$0" = 2 ] && grep -q "\[supervisor\] metrics_file: must be an absolute path" "$1"' "$?" "$R/out"
finish
