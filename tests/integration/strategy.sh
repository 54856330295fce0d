#!/bin/sh
# strategy: deployer strategies, [strategy.NAME] sections of slotd.ini
# (issue 26, item 1; docs/strategies.md).  A fetcher (a sh script here) run
# by slotupd's confined fetch process, the location and metadata as JSON on
# its stdin, the artifact on its stdout: one that copies a bundle named by
# the location installs it end to end (the slot runs it); one that hangs is
# killed at its timeout with its group; one that writes more than
# [updater] max_bytes is refused; one that exits non-zero fails the upgrade
# naming the exit and its first line of stderr; exit 75 is retried; output
# that is no bundle is refused by the verifier, the running slot untouched.
# The fetcher runs as fetch_user with no_new_privs, and Landlock keeps it
# from writing a world-writable directory and from reading slotd.ini.  An
# unknown strategy is refused naming the known ones.  The request's whole
# metadata object (--metadata, a cast's args.metadata) reaches the fetcher,
# its sha256 the one verified; one that is no object or over 2048 bytes is
# refused naming --metadata.
. "$SLOTD_SRC/tests/support/lib.sh"
B=$SLOTD_BIN
make_keys "$T/keys" || exit 1
for v in v1.0.0 v2.0.0 v3.0.0; do pack_demo $v good; done
mkdir -p "$T/store" "$T/open" "$T/tree-big/bin"
chmod 0755 "$T/store"
chmod 1777 "$T/open"	# any uid may write here: only Landlock stops the fetcher
cp "$T"/v*-good.bundle "$T/store/"
# A bundle larger than [updater] max_bytes (2 MiB).  The unpacker refuses
# its 3 MiB file before the fetch process has counted 2 MiB of output: the
# fetch process's own cut-off (an endless writer) is test_fetch's.
cp "$SLOTD_AGENTS/demo_agent" "$T/tree-big/bin/agent"
echo good > "$T/tree-big/behaviour"
head -c 3145728 /dev/urandom > "$T/tree-big/noise"
"$B/slotpack" create -d "$T/tree-big" -V v9.0.0 -C t -k "$T/keys/ca-signer.key" \
	-c "$T/keys/ca-signer.pem" -o "$T/store/big.bundle" >/dev/null || exit 1
chmod 0644 "$T/store"/*

fetcher() { # fetcher NAME: its body on stdin, after a #!/bin/sh line
	{ echo '#!/bin/sh'; cat; } > "$T/fetch-$1"
	chmod 0755 "$T/fetch-$1"
}
# The location is the name of a file in the store; the input is kept for the check.
fetcher store <<SH
input=\$(cat)
name=\$(printf '%s' "\$input" | sed -n 's/^{"location":"\([^"]*\)".*/\1/p')
echo "input \$input" >&2
echo "metadata \$(printf '%s' "\$input" | sed -n 's/.*"metadata":\({[^}]*}\).*/\1/p')" >&2
exec cat "$T/store/\$name"
SH
fetcher hang <<'SH'
sleep 977
SH
fetcher big <<SH
cat >/dev/null
exec cat "$T/store/big.bundle"
SH
fetcher jenkins <<'SH'
echo "artifact not found" >&2
echo "a second line" >&2
exit 3
SH
fetcher flaky <<'SH'
echo "try later" >&2
exit 75
SH
fetcher junk <<'SH'
echo "this is not a bundle"
SH
fetcher whoami <<SH
nnp=\$(sed -n 's/^NoNewPrivs:[[:space:]]*//p' /proc/self/status)
if { echo x > "$T/open/written"; } 2>/dev/null; then w=allowed; else w=refused; fi
if cat "$T/slotd.ini" >/dev/null 2>&1; then r=allowed; else r=refused; fi
echo "uid=\$(id -u) nnp=\$nnp write=\$w read-config=\$r" >&2
exit 3
SH

R=$T/root
INI=$T/slotd.ini
export AGENT_LOG=$T/agent.log
cat > "$INI" <<INI
[slots]
root = $R
compatible = t
[agent]
exec = bin/agent
health = notify
startup_timeout = 10s
min_uptime = 300ms
stop_timeout = 1s
[updater]
keyring = $T/keys/keyring.pem
fetch_user = 4242
retries = 1
retry_backoff = 100ms
retry_backoff_max = 200ms
max_bytes = 2097152
[strategy.store]
fetch = $T/fetch-store
read = $T/store
[strategy.hang]
fetch = $T/fetch-hang
timeout = 2s
[strategy.big]
fetch = $T/fetch-big
read = $T/store
[strategy.jenkins]
fetch = $T/fetch-jenkins
format = bundle
[strategy.flaky]
fetch = $T/fetch-flaky
[strategy.junk]
fetch = $T/fetch-junk
[strategy.whoami]
fetch = $T/fetch-whoami
read = /proc
INI
spawn slotd "$B/slotd" -c "$INI"
wait_for 20 test -S "$R/run/control.sock" || exit 1
install() { # install ID STRATEGY LOCATION [OPTION...]: slotupd's exit code
	id=$1 strategy=$2 location=$3
	shift 3
	"$B/slotupd" -c "$INI" install --id "$id" --strategy "$strategy" "$@" "$location" \
		>> "$T/slotupd.log" 2>&1
}

