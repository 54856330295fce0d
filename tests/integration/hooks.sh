#!/bin/sh
# hooks: [hooks] pre_install, pre_activate and post_commit around
# `slotupd install` (issue 26, item 3): their order against the flip and the
# trial, what they are told, and what each exit does: non-zero fails the
# upgrade with the hook's first line of stderr (nothing installed is
# touched), 75 defers it, a hang is killed at [hooks] timeout with its whole
# group, a failing post_commit leaves the upgrade committed.
. "$SLOTD_SRC/tests/support/lib.sh"
B=$SLOTD_BIN
make_keys "$T/keys" || exit 1
for v in v1.0.0 v2.0.0 v3.0.0; do pack_demo $v good; done
R=$T/root
# The hook logs what it was told, then does what $T/act.<its name> says:
# "fail N TEXT", "defer TEXT", "hang", or nothing.
cat > "$T/hook" <<'HOOK'
#!/bin/sh
echo "$SLOTD_HOOK id=$SLOTD_UPGRADE_ID from=$SLOTD_FROM_VERSION to=$SLOTD_TO_VERSION current=$(readlink "$SLOTD_ROOT/current") new=$SLOTD_NEW_SLOT agent=$("$SLOTCTL" -c "$INI" status --json | /usr/bin/python3 -c 'import json, sys; a = json.load(sys.stdin)["agent"]; print(a["slot"] + "/" + a["state"])')" >> "$HOOK_LOG"
act=$(cat "$HOOK_DIR/act.$SLOTD_HOOK" 2>/dev/null)
case $act in
fail*) set -- $act; shift; code=$1; shift; echo "$*" >&2; echo "second line" >&2; exit "$code" ;;
defer*) echo "${act#defer }" >&2; exit 75 ;;
hang) sh -c 'echo $$ > "$HOOK_DIR/hung.pid"; exec sleep 300' & sleep 300 ;;
esac
exit 0
HOOK
chmod 0755 "$T/hook"
export HOOK_LOG=$T/hooks.log HOOK_DIR=$T SLOTCTL=$B/slotctl INI=$T/slotd.ini AGENT_LOG=$T/agent.log
demo_ini "$INI" "$R" "[hooks]" "pre_install = $T/hook" "pre_activate = $T/hook" \
	"post_commit = $T/hook" "timeout = 2s"
spawn slotd "$B/slotd" -c "$INI"
wait_for 20 test -S "$R/run/control.sock" || exit 1
install() { # install ID VERSION: slotupd's exit code
	"$B/slotupd" -c "$INI" install --id "$1" "$T/$2-good.bundle" >> "$T/slotupd.log" 2>&1
}
logged() { grep -c "^$1 id=$2 " "$HOOK_LOG"; }

check "v1 installs through all three hooks" install u1 v1.0.0
install u2 v2.0.0
check "v2 installs" [ "$(record u2 state)" = SUCCESS ]
check "  the hooks ran in order: pre_install, pre_activate, post_commit" \
	[ "$(grep " id=u2 " "$HOOK_LOG" | cut -d' ' -f1 | tr '\n' ' ')" = "pre_install pre_activate post_commit " ]
check "  pre_install before the flip, told the versions and slots" \
	grep -q "^pre_install id=u2 from=v1.0.0 to= current=slots/a new=$R/slots/b " "$HOOK_LOG"
check "  pre_activate with the new slot written, still before the flip" \
	grep -q "^pre_activate id=u2 from=v1.0.0 to=v2.0.0 current=slots/a new=$R/slots/b" "$HOOK_LOG"
check "  post_commit after the trial: current is the new slot, its agent runs" \
	grep -q "^post_commit id=u2 from=v1.0.0 to=v2.0.0 current=slots/b new=$R/slots/b agent=b/running" "$HOOK_LOG"

b_before=$(slot_of a version)/$(slot_of a status)
echo "fail 3 no space for the backup" > "$T/act.pre_install"
check "a failing pre_install fails the upgrade (exit 1)" fails install u3 v3.0.0
check "  FAILED with the hook's first line" \
	[ "$(record u3 error)" = "pre_install hook failed (exit 3): no space for the backup" ]
check "  nothing was fetched or written: slot a is as it was ($b_before)" \
	[ "$(slot_of a version)/$(slot_of a status)" = "$b_before" ]
check "  and v2 still runs" [ "$(slot_of b status)" = good ]
check "  pre_activate never ran" [ "$(logged pre_activate u3)" = 0 ]

echo "defer backup running" > "$T/act.pre_install"
install u4 v3.0.0
check "exit 75 defers it" [ "$(record u4 state)" = DEFERRED ]
check "  saying so" [ "$(record u4 error)" = "pre_install hook deferred the upgrade (exit 75): backup running" ]

echo hang > "$T/act.pre_install"
install u5 v3.0.0
check "a hanging pre_install is killed at [hooks] timeout: FAILED" \
	[ "$(record u5 error)" = "pre_install hook timed out after 2000 ms" ]
hung_gone() { [ -s "$T/hung.pid" ] && ! proc_alive "$(cat "$T/hung.pid")"; }
check "  and what it started (its group) is gone too" wait_for 5 hung_gone
rm -f "$T/act.pre_install"

echo "fail 1 new slot looks wrong" > "$T/act.pre_activate"
install u6 v3.0.0
check "a failing pre_activate fails the upgrade before the flip" \
	[ "$(record u6 error)" = "pre_activate hook failed (exit 1): new slot looks wrong" ]
check "  v2 still current and running" sh -c '[ "$(readlink "$0/current")" = slots/b ]' "$R"
check "  no post_commit" [ "$(logged post_commit u6)" = 0 ]
rm -f "$T/act.pre_activate"

echo "fail 4 could not notify" > "$T/act.post_commit"
check "a failing post_commit leaves the upgrade committed (exit 0)" install u7 v3.0.0
check "  SUCCESS" [ "$(record u7 state)" = SUCCESS ]
check "  v3 runs" [ "$(slot_of a version)/$(slot_of a status)" = v3.0.0/good ]
check "  slotupd said why" grep -q "post_commit hook failed (exit 4): could not notify (the upgrade stays committed)" "$T/slotupd.log"
check "every line a hook wrote is logged" grep -q "post_commit hook: second line" "$T/slotupd.log"
finish
