#!/bin/sh
# Policy benchmark (issue 25): an automatic-upgrade policy over
# BENCH_POLICY_GUESTS simulated guests (default 10,000) at rate
# BENCH_POLICY_RATE casts/s (default 200).  Run just this one:
#   make MODE=release programs && tests/bench/policy.sh build/release build/bench
#   BENCH_POLICY_GUESTS=300 tests/bench/policy.sh build/release build/bench   (a smoke run)
# The guests are rollout.sh's (fleet_load rollout: 4 AMQP connections, every
# cast logged with the time it was taken), started with LOAD_HEARTBEAT so each
# first heartbeats the old version v1.0.0 (rpc_api_version 1.1); once slotfleet
# has stored all of them, a policy is POSTed: target v2.0.0, rate as above,
# max_in_flight 10000 (the most allowed: never the bound here), probation
# BENCH_POLICY_PROBATION (default 60 s).  Each guest answers its cast at once
# (DOWNLOADING..SUCCESS, then a heartbeat of v2.0.0).  Measured, per store
# (SQLite, and a private PostgreSQL with fsync on when its server binaries
# are installed): the time from the POST until every guest's v2.0.0
# heartbeat is in the store (polled every 100 ms), upgrades cast, the most
# casts in any 1 s window as the guests received them and as slotfleet
# planned them (held: at most rate + 1, as rollout.sh judges), slotfleet's
# peak RSS (VmHWM, read at convergence).
#   tests/bench/policy.sh RELEASE_BUILD_DIR OUTDIR
# Writes OUTDIR/policy.md and appends it to OUTDIR/report.md; raw files in
# OUTDIR/policy-raw/.  BENCH_QUICK=1: 1,000 guests.
# BENCH_POLICY_STORES: "sqlite postgresql".
set -eu
. "$(dirname "$0")/common.sh"
guests=${BENCH_POLICY_GUESTS:-10000}
rate=${BENCH_POLICY_RATE:-200}
probation=${BENCH_POLICY_PROBATION:-60}
stores=${BENCH_POLICY_STORES:-sqlite postgresql}
if [ "${BENCH_QUICK:-0}" = 1 ]; then guests=1000; fi
[ "$guests" -ge 100 ] && [ "$guests" -le 10000 ] ||
	{ echo "policy: BENCH_POLICY_GUESTS must be 100..10000" >&2; exit 1; }
bench_fleet_env policy
case " $stores " in
*" postgresql "*)
	if [ -x "$PG_BINDIR/postgres" ]; then
		pg_start "$T/pg" || { echo "policy: postgresql did not start" >&2; exit 1; }
	else
		echo "policy: no PostgreSQL server binaries: SQLite only" >&2
		stores=sqlite
	fi ;;
esac
fleet_tokens
QUEUE=slotfleet.trove-conductor
QUEUES="sim-guests-0 sim-guests-1 sim-guests-2 sim-guests-3 $QUEUE"
# Converging takes guests / rate seconds; give it three times that and 2 min.
converge_limit=$((guests * 3 / rate + 120))

at_version() { # BACKEND NAME VERSION: instances whose last heartbeat said VERSION
	db_query "$1" "$2" "SELECT COUNT(*) FROM instances WHERE agent_version = '$3'"
}

old_stored() { # BACKEND NAME: every guest's v1.0.0 heartbeat is in the store
	[ "$(at_version "$1" "$2" v1.0.0)" -ge "$guests" ]
}

