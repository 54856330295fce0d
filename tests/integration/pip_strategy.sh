#!/bin/sh
# pip_strategy: [strategy.pip] format = pip (issue 26, docs/strategies.md), by
# root's own `slotupd install`.  A tarball of two wheels built offline (an
# agent with a console script and its dependency, tests/support/pip_tarball.py)
# served over HTTP: the guest builds a venv in the inactive slot as fetch_user
# and runs the agent from it (SUCCESS with the version; the venv root's, the
# scratch gone); a wrong sha256, none, a version pip accepts but which is not
# the one asked for, a missing dependency, a tarball that is not one: FAILED
# with the reason, the running slot untouched, the inactive slot empty; an
# agent that crashes in its trial is reverted; a slotupd killed mid-build
# leaves no build process and a slot the next run recovers; a bundle
# afterwards runs its own [agent] exec again (each slot keeps its command).
. "$SLOTD_SRC/tests/support/lib.sh"
B=$SLOTD_BIN
/usr/bin/python3 -c "import ensurepip, setuptools, wheel" 2>/dev/null ||
	{ echo "python3-venv, python3-setuptools or python3-wheel missing" >&2; exit 77; }
make_keys "$T/keys" || exit 1
pack_demo v1.0.0 good
pack_demo v2.0.0 good
mkdir -p "$T/www" "$T/work"	# httpd.py serves by base name
tarball() { # tarball VERSION FILE [BEHAVIOUR] [--no-dep]
	v=$1 f=$2
	shift 2
	/usr/bin/python3 "$SLOTD_SRC/tests/support/pip_tarball.py" "$T/work" \
		"$T/www/$f" "$v" "$@" || exit 1
}
tarball 1.0.1 trove-guestagent-v1.0.1.tar.gz
tarball 1.0.2.0 trove-guestagent-v1.0.2.tar.gz	# pip's ==1.0.2 takes 1.0.2.0
tarball 1.0.3 trove-guestagent-v1.0.3.tar.gz good --no-dep
tarball 1.0.4 trove-guestagent-v1.0.4.tar.gz crash
tarball 1.0.5 trove-guestagent-v1.0.5.tar.gz
echo "not a tarball" > "$T/www/junk.tar.gz"
sha() { sha256sum "$T/www/$1" | cut -d' ' -f1; }
/usr/bin/python3 "$SLOTD_SRC/tests/support/httpd.py" "$T/www" > "$T/httpd.out" 2>/dev/null &
PIDS="$PIDS $!"
wait_for 10 grep -q '^PORT ' "$T/httpd.out" || exit 1
URL=http://127.0.0.1:$(sed -n 's/^PORT //p' "$T/httpd.out")/tenant/container

R=$T/root
INI=$T/slotd.ini
export AGENT_LOG=$T/agent.log
demo_ini "$INI" "$R" "fetch_user = 4242" "[strategy.pip]" "format = pip" \
	"package = trove-guestagent" "exec = bin/trove-guestagent" "build_timeout = 2m"
spawn slotd "$B/slotd" -c "$INI"
wait_for 20 test -S "$R/run/control.sock" || exit 1
install() { # install ID LOCATION [OPTION...]: slotupd's exit code
	id=$1 location=$2
	shift 2
	"$B/slotupd" -c "$INI" install --id "$id" "$@" "$location" >> "$T/slotupd.log" 2>&1
}
pip() { # pip ID FILE VERSION [OPTION...]: the seed's cast, locally
	id=$1 file=$2 version=$3
	shift 3
	install "$id" "$URL/$file" --strategy pip --version "$version" "$@"
}
empty_slot() { [ "$(slot_of "$1" status)" = empty ] && [ -z "$(ls -A "$R/slots/$1")" ]; }
says() { # says ID TEXT: the record's error contains TEXT
	case $(record "$1" error) in *"$2"*) ;; *) echo "  error: $(record "$1" error)"; return 1 ;; esac
}

check "a bundle runs first (v1.0.0)" install b1 "$T/v1.0.0-good.bundle"
check "  slot a" running a v1.0.0

check "the seed's pip tarball installs (SUCCESS)" \
	pip p1 trove-guestagent-v1.0.1.tar.gz v1.0.1 --sha256 "$(sha trove-guestagent-v1.0.1.tar.gz)"
check "  recorded SUCCESS to v1.0.1" [ "$(record p1 state)/$(record p1 to_version)" = SUCCESS/v1.0.1 ]
check "  slot b runs it, good" running b v1.0.1
check "  from its venv, with its dependency" grep -q "^pip-agent 1.0.1 slot=b dep=42$" "$AGENT_LOG"
check "  the slot names its command" [ "$(cat "$R/slots/b/.slotd-exec")" = "venv/bin/trove-guestagent" ]
check "  the slot's digest is the tarball's sha256" \
	grep -q "^digest = $(sha trove-guestagent-v1.0.1.tar.gz)$" "$R/state"
