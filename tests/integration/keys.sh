#!/bin/sh
# Key lifecycle, by packaging/KEYS.md's own commands: its `<!-- keys.sh: NAME -->`
# blocks are run as written, with /etc/slotd/ moved under $T/guest and HOME=$T/home
# (the signing machine's ~/slot-pki).  A guest (slotd + slotupd install from a
# file) trusts a keyring directory with CRLs, allowed signers and a maximum age:
# a second CA rolls in without a flag day; a revoked, an expired, a not allowed
# signer, a too old or future bundle and a retired CA are each refused with the
# reason in the FAILED record, the running slot untouched.
. "$SLOTD_SRC/tests/support/lib.sh"
B=$SLOTD_BIN
DOC=$SLOTD_SRC/packaging/KEYS.md
GUEST=$T/guest
export HOME="$T/home" PATH="$B:$PATH"
mkdir -p "$HOME" "$T/work" "$GUEST/etc/slotd"

# step NAME [VAR=value...]: runs KEYS.md's block NAME in $T/work, stops the test if it fails.
step() {
	name=$1; shift
	awk -v name="$name" '
		$0 ~ "<!-- keys.sh: " name " -->" { want = 1; next }
		want && /^[ \t]*```/ { if (inside) exit; inside = 1; next }
		inside { sub(/^   /, ""); print }' "$DOC" | sed "s|/etc/slotd/|$GUEST/etc/slotd/|g" > "$T/step-$name"
	[ -s "$T/step-$name" ] || { echo "KEYS.md has no block '$name'"; exit 1; }
	(cd "$T/work" && env "$@" sh -e "$T/step-$name") > "$T/step.log" 2>&1 ||
		{ echo "KEYS.md step '$name' $* failed:"; cat "$T/step.log"; exit 1; }
}
# sign CA NAME VERSION [slotpack create options]: the `sign` step, or its
# command with the options appended.
sign() {
	ca=$1 cn=$2 v=$3; shift 3
	[ $# -eq 0 ] && { step sign CA="$ca" NAME="$cn" VERSION="$v"; return; }
	(cd "$T/work" && slotpack create -d tree/ -V "$v" -C trove-guest -k "$HOME/slot-pki/$ca/$cn.key" \
		-c "$HOME/slot-pki/$ca/$cn.pem" -o "agent-$v.bundle" "$@") || exit 1
}

mkdir -p "$T/work/tree/bin"
cp "$SLOTD_AGENTS/demo_agent" "$T/work/tree/bin/agent" || exit 1
echo good > "$T/work/tree/behaviour"

# The first CA and signer, and a guest that trusts them.
step ca CA=ca-2026
step signer CA=ca-2026 NAME=packager-2026
step trust CA=ca-2026
{
	printf '[slots]\nroot = %s/root\ncompatible = trove-guest\n' "$T"
	printf '[agent]\nexec = bin/agent\nhealth = notify\nstartup_timeout = 5s\nmin_uptime = 300ms\n'
	awk '/<!-- keys.sh: ini -->/ { want = 1; next } want && /^```/ { if (inside) exit; inside = 1; next }
		inside' "$DOC" | sed "s|/etc/slotd/|$GUEST/etc/slotd/|g"
} > "$GUEST/etc/slotd/slotd.ini"
INI=$GUEST/etc/slotd/slotd.ini
grep -q "^crl = $GUEST" "$INI" || { echo "KEYS.md's ini block lost its crl key"; exit 1; }

export AGENT_LOG="$T/agent.log"
"$B/slotd" -c "$INI" 2> "$T/slotd.log" &
PIDS="$PIDS $!"
wait_for 20 test -S "$T/root/run/control.sock" || { echo "slotd did not start"; cat "$T/slotd.log"; exit 1; }

