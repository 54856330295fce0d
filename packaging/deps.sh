#!/bin/sh
# Installs every Debian package the build, the tests, the demo, the
# benchmarks and the fuzz harnesses (clang, libFuzzer) need.  Idempotent:
# does nothing when all are present.  nginx-light and swupdate are peers the
# install benchmark starts itself, casync the delta benchmark's; Debian's packages also enable their own
# services (nginx on port 80, swupdate's socket) on a systemd machine.
set -eu
PACKAGES="build-essential pkg-config libarchive-dev zlib1g-dev liblzma-dev libzstd-dev libssl-dev libcurl4-openssl-dev
libinih-dev librabbitmq-dev libjansson-dev libcmocka-dev openssl curl tar gzip xz-utils
zstd util-linux procps iproute2 python3 python3-venv python3-pip python3-setuptools python3-wheel python3-cryptography python3-oslo.messaging python3-yaml rabbitmq-server valgrind
hyperfine time tini wrk xfsprogs e2fsprogs libarchive-tools swupdate nginx-light casync
libsqlite3-dev libpq-dev libmicrohttpd-dev sqlite3 postgresql
systemd groff-base man-db bash-completion prometheus python3-keystone
clang libfuzzer-14-dev libclang-rt-14-dev
chromium python3-websocket"

missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