# run BACKEND: one policy on a fresh database, its row appended.
run() {
	name=policy_$1 p=$T/policy_$1
	fleet_ini "$(db_spec "$1" "$name")" "prefetch = 1024"
	fleet_start || return 1
	: > "$p.casts"; : > "$p.converged"
	LOAD_HEARTBEAT=v1.0.0 "$LOAD" rollout "$AMQP" "$guests" 4 "$p.casts" > "$p.guests" &
	sim=$!
	PIDS="$PIDS $sim"
	wait_for 300 grep -q ready "$p.guests" || { echo "policy: simulator not ready" >&2; return 1; }
	wait_until 300 old_stored "$1" "$name" ||
		{ echo "policy: the old heartbeats were not all stored" >&2; return 1; }
	printf '{"policy_id": "%s", "instance_version": "v2.0.0", "location": "http://127.0.0.1:9/v2.bundle", "rate": %s, "max_in_flight": 10000, "probation": %s}\n' \
		"$name" "$rate" "$probation" > "$p.body"
	post_s=$(date +%s.%N)
	[ "$(api POST /policies "@$p.body")" = 201 ] || { echo "policy: POST: $(cat "$T/body")" >&2; return 1; }
	end=$(($(date +%s) + converge_limit)) n=0
	while [ "$(date +%s)" -lt "$end" ]; do
		n=$(at_version "$1" "$name" v2.0.0)
		echo "$(date +%s.%N) $n" >> "$p.converged"
		[ "$n" -ge "$guests" ] && break
		sleep 0.1
	done
	awk '/^VmHWM:/ { print $2 }' "/proc/$FLEET_PID/status" > "$p.hwm"
	[ "$n" -ge "$guests" ] || echo "policy: $n of $guests at v2.0.0 after $converge_limit s" >&2
	sleep 1	# the last casts' reports
	[ "$(api GET "/policies/$name")" = 200 ] && cp "$T/body" "$p.json"
	kill "$sim"
	wait "$sim" || true
	db_query "$1" "$name" "SELECT u.instance_id, u.created_us, COALESCE(c.cast_us, 0) FROM upgrades u
		LEFT JOIN policy_casts c ON c.upgrade_id = u.id WHERE u.policy_id = '$name'" > "$p.plan"
	fleet_stop
	mkdir -p "$out/policy-raw"
	cp "$p".* "$out/policy-raw/"
	cp "$T/fleet.log" "$out/policy-raw/$name.fleet.log"
	PYTHONPATH=$top/tests/bench /usr/bin/python3 "$top/tests/bench/policy_stats.py" \
		"$p" "$1" "$guests" "$rate" "$post_s" >> "$T/policy.rows"
}

: > "$T/policy.rows"
status=0
for db in $stores; do
	run "$db" || status=1
done

load=$(cut -d' ' -f1-3 /proc/loadavg)
{
	echo
	echo "## policy (an automatic-upgrade policy over $guests simulated guests)"
	echo
	echo "One slotfleet (release build), one private RabbitMQ, SQLite (WAL, synchronous=FULL) or a"
	echo "private PostgreSQL (fsync on); $guests simulated guests (\`fleet_load rollout\`, 4 AMQP"
	echo "connections) that heartbeat v1.0.0, then answer their cast at once; all on this machine"
	echo "(load average at the end: $load).  Policy: target v2.0.0, rate $rate casts/s,"
	echo "max_in_flight 10000, probation ${probation} s."
	echo
	echo "Converged: from the POST to every guest's v2.0.0 heartbeat stored (polled every 100 ms);"
	echo "upgrades: records the policy made; casts received: by the guests (re-sent casts too);"
	echo "mean: casts/s over the first to last received; the most casts in any 1 s window, as the"
	echo "guests received them and as slotfleet planned them (database; held: at most rate + 1);"
	echo "slotfleet's peak RSS (VmHWM at convergence)."
	echo
	echo "| store | guests | converged | upgrades | casts received | casts/s mean | max in 1 s (guests) | max in 1 s (planned) | slotfleet peak RSS |"
	echo "|---|---|---|---|---|---|---|---|---|"
	cat "$T/policy.rows"
	echo
	echo "Command: \`BENCH_POLICY_GUESTS=$guests BENCH_POLICY_RATE=$rate BENCH_POLICY_PROBATION=$probation tests/bench/policy.sh build/release build/bench\`"
	echo "(or \`make bench\`; BENCH_QUICK=1: 1,000 guests)."
} > "$out/policy.md"
cat "$out/policy.md" >> "$out/report.md"
set +e	# lib.sh's exit hooks (stopping the servers) must not fail a finished run
echo "policy: $out/policy.md"
exit $status
