# tests/support/rabbitmq.sh: a private RabbitMQ on 127.0.0.1 for tests.
# Source it after lib.sh; then:
#   rabbit_start DIR   starts a node with its data in DIR; sets RABBIT_PORT, RABBIT_PID
#   rabbit_stop [KILL] stops it: TERM for a clean stop, KILL to simulate a crash
# rabbitmq-server starts the node through su (a new session), so a process
# group kill misses it: we walk the tree from the pid we started.
rabbit_tree() { # every descendant of $1, deepest last
	for c in $(ps -o pid= --ppid "$1"); do echo "$c"; rabbit_tree "$c"; done
}

rabbit_free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# One node name per test run: a leftover node must not make the next run fail.
RABBIT_NODE=slotd$$@localhost
AT_EXIT="$AT_EXIT rabbit_stop"

rabbit_start() {
	RABBIT_DIR=$1
	# Erlang daemonizes an epmd if none answers on ERL_EPMD_PORT: a port of
	# our own gives this run its own epmd, which another run (or an Erlang
	# of the machine's) never shares or stops, and which we stop by its PID.
	# rabbitmqctl in the tests finds the node through it (exported).
	[ -n "${ERL_EPMD_PORT:-}" ] || ERL_EPMD_PORT=$(rabbit_free_port)
	export ERL_EPMD_PORT
	mkdir -p "$RABBIT_DIR/mnesia" "$RABBIT_DIR/log"
	chown -R rabbitmq:rabbitmq "$RABBIT_DIR"
	[ -n "${RABBIT_PORT:-}" ] || RABBIT_PORT=$(rabbit_free_port)
	[ -n "${RABBIT_DIST_PORT:-}" ] || RABBIT_DIST_PORT=$(rabbit_free_port)
	printf 'listeners.tcp.default = 127.0.0.1:%s\nloopback_users = none\n' "$RABBIT_PORT" > "$RABBIT_DIR/rabbitmq.conf"
	# su gives the node a soft limit of 1024 files: too few for a fleet of
	# guests, one connection each.  rabbitmq-env sources this file.
	printf 'ulimit -n "$(ulimit -Hn)"\n' > "$RABBIT_DIR/rabbitmq-env.conf"
	RABBITMQ_MNESIA_BASE=$RABBIT_DIR/mnesia RABBITMQ_LOG_BASE=$RABBIT_DIR/log \
	RABBITMQ_CONFIG_FILE=$RABBIT_DIR/rabbitmq RABBITMQ_NODENAME=$RABBIT_NODE \
	RABBITMQ_CONF_ENV_FILE=$RABBIT_DIR/rabbitmq-env.conf \
	RABBITMQ_DIST_PORT=$RABBIT_DIST_PORT ERL_EPMD_ADDRESS=127.0.0.1 HOME=$RABBIT_DIR \
		setsid rabbitmq-server > "$RABBIT_DIR/server.log" 2>&1 &
	RABBIT_PID=$!
	wait_for 60 /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1', $RABBIT_PORT), 1)"
}

rabbit_stop() {
	sig=${1:-TERM}
	[ -n "${RABBIT_PID:-}" ] || return 0
	pids="$RABBIT_PID $(rabbit_tree "$RABBIT_PID")"
	kill -"$sig" $pids 2>/dev/null
	for p in $pids; do
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
		kill -KILL "$p" 2>/dev/null
	done
	wait "$RABBIT_PID" 2>/dev/null
	RABBIT_PID=""
	# Our epmd: the one listening on our port (ss names its PID).
	for p in $(ss -Hltnp "sport = :${ERL_EPMD_PORT:-0}" 2>/dev/null |
		   sed -n 's/.*"epmd",pid=\([0-9]*\),.*/\1/p' | sort -u); do
		kill "$p" 2>/dev/null
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	done
}
