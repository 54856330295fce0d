#!/bin/sh
# An operator's `sqlite3 fleet.db` next to a running slotfleet (SQLite):
# the reader closing last must not checkpoint and unlink the WAL that
# slotfleet's connections still write to.  That happened when slotfleet
# opened and closed a descriptor of the database file after its first
# connection (closing any descriptor drops the process's POSIX locks on
# the file): later commits went to an unlinked WAL, invisible to every
# other process and lost at a crash.  Checked: after outside reads the WAL
# slotfleet holds is the one on disk, a record written after them is seen
# by an outside reader, and it survives a SIGKILL.
. "$SLOTD_SRC/tests/support/lib.sh"
. "$SLOTD_SRC/tests/support/slotfleet.sh"
command -v curl >/dev/null || { echo "curl not installed" >&2; exit 77; }
command -v sqlite3 >/dev/null || { echo "sqlite3 not installed" >&2; exit 77; }

FLEET_NO_BROKER=1
fleet_tokens
fleet_ini "path = $T/fleet.db"
fleet_start || exit 1

body() { # INSTANCE
	printf '{"instance_id": "%s", "instance_version": "v2.0.0", "location": "http://127.0.0.1:9/v2.bundle"}' "$1"
}
records() { sqlite3 "$T/fleet.db" "SELECT COUNT(*) FROM upgrades"; }
wal_unlinked() { ls -l "/proc/$FLEET_PID/fd" | grep -q 'fleet\.db-wal (deleted)'; }

# Without a broker a POST answers 202 and leaves a NEW record, its cast pending: a write.
check "a first write (202, the cast pending)" [ "$(api POST /upgrade "$(body 1e3b0d8e-0000-4000-8000-000000000001)")" = 202 ]
check "an outside reader sees it" [ "$(records)" = 1 ]
check "a second outside reader sees it" [ "$(records)" = 1 ]
check "slotfleet's WAL is still the file on disk" sh -c '! ls -l "/proc/$0/fd" | grep -q "fleet\.db-wal (deleted)"' "$FLEET_PID"
check "a write after the outside readers" [ "$(api POST /upgrade "$(body 1e3b0d8e-0000-4000-8000-000000000002)")" = 202 ]
check "an outside reader sees the later write" [ "$(records)" = 2 ]
fleet_stop KILL
check "both records survive slotfleet's SIGKILL" [ "$(records)" = 2 ]
finish
