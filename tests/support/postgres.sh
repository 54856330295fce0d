# tests/support/postgres.sh: a private PostgreSQL on 127.0.0.1 for tests.
# Source it after lib.sh (whose exit hook then stops the cluster); then:
#   pg_start DIR   creates a cluster in DIR/data on first use (trust auth, user
#                  "slotfleet", database "fleet") and starts it; sets PG_PORT,
#                  PG_PID and PG_URL=postgresql://slotfleet@127.0.0.1:PORT/fleet.
#                  Exits 77 (skip, reason on stderr) without PostgreSQL's
#                  server binaries.  A second pg_start after pg_stop restarts
#                  the same cluster on the same port (data kept).
#   pg_stop [KILL] stops it: fast shutdown (INT) by default, KILL to simulate a
#                  crash; waits until the server is gone.
# Run as root, the server runs as user postgres (setpriv: the pid we keep is
# the server's own); DIR and every directory above it must then be
# traversable by postgres (chmod 711; lib.sh's $T is).  The unix socket lives
# in DIR/sock, so no system directory is touched.  PG_BINDIR overrides where
# the binaries are (default: the newest /usr/lib/postgresql/*/bin); PG_FSYNC=on
# makes the server fsync its commits (tests run with fsync off); PG_SERVER_OPTS
# adds server options ("-c name=value ...", split on blanks).
[ -n "${PG_BINDIR:-}" ] ||
	PG_BINDIR=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
PG_PID=""
AT_EXIT="${AT_EXIT:-} pg_stop"

pg_free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Prefix running a command as the cluster's owner: postgres when we are
# root.  A prefix, not a function: "$PG_AS cmd &" is then the server itself
# (setpriv execs), and $! the pid to stop.
PG_AS=""
if [ "$(id -u)" = 0 ]; then
	PG_AS="setpriv --reuid=postgres --regid=postgres --init-groups --"
fi

pg_init() {
	mkdir -p "$PG_DIR/data" "$PG_DIR/sock"
	if [ -n "$PG_AS" ]; then
		chown postgres:postgres "$PG_DIR/data" "$PG_DIR/sock" || return 1
	fi
	chmod 700 "$PG_DIR/data"
	$PG_AS "$PG_BINDIR/initdb" -D "$PG_DIR/data" -U slotfleet -A trust -E UTF8 \
		--no-sync > "$PG_DIR/initdb.log" 2>&1 || {
		echo "postgres.sh: initdb failed:" >&2
		cat "$PG_DIR/initdb.log" >&2
		return 1
	}
}

pg_start() {
	PG_DIR=$1
	if [ ! -x "$PG_BINDIR/postgres" ] || [ ! -x "$PG_BINDIR/initdb" ]; then
		echo "skip: PostgreSQL server binaries not found (apt-get install postgresql)" >&2
		exit 77
	fi
	created=""
	if [ ! -f "$PG_DIR/data/PG_VERSION" ]; then
		pg_init || return 1
		created=1
	fi
	[ -n "${PG_PORT:-}" ] || PG_PORT=$(pg_free_port)
	# fsync off: a test cluster need not survive a power loss, and tests
	# run on a loaded machine.  Benchmarks set PG_FSYNC=on.
	$PG_AS "$PG_BINDIR/postgres" -D "$PG_DIR/data" -k "$PG_DIR/sock" -h 127.0.0.1 \
		-p "$PG_PORT" -c fsync="${PG_FSYNC:-off}" -c max_connections=40 -c shared_buffers=16MB \
		${PG_SERVER_OPTS:-} \
		>> "$PG_DIR/server.log" 2>&1 &
	PG_PID=$!
	i=0
	until "$PG_BINDIR/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -d postgres; do
		i=$((i + 1))
		if [ $i -gt 1200 ] || ! kill -0 "$PG_PID" 2>/dev/null; then
			echo "postgres.sh: server did not start:" >&2
			tail -n 20 "$PG_DIR/server.log" >&2
			return 1
		fi
		sleep 0.05
	done
	if [ -n "$created" ]; then
		"$PG_BINDIR/createdb" -h 127.0.0.1 -p "$PG_PORT" -U slotfleet fleet || return 1
	fi
	PG_URL="postgresql://slotfleet@127.0.0.1:$PG_PORT/fleet"
}

pg_stop() {
	[ -n "${PG_PID:-}" ] || return 0
	case ${1:-} in KILL) sig=KILL ;; *) sig=INT ;; esac
	kill -"$sig" "$PG_PID" 2>/dev/null
	i=0
	while kill -0 "$PG_PID" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
	kill -KILL "$PG_PID" 2>/dev/null
	wait "$PG_PID" 2>/dev/null
	PG_PID=""
}
