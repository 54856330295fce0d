#!/bin/sh
# Rollout benchmark (issue 12): slotfleet (release build) drives rollouts
# to BENCH_ROLLOUT_GUESTS simulated guests (fleet_load rollout: 4 AMQP
# connections, every cast logged with the time it was taken) through one
# private RabbitMQ, on SQLite and, when its server binaries are installed,
# a private PostgreSQL (fsync on).  Two rollouts per store:
#   clean  waves [1, 10, 50, 100] %, rate BENCH_ROLLOUT_RATE casts/s,
#          probation BENCH_ROLLOUT_PROBATION s, every guest SUCCESS: per wave
#          its wall time, the casts/s the guests saw (mean, and the most in
#          any 1 s window), the most slotfleet planned in any 1 s window
#          (held to the rate when at most rate + 1),
#          slotfleet's peak RSS, database size, the broker's peak depth
#          (the guests' queues and slotfleet's report queue).
#   halt   the same, max_failure_rate 0, and the guests at 10 %, 50 % and
#          90 % of wave 2 answer FAILED: from the first FAILED sent to
#          HALTED (in the database, and as the API showed it, polled every
#          20 ms), casts received after that FAILED was sent and after
#          HALTED, and casts planned and confirmed after HALTED (aim 0; a
#          cast planned before HALTED and taken after it was in flight).
# Up to 10,000 guests the rollout names them (one request's list); above
# that (up to 100,000: the issue's whole-fleet run) the guests first
# heartbeat v1.0.0 and keep heartbeating every BENCH_ROLLOUT_HEARTBEAT_EVERY
# s (default 60, Trove's interval; their current version), the rollout
# selects {"agent_version_below": "v2.0.0"} in the database (casting order:
# by id, as text), and in the halt run BENCH_ROLLOUT_FAIL_PERCENT (default
# 1) % of wave 2, spread over it, answers FAILED (BENCH_ROLLOUT_SELECT=1:
# the same with fewer guests).  Real guests are not
# among the targets.
#   tests/bench/rollout.sh RELEASE_BUILD_DIR OUTDIR
# Writes OUTDIR/rollout.md and appends it to OUTDIR/report.md.
# BENCH_QUICK=1: 1,000 guests.  BENCH_ROLLOUT_STORES: "sqlite postgresql".
# BENCH_ROLLOUT_PG_STATS=1: where PostgreSQL's time goes in each run: the
# statements by total time (pg_stat_statements), in
# OUTDIR/rollout_pg_RUN.txt.
# BENCH_ROLLOUT_FLEETS=2: on PostgreSQL a second slotfleet on the same
# database and broker (competing consumers of the reports; one of the two
# drives the rollout): both peak RSS and which one drove, in a third table.
set -eu
. "$(dirname "$0")/common.sh"
guests=${BENCH_ROLLOUT_GUESTS:-10000}
rate=${BENCH_ROLLOUT_RATE:-200}
probation=${BENCH_ROLLOUT_PROBATION:-2}
stores=${BENCH_ROLLOUT_STORES:-sqlite postgresql}
if [ "${BENCH_QUICK:-0}" = 1 ]; then guests=1000; fi
[ "$guests" -ge 100 ] && [ "$guests" -le 100000 ] ||
	{ echo "rollout: BENCH_ROLLOUT_GUESTS must be 100..100000" >&2; exit 1; }
select=${BENCH_ROLLOUT_SELECT:-0}
[ "$guests" -gt 10000 ] && select=1
fail_percent=${BENCH_ROLLOUT_FAIL_PERCENT:-1}
fleets=${BENCH_ROLLOUT_FLEETS:-1}
pg_stats=${BENCH_ROLLOUT_PG_STATS:-0}
[ "$pg_stats" = 0 ] || PG_SERVER_OPTS=$PG_STATS_OPTS
bench_fleet_env rollout
case " $stores " in
*" postgresql "*)
	if [ -x "$PG_BINDIR/postgres" ]; then
		pg_start "$T/pg" || { echo "rollout: postgresql did not start" >&2; exit 1; }
	else
		echo "rollout: no PostgreSQL server binaries: SQLite only" >&2
		stores=sqlite
	fi ;;
