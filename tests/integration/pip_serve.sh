#!/bin/sh
# pip_serve: the seed's pip cast over a real RabbitMQ to a real guest (slotd +
# slotupd serve; issue 26, docs/strategies.md).  A keyed guest with
# [strategy.pip] gets, sealed by slotctl notify, exactly the seed's cast
#   {"instance_id": ..., "instance_version": "v1.0.1", "strategy": "pip",
#    "location": "http://127.0.0.1:PORT/tenant/container/trove-guestagent-v1.0.1.tar.gz",
#    "metadata": {"sha256": ...}}
# and ends up running the agent from a venv in its new slot, casting SUCCESS
# with the version to the conductor; the same tarball with a wrong sha256,
# without one, a version mismatch and a missing dependency: FAILED outcomes
# with the reason, the running slot untouched.  A second guest without
# rpc_key obeys plaintext casts, but not one naming a pip tarball.
. "$SLOTD_SRC/tests/support/lib.sh"
. "$SLOTD_SRC/tests/support/guest.sh"
/usr/bin/python3 -c "import ensurepip, setuptools, wheel" 2>/dev/null ||
	{ echo "python3-venv, python3-setuptools or python3-wheel missing" >&2; exit 77; }
KEY=pip-test-key-0123456789
PIP_SECTION="[strategy.pip]
format = pip
package = trove-guestagent
exec = bin/trove-guestagent"
GUEST_AMQP_EXTRA="rpc_key = $KEY
max_age = 120s
$PIP_SECTION"
GUEST_AGENT_EXTRA="startup_timeout = 20s"
mkdir -p "$T/www" "$T/work"	# httpd.py serves by base name
tarball() { # tarball VERSION FILE [pip_tarball.py options]
	v=$1 f=$2
	shift 2
	/usr/bin/python3 "$S/pip_tarball.py" "$T/work" "$T/www/$f" "$v" "$@" || exit 1
}
tarball 1.0.1 trove-guestagent-v1.0.1.tar.gz
tarball 1.0.2.0 trove-guestagent-v1.0.2.tar.gz	# pip's ==1.0.2 takes 1.0.2.0
tarball 1.0.3 trove-guestagent-v1.0.3.tar.gz good --no-dep
sha() { sha256sum "$T/www/$1" | cut -d' ' -f1; }
guest_start || exit 1
printf '%s %s\n' "$INSTANCE" "$KEY" > "$T/rpc-keys"
printf '[amqp]\nurl = %s\nrpc_keys = %s\n' "$AMQP" "$T/rpc-keys" > "$T/fleet.ini"
LOC=$URL/tenant/container
notify() { # notify ID FILE VERSION [--sha256 X]: slotctl seals the seed's cast
	id=$1 file=$2 version=$3
	shift 3
	"$B/slotctl" -c "$T/fleet.ini" notify --instance "$INSTANCE" --version "$version" \
		--strategy pip --location "$LOC/$file" --id "$id" "$@" > /dev/null
}
record_of() { # record_of INI ID: "STATE:ERROR" of the attempt
	"$B/slotctl" -c "$1" history --json | /usr/bin/python3 -c 'import json, sys
r = [r for r in json.load(sys.stdin) if r["id"] == sys.argv[1]]
print(r[-1]["state"] + ":" + r[-1]["error"] if r else "")' "$2"
}
ends() { # ends ID PATTERN: the guest's record matches STATE:ERROR PATTERN
	case $(record_of "$INI" "$1") in $2) ;; *) return 1 ;; esac
}
outcome() { # outcome ID STATE [TEXT]: the conductor heard it (unsealed with the key)
	/usr/bin/python3 "$S/trove_unseal.py" "$KEY" "$T/heard" | grep "\"upgrade_id\": \"$1\"" |
		grep "\"state\": \"$2\"" | grep -qF -- "${3:-$2}"
}

