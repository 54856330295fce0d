#!/bin/sh
# slotfleet benchmark (issue 11): the control plane on SQLite and on
# PostgreSQL (a private cluster, fsync on), with one private RabbitMQ.
#   API     wrk POSTs upgrades (a new instance id each, rate limit off) for
#           BENCH_FLEET_API_S seconds over BENCH_FLEET_CONNS connections,
#           with the broker up, with a slow broker (slotfleet's connection
#           through tests/support/tcp_rr.py --delay-ms BENCH_FLEET_SLOW_MS,
#           100: every answer and confirmation that much late) and with it
#           stopped; a 202 comes once the record and its cast are committed
#           (the outbox).  Accepted (202) per second, p50/p99; broker up or
#           slow: when the last cast was confirmed (really published, queued
#           in a durable catch-all queue bound to guestagent.#); broker
#           stopped: how long the backlog takes once it is started again.
#   ingest  BENCH_FLEET_REPORTS guest reports (outcomes DOWNLOADING..SUCCESS and
#           a heartbeat, per upgrade, for 1000 instances) are queued while
#           slotfleet is stopped, then slotfleet is started: from the first
#           message taken until every upgrade is SUCCESS in the database.
#           Before that the same reports are queued and drained by
#           `fleet_load drain` (acks only): the broker's own ceiling.
#   guests  BENCH_FLEET_GUESTS simulated guests (fleet_load guests: 4 AMQP
#           connections) are each sent an upgrade through the API (curl
#           --parallel, 32 at once); each answers its cast with the outcomes
#           and a heartbeat of the new version.  Until the API lists every
#           record SUCCESS; peak queue depth (guest queues + slotfleet's),
#           slotfleet's peak RSS (VmHWM), database size.  Plain and, on
#           SQLite, sealed (every guest with its own RPC key).
#   tests/bench/slotfleet.sh RELEASE_BUILD_DIR OUTDIR
# Writes OUTDIR/slotfleet.md and appends it to OUTDIR/report.md.
# BENCH_QUICK=1: 5 s of API, 18,000 reports, 1,000 guests.
# BENCH_FLEET_STORES ("sqlite postgresql") and BENCH_FLEET_PARTS ("api
# ingest guests sealed") limit the run, e.g. to ingest on PostgreSQL.
# BENCH_FLEET_PG_STATS=1: where PostgreSQL's time goes during ingest: the
# statements by total time (pg_stat_statements) and the commits, in
# OUTDIR/slotfleet_pg_ingest.txt.
# BENCH_FLEET_PREFETCH (2048, twice the batch): [amqp] prefetch for the ingest.
# BENCH_FLEET_PERF=1: slotfleet sampled by `perf record -g` while it drains
# (OUTDIR/perf_ingest_STORE.data; `perf report -i` it).
set -eu
. "$(dirname "$0")/common.sh"
api_s=${BENCH_FLEET_API_S:-20}
conns=${BENCH_FLEET_CONNS:-32}
threads=${BENCH_FLEET_THREADS:-16}
reports=${BENCH_FLEET_REPORTS:-198000}
guests=${BENCH_FLEET_GUESTS:-10000}
stores=${BENCH_FLEET_STORES:-sqlite postgresql}
parts=${BENCH_FLEET_PARTS:-api ingest guests sealed}
prefetch=${BENCH_FLEET_PREFETCH:-2048}
slow_ms=${BENCH_FLEET_SLOW_MS:-100}
if [ "${BENCH_QUICK:-0}" = 1 ]; then api_s=5 reports=18000 guests=1000; fi
instances=1000
reports=$((reports / (6 * instances) * 6 * instances))	# whole upgrades per instance
[ "$reports" -gt 0 ] || { echo "slotfleet: BENCH_FLEET_REPORTS below 6000" >&2; exit 1; }
command -v wrk >/dev/null || { echo "slotfleet: wrk not installed (packaging/deps.sh)" >&2; exit 1; }
pg_stats=${BENCH_FLEET_PG_STATS:-0}
[ "$pg_stats" = 0 ] || PG_SERVER_OPTS=$PG_STATS_OPTS
bench_fleet_env slotfleet
case " $stores " in *" postgresql "*)
	pg_start "$T/pg" || { echo "slotfleet: postgresql did not start" >&2; exit 1; } ;;