esac
fleet_tokens
# The probe polls 50 times a second; a targets list of 10,000 ids is ~130 KB.
FLEET_API_EXTRA="rate = 1000000/s
burst = 1000000
max_body = 1MiB"
QUEUE=slotfleet.trove-conductor
QUEUES="sim-guests-0 sim-guests-1 sim-guests-2 sim-guests-3 $QUEUE"

# Every planned cast confirmed and taken, every report stored: the run's
# last cast is in the guests' log and nothing is in flight.
settled() { # BACKEND NAME
	[ "$(db_query "$1" "$2" "SELECT COUNT(*) FROM rollout_targets WHERE upgrade_id <> '' AND cast_us = 0")" = 0 ] &&
		rabbitmqctl -n "$RABBIT_NODE" -q list_queues name messages |
		awk -v qs="$QUEUES" 'BEGIN { n = split(qs, q, " "); for (i = 1; i <= n; i++) want[q[i]] = 1 }
			want[$1] && $2 != 0 { busy = 1 } END { exit busy }'
}

known_all() { # BACKEND NAME: every guest's heartbeat is stored
	[ "$(db_query "$1" "$2" "SELECT COUNT(*) FROM instances WHERE agent_version <> ''")" -ge "$guests" ]
}

rollout_body() { # NAME MAX_FAILURE_RATE
	[ "$select" = 1 ] && { printf '{"rollout_id": "%s", "instance_version": "v2.0.0", "location": "http://127.0.0.1:9/v2.bundle", "waves": [1, 10, 50, 100], "rate": %s, "probation": %s, "timeout": "10m", "max_failure_rate": %s, "targets": {"agent_version_below": "v2.0.0"}}\n' \
		"$1" "$rate" "$probation" "$2"; return; }
	awk -v n="$guests" -v id="$1" -v mfr="$2" -v rate="$rate" -v prob="$probation" 'BEGIN {
		printf "{\"rollout_id\": \"%s\", \"instance_version\": \"v2.0.0\",", id
		printf " \"location\": \"http://127.0.0.1:9/v2.bundle\", \"waves\": [1, 10, 50, 100],"
		printf " \"rate\": %s, \"probation\": %s, \"timeout\": \"10m\",", rate, prob
		printf " \"max_failure_rate\": %s, \"targets\": {\"instances\": [", mfr
		for (i = 0; i < n; i++) printf "%s\"sim-%d\"", i ? ", " : "", i
		printf "]}}\n" }'
}

pg_stats_end() { # NAME RUN
	{
		echo "PostgreSQL during the $2 rollout: statements by total time"
		pg_stats_top "$1"
	} > "$out/rollout_pg_$2.txt"
}

hwm_mib() { # PID: its peak RSS
	awk '/^VmHWM/ { printf "%d", $2 / 1024 }' "/proc/$1/status"
}

# fleets_row BACKEND RUN NAME SECOND_PID: both slotfleets' peak RSS, which
# one drove the rollout (its log says its waves), and the second stopped.
fleets_row() {
	drove=first
	grep -q "rollout $3: wave 1 done" "$T/fleet2.log" && drove=second
	echo "| $1 | $2 | $(hwm_mib "$FLEET_PID") MiB | $(hwm_mib "$4") MiB | $drove |" >> "$T/fleets.rows"
	kill "$4"
	wait "$4" 2>/dev/null || true
}

