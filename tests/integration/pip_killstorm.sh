#!/bin/sh
# A kill storm over pip installs (issue 26: the venv build is the new long
# step).  PIP_KILLSTORM_ROUNDS rounds (default 4; `make torture` runs 50):
# each starts a pip install of the next version and, at a random moment
# (the download, the unpack, the venv build as fetch_user, the trial),
# SIGKILLs slotupd, slotd (restarted), or both.  After each round: slotd
# serves a good current slot whose agent runs, no process of the build's
# user is left, and the next install (the round's version again, the
# attempt of the killed one recorded) succeeds, runs from its venv, and
# leaves no attempt unfinished in the history.
. "$SLOTD_SRC/tests/support/lib.sh"
B=$SLOTD_BIN
/usr/bin/python3 -c "import ensurepip, setuptools, wheel" 2>/dev/null ||
	{ echo "python3-venv, python3-setuptools or python3-wheel missing" >&2; exit 77; }
ROUNDS=${PIP_KILLSTORM_ROUNDS:-4}
make_keys "$T/keys" || exit 1
pack_demo v1.0.0 good
mkdir -p "$T/www" "$T/work"
n=1
while [ "$n" -le "$ROUNDS" ]; do
	/usr/bin/python3 "$SLOTD_SRC/tests/support/pip_tarball.py" "$T/work" \
		"$T/www/agent-v1.1.$n.tar.gz" "1.1.$n" || exit 1
	n=$((n + 1))
done
sha() { sha256sum "$T/www/agent-v$1.tar.gz" | cut -d' ' -f1; }
/usr/bin/python3 "$SLOTD_SRC/tests/support/httpd.py" "$T/www" > "$T/httpd.out" 2>/dev/null &
PIDS="$PIDS $!"
wait_for 10 grep -q '^PORT ' "$T/httpd.out" || exit 1
URL=http://127.0.0.1:$(sed -n 's/^PORT //p' "$T/httpd.out")

R=$T/root
INI=$T/slotd.ini
export AGENT_LOG=$T/agent.log
demo_ini "$INI" "$R" "fetch_user = 4242" "[strategy.pip]" "format = pip" \
	"package = trove-guestagent" "exec = bin/trove-guestagent" "build_timeout = 2m"
start_slotd() {
	"$B/slotd" -c "$INI" 2>> "$T/slotd.log" &
	SLOTD=$!
	PIDS="$PIDS $SLOTD"
	wait_for 20 test -S "$R/run/control.sock"
}
start_slotd || exit 1
"$B/slotupd" -c "$INI" install --id base "$T/v1.0.0-good.bundle" >> "$T/slotupd.log" 2>&1 ||
	{ cat "$T/slotupd.log"; exit 1; }
pip() { # ID VERSION: slotupd's exit code
	"$B/slotupd" -c "$INI" install --id "$1" --strategy pip --version "v$2" \
		--sha256 "$(sha "$2")" "$URL/agent-v$2.tar.gz" >> "$T/slotupd.log" 2>&1
}
agent_runs() { [ "$("$B/slotctl" -c "$INI" status --json | json_get '["agent"]["state"]')" = running ]; }
current_good() {
	cur=$("$B/slotctl" -c "$INI" status --json | json_get '["current"]')
	[ "$(slot_of "$cur" status)" = good ]
}
no_builder() { [ -z "$(pgrep -u 4242)" ]; }
none_pending() {
	"$B/slotctl" -c "$INI" history --json | /usr/bin/python3 -c '
import json, sys
sys.exit(1 if [r for r in json.load(sys.stdin) if r["state"] not in ("SUCCESS", "FAILED")] else 0)'
}

modes="upd slotd both"
n=1 broken=0
while [ "$n" -le "$ROUNDS" ]; do
	v=1.1.$n
	"$B/slotupd" -c "$INI" install --id "k$n" --strategy pip --version "v$v" \
		--sha256 "$(sha "$v")" "$URL/agent-v$v.tar.gz" > "$T/round.log" 2>&1 &
	upd=$!
	# A random moment of the install, 0 to 8 s (one takes 3-8 s here): the
	# strike is the campaign's point, so this wait is not for an event.
	sleep "$(od -An -N2 -tu2 /dev/urandom | awk '{ printf "%.2f", ($1 % 800) / 100 }')"
	mode=$(echo $modes | cut -d' ' -f$(( $(od -An -N1 -tu1 /dev/urandom) % 3 + 1 )))
	phase=$(grep -o "DOWNLOADING\|unpack\|creating the virtualenv\|installing\|ACTIVATING\|SUCCESS" "$T/round.log" | tail -1)
	case $mode in
	upd | both) kill -KILL "$upd" 2>/dev/null ;;
	esac
	case $mode in
	slotd | both) kill -KILL "$SLOTD" 2>/dev/null; wait "$SLOTD" 2>/dev/null; start_slotd || exit 1 ;;
	esac
	wait "$upd" 2>/dev/null
	echo "# round $n: killed $mode during ${phase:-the start}"
	round_ok() {
		wait_for 30 agent_runs && current_good && wait_for 10 no_builder &&
			pip "r$n" "$v" && [ "$(record "r$n" state)" = SUCCESS ] &&
			[ "$(slot_of "$("$B/slotctl" -c "$INI" status --json | json_get '["current"]')" version)" = "v$v" ] &&
			none_pending
	}
	round_ok || { broken=$((broken + 1)); echo "# round $n broke an invariant"; tail -5 "$T/slotupd.log"; }
	n=$((n + 1))
done
check "no round of $ROUNDS left a guest broken, a builder running or an attempt unfinished" [ "$broken" = 0 ]
check "the last version runs from its venv" grep -q "^pip-agent 1.1.$ROUNDS " "$AGENT_LOG"
finish
