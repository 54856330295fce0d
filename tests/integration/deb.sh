#!/bin/sh
# Debian packages (debian/): dpkg-buildpackage builds them from a copy of the
# tree, lintian has nothing to say (overrides in debian/ explain the rest),
# they install with apt-get, a short flow runs against the installed
# binaries (slotpack create, slotd on a temporary root configured from the
# installed /etc/slotd/slotd.ini, slotupd install, slotctl status), then a
# purge leaves no file of theirs, and leaves a slot found under
# /var/lib/slotd alone.
#
# It installs system packages: skipped (77) unless SLOTD_DEB_TEST=1 or CI is
# set, when not root, and when slotd's packages or /etc/slotd or
# /var/lib/slotd are already on the machine (never touch a real install).
# Missing build tools and build dependencies are installed with apt-get.
# slotfleet is built only when fleet/slotfleet/ exists (-P noslotfleet).
. "$SLOTD_SRC/tests/support/lib.sh"
if [ -z "${SLOTD_DEB_TEST:-}" ] && [ -z "${CI:-}" ]; then
	echo "deb: installs system packages; set SLOTD_DEB_TEST=1 to run it" >&2
	exit 77
fi
[ "$(id -u)" = 0 ] || { echo "deb: needs root" >&2; exit 77; }
for p in slotd slotpack slotfleet; do
	if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		echo "deb: $p is installed on this machine; not touching it" >&2
		exit 77
	fi
done
if [ -e /etc/slotd ] || [ -e /var/lib/slotd ]; then
	echo "deb: /etc/slotd or /var/lib/slotd exists; not touching it" >&2
	exit 77
fi
export DEBIAN_FRONTEND=noninteractive

# Whatever happens, the machine is left as it was found.
deb_cleanup() {
	dpkg --purge slotd slotpack slotfleet >/dev/null 2>&1
	rm -rf /var/lib/slotd
	[ -n "${MADE_USER:-}" ] && deluser --system slotfleet >/dev/null 2>&1
	true
}
AT_EXIT="deb_cleanup"

missing=""
for p in debhelper dpkg-dev lintian; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "deb: installing$missing" >&2
	{ apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing; } \
		> "$T/apt.log" 2>&1 || { cat "$T/apt.log"; exit 1; }
fi