# run BACKEND clean|halt: one rollout on a fresh database, its rows appended.
run() {
	name=rollout_$1_$2 p=$T/rollout_$1_$2 fails=""
	fleet_ini "$(db_spec "$1" "$name")" "prefetch = 1024"
	fleet_start || return 1
	second=""
	if [ "$fleets" = 2 ] && [ "$1" = postgresql ]; then
		fleet_start_second || { echo "rollout: the second slotfleet did not start" >&2; return 1; }
		second=$PID_fleet2
	fi
	if [ "$2" = halt ] && [ "$select" = 1 ]; then	# by id as text, as the store numbers them
		fails=$p.fails
		awk -v n="$guests" 'BEGIN { for (i = 0; i < n; i++) printf "sim-%d\n", i }' | LC_ALL=C sort |
			awk -v n="$guests" -v pc="$fail_percent" '{ id[NR - 1] = $0 } END {
			w1 = int((n + 99) / 100); w2 = int((10 * n + 99) / 100); k = int((w2 - w1) * pc / 100)
			if (k < 1) k = 1
			for (f = 0; f < k; f++) print id[w1 + int((w2 - w1) * (f + 0.5) / k)] }' > "$fails"
	elif [ "$2" = halt ]; then	# wave 2 is targets w1..w2-1
		fails=$p.fails
		awk -v n="$guests" 'BEGIN { w1 = int((n + 99) / 100); w2 = int((10 * n + 99) / 100)
			for (f = 1; f <= 9; f += 4) printf "sim-%d\n", w1 + int((w2 - w1) * f / 10) }' > "$fails"
	fi
	: > "$p.casts"
	if [ "$select" = 1 ]; then
		LOAD_HEARTBEAT=v1.0.0 LOAD_HEARTBEAT_EVERY=${BENCH_ROLLOUT_HEARTBEAT_EVERY:-60} \
			"$LOAD" rollout "$AMQP" "$guests" 4 "$p.casts" $fails > "$p.guests" &
	else
		"$LOAD" rollout "$AMQP" "$guests" 4 "$p.casts" $fails > "$p.guests" &
	fi
	sim=$!
	PIDS="$PIDS $sim"
	wait_for 600 grep -q ready "$p.guests" || { echo "rollout: simulator not ready" >&2; return 1; }
	if [ "$select" = 1 ]; then
		wait_until 600 known_all "$1" "$name" ||
			{ echo "rollout: the guests' first heartbeats were not all stored" >&2; return 1; }
	fi
	[ "$1" != postgresql ] || [ "$pg_stats" = 0 ] || pg_stats_reset "$name"
	LOAD_SAMPLES=$p.depth "$LOAD" watch "$AMQP" 0 3600 $QUEUES > "$p.watch" &
	watcher=$!
	PIDS="$PIDS $watcher"
	rollout_body "$name" 0 > "$p.body"
	post_s=$(date +%s.%N)
	[ "$(api POST /rollouts "@$p.body")" = 202 ] || { echo "rollout: POST: $(cat "$T/body")" >&2; return 1; }
	/usr/bin/python3 "$top/tests/bench/rollout_probe.py" "$API" "$ADMIN" "$name" "$FLEET_PID" \
		"$([ "$1" = sqlite ] && echo "$T/$name.db" || echo -)" "$p.probe" ||
		{ echo "rollout: the probe failed" >&2; return 1; }
	wait_until 600 settled "$1" "$name" || { echo "rollout: casts still in flight" >&2; return 1; }
	kill "$watcher" "$sim"
	wait "$watcher" "$sim" || true
	[ "$(api GET "/rollouts/$name")" = 200 ] && cp "$T/body" "$p.json"
	db_query "$1" "$name" "SELECT t.instance_id, t.wave, u.created_us, t.cast_us FROM rollout_targets t
		JOIN upgrades u ON u.id = t.upgrade_id WHERE t.rollout_id = '$name'" > "$p.plan"
	db_query "$1" "$name" "SELECT updated_us FROM rollouts WHERE id = '$name'" > "$p.updated"
	if [ "$1" = postgresql ]; then
		size=$(( $(db_query "$1" "$name" "SELECT pg_database_size('$name')") / 1024 ))
		echo "$(date +%s.%N) SAMPLE 0 $size" >> "$p.probe"
	fi
	[ "$1" != postgresql ] || [ "$pg_stats" = 0 ] || pg_stats_end "$name" "$2"
	[ -z "$second" ] || fleets_row "$1" "$2" "$name" "$second"
	fleet_stop
	mkdir -p "$out/rollout-raw"
	cp "$p".* "$out/rollout-raw/"
	cp "$T/fleet.log" "$out/rollout-raw/$name.fleet.log"
	/usr/bin/python3 "$top/tests/bench/rollout_stats.py" "$2" "$p" "$1" "$rate" "$post_s" >> "$T/$2.rows"
}