esac
fleet_tokens
"$LOAD" sink "$AMQP" bench-casts 'guestagent.#'
FLEET_API_EXTRA="rate = 1000000/s
burst = 1000000
threads = $threads
connection_limit = 1024"
QUEUE=slotfleet.trove-conductor
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
secs() { printf '%d.%02d' $(($1 / 1000)) $(($1 % 1000 / 10)); }

db_size_kb() {
	if [ "$1" = sqlite ]; then
		du -ck "$T/$2.db"* | tail -n 1 | cut -f1
	else
		echo $(( $(db_query "$1" "$2" "SELECT pg_database_size('$2')") / 1024 ))
	fi
}

# pending BACKEND NAME: casts in the outbox not yet confirmed by the broker.
pending() {
	db_query "$1" "$2" "SELECT count(*) FROM casts WHERE state = 0"
}
pending_is() { [ "$(pending "$1" "$2")" = "$3" ]; }

# slow_start: SLOW_PID, a proxy to the broker whose answers come slow_ms
# late, and SLOW_AMQP its URL.
slow_start() {
	/usr/bin/python3 "$S/tcp_rr.py" --delay-ms "$slow_ms" "$RABBIT_PORT" > "$T/slow.out" 2>&1 &
	SLOW_PID=$!
	PIDS="$PIDS $SLOW_PID"
	wait_for 10 grep -q '^PORT ' "$T/slow.out" || return 1
	SLOW_AMQP=amqp://guest:guest@127.0.0.1:$(sed -n 's/^PORT //p' "$T/slow.out")/
}

# api_run BACKEND BROKER: wrk against a fresh database, the broker up, slow
# or stopped; a row of api.rows.  With the broker up or slow, how long after
# wrk's end the last cast was confirmed; stopped, how long the backlog takes
# once the broker is started again.
api_run() {
	name=api_$1_$2
	if [ "$2" = slow ]; then
		slow_start || { echo "slotfleet: the slow proxy did not start" >&2; return 1; }
		AMQP=$SLOW_AMQP fleet_ini "$(db_spec "$1" "$name")" "prefetch = 256"
	else
		fleet_ini "$(db_spec "$1" "$name")" "prefetch = 256"
	fi
	if [ "$2" = stopped ]; then
		rabbit_stop || true	# (set -e: its kills may find a pid gone)
		FLEET_NO_BROKER=1 fleet_start || return 1
	else
		fleet_start || return 1
	fi
	wrk -t 2 -c "$conns" -d "${api_s}s" -s "$top/tests/bench/slotfleet_post.lua" \
		"$API/upgrade" -- "$ADMIN" > "$T/wrk.out" || { cat "$T/wrk.out" >&2; return 1; }
	end=$(now_ms)
	left=$(pending "$1" "$name")
	if [ "$2" = stopped ]; then
		rabbit_start "$T/rabbit" || { echo "slotfleet: rabbitmq did not restart" >&2; return 1; }
		"$LOAD" sink "$AMQP" bench-casts 'guestagent.#'	# the transient exchange's binding
		end=$(now_ms)
	fi
	wait_until 600 pending_is "$1" "$name" 0 || echo "slotfleet: casts still pending" >&2
	drained=$(($(now_ms) - end))
	fleet_stop
	if [ "$2" = slow ]; then kill "$SLOW_PID"; wait "$SLOW_PID" 2>/dev/null || true; fi
	set -- "$1" "$2" $(tail -n 1 "$T/wrk.out")	# accepted A other O p50_us P p99_us Q seconds S
	[ "$6" = 0 ] || echo "slotfleet: $6 requests not accepted (see $T/fleet.log)" >&2
	rate=$(awk -v a="$4" -v s="${12}" 'BEGIN { printf "%d", a / s }')
	if [ "$2" != stopped ]; then
		after="$left pending at the end, all queued $(secs "$drained") s later"
	else
		after="$left pending, sent $(secs "$drained") s after the broker was back ($(awk -v n="$left" -v ms="$drained" 'BEGIN { printf "%d", ms ? n * 1000 / ms : 0 }')/s)"
	fi
	echo "| $1 | $2 | $threads | $conns | $4 | $6 | $rate/s | $(($8 / 1000)).$(($8 % 1000 / 100)) ms | $((${10} / 1000)).$((${10} % 1000 / 100)) ms | $after |" >> "$T/api.rows"
	echo "api $1, broker $2: $rate/s accepted, p50 $(($8 / 1000)) ms, p99 $((${10} / 1000)) ms; $after"
}

