#!/bin/sh
# Fleet benchmark (issue 6): N guests on this machine, each a real slotd (with
# the demo agent) and a real `slotupd serve` with its own root and queue, one
# RabbitMQ, one local HTTP server.  `slotctl notify --instances` upgrades them
# all at once; we time until every guest's SUCCESS outcome has reached the
# conductor topic, sample the broker's ready messages over every guest queue,
# and read the HTTP server's peak concurrent downloads.  Each fleet upgrades
# twice: without download jitter, then with [amqp] download_jitter.
#   tests/bench/fleet.sh RELEASE_BUILD_DIR OUTDIR
# BENCH_FLEET ("100 1000"), BENCH_FLEET_JITTER (10s); BENCH_QUICK=1: "20 100", 3s.
set -eu
. "$(dirname "$0")/common.sh"
sizes=${BENCH_FLEET:-100 1000}
jitter=${BENCH_FLEET_JITTER:-10s}
if [ "${BENCH_QUICK:-0}" = 1 ]; then sizes="20 100"; jitter=3s; fi
command -v rabbitmq-server >/dev/null || { echo "fleet: rabbitmq-server not installed" >&2; exit 1; }
B=$build/bin
S=$top/tests/support
T=$(mktemp -d "${TMPDIR:-/tmp}/slotd-bench-fleet.XXXXXX")
chmod 711 "$T"
PIDS="" AT_EXIT="" guests="" serves=""
. "$S/rabbitmq.sh"
wait_for() {
	limit=$1; shift
	i=0
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1)); [ $i -gt $((limit * 20)) ] && return 1; sleep 0.05
	done
}
stop_pids() { # TERM, then KILL what is left: only processes we started
	for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "$@"; do
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
}
cleanup() {
	set +e	# cleanup must not turn a finished run into a failure
	stop_pids $PIDS $guests $serves
	rabbit_stop
	rm -rf "$T"
}
trap cleanup EXIT
# One connection and a few files per guest, on the broker and here.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

k=$T/keys
mkdir -p "$k" "$T/www"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench \
	-keyout "$k/key.pem" -out "$k/cert.pem" 2>/dev/null
/usr/bin/python3 "$top/tests/bench/make_tree.py" "$T/tree" 100 2
mkdir -p "$T/tree/bin"
cp "$build/agents/demo_agent" "$T/tree/bin/agent"
for v in 1 2; do
	"$B/slotpack" create -d "$T/tree" -V "v$v.0.0" -C bench -k "$k/key.pem" -c "$k/cert.pem" \
		-o "$T/www/v$v.bundle" > /dev/null
done
bundle_kb=$(( $(stat -c %s "$T/www/v1.bundle") / 1024 ))
/usr/bin/python3 "$S/httpd.py" "$T/www" > "$T/httpd.out" 2>/dev/null &
PIDS="$PIDS $!"
rabbit_start "$T/rabbit" || { echo "fleet: rabbitmq did not start" >&2; exit 1; }
AMQP=amqp://guest:guest@127.0.0.1:$RABBIT_PORT/
wait_for 10 grep -q '^PORT ' "$T/httpd.out"
URL=http://127.0.0.1:$(sed -n 's/^PORT //p' "$T/httpd.out")
printf '[amqp]\nurl = %s\n' "$AMQP" > "$T/fleet.ini"

guest_config() { # guest_config DIR ID JITTER
	cat > "$1/slotd.ini" <<INI
[slots]
root = $1/root
compatible = bench
[agent]
exec = bin/agent
health = uptime
min_uptime = 200ms
[updater]
keyring = $k/cert.pem
[amqp]
url = $AMQP
instance_id = $2
heartbeat_interval = 60s
download_jitter = $3
INI
}

start_serves() { # start_serves N: one slotupd serve per guest, all consuming
	serves=""
	for i in $(seq 1 "$1"); do
		"$B/slotupd" -c "$T/g$i/slotd.ini" serve 2> "$T/g$i/serve.log" &
		serves="$serves $!"
	done
	for i in $(seq 1 "$1"); do
		wait_for 120 grep -q "connected; consuming" "$T/g$i/serve.log" && continue
		echo "fleet: guest $i did not connect:" >&2
		tail -3 "$T/g$i/serve.log" >&2
		return 1
	done
}

