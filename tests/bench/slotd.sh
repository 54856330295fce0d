#!/bin/sh
# Supervisor footprint (issue 3): slotd's peak RSS (VmHWM) while supervising
# an idle agent, its binary size, its wakeups while idle, and the revert
# latency: from the failing agent's exit to the previous agent's exec.
# tini, if installed, supervises the same agent in the same run.
#   tests/bench/slotd.sh RELEASE_BUILD_DIR OUTDIR
set -eu
. "$(dirname "$0")/common.sh"
B=$build/bin
idle=${BENCH_IDLE_SECONDS:-10}
[ "${BENCH_QUICK:-0}" = 1 ] && idle=3
work=$(mktemp -d "${TMPDIR:-/tmp}/slotd-bench-slotd.XXXXXX")
chmod 711 "$work"
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$work"; }
trap cleanup EXIT
wait_for() { i=0; until "$@" >/dev/null 2>&1; do i=$((i + 1)); [ $i -lt 400 ] || return 1; sleep 0.05; done; }

k=$work/keys; mkdir -p "$k"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench \
	-keyout "$k/key.pem" -out "$k/cert.pem" 2>/dev/null
for b in good crash; do
	mkdir -p "$work/tree-$b/bin"
	cp "$build/agents/demo_agent" "$work/tree-$b/bin/agent"
	echo $b > "$work/tree-$b/behaviour"
done
"$B/slotpack" create -d "$work/tree-good" -V v1.0.0 -C bench -k "$k/key.pem" -c "$k/cert.pem" -o "$work/good.bundle"
"$B/slotpack" create -d "$work/tree-crash" -V v2.0.0 -C bench -k "$k/key.pem" -c "$k/cert.pem" -o "$work/crash.bundle"
cat > "$work/slotd.ini" <<INI
[slots]
root = $work/root
compatible = bench
[agent]
exec = bin/agent
health = notify
min_uptime = 200ms
[updater]
keyring = $k/cert.pem
INI
export AGENT_LOG="$work/agent.log"
"$B/slotd" -c "$work/slotd.ini" 2> "$work/slotd.log" &
slotd=$!
pids="$pids $slotd"
wait_for test -S "$work/root/run/control.sock"
"$B/slotupd" -c "$work/slotd.ini" install "$work/good.bundle" >/dev/null 2>&1

status_field() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
switches() { echo $(( $(status_field "$1" voluntary_ctxt_switches) + $(status_field "$1" nonvoluntary_ctxt_switches) )); }
before=$(switches $slotd)
sleep "$idle"	# measuring idleness: nothing to wait for but time itself
after=$(switches $slotd)
hwm=$(status_field $slotd VmHWM)
cp "$B/slotd" "$work/slotd.stripped" && strip "$work/slotd.stripped"
size=$(stat -c %s "$work/slotd.stripped")

# Revert latency: the crashing v2 logs its start and exits at once; slotd
# reverts and relaunches v1, which logs its start.  Both stamps are
# CLOCK_REALTIME from the agents' own log lines (ns).
"$B/slotupd" -c "$work/slotd.ini" install "$work/crash.bundle" >/dev/null 2>&1 || true
crash_ns=$(grep '^start [ab] v2.0.0 ' "$work/agent.log" | tail -1 | cut -d' ' -f5)
relaunch_ns=$(grep '^start [ab] v1.0.0 ' "$work/agent.log" | tail -1 | cut -d' ' -f5)
revert_ms=$(awk -v a="$crash_ns" -v b="$relaunch_ns" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')

tini_row=""
if command -v tini >/dev/null; then
	(cd "$work/tree-good" && exec env -u NOTIFY_SOCKET tini -s -- ./bin/agent) &
	tpid=$!
	pids="$pids $tpid"
	sleep 1	# let it settle; tini has no readiness signal of its own
	tini_row="| tini $(tini --version 2>&1 | awk '{print $3}') | $(status_field $tpid VmHWM) kB | $(stat -c %s "$(command -v tini)") B (as packaged) | - | - |"
fi
{
	echo
	echo "## slotd footprint"
	echo
	echo "slotd (release build) supervising the idle demo agent; idle wakeups are voluntary +"
	echo "involuntary context switches of slotd over ${idle} s; revert latency is from the crashing"
	echo "agent's start (it exits at once) to the previous agent's start, CLOCK_REALTIME stamps"
	echo "the agents log themselves, so it includes the failing agent's own exit."
	echo
	echo "| supervisor | VmHWM | binary (stripped) | idle wakeups / ${idle} s | revert latency |"
	echo "|---|---|---|---|---|"
	echo "| slotd | $hwm kB | $size B | $((after - before)) | $revert_ms ms |"
	[ -n "$tini_row" ] && echo "$tini_row"
	true
} >> "$out/report.md"