bench_api() { # BACKEND
	api_run "$1" up && api_run "$1" slow && api_run "$1" stopped
}

all_success() { # BACKEND NAME COUNT
	[ "$(db_query "$1" "$2" "SELECT count(*) FROM upgrades WHERE state = 6")" = "$3" ]
}

bench_ingest() { # BACKEND
	spec=$(db_spec "$1" ingest_$1)
	fleet_ini "$spec" "prefetch = $prefetch"
	fleet_start || return 1	# creates the schema and the queue
	fleet_stop
	# The broker's own ceiling: the same reports drained by a consumer that
	# does nothing but ack them.
	"$LOAD" publish "$AMQP" "$QUEUE" trove-conductor "$reports" "$instances" > /dev/null
	"$LOAD" drain "$AMQP" "$QUEUE" "$prefetch" > "$T/drain.out"
	"$LOAD" publish "$AMQP" "$QUEUE" trove-conductor "$reports" "$instances" > "$T/publish.out"
	[ "$1" != postgresql ] || [ "$pg_stats" = 0 ] || pg_stats_reset ingest_$1
	"$LOAD" watch "$AMQP" "$reports" 1800 "$QUEUE" > "$T/watch.out" &
	watcher=$!
	fleet_start || return 1
	perf_pid=
	if [ "${BENCH_FLEET_PERF:-0}" != 0 ]; then
		perf record -q -g -o "$out/perf_ingest_$1.data" -p "$FLEET_PID" 2>/dev/null &
		perf_pid=$!
	fi
	wait "$watcher" || { echo "slotfleet: the queue did not drain" >&2; return 1; }
	wait_for 600 all_success "$1" "ingest_$1" $((reports / 6)) ||
		{ echo "slotfleet: not every upgrade SUCCESS after ingest" >&2; return 1; }
	end=$(now_ms)
	[ -z "$perf_pid" ] || { kill -INT "$perf_pid"; wait "$perf_pid" || true; }
	rss=$(awk '/VmHWM/ {print $2}' "/proc/$FLEET_PID/status")
	# slotfleet's CPU time (user + system, start-up included) per report:
	# steadier than the rate on a machine other work shares.
	cpu_us=$(awk -v hz="$(getconf CLK_TCK)" -v n="$reports" \
		'{ sub(/.*\) /, ""); printf "%.1f", ($12 + $13) * 1e6 / hz / n }' "/proc/$FLEET_PID/stat")
	fleet_stop
	[ "$1" != postgresql ] || [ "$pg_stats" = 0 ] || pg_ingest_stats "$1" ingest_$1
	start=$(cut -d' ' -f2 "$T/watch.out")
	ms=$((end - start))
	echo "| $1 | $reports | $(secs $ms) s | $((reports * 1000 / ms))/s | $(sed 's/.*(//; s/)//' "$T/drain.out") | $(sed 's/.*(//; s/)//' "$T/publish.out") | $((rss / 1024)) MiB | $cpu_us us |" >> "$T/ingest.rows"
	echo "ingest $1: $reports in $(secs $ms) s; broker alone: $(cat "$T/drain.out"); publisher alone: $(cat "$T/publish.out"); VmHWM $rss kB; CPU $cpu_us us/report"
}