check "  the venv is root's again, nothing writable by others" \
	[ -z "$(find "$R/slots/b" ! -user root -o ! -type l -perm /022 | head -1)" ]
check "  the build's scratch directory is gone" [ ! -e "$R/slots/b/.build" ]
check "  built offline as fetch_user: no process of uid 4242 left" [ -z "$(pgrep -u 4242)" ]
check "  the agent runs the venv's python" \
	grep -q "$R/slots/b/venv/bin/python" "/proc/$("$B/slotctl" -c "$INI" status --json | json_get '["agent"]["pid"]')/cmdline"

before=$(cat "$R/slots/a/bin/agent" | sha256sum)
check "a wrong sha256 fails" fails pip p2 trove-guestagent-v1.0.1.tar.gz v1.0.1 --sha256 "$(sha junk.tar.gz)"
check "  naming both digests" says p2 "tarball sha256 $(sha trove-guestagent-v1.0.1.tar.gz) does not match the request's $(sha junk.tar.gz)"
check "  v1.0.1 still runs" running b v1.0.1
check "  the inactive slot was not written (the bundle's v1.0.0)" \
	[ "$(slot_of a version)/$(cat "$R/slots/a/bin/agent" | sha256sum)" = "v1.0.0/$before" ]

check "no sha256 is refused" fails pip p3 trove-guestagent-v1.0.2.tar.gz v1.0.2
check "  naming metadata.sha256" says p3 "strategy pip: refused: the request carries no metadata.sha256"
check "  nothing fetched" [ "$(slot_of a version)" = v1.0.0 ]

check "a version pip accepts but is not the one asked fails" fails \
	pip p4 trove-guestagent-v1.0.2.tar.gz v1.0.2 --sha256 "$(sha trove-guestagent-v1.0.2.tar.gz)"
check "  naming both" says p4 "trove-guestagent 1.0.2.0 installed, the request asked for version v1.0.2"
check "  v1.0.1 still runs" running b v1.0.1
check "  the inactive slot is empty again" empty_slot a

check "a missing dependency fails (pip offline finds none)" \
	fails pip p5 trove-guestagent-v1.0.3.tar.gz v1.0.3 --sha256 "$(sha trove-guestagent-v1.0.3.tar.gz)"
check "  with pip's ERROR line" says p5 "pip install failed (exit 1: ERROR: Could not find a version that satisfies the requirement guestdep"
check "  v1.0.1 still runs" running b v1.0.1
check "  the inactive slot is empty" empty_slot a

check "a file that is no tarball fails" \
	fails pip p6 junk.tar.gz v1.0.5 --sha256 "$(sha junk.tar.gz)"
check "  in the unpacker" says p6 "unpack: "
check "  the inactive slot is empty" empty_slot a

check "an agent that crashes in its trial is reverted" \
	fails pip p7 trove-guestagent-v1.0.4.tar.gz v1.0.4 --sha256 "$(sha trove-guestagent-v1.0.4.tar.gz)"
check "  FAILED health" says p7 "health: the trial failed, reverted"
check "  it ran from its venv" grep -q "^pip-agent 1.0.4 slot=a dep=42$" "$AGENT_LOG"
check "  v1.0.1 runs again" running b v1.0.1

# slotupd killed (SIGKILL) in the middle of the build: the build dies with it
# (PR_SET_PDEATHSIG, its PID namespace), the next run clears the slot and
# records the attempt FAILED, and installs.
"$B/slotupd" -c "$INI" install --id k1 --strategy pip --version v1.0.5 \
	--sha256 "$(sha trove-guestagent-v1.0.5.tar.gz)" "$URL/trove-guestagent-v1.0.5.tar.gz" \
	> "$T/killed.log" 2>&1 &
killed=$!
building() { grep -q "creating the virtualenv" "$T/killed.log" && pgrep -u 4242 > /dev/null; }
check "slotupd is killed while pip builds as fetch_user" wait_for 60 building
kill -KILL "$killed"
wait "$killed" 2>/dev/null
no_builder() { [ -z "$(pgrep -u 4242)" ]; }
check "  nothing of the build outlives it" wait_for 10 no_builder
check "  v1.0.1 still runs" running b v1.0.1
check "  the next run installs v1.0.5" \
	pip k2 trove-guestagent-v1.0.5.tar.gz v1.0.5 --sha256 "$(sha trove-guestagent-v1.0.5.tar.gz)"
check "  after recording the killed attempt FAILED" [ "$(record k1 state)" = FAILED ]
check "  slot a runs v1.0.5 from its venv" running a v1.0.5
check "  (the agent says so)" grep -q "^pip-agent 1.0.5 slot=a dep=42$" "$AGENT_LOG"

check "a bundle over the pip slot runs its own [agent] exec" install b2 "$T/v2.0.0-good.bundle"
check "  slot b runs v2.0.0" running b v2.0.0
check "  without a command file of its own" [ ! -e "$R/slots/b/.slotd-exec" ]
check "  the demo agent started" wait_for 10 slotd_serving "$INI" "$AGENT_LOG"
finish