check "a deployer fetcher installs v1 end to end" install s1 store v1.0.0-good.bundle
check "  SUCCESS" [ "$(record s1 state)" = SUCCESS ]
check "  and the slot runs it" running a v1.0.0
sha=$(sha256sum "$T/store/v2.0.0-good.bundle" | cut -d' ' -f1)
check "v2 through it too, with its version and sha256" \
	install s2 store v2.0.0-good.bundle --version v2.0.0 --sha256 "$sha"
check "  the slot runs v2" running b v2.0.0
check "  the fetcher read the location, metadata and version as JSON on its stdin" \
	grep -q 'strategy store: input {"location":"v2.0.0-good.bundle","metadata":{"sha256":"'"$sha"'"},"instance_version":"v2.0.0","strategy":"store"}' "$T/slotupd.log"

check "the fetcher runs as fetch_user, with no_new_privs, unable to write or read slotd.ini" \
	fails install w1 whoami x
check "  (its first line of stderr says so)" \
	[ "$(record w1 error)" = "strategy whoami: fetcher exited 3: uid=4242 nnp=1 write=refused read-config=refused" ]
check "  nothing written in the world-writable directory" [ ! -e "$T/open/written" ]

check "a fetcher that exits 3 fails the upgrade" fails install j1 jenkins some/artifact
check "  naming the exit and its first line" \
	[ "$(record j1 error)" = "strategy jenkins: fetcher exited 3: artifact not found" ]
check "  v2 still runs" running b v2.0.0

check "exit 75 is retried ([updater] retries = 1)" fails install f1 flaky x
check "  then fails saying how often" \
	[ "$(record f1 error)" = "after 2 attempts: strategy flaky: fetcher exited 75: try later" ]

start=$(date +%s)
check "a fetcher that hangs is killed at its timeout" fails install h1 hang x
took=$(( $(date +%s) - start ))
check "  FAILED naming the timeout, after both attempts" \
	[ "$(record h1 error)" = "after 2 attempts: strategy hang: fetcher killed after its timeout (2000 ms)" ]
check "  within the bound (2 x 2s and a back-off: ${took}s)" [ "$took" -lt 15 ]
no_sleep() { ! ps -eo args | grep -q '^sleep 977$'; }
check "  with what it started (its process group)" wait_for 5 no_sleep

check "a fetcher that writes more than max_bytes fails" fails install b1 big x
check "  refused by size" sh -c 'case "$1" in *"would exceed the limit of 2097152 bytes"|*"wrote more than [updater] max_bytes (2097152 bytes): cut off"*) ;; *) exit 1 ;; esac' - "$(record b1 error)"
check "  v2 still runs" running b v2.0.0

a_before=$(slot_of a version)/$(slot_of a status)
check "output that is no bundle is refused by the verifier" fails install k1 junk x
check "  FAILED" [ "$(record k1 state)" = FAILED ]
echo "junk reason: $(record k1 error)"
check "  the inactive slot as it was ($a_before)" [ "$(slot_of a version)/$(slot_of a status)" = "$a_before" ]
check "  v2 still runs" running b v2.0.0

"$B/slotupd" -c "$INI" install --strategy ftp x > "$T/ftp.out" 2>&1
check "an unknown strategy is refused naming the known ones" \
	grep -q "unknown strategy 'ftp' (known: http, swift, file, store, hang, big, jenkins, flaky, junk, whoami)" "$T/ftp.out"

usage_error() { # usage_error NEEDLE SLOTUPD-ARGS...: exit 2 saying NEEDLE
	needle=$1
	shift
	"$B/slotupd" -c "$INI" "$@" > "$T/usage.out" 2>&1
	[ $? = 2 ] && grep -qF -e "$needle" "$T/usage.out"
}
check "--metadata that is no object is refused naming it" \
	usage_error "--metadata: not an object" install --strategy store x --metadata '["build"]'
big=$(head -c 2100 /dev/zero | tr '\0' x)
check "--metadata over 2048 bytes as JSON is refused naming it" \
	usage_error "--metadata: 2108 bytes as JSON, more than 2048" \
	install --strategy store x --metadata "{\"k\": \"$big\"}"
check "--metadata whose sha256 is not --sha256 is refused" \
	usage_error "--metadata: its sha256 is not --sha256" install --strategy store x \
	--sha256 "$sha" --metadata '{"sha256": "0000000000000000000000000000000000000000000000000000000000000000"}'
check "--metadata's sha256 is the one verified (a wrong one fails)" \
	fails install m1 store v3.0.0-good.bundle --metadata "{\"sha256\": \"$sha\"}"
check "  FAILED naming the digest" sh -c 'case "$1" in *"$2"*) ;; *) exit 1 ;; esac' - "$(record m1 error)" "$sha"
install_late() { # install_late ID STRATEGY LOCATION OPTION...: options after LOCATION
	"$B/slotupd" -c "$INI" install --id "$1" --strategy "$2" "$3" "$4" "$5" >> "$T/slotupd.log" 2>&1
}
check "v3 installs through the store with --metadata after LOCATION" \
	install_late s3 store v3.0.0-good.bundle --metadata '{"build": "1234", "branch": "st\u00e4ble", "token_ref": "vault:artifacts/ci"}'
check "  the slot runs v3" running a v3.0.0
check "  the fetcher read the whole metadata object, UTF-8" \
	grep -q 'strategy store: metadata {"build":"1234","branch":"st.*ble","token_ref":"vault:artifacts/ci"}$' "$T/slotupd.log"
finish