S=$T/src/slotd
mkdir -p "$S"
(cd "$SLOTD_SRC" && tar --exclude=./build --exclude=./.git -cf - .) | tar -xf - -C "$S"
profile=""
if ! ls "$S"/fleet/slotfleet/*.c >/dev/null 2>&1; then
	profile="-Pnoslotfleet"
	echo "note: fleet/slotfleet/ absent: the slotfleet package is not built (-P noslotfleet)" >&2
fi
unmet=$(cd "$S" && dpkg-checkbuilddeps $profile 2>&1 | sed -n 's/.*Unmet build dependencies: //p' |
	sed 's/([^)]*)//g')
if [ -n "$unmet" ]; then
	echo "deb: installing build dependencies: $unmet" >&2
	apt-get install -y -qq --no-install-recommends $unmet > "$T/apt.log" 2>&1 ||
		{ cat "$T/apt.log"; exit 1; }
fi

built() {
	(cd "$S" && dpkg-buildpackage -us -uc -b -j2 $profile) > "$T/build.log" 2>&1 ||
		{ tail -40 "$T/build.log"; return 1; }
}
check "dpkg-buildpackage -b builds the packages" built || finish
ls "$T"/src/*.deb > "$T/debs"
check "slotd and slotpack packages exist" sh -c \
	'ls "$0"/slotd_*.deb "$0"/slotpack_*.deb >/dev/null' "$T/src"
[ -z "$profile" ] && check "slotfleet package exists" sh -c 'ls "$0"/slotfleet_*.deb >/dev/null' "$T/src"

lintian_quiet() {
	lintian --tag-display-limit 0 "$T"/src/slotd_*.changes > "$T/lintian.log" 2>&1
	grep -v "^running with root privileges" "$T/lintian.log" > "$T/lintian.tags"
	[ ! -s "$T/lintian.tags" ] || { cat "$T/lintian.tags"; return 1; }
}
check "lintian reports nothing (beyond the explained overrides)" lintian_quiet

debs=$(ls "$T"/src/slot*_*.deb | grep -v dbgsym)
getent passwd slotfleet >/dev/null || MADE_USER=1
check "apt-get installs the packages" sh -c \
	'apt-get install -y -qq --no-install-recommends "$@" > "$0" 2>&1 || { cat "$0"; exit 1; }' \
	"$T/install.log" $debs

installed_files() {
	for f in /usr/sbin/slotd /usr/sbin/slotupd /usr/bin/slotctl /usr/bin/slotpack \
		 /lib/systemd/system/slotd.service /lib/systemd/system/slotupd-serve.service \
		 /usr/share/bash-completion/completions/slotpack /var/lib/slotd; do
		[ -e "$f" ] || { echo "missing $f"; return 1; }
	done
	[ "$(stat -c '%a %U' /etc/slotd/slotd.ini)" = "640 root" ] || { echo "slotd.ini mode"; return 1; }
	grep -qx /etc/slotd/slotd.ini /var/lib/dpkg/info/slotd.conffiles || { echo "not a conffile"; return 1; }
	for page in slotd slotupd slotctl slotpack slotd.ini; do
		man -w "$page" >/dev/null 2>&1 || { echo "no page $page"; return 1; }
	done
	bash -c '. /usr/share/bash-completion/completions/slotd && complete -p slotctl' >/dev/null ||
		{ echo "completion"; return 1; }
}
check "binaries, units, pages, completion, conffile (0640) installed" installed_files
if [ -z "$profile" ]; then
	check "slotfleet: user, statoverride on its conffile" sh -c \
		'getent passwd slotfleet >/dev/null && [ "$(stat -c "%a %G" /etc/slotd/slotfleet.ini)" = "640 slotfleet" ]'
fi

# The flow, from the installed binaries and the installed configuration.
make_keys "$T/keys" || { echo "openssl failed"; exit 1; }
mkdir -p "$T/tree/bin"
printf '#!/bin/sh\nexec sleep 600\n' > "$T/tree/bin/agent"
chmod 755 "$T/tree/bin/agent"
check "slotpack create" /usr/bin/slotpack create -d "$T/tree" -V v1.0.0 -C deb-test \
	-k "$T/keys/ca-signer.key" -c "$T/keys/ca-signer.pem" -o "$T/v1.bundle"
sed -e "s|^root = .*|root = $T/root|" -e "s|^compatible = .*|compatible = deb-test|" \
	-e "s|^exec = .*|exec = bin/agent|" -e "s|^;min_uptime = .*|min_uptime = 1s|" \
	-e "s|^keyring = .*|keyring = $T/keys/keyring.pem|" /etc/slotd/slotd.ini > "$T/slotd.ini"
/usr/sbin/slotd -c "$T/slotd.ini" 2> "$T/slotd.log" &
SLOTD_PID=$!
PIDS="$PIDS $SLOTD_PID"
check "installed slotd starts on the installed configuration" wait_for 20 test -S "$T/root/run/control.sock"
check "slotupd install" sh -c '/usr/sbin/slotupd -c "$0" install "$1" > "$2" 2>&1 || { cat "$2"; exit 1; }' \
	"$T/slotd.ini" "$T/v1.bundle" "$T/slotupd.log"
status_good() {
	/usr/bin/slotctl -c "$T/slotd.ini" status --json > "$T/status.json" || return 1
	[ "$(json_get '["slots"]["a"]["status"]' < "$T/status.json")" = good ] &&
		[ "$(json_get '["agent"]["state"]' < "$T/status.json")" = running ]
}
check "slotctl status: slot a good, agent running" status_good
kill -TERM "$SLOTD_PID"
wait "$SLOTD_PID"

# A guest's slot under the package's state directory survives the purge.
mkdir -p /var/lib/slotd/slots/a
echo agent > /var/lib/slotd/slots/a/marker
check "dpkg --purge removes the packages" sh -c \
	'dpkg --purge slotd slotpack slotfleet > "$0" 2>&1 || { cat "$0"; exit 1; }' "$T/purge.log"
nothing_left() {
	for f in /usr/sbin/slotd /usr/sbin/slotupd /usr/bin/slotctl /usr/bin/slotpack /usr/sbin/slotfleet \
		 /etc/slotd /lib/systemd/system/slotd.service /usr/share/man/man8/slotd.8.gz \
		 /usr/share/bash-completion/completions/slotd /usr/share/doc/slotd; do
		[ ! -e "$f" ] || { echo "left behind: $f"; return 1; }
	done
	! dpkg-statoverride --list /etc/slotd/slotfleet.ini >/dev/null 2>&1 ||
		{ echo "statoverride left"; return 1; }
	! dpkg-query -W -f='${Status}\n' slotd slotpack 2>/dev/null | grep -q installed ||
		{ echo "still known to dpkg"; return 1; }
}
check "nothing of the packages is left" nothing_left
check "the slot under /var/lib/slotd is untouched" grep -qx agent /var/lib/slotd/slots/a/marker
finish