pg_ingest_stats() { # BACKEND NAME
	{
		echo "PostgreSQL during the ingest of $reports reports: statements by total time"
		pg_stats_top "$2"
	} > "$out/slotfleet_pg_ingest.txt"
	echo "ingest $1: statements in $out/slotfleet_pg_ingest.txt"
}

success_count() { # pages through GET upgrades?state=SUCCESS
	url="$API/upgrades?state=SUCCESS&limit=1000" n=0
	while [ -n "$url" ]; do
		curl -sf -H "X-Auth-Token: $ADMIN" "$url" > "$T/page" || return 1
		set -- $(/usr/bin/python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
nxt = [l["href"] for l in d.get("links", []) if l.get("rel") == "next"]
print(len(d["upgrades"]), nxt[0] if nxt else "")' "$T/page")
		n=$((n + $1))
		url=${2:-}
	done
	echo "$n"
}

all_listed() { [ "$(success_count)" = "$guests" ]; }

bench_guests() { # BACKEND sealed|plain
	name=guests_$1_$2 keys=""
	if [ "$2" = sealed ]; then
		keys=$T/guest.keys
		awk -v n="$guests" 'BEGIN { for (i = 0; i < n; i++)
			printf "sim-%d key-%d-%08x\n", i, i, (i * 2654435761) % 4294967296 }' > "$keys"
	fi
	fleet_ini "$(db_spec "$1" "$name")" "prefetch = 1024${keys:+
rpc_keys = $keys}"
	fleet_start || return 1
	"$LOAD" guests "$AMQP" "$guests" 4 v2.0.0 $keys > "$T/guests.out" &
	sim=$!
	PIDS="$PIDS $sim"
	wait_for 300 grep -q ready "$T/guests.out" || { echo "slotfleet: simulator not ready" >&2; return 1; }
	"$LOAD" watch "$AMQP" 0 3600 sim-guests-0 sim-guests-1 sim-guests-2 sim-guests-3 "$QUEUE" > "$T/depth.out" &
	watcher=$!
	for i in $(seq 0 $((guests - 1))); do
		[ "$i" = 0 ] || echo next
		printf 'url = "%s/upgrade"\nheader = "X-Auth-Token: %s"\nheader = "Content-Type: application/json"\n' "$API" "$ADMIN"
		printf 'data = "{\\"instance_id\\": \\"sim-%d\\", \\"instance_version\\": \\"v2.0.0\\", \\"location\\": \\"http://127.0.0.1:9/v2.bundle\\"}"\n' "$i"
		printf 'output = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n'
	done > "$T/curl.cfg"
	start=$(now_ms)
	curl --no-progress-meter --parallel --parallel-max 32 -K "$T/curl.cfg" > "$T/codes" || true
	notify_ms=$(($(now_ms) - start))
	accepted=$(grep -c '^202$' "$T/codes" || true)
	if [ "$accepted" != "$guests" ]; then
		echo "slotfleet: $accepted of $guests upgrades accepted; answers: $(sort "$T/codes" | uniq -c | tr '\n' ' ')" >&2
		grep -v ' 202 ' "$T/fleet.log" | grep POST | head -5 >&2
		return 1
	fi
	wait_for 1800 all_listed || { echo "slotfleet: not every guest SUCCESS" >&2; return 1; }
	total_ms=$(($(now_ms) - start))
	kill "$watcher"; wait "$watcher" || true
	wait "$sim" || true
	rss=$(awk '/VmHWM/ {print $2}' "/proc/$FLEET_PID/status")
	# slotfleet's CPU time (user + system, start-up included) per report:
	# steadier than the rate on a machine other work shares.
	cpu_us=$(awk -v hz="$(getconf CLK_TCK)" -v n="$reports" \
		'{ sub(/.*\) /, ""); printf "%.1f", ($12 + $13) * 1e6 / hz / n }' "/proc/$FLEET_PID/stat")
	fleet_stop
	echo "| $1 | $2 | $guests | $(secs $notify_ms) s | $(secs $total_ms) s | $(cut -d' ' -f2 "$T/depth.out") | $((rss / 1024)) MiB | $(( $(db_size_kb "$1" "$name") / 1024 )) MiB |" >> "$T/guests.rows"
	echo "guests $1 $2: all SUCCESS in $(secs $total_ms) s, VmHWM $rss kB"
}

