#!/usr/bin/python3
"""Invariants of a slot root after a crash, for tests/integration/powercut.sh
and killstorm.sh (tests/support/torture.sh drives it).

    torture_check.py settle --slotctl BIN --ini INI [--timeout SECS]
        waits until slotd answers, its current slot is `good`, and the agent is
        running and healthy; prints the status JSON's summary, exit 1 on timeout.

    torture_check.py check --slotctl BIN --ini INI --root ROOT --trees DIR
                           --agent-log FILE [--min-version N] [--durable FILE]
        settles as above, then checks, printing one "FAIL: ..." line per broken
        invariant (exit 1):
        - `current` is a relative symlink to slots/<current>, that slot is good,
          the agent runs and is healthy, and it is that slot's agent: the last
          "start SLOT VERSION PID" line of the agent log names the slot, the
          version and the pid slotd reports;
        - the version is one the test packed as a good agent (DIR/vN/behaviour
          says "good"), and N >= --min-version (an install that printed SUCCESS
          and exited before the crash is not lost);
        - every file of the current slot has the bytes of DIR/vN (sha256 of each
          regular file, symlink targets, the same set of names, nothing more);
        - the state file carries a valid [end] crc32 trailer (independently of
          slotd) and says the same statuses and versions as slotd;
        - `slotctl history --json` parses, every "ID STATE" line of --durable
          (outcomes that were durable before the crash) is there in that state
          (or, once the history holds HISTORY_KEEP attempts, was compacted
          away with every older one), the history file is within its bound,
          and no attempt that installed the running version says FAILED (the
          test installs each version once).
        Prints "torn N" when slotctl reported torn history lines (not a failure:
        the contract is that they are skipped and earlier records survive).
Versions are "vN.0.0"; trees are DIR/vN.
"""
import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import time
import zlib

# include/history.h: an append at HISTORY_COMPACT_BYTES compacts the history
# to its newest HISTORY_KEEP attempts.
HISTORY_COMPACT_BYTES = 256 * 1024
HISTORY_KEEP = 128


def slotctl(args, *words):
    proc = subprocess.run([args.slotctl, "-c", args.ini, *words], capture_output=True,
                          text=True, timeout=60)
    return proc.returncode, proc.stdout, proc.stderr


def status(args):
    rc, out, err = slotctl(args, "status", "--json")
    if rc != 0:
        return None, err.strip()
    return json.loads(out), ""


def settled(st):
    cur = st.get("current")
    slot = st.get("slots", {}).get(cur, {})
    agent = st.get("agent", {})
    return (slot.get("status") == "good" and agent.get("state") == "running"
            and agent.get("healthy") is True and agent.get("slot") == cur)


def settle(args):
    """The settled status, or None (after printing why) on timeout."""
    deadline = time.monotonic() + args.timeout
    last, why = None, ""
    while time.monotonic() < deadline:
        try:
            last, why = status(args)
        except (subprocess.TimeoutExpired, ValueError) as e:
            last, why = None, str(e)
        if last and settled(last):
            print("settled: slot %s %s, agent pid %s" % (
                last["current"], last["slots"][last["current"]]["version"], last["agent"]["pid"]))
            return last
        time.sleep(0.05)
    print("FAIL: not settled after %ss: %s" % (args.timeout, json.dumps(last) if last else why))
    return None


def cmd_settle(args):
    return 0 if settle(args) else 1


def tree_digest(top):
    """{relative path: digest} for regular files and symlinks; directories by name."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(top):
        rel = os.path.relpath(dirpath, top)
        for d in dirnames:
            p = os.path.join(dirpath, d)
            if os.path.islink(p):
                out[os.path.normpath(os.path.join(rel, d))] = "link " + os.readlink(p)
            else:
                out[os.path.normpath(os.path.join(rel, d))] = "dir"
        for f in filenames:
            p = os.path.join(dirpath, f)
            key = os.path.normpath(os.path.join(rel, f))
            if os.path.islink(p):
                out[key] = "link " + os.readlink(p)
                continue
            h = hashlib.sha256()
            with open(p, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
            out[key] = h.hexdigest()
    return out


def version_number(version):
    m = re.fullmatch(r"v(\d+)\.0\.0", version or "")
    return int(m.group(1)) if m else None


def read_state_file(path, fails):
    """The state file's slots, its CRC trailer checked like state.c does."""
    with open(path, "rb") as fh:
        text = fh.read()
    end = text.rfind(b"\n[end]\n")
    if end < 0:
        fails.append("state file %s has no [end] trailer" % path)
        return {}
    body, tail = text[:end + 1], text[end + 1:].decode("ascii", "replace")
    m = re.fullmatch(r"\[end\]\ncrc32 = ([0-9a-f]{8})\n", tail)
    if not m or int(m.group(1), 16) != zlib.crc32(body):
        fails.append("state file %s: trailer %r does not match crc32 %08x" % (
            path, tail, zlib.crc32(body)))
        return {}
    slots, section = {}, None
    for line in body.decode("utf-8", "replace").splitlines():
        if line.startswith("[slot "):
            section = slots.setdefault(line[6:-1], {})
        elif section is not None and " = " in line:
            k, v = line.split(" = ", 1)
            section[k] = v
    return slots