install() { slotupd -c "$INI" install "$T/work/agent-$1.bundle" >> "$T/slotupd.out" 2>&1; }
current_is() { # current_is VERSION: the running slot is good and holds VERSION
	slotctl -c "$INI" status --json | /usr/bin/python3 -c "
import json, sys
s = json.load(sys.stdin); c = s['current']
sys.exit(0 if c and s['slots'][c]['status'] == 'good' and s['slots'][c]['version'] == '$1' else 1)"
}
last_failure_has() { # every argument appears in the newest FAILED record's reason
	slotctl -c "$INI" history --state FAILED --json | /usr/bin/python3 -c "
import json, sys
r = json.load(sys.stdin)
sys.exit(0 if r and all(w in r[-1]['error'] for w in sys.argv[1:]) else 1)" "$@"
}
refused() { # refused VERSION RUNNING WORDS...: install fails naming WORDS, RUNNING still runs
	v=$1 running=$2; shift 2
	! install "$v" && last_failure_has "$@" && current_is "$running"
}
# guest_verify VERSION [options]: slotpack verify with the guest's trust settings.
guest_verify() {
	v=$1; shift
	slotpack verify -K "$GUEST/etc/slotd/keyring.d" --crl "$GUEST/etc/slotd/crl.d" \
		--max-age 90d "$@" "$T/work/agent-$v.bundle" > "$T/verify.out" 2>&1
}
verify_refuses() { # verify_refuses VERSION WORD [options]
	v=$1 word=$2; shift 2
	! guest_verify "$v" "$@" && grep -q -- "$word" "$T/verify.out"
}

sign ca-2026 packager-2026 1.0.0
check "KEYS.md's verify step accepts the first bundle" step verify NAME=packager-2026 VERSION=1.0.0
check "the first bundle installs" install 1.0.0
check "1.0.0 runs" current_is 1.0.0

# CA rotation: the new CA is trusted before anything is signed under it.
step ca CA=ca-2027
step trust CA=ca-2027
step signer CA=ca-2027 NAME=packager-2027
sign ca-2027 packager-2027 1.1.0
check "a not yet allowed signer of the new CA is refused, naming it" \
	refused 1.1.0 1.0.0 "/CN=packager-2027" "not one of the allowed signers"
check "slotpack verify refuses it too" verify_refuses 1.1.0 "not one of the allowed" \
	--allowed-signer packager-2026
step allow NAME=packager-2027
check "allowed, the new CA's bundle installs from the keyring directory" install 1.1.0
check "1.1.0 runs" current_is 1.1.0
sign ca-2026 packager-2026 1.1.5
check "the old CA's bundles still verify beside the new" guest_verify 1.1.5 \
	--allowed-signer packager-2026 --allowed-signer packager-2027
check "options after the operand work too" sh -c 'slotpack verify "$0/agent-1.1.0.bundle" \
	-K "$1/keyring.d" --allowed-signer packager-2027 --crl "$1/crl.d" --max-age 90d >/dev/null' \
	"$T/work" "$GUEST/etc/slotd"

# Revocation of the first signer.
step revoke CA=ca-2026 NAME=packager-2026
step ship-crl CA=ca-2026
sign ca-2026 packager-2026 1.2.0
check "a revoked signer is refused, named, as revoked" refused 1.2.0 1.1.0 "/CN=packager-2026" "revoked"
check "slotpack verify says revoked too" verify_refuses 1.2.0 "certificate revoked"
check "the revoked signer's older bundles are refused as well" verify_refuses 1.1.5 "revoked"

# An expired signer (issued in the past by the new CA: test-only dates) is
# refused at the current time, even when allowed.
(cd "$HOME/slot-pki/ca-2027" &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=packager-old" \
		-keyout packager-old.key -out packager-old.csr &&
	openssl ca -batch -config ca.cnf -startdate 20200101000000Z -enddate 20210101000000Z \
		-in packager-old.csr -out packager-old.pem) > "$T/expired.log" 2>&1 || {
	echo "openssl ca (expired signer) failed"; cat "$T/expired.log"; exit 1; }
step allow NAME=packager-old
sign ca-2027 packager-old 1.3.0 --signing-time 1590000000
check "an expired signer is refused, named, as expired" refused 1.3.0 1.1.0 "/CN=packager-old" "expired"

# A valid, chained signer that is not allowed.
step signer CA=ca-2027 NAME=packager-rogue
sign ca-2027 packager-rogue 1.4.0
check "a chained but not allowed signer is refused, named" \
	refused 1.4.0 1.1.0 "/CN=packager-rogue" "not one of the allowed signers"

