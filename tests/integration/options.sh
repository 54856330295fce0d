#!/bin/sh
# Options before and after operands, in every subcommand of every program
# (GNU style): the same command line in both orders gives the same result,
# global options (-c) may follow the command, and `--` ends the options.
. "$SLOTD_SRC/tests/support/lib.sh"
B=$SLOTD_BIN

make_keys "$T/keys" || { echo "openssl failed"; exit 1; }
mkdir -p "$T/tree/bin" "$T/root"
cp "$SLOTD_AGENTS/demo_agent" "$T/tree/bin/agent"
echo good > "$T/tree/behaviour"
cat > "$T/slotd.ini" <<INI
[slots]
root = $T/root
compatible = t
[agent]
exec = bin/agent
health = notify
min_uptime = 300ms
[updater]
keyring = $T/keys/keyring.pem
INI
AGENT_LOG=$T/agent.log "$B/slotd" -c "$T/slotd.ini" 2> "$T/slotd.log" &
PIDS="$PIDS $!"
wait_for 10 test -S "$T/root/run/control.sock" || { cat "$T/slotd.log"; exit 1; }

# slotpack: options after the operand, and options in any order.
check "slotpack create takes its options in any order" \
	"$B/slotpack" create -o "$T/v1.bundle" -C t -V v1.0.0 -c "$T/keys/ca-signer.pem" -d "$T/tree" -k "$T/keys/ca-signer.key"
check "slotpack verify BUNDLE -K KEYRING" sh -c '"$0" verify "$1" -K "$2" > /dev/null' "$B/slotpack" "$T/v1.bundle" "$T/keys/keyring.pem"
check "slotpack verify -K KEYRING BUNDLE" sh -c '"$0" verify -K "$2" "$1" > /dev/null' "$B/slotpack" "$T/v1.bundle" "$T/keys/keyring.pem"
mkdir -p "$T/out"
check "slotpack extract BUNDLE -o DIR -K KEYRING" sh -c '"$0" extract "$1" -o "$2" -K "$3" && test -x "$2/bin/agent"' \
	"$B/slotpack" "$T/v1.bundle" "$T/out" "$T/keys/keyring.pem"

# slotupd: install LOCATION --strategy S -c CONFIG (issue: refused as "expected exactly one LOCATION").
check "slotupd install LOCATION --strategy file --id ID -c CONFIG installs" \
	"$B/slotupd" install "$T/v1.bundle" --strategy file --id opt-1 -c "$T/slotd.ini"
check "its attempt is recorded under --id opt-1" sh -c '"$0" history --json -c "$1" | grep -q "\"opt-1\""' "$B/slotctl" "$T/slotd.ini"
check "slotupd install with two locations is a usage error" sh -c \
	'"$0" install a b -c "$1" 2> "$2"; [ $? = 2 ] && grep -q "exactly one LOCATION" "$2"' "$B/slotupd" "$T/slotd.ini" "$T/two.err"
check "slotupd serve --bogus is a usage error" sh -c '"$0" serve --bogus -c "$1" 2>/dev/null; [ $? = 2 ]' "$B/slotupd" "$T/slotd.ini"

# slotctl: global -c after the command, command options in any order.
h1=$("$B/slotctl" -c "$T/slotd.ini" history --state FAILED --json)
h2=$("$B/slotctl" history --json -c "$T/slotd.ini" --state FAILED)
same_history() { [ -n "$h1" ] && [ "$h1" = "$h2" ]; }
check "slotctl history: -c and options after the command give the same answer" same_history
check "slotctl --config=PATH after the command" sh -c '"$0" history --config="$1" --json > /dev/null' "$B/slotctl" "$T/slotd.ini"
check "slotctl notify: -c after the command is taken (the version is what is refused)" sh -c \
	'"$0" notify --instance i1 --location http://127.0.0.1:9/x --version "" -c "$1" 2> "$2"; [ $? = 2 ] && grep -q -- "--version" "$2" && ! grep -q "slotd.ini" "$2"' \
	"$B/slotctl" "$T/slotd.ini" "$T/notify.err"
notify_refuses() { # notify_refuses NEEDLE METADATA: exit 2 naming it, before any broker
	"$B/slotctl" -c "$T/slotd.ini" notify --instance i1 --location http://127.0.0.1:9/x \
		--version v1.0.0 --metadata "$2" 2> "$T/notify.err"
	[ $? = 2 ] && grep -qF -e "$1" "$T/notify.err"
}
check "slotctl notify --metadata that is no object is refused naming it" \
	notify_refuses "--metadata: not an object" '["build"]'
check "slotctl notify --metadata over 2048 bytes is refused naming it" \
	notify_refuses "--metadata: 2108 bytes as JSON, more than 2048" \
	"{\"k\": \"$(head -c 2100 /dev/zero | tr '\0' x)\"}"
check "slotctl: a missing value for -c is a usage error" sh -c '"$0" history -c 2>/dev/null; [ $? = 2 ]' "$B/slotctl"
check "slotctl --help after a command" sh -c '"$0" history --help | grep -q "usage: slotctl"' "$B/slotctl"

# slotd takes no operand: one is a usage error naming it.
check "slotd with an operand is a usage error" sh -c '"$0" -c "$1" stray 2>/dev/null; [ $? = 2 ]' "$B/slotd" "$T/slotd.ini"
finish