def check_current(args, st, fails):
    cur = st.get("current")
    slot = st["slots"].get(cur, {})
    link = os.path.join(args.root, "current")
    target = os.readlink(link) if os.path.islink(link) else None
    if target != "slots/%s" % cur:
        fails.append("current -> %r, slotd says slot %r" % (target, cur))
    if not settled(st):
        fails.append("not settled: %s" % json.dumps(st))
    version = slot.get("version", "")
    n = version_number(version)
    if n is None:
        fails.append("current version %r is not one the test packed" % version)
        return cur, None
    behaviour_file = os.path.join(args.trees, "v%d" % n, "behaviour")
    behaviour = open(behaviour_file).read().strip() if os.path.exists(behaviour_file) else "?"
    if behaviour != "good":
        fails.append("current version %s has a %r agent: it cannot have passed a trial"
                     % (version, behaviour))
    if args.min_version is not None and n < args.min_version:
        fails.append("current version %s, but v%d.0.0 reported SUCCESS before the crash"
                     % (version, args.min_version))
    # slotd counts a good slot's agent healthy from its launch, which may come
    # before the agent has written its first line: give it a moment.
    want = ["start", cur, version, str(st["agent"]["pid"])]
    deadline = time.monotonic() + 15
    while True:
        starts = [line.split() for line in open(args.agent_log) if line.startswith("start ")]
        last = starts[-1] if starts else []
        if last[:4] == want:
            break
        if time.monotonic() > deadline:
            fails.append("last agent start %r, slotd runs %r" % (last[:4], want[1:]))
            break
        time.sleep(0.05)
    return cur, n


def check_files(args, cur, n, fails):
    have = tree_digest(os.path.join(args.root, "slots", cur))
    want = tree_digest(os.path.join(args.trees, "v%d" % n))
    for path in sorted(set(have) | set(want)):
        if have.get(path) != want.get(path):
            fails.append("slot %s file %s: %s, packed %s" % (
                cur, path, have.get(path, "missing"), want.get(path, "absent")))
            if len(fails) > 20:
                return


def check_state(args, st, fails):
    disk = read_state_file(os.path.join(args.root, "state"), fails)
    for name, slot in st["slots"].items():
        d = disk.get(name, {})
        if disk and (d.get("status"), d.get("version", "")) != (slot["status"], slot["version"]):
            fails.append("state file slot %s %s %s, slotd says %s %s" % (
                name, d.get("status"), d.get("version"), slot["status"], slot["version"]))


def check_history(args, running, fails):
    rc, out, err = slotctl(args, "history", "--json")
    if rc != 0:
        fails.append("slotctl history failed: %s" % err.strip())
        return
    try:
        listed = json.loads(out)
        records = {r["id"]: r["state"] for r in listed}
    except (ValueError, KeyError, TypeError) as e:
        fails.append("slotctl history --json does not parse: %s" % e)
        return
    # Each version is installed once: the record of the one running cannot
    # say it failed (the control plane would be told the opposite of the truth).
    for r in listed:
        if r["state"] == "FAILED" and running and r["to_version"] == running:
            fails.append("attempt %s is recorded FAILED (%s), yet %s runs good"
                         % (r["id"], r["error"], running))
    m = re.search(r"skipped (\d+) torn", err)
    if m:
        print("torn %s" % m.group(1))
    size = os.path.getsize(os.path.join(args.root, "history"))
    if size > HISTORY_COMPACT_BYTES + 8192:
        fails.append("the history is %d bytes, over its bound" % size)
    if not args.durable or not os.path.exists(args.durable):
        return
    durable = [line.split() for line in open(args.durable)]
    # A compaction forgets the oldest attempts, never newer ones: those
    # missing must all come before the first still listed, and only once the
    # history holds at least HISTORY_KEEP attempts.
    kept = [i for i, (ident, _) in enumerate(durable) if ident in records]
    first_kept = kept[0] if kept else len(durable)
    for i, (ident, state) in enumerate(durable):
        if ident not in records and i < first_kept and len(listed) >= HISTORY_KEEP:
            continue
        if records.get(ident) != state:
            fails.append("attempt %s was %s before the crash, history now says %s"
                         % (ident, state, records.get(ident, "nothing")))


def cmd_check(args):
    fails = []
    st = settle(args)
    if not st:
        return 1
    cur, n = check_current(args, st, fails)
    if n is not None and cur in ("a", "b"):
        check_files(args, cur, n, fails)
    check_state(args, st, fails)
    check_history(args, st["slots"].get(cur, {}).get("version"), fails)
    for f in fails:
        print("FAIL: %s" % f)
    return 1 if fails else 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("command", choices=["settle", "check"])
    p.add_argument("--slotctl", required=True)
    p.add_argument("--ini", required=True)
    p.add_argument("--timeout", type=float, default=60)
    p.add_argument("--root")
    p.add_argument("--trees")
    p.add_argument("--agent-log")
    p.add_argument("--min-version", type=int)
    p.add_argument("--durable")
    args = p.parse_args()
    if args.command == "settle":
        return cmd_settle(args)
    if not (args.root and args.trees and args.agent_log):
        p.error("check needs --root, --trees and --agent-log")
    return cmd_check(args)


if __name__ == "__main__":
    sys.exit(main())