# Freshness: signing times from the past and from the future.
now=$(date +%s)
sign ca-2027 packager-2027 1.5.0 --signing-time $((now - 100 * 86400))
check "a bundle signed 100 days ago is refused (max 90d)" \
	refused 1.5.0 1.1.0 "/CN=packager-2027" "older than the maximum bundle age (90d)"
check "slotpack verify --max-age refuses it too" verify_refuses 1.5.0 "older than"
check "and accepts it with a longer --max-age" guest_verify 1.5.0 --max-age 101d
sign ca-2027 packager-2027 1.6.0 --signing-time $((now + 86400))
check "a bundle signed a day in the future is refused" refused 1.6.0 1.1.0 "in the future"
sign ca-2027 packager-2027 1.7.0 --signing-time $((now - 89 * 86400))
check "a bundle signed 89 days ago installs" install 1.7.0
check "1.7.0 runs" current_is 1.7.0

# A signature without signed attributes, hence without signingTime (made by
# openssl cms -noattr over a slotpack manifest, repacked in the same order).
sign ca-2027 packager-2027 1.7.5
mkdir -p "$T/noattr"
(cd "$T/noattr" && tar -xf "$T/work/agent-1.7.5.bundle" &&
	openssl cms -sign -binary -noattr -outform DER -in manifest.ini -out manifest.sig \
		-signer "$HOME/slot-pki/ca-2027/packager-2027.pem" \
		-inkey "$HOME/slot-pki/ca-2027/packager-2027.key" &&
	tar --format=ustar -cf "$T/work/agent-1.7.5.bundle" manifest.ini manifest.sig blocks.sha256 payload) ||
	{ echo "openssl cms -noattr failed"; exit 1; }
check "without a signing time, a bundle is refused when max_bundle_age is set" \
	refused 1.7.5 1.7.0 "/CN=packager-2027" "no signing time"
check "and verifies without --max-age" slotpack verify -K "$GUEST/etc/slotd/keyring.d" \
	--crl "$GUEST/etc/slotd/crl.d" "$T/work/agent-1.7.5.bundle"

# A CA without a CRL, when CRLs are checked: refused, as KEYS.md warns.
mv "$GUEST/etc/slotd/crl.d/ca-2027.pem" "$T/ca-2027-crl.pem"
check "a CA without its CRL is refused when crl is set" verify_refuses 1.7.0 "unable to get certificate CRL"
mv "$T/ca-2027-crl.pem" "$GUEST/etc/slotd/crl.d/ca-2027.pem"

# Retiring the first CA.
sign ca-2026 packager-2026 1.8.0
step retire CA=ca-2026
check "a retired CA's bundle is refused" refused 1.8.0 1.7.0 "does not chain to the keyring"
check "the new CA's bundles still verify" guest_verify 1.7.0

# The keyring directory itself: other names are ignored, a broken *.pem is an error naming it.
echo "notes" > "$GUEST/etc/slotd/keyring.d/README"
check "files not named *.pem are ignored" guest_verify 1.7.0
sign ca-2027 packager-2027 1.9.0
echo "not a certificate" > "$GUEST/etc/slotd/keyring.d/broken.pem"
check "a *.pem file without a certificate is an error naming it" \
	verify_refuses 1.9.0 "keyring: $GUEST/etc/slotd/keyring.d/broken.pem: no PEM certificate"
check "slotupd refuses too, and 1.7.0 keeps running" refused 1.9.0 1.7.0 "broken.pem"

# slotpack's trust options are checked as usage (exit 2), naming the option.
usage_error() { # usage_error WORD ARGS...
	word=$1; shift
	slotpack verify -K "$GUEST/etc/slotd/keyring.d" "$@" "$T/work/agent-1.7.0.bundle" > "$T/usage" 2>&1
	[ $? = 2 ] && grep -q -- "$word" "$T/usage"
}
check "--max-age needs a duration" usage_error "--max-age" --max-age soon
check "--max-age 0 is refused" usage_error "--max-age" --max-age 0
check "--allowed-signer with a comma is refused" usage_error "--allowed-signer" --allowed-signer "a,b"
check "--signing-time needs seconds" sh -c 'slotpack create --signing-time yesterday -d x > "$0" 2>&1
	[ $? = 2 ] && grep -q -- --signing-time "$0"' "$T/usage"
finish