# upgrade N VERSION LABEL: one fleet upgrade, one report row.
upgrade() {
	: > "$T/heard"
	/usr/bin/python3 "$S/amqp_listen.py" "$AMQP" bench-conductor "$T/heard" > "$T/listen.out" 2>&1 &
	listener=$!
	PIDS="$PIDS $listener"
	wait_for 30 grep -q LISTENING "$T/listen.out" || { echo "fleet: listener: $(cat "$T/listen.out")" >&2; return 1; }
	curl -sf "$URL/_concurrency" > /dev/null || { echo "fleet: the HTTP server does not answer" >&2; return 1; }
	start=$(date +%s%N)
	/usr/bin/python3 "$top/tests/bench/fleet_watch.py" "$RABBIT_NODE" "$T/heard" "$1" 1800 > "$T/watch.out" &
	watcher=$!
	PIDS="$PIDS $watcher"
	"$B/slotctl" -c "$T/fleet.ini" notify --instances "$T/instances" --version "$2" \
		--location "$URL/${2%%.*}.bundle" > "$T/notify.out" || { echo "fleet: notify failed" >&2; return 1; }
	notify_ms=$(( ($(date +%s%N) - start) / 1000000 ))
	wait "$watcher" || { echo "fleet: $1 guests did not all upgrade: $(cat "$T/watch.out")" >&2; return 1; }
	total_ms=$(( ($(date +%s%N) - start) / 1000000 ))
	peak_http=$(curl -s "$URL/_concurrency" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["max"])')
	peak_queue="$(cut -d' ' -f3 "$T/watch.out") ($(cut -d' ' -f4 "$T/watch.out") samples)"
	stop_pids "$listener"
	printf '| %s | %s | %s | %s.%02d s | %s.%02d s | %s | %s |\n' "$1" "$2" "$3" \
		$((notify_ms / 1000)) $((notify_ms % 1000 / 10)) $((total_ms / 1000)) $((total_ms % 1000 / 10)) \
		"$peak_queue" "$peak_http" >> "$T/rows"
}

: > "$T/rows"
for n in $sizes; do
	guests=""
	: > "$T/instances"
	for i in $(seq 1 "$n"); do
		mkdir -p "$T/g$i"
		guest_config "$T/g$i" "bench-$n-$i" 0
		echo "bench-$n-$i" >> "$T/instances"
		"$B/slotd" -c "$T/g$i/slotd.ini" 2> "$T/g$i/slotd.log" &
		guests="$guests $!"
	done
	start_serves "$n" || exit 1
	upgrade "$n" v1.0.0 "none" || exit 1
	stop_pids $serves
	for i in $(seq 1 "$n"); do guest_config "$T/g$i" "bench-$n-$i" "$jitter"; done
	start_serves "$n" || exit 1
	upgrade "$n" v2.0.0 "$jitter" || exit 1
	# VmHWM counts the shared libraries in full; Pss shares them out.
	rss_kb=$(for p in $serves; do awk '/VmHWM/ {print $2}' "/proc/$p/status"; done | sort -n | tail -1)
	pss_kb=$(for p in $serves; do awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup"; done |
		awk '{ s += $1 } END { printf "%d", s / NR }')
	stop_pids $serves $guests
	serves="" guests=""
	echo "fleet of $n: done (slotupd serve: largest VmHWM $rss_kb kB, mean Pss $pss_kb kB)"
	echo "- $n guests: largest \`slotupd serve\` VmHWM $rss_kb kB, mean Pss after the upgrades $pss_kb kB" >> "$T/rows.rss"
	rm -rf "$T"/g*
done

{
	echo
	echo "## Fleet (slotctl notify -> N x slotupd serve, one RabbitMQ, one HTTP server)"
	echo
	echo "Each guest is a real slotd (demo agent, uptime health, min_uptime 200 ms) and a real"
	echo "\`slotupd serve\` with its own root and durable queue; the bundle is ${bundle_kb} kB (100 files)."
	echo "\"notify\" is how long \`slotctl notify --instances\` took to publish every confirmed cast;"
	echo "\"all SUCCESS\" runs from the start of notify until every guest's SUCCESS outcome reached"
	echo "the conductor topic (sampled every ~0.2 s). Queue depth is the peak, over \`rabbitmqctl"
	echo "list_queues\` samples (about one a second), of messages ready or unacknowledged in all"
	echo "guest queues (upgrades queued or in progress); HTTP concurrency is the peak number of"
	echo "bundles being sent at once."
	echo
	echo "| guests | version | download jitter | notify | all SUCCESS | peak queue depth | peak HTTP concurrency |"
	echo "|---|---|---|---|---|---|---|"
	cat "$T/rows"
	echo
	cat "$T/rows.rss"
	echo
	echo "Command: \`BENCH_FLEET=\"$sizes\" BENCH_FLEET_JITTER=$jitter make bench\` (tests/bench/fleet.sh)."
} >> "$out/report.md"