check "the seed's cast, sealed, names strategy pip and metadata.sha256" \
	notify pip-1 trove-guestagent-v1.0.1.tar.gz v1.0.1 --sha256 "$(sha trove-guestagent-v1.0.1.tar.gz)"
check "  the guest records SUCCESS" wait_for 120 ends pip-1 "SUCCESS:*"
check "  and casts SUCCESS with the version to the conductor" \
	wait_for 20 outcome pip-1 SUCCESS '"to_version": "v1.0.1"'
check "  the new slot (a) runs v1.0.1" current_is a v1.0.1
check "  the agent from the venv, with its dependency" grep -q "^pip-agent 1.0.1 slot=a dep=42$" "$T/agent.log"
check "  as the slot's command" [ "$(cat "$T/root/slots/a/.slotd-exec")" = "venv/bin/trove-guestagent" ]

check "a wrong sha256 is sent" \
	notify pip-2 trove-guestagent-v1.0.1.tar.gz v1.0.1 --sha256 "$(sha trove-guestagent-v1.0.3.tar.gz)"
check "  FAILED naming the digests" \
	wait_for 60 ends pip-2 "FAILED:tarball sha256 $(sha trove-guestagent-v1.0.1.tar.gz) does not match*"
check "  cast FAILED" wait_for 20 outcome pip-2 FAILED "does not match the request"

check "no sha256 is sent" notify pip-3 trove-guestagent-v1.0.1.tar.gz v1.0.1
check "  FAILED: refused without metadata.sha256" \
	wait_for 60 ends pip-3 "FAILED:strategy pip: refused: the request carries no metadata.sha256*"
check "  cast FAILED" wait_for 20 outcome pip-3 FAILED "no metadata.sha256"

check "a version mismatch is sent" \
	notify pip-4 trove-guestagent-v1.0.2.tar.gz v1.0.2 --sha256 "$(sha trove-guestagent-v1.0.2.tar.gz)"
check "  FAILED naming both versions" \
	wait_for 120 ends pip-4 "FAILED:trove-guestagent 1.0.2.0 installed, the request asked for version v1.0.2"
check "  cast FAILED" wait_for 20 outcome pip-4 FAILED "1.0.2.0 installed"

check "a tarball without the dependency is sent" \
	notify pip-5 trove-guestagent-v1.0.3.tar.gz v1.0.3 --sha256 "$(sha trove-guestagent-v1.0.3.tar.gz)"
check "  FAILED with pip's reason" \
	wait_for 120 ends pip-5 "FAILED:pip install failed (exit 1: ERROR: Could not find a version that satisfies the requirement guestdep*"
check "  cast FAILED" wait_for 20 outcome pip-5 FAILED "satisfies the requirement guestdep"
check "  v1.0.1 still runs in slot a" current_is a v1.0.1
check "  the inactive slot is empty" [ -z "$(ls -A "$T/root/slots/b")" ]

# A guest without rpc_key: plaintext casts are obeyed, a pip tarball is not.
GUEST_AMQP_EXTRA=$PIP_SECTION
OPEN=27e25b73-0000-4526-b2b9-919a28b8b33f
guest_add "$T/open" "$OPEN" || exit 1
/usr/bin/python3 "$S/oslo_cast.py" "$RABBIT_URL" "$OPEN" upgrade \
	"{\"instance_id\": \"$OPEN\", \"instance_version\": \"v1.0.1\", \"strategy\": \"pip\", \"location\": \"$LOC/trove-guestagent-v1.0.1.tar.gz\", \"metadata\": {\"sha256\": \"$(sha trove-guestagent-v1.0.1.tar.gz)\"}, \"upgrade_id\": \"open-1\"}"
open_refused() { case $(record_of "$T/open/slotd.ini" open-1) in "FAILED:strategy pip: refused: the request is not authenticated"*) ;; *) return 1 ;; esac; }
check "an unkeyed guest refuses a plaintext pip cast as unauthenticated" wait_for 60 open_refused
check "  nothing was installed there" [ -z "$(ls -A "$T/open/root/slots/a")" ]
finish
