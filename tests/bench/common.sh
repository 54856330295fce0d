# tests/bench/common.sh: what every benchmark script starts with.  Sourced
# with the script's arguments (RELEASE_BUILD_DIR OUTDIR); sets build, out
# (created) and top as absolute paths, and the tree the install and extract
# benchmarks share, so their figures stay comparable: files (BENCH_FILES,
# 10000), mb (BENCH_MB, 200), dirs (top directories for make_tree.py, 200),
# runs (BENCH_RUNS, 3).  The defaults are the reference tree of docs/benchmarks.md: 10,000 files
# in 800 directories, 213 MB, half incompressible.  BENCH_QUICK=1: 500 files
# in 40 directories, 10 MB, one run; quick says whether it was asked.
build=$(cd "$1" && pwd)
mkdir -p "$2"
out=$(cd "$2" && pwd)
top=$(cd "$(dirname "$0")/../.." && pwd)
files=${BENCH_FILES:-10000}
mb=${BENCH_MB:-200}
dirs=200
runs=${BENCH_RUNS:-3}
quick=${BENCH_QUICK:-0}
if [ "$quick" = 1 ]; then files=500; mb=10; dirs=10; runs=1; fi

# PostgreSQL's statements by time, for the control-plane benchmarks' *_PG_STATS:
# PG_STATS_OPTS (the server's options, PG_SERVER_OPTS before pg_start);
# pg_stats_reset NAME (the extension made, its counts zeroed) before the
# part measured; pg_stats_top NAME after it: the 16 statements of database
# NAME by planning + executing time, then its commits.
PG_STATS_OPTS="-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all -c pg_stat_statements.track_planning=on"
pg_stats_reset() {
	db_query postgresql "$1" "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
	db_query postgresql "$1" "SELECT pg_stat_statements_reset()" >/dev/null
}
pg_stats_top() {
	echo "(calls, plans, planning ms, executing ms, mean executing ms, rows, statement), then"
	echo "the commits in that database."
	db_query postgresql "$1" "SELECT calls, plans, round(total_plan_time::numeric, 1),
		round(total_exec_time::numeric, 1), round(mean_exec_time::numeric, 3), rows,
		left(regexp_replace(query, '\s+', ' ', 'g'), 140)
		FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
		WHERE d.datname = '$1' ORDER BY total_exec_time + total_plan_time DESC LIMIT 16"
	db_query postgresql "$1" "SELECT 'commits ' || xact_commit FROM pg_stat_database WHERE datname = '$1'"
}

# db_spec BACKEND NAME and db_query BACKEND NAME SQL: for the control-plane
# benchmarks (rollout.sh, policy.sh), after bench_fleet_env (and pg_start
# for postgresql).
# bench_fleet_env NAME: what the control-plane benchmarks (slotfleet.sh,
# rollout.sh) share: the test support (lib.sh's $T and cleanup, RabbitMQ,
# PostgreSQL with fsync on, slotfleet's helpers), the file limit raised,
# LOAD = fleet_load built against this release build, a private RabbitMQ
# started and AMQP its URL.  Exits 1 naming NAME when something is missing.
bench_fleet_env() {
	command -v rabbitmq-server >/dev/null ||
		{ echo "$1: rabbitmq-server not installed" >&2; exit 1; }
	S=$top/tests/support
	B=$build/bin
	. "$S/lib.sh"
	. "$S/rabbitmq.sh"
	PG_FSYNC=on
	. "$S/postgres.sh"
	. "$S/slotfleet.sh"
	ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
	make --no-print-directory -s -C "$top" MODE=release BUILD="$build" \
		"$build/lib/libupdater.a" "$build/lib/libslots.a" >&2
	LOAD=$T/fleet_load
	cc -std=gnu11 -O2 -D_GNU_SOURCE -Wall -Wextra -Werror -I"$top/include" \
		$(pkg-config --cflags librabbitmq jansson) -o "$LOAD" \
		"$top/tests/bench/fleet_load.c" "$build/lib/libupdater.a" "$build/lib/libslots.a" \
		$(pkg-config --libs libarchive libcrypto libcurl librabbitmq jansson inih) -lpthread
	rabbit_start "$T/rabbit" || { echo "$1: rabbitmq did not start" >&2; exit 1; }
	AMQP=amqp://guest:guest@127.0.0.1:$RABBIT_PORT/
}

db_spec() { # BACKEND NAME: the [db] line of a fresh database
	if [ "$1" = sqlite ]; then
		echo "path = $T/$2.db"
	else
		"$PG_BINDIR/createdb" -h 127.0.0.1 -p "$PG_PORT" -U slotfleet "$2"
		echo "url = postgresql://slotfleet@127.0.0.1:$PG_PORT/$2"
	fi
}

db_query() { # BACKEND NAME SQL: rows as "a|b|c"
	if [ "$1" = sqlite ]; then
		sqlite3 "$T/$2.db" "$3"
	else
		"$PG_BINDIR/psql" -h 127.0.0.1 -p "$PG_PORT" -U slotfleet -d "$2" -Atc "$3"
	fi
}
