# tests/support/slotfleet_rollout.sh: helpers for the rollout tests.  Source
# it after lib.sh, guest.sh and slotfleet.sh; it defines:
#   rollout_env PLAN    starts RabbitMQ, the simulator (sim_start PLAN) and
#                       slotfleet on SQLite; defines ctl (slotctl with the
#                       API, token file and tenant) and list
#   list PREFIX FIRST LAST  '"PREFIX01", ...' for a JSON array
#   sim_start PLAN      starts tests/support/guest_sim.py on $AMQP with the plan
#                       file PLAN ("INSTANCE VERSION BEHAVIOUR" lines), logging
#                       to $T/sim.log; waits for READY
#   sim CMD ARGS        tests/support/rollout_check.py on $T/sim.log
#   rollout_is ID STATE GET rollouts/ID answers 200 with that state
#   wait_until SECS CMD...  polls CMD until it succeeds or SECS seconds of
#                       wall time passed (wait_for counts tries, and a try
#                       here is a curl and a python3: slow on a loaded machine)
#   wait_rollout ID STATE [SECS]
#   body_py EXPR        a Python expression on $T/body's JSON, bound to j
#   rollout_field ID EXPR   body_py EXPR on GET rollouts/ID
#   queue_depth INSTANCE    messages waiting in the simulated guest's queue
#   casts_stay SECS N INSTANCE...  the instances' casts stay at N in all for
#                       SECS seconds: proving that nothing more is sent needs a
#                       span of time, a few cast intervals long
sim_start() {
	/usr/bin/python3 "$S/guest_sim.py" "$AMQP" "$1" "$T/sim.log" > "$T/sim.out" 2>&1 &
	PID_sim=$!
	PIDS="$PIDS $PID_sim"
	wait_for 30 grep -q READY "$T/sim.out" || { cat "$T/sim.out"; return 1; }
}

sim() {
	/usr/bin/python3 "$S/rollout_check.py" "$T/sim.log" "$@"
}

rollout_is() {
	[ "$(api GET "/rollouts/$1")" = 200 ] && [ "$(body_get '["rollout"]["state"]')" = "$2" ]
}

wait_rollout() {
	wait_until "${3:-60}" rollout_is "$1" "$2"
}

body_py() {
	/usr/bin/python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$T/body" "$1"
}

rollout_field() {
	api GET "/rollouts/$1" > /dev/null && body_py "$2"
}

queue_depth() {
	rabbitmqctl -n "$RABBIT_NODE" -q list_queues name messages |
		awk -v q="sim.$1" '$1 == q { print $2 }'
}

casts_total() { # INSTANCE...: all upgrade casts they received
	sim casts "$@" | tr ' ' '\n' | awk '{ s += $1 } END { print s + 0 }'
}

casts_stay() {
	end=$(($(date +%s) + $1))
	want=$2
	shift 2
	while [ "$(date +%s)" -le "$end" ]; do
		[ "$(casts_total "$@")" = "$want" ] || return 1
		sleep 0.2
	done
}

rollout_env() {
	rabbit_start "$T/rabbit" || { echo "rabbitmq did not start"; tail "$T/rabbit/server.log"; return 1; }
	AMQP=amqp://guest:guest@127.0.0.1:$RABBIT_PORT/
	sim_start "$1" || return 1
	fleet_tokens
	fleet_ini "path = $T/fleet.db"
	fleet_start || return 1
	printf '%s\n' "$ADMIN" > "$T/token"
}

ctl() {
	"$B/slotctl" --api "http://127.0.0.1:$FLEET_PORT" --token-file "$T/token" --tenant acme "$@"
}

list() {
	seq -f "\"$1%02g\"" "$2" "$3" | paste -sd, -
}