: > "$T/api.rows"; : > "$T/ingest.rows"; : > "$T/guests.rows"
part() { case " $parts " in *" $1 "*) true ;; *) false ;; esac; }
for db in $stores; do
	case "$db" in sqlite|postgresql) ;; *)
		echo "slotfleet: BENCH_FLEET_STORES: $db is not sqlite or postgresql" >&2; exit 1 ;;
	esac
	! part api || bench_api "$db"
	! part ingest || bench_ingest "$db"
	! part guests || bench_guests "$db" plain
done
case " $stores " in *" sqlite "*) ! part sealed || bench_guests sqlite sealed ;; esac

# rows NAME: a table's rows, or why there are none.
rows() {
	if [ -s "$T/$1.rows" ]; then cat "$T/$1.rows"; else echo "(not run: BENCH_FLEET_PARTS='$parts')"; fi
}

load=$(cut -d' ' -f1-3 /proc/loadavg)
{
	echo
	echo "## slotfleet (control plane: API, report ingest, simulated guests)"
	echo
	echo "One slotfleet (release build), one private RabbitMQ, SQLite (WAL, synchronous=FULL)"
	echo "or a private PostgreSQL (fsync on), all on this machine (load average at the end: $load)."
	echo
	echo "API: \`wrk -t 2 -c $conns -d ${api_s}s\` POSTs upgrades, each for a new instance id, rate"
	echo "limit off, [api] threads = $threads; a 202 once the record and its cast are committed (the"
	echo "outbox), the broker up (every cast then published, queued in a durable queue, confirmed),"
	echo "slow (slotfleet's connection through a proxy that delays every answer and confirmation by"
	echo "$slow_ms ms) or stopped (the casts wait; then the broker is started and the backlog timed)."
	echo
	echo "| store | broker | threads | connections | accepted | refused | accepted/s | p50 | p99 | casts |"
	echo "|---|---|---|---|---|---|---|---|---|---|"
	rows api
	echo
	echo "Report ingest: the reports (per upgrade: 5 outcomes and a heartbeat, $instances instances) queued"
	echo "first (persistent, durable queue), then slotfleet started ([amqp] prefetch = $prefetch): from the"
	echo "first message taken until every upgrade is SUCCESS in the database.  Broker alone: the same"
	echo "queue drained by \`fleet_load drain\` (acks only, no work), the ceiling of the figure."
	echo
	echo "| store | reports | drained in | reports/s | broker alone | publisher alone | slotfleet VmHWM | slotfleet CPU per report |"
	echo "|---|---|---|---|---|---|---|---|"
	rows ingest
	echo
	echo "Simulated guests: each notified through the API (curl --parallel, 32 at once); each answers its"
	echo "cast with 5 outcomes and a heartbeat of the new version (4 AMQP connections for all guests)."
	echo "\"all SUCCESS\" runs from the first POST until the API lists every record SUCCESS."
	echo
	echo "| store | casts | guests | notify | all SUCCESS | peak queue depth | slotfleet VmHWM | database |"
	echo "|---|---|---|---|---|---|---|---|"
	rows guests
	echo
	echo "Command: \`BENCH_FLEET_API_S=$api_s BENCH_FLEET_CONNS=$conns BENCH_FLEET_THREADS=$threads BENCH_FLEET_REPORTS=$reports BENCH_FLEET_GUESTS=$guests BENCH_FLEET_STORES='$stores' BENCH_FLEET_PARTS='$parts' BENCH_FLEET_PREFETCH=$prefetch tests/bench/slotfleet.sh build/release build/bench\`"
	echo "(or \`make bench\`; BENCH_QUICK=1 for the small variant)."
} > "$out/slotfleet.md"
cat "$out/slotfleet.md" >> "$out/report.md"
set +e	# lib.sh's exit hooks (stopping the servers) must not fail a finished run
echo "slotfleet: $out/slotfleet.md"