: > "$T/clean.rows"; : > "$T/halt.rows"; : > "$T/fleets.rows"
status=0
for db in $stores; do
	run "$db" clean || status=1
	run "$db" halt || status=1
done

load=$(cut -d' ' -f1-3 /proc/loadavg)
{
	echo
	echo "## rollout (slotfleet rollouts to $guests simulated guests)"
	echo
	echo "One slotfleet (release build), one private RabbitMQ, SQLite (WAL, synchronous=FULL) or a"
	echo "private PostgreSQL (fsync on); $guests simulated guests (\`fleet_load rollout\`, 4 AMQP"
	echo "connections), each answering its cast at once; all on this machine (load average at the"
	echo "end: $load).  Waves [1, 10, 50, 100] %, rate $rate casts/s, probation ${probation} s."
	echo
	echo "Clean rollout, per wave: wall time from the wave's start (the POST for wave 1, else the"
	echo "API showing it) to the next one's (or FINISHED); casting: first to last cast the guests"
	echo "received; casts/s the guests saw, mean over that span and the most in any 1 s window, and"
	echo "the most slotfleet planned in any 1 s window (from the database; held: at most rate + 1);"
	echo "slotfleet's peak RSS in the wave; database size at its end; peak messages ready in the"
	echo "broker (the guests' queues and slotfleet's report queue, sampled every 2 ms)."
	echo
	echo "| store | wave | percent | instances | wall time | casting | casts/s mean | max in 1 s (guests) | max in 1 s (planned) | slotfleet RSS | database | peak queued |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
	cat "$T/clean.rows"
	echo
	if [ "$select" = 1 ]; then who="$fail_percent % of wave 2's guests (spread over it)"
	else who="three guests of wave 2 (at 10, 50, 90 % of it)"; fi
	echo "Halt: the same rollout, max_failure_rate 0, $who"
	echo "answer FAILED.  From the first FAILED sent by a guest to HALTED in the database (the"
	echo "rollout's update) and as the API showed it (polled every 20 ms); casts the guests"
	echo "received after that FAILED was sent and after HALTED; casts planned and confirmed by"
	echo "the broker after HALTED, from the database (aim 0)."
	echo
	echo "| store | casts in all | FAILED sent | to HALTED (database) | to HALTED (API) | casts after the FAILED | casts after HALTED | planned after HALTED | confirmed after HALTED |"
	echo "|---|---|---|---|---|---|---|---|---|"
	cat "$T/halt.rows"
	echo
	if [ -s "$T/fleets.rows" ]; then
		echo "Two slotfleets on the one PostgreSQL and broker (the figures above are the first's: the"
		echo "API the benchmark used, RSS sampled by the probe); their peak RSS (VmHWM) at the end and"
		echo "which one drove the rollout:"
		echo
		echo "| store | run | first slotfleet | second slotfleet | drove |"
		echo "|---|---|---|---|---|"
		cat "$T/fleets.rows"
		echo
	fi
	[ "$select" = 1 ] && echo "The guests heartbeat every ${BENCH_ROLLOUT_HEARTBEAT_EVERY:-60} s throughout; the rollout selects \`agent_version_below v2.0.0\` in the database; the halt run's failing guests: $fail_percent % of wave 2." && echo
	echo "Command: \`BENCH_ROLLOUT_GUESTS=$guests BENCH_ROLLOUT_RATE=$rate BENCH_ROLLOUT_PROBATION=$probation BENCH_ROLLOUT_FLEETS=$fleets tests/bench/rollout.sh build/release build/bench\`"
	echo "(or \`make bench\`; BENCH_QUICK=1: 1,000 guests)."
} > "$out/rollout.md"
cat "$out/rollout.md" >> "$out/report.md"
set +e	# lib.sh's exit hooks (stopping the servers) must not fail a finished run
echo "rollout: $out/rollout.md"
exit $status
