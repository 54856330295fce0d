#!/bin/sh
# systemd units (packaging/systemd/) and `make install`: the tree installed
# under a temporary PREFIX holds the programs, pages, units (ExecStart
# rewritten to PREFIX), completion links and examples, and
# `systemd-analyze verify` finds nothing to say about any unit: no unknown
# key, a runnable ExecStart, every Documentation= page found.  The units are
# verified from PREFIX rather than with --root, because --root wants a whole
# system (sysinit.target ...) inside the root; the host's targets are used.
# slotfleet.service is verified against a stand-in executable when slotfleet
# is not built yet.  Skipped (77) without systemd-analyze.
. "$SLOTD_SRC/tests/support/lib.sh"
command -v systemd-analyze >/dev/null ||
	{ echo "units: systemd-analyze missing (apt-get install systemd)" >&2; exit 77; }
B=$SLOTD_BIN
P=$T/prefix
build=${B%/bin}
build=${build#"$SLOTD_SRC"/}

check "make install into a PREFIX" sh -c \
	'make -s -C "$0" --no-print-directory install BUILD="$1" PREFIX="$2" > "$3/install.log" 2>&1 ||
	 { cat "$3/install.log"; exit 1; }' "$SLOTD_SRC" "$build" "$P" "$T"
installed() {
	for f in sbin/slotd sbin/slotupd bin/slotctl bin/slotpack share/man/man8/slotd.8 \
		 share/man/man8/slotupd.8 share/man/man8/slotctl.8 share/man/man1/slotpack.1 \
		 share/man/man5/slotd.ini.5 lib/systemd/system/slotd.service \
		 lib/systemd/system/slotupd-serve.service share/bash-completion/completions/slotd \
		 share/doc/slotd/examples/slotd.ini; do
		[ -e "$P/$f" ] || { echo "missing $P/$f"; return 1; }
	done
	for c in slotctl slotupd slotpack; do
		[ "$(readlink "$P/share/bash-completion/completions/$c")" = slotd ] ||
			{ echo "completion $c is not a link to slotd"; return 1; }
	done
	grep -qx "ExecStart=$P/sbin/slotd -c /etc/slotd/slotd.ini" "$P/lib/systemd/system/slotd.service" ||
		{ echo "ExecStart not rewritten to $P"; return 1; }
}
check "the install holds programs, pages, units, completion and examples" installed

# Every page from the source, so Documentation= lines resolve.
for page in "$SLOTD_SRC"/man/*.[158]; do
	mkdir -p "$T/man/man${page##*.}"
	cp "$page" "$T/man/man${page##*.}/"
done
# verify_quiet UNIT: exit 0 and not a word of output.
verify_quiet() {
	out=$(cd "$T" && MANPATH=$T/man systemd-analyze verify "$1" 2>&1)
	rc=$?
	[ $rc -eq 0 ] && [ -z "$out" ] || { echo "$1 (rc $rc): $out"; return 1; }
}
check "slotd.service verifies" verify_quiet "$P/lib/systemd/system/slotd.service"
check "slotupd-serve.service verifies" verify_quiet "$P/lib/systemd/system/slotupd-serve.service"
if [ -f "$P/lib/systemd/system/slotfleet.service" ]; then
	check "slotfleet.service verifies" verify_quiet "$P/lib/systemd/system/slotfleet.service"
else
	echo "note: slotfleet not built: slotfleet.service verified against a stand-in" >&2
	mkdir -p "$T/stub"
	cp /bin/true "$T/stub/slotfleet"
	sed "s|/usr/sbin/slotfleet|$T/stub/slotfleet|" "$SLOTD_SRC/packaging/systemd/slotfleet.service" \
		> "$T/stub/slotfleet.service"
	check "slotfleet.service verifies" verify_quiet "$T/stub/slotfleet.service"
fi

# The checker must see a misspelt key.
sed 's/^KillMode=/KilMode=/' "$P/lib/systemd/system/slotd.service" > "$T/stub-bad.service"
mkdir -p "$T/bad" && mv "$T/stub-bad.service" "$T/bad/slotd.service"
check "a misspelt key is caught" eval '! verify_quiet "$T/bad/slotd.service" >/dev/null'

# What the units promise, beyond syntax.
has() { grep -qx "$2" "$SLOTD_SRC/packaging/systemd/$1"; }
check "slotd.service: Type=notify, NotifyAccess=main, KillMode=mixed" eval \
	'has slotd.service Type=notify && has slotd.service NotifyAccess=main && has slotd.service KillMode=mixed'
check "slotd.service: read-only system but its root, no NoNewPrivileges (the agent may sudo)" eval \
	'has slotd.service ProtectSystem=strict && has slotd.service ReadWritePaths=/var/lib/slotd &&
	 ! grep -q "^NoNewPrivileges" "$SLOTD_SRC/packaging/systemd/slotd.service"'
check "slotfleet.service: User=slotfleet, StateDirectory, Restart=on-failure" eval \
	'has slotfleet.service User=slotfleet && has slotfleet.service StateDirectory=slotfleet &&
	 has slotfleet.service Restart=on-failure'
finish
