#!/usr/bin/python3
"""Strikes one install at a random moment, for powercut.sh and killstorm.sh.

    torture_strike.py --upd-pid PID --upd-id ID --upd-log FILE --slotd-log FILE
                      --slotd-line N --start-ms MS --span-ms MS --ours TEXT
                      [--shutdown MOUNTPOINT] [--kill PID]...

Waits for the moment, chosen at random: half the time "uniform" (0..span-ms
after start-ms, the install's start in CLOCK_REALTIME ms), half the time
"marker" (until a randomly chosen step's log line appears, then 0..150 ms).
Then, within a few milliseconds (a shell loop of forks is too coarse on a
loaded machine), it notes the phase and strikes: with --shutdown, the ext4
shutdown ioctl without a log flush (`xfs_io -x -c shutdown`, no -f: nothing
more reaches the disk); then SIGKILL to each --kill pid, in order, if its
command line still contains --ours (a pid we did not start is never killed).

Prints one line: "PHASE MODE EXITED TOOK_MS": the phase from slotupd's last
step line for ID (and slotd's lines after line N of its log while ACTIVATING):
start, download, extract, sync, flip, trial, commit, revert, history, or done
(slotupd had exited); EXITED is 1 when it had; TOOK_MS is how long the install
took when it was seen ending, else -1.
"""
import argparse
import os
import random
import re
import signal
import subprocess
import sys
import time

MARKERS = ["DOWNLOADING", "VERIFYING", "INSTALLING", "ACTIVATING", "slotd:activating slot",
           "slotd:trial of slot", "slotd:agent is ready", "SUCCESS|FAILED"]
SLOTD_STEPS = [("is good", "commit"), ("failed its trial", "revert"),
               ("trial of slot", "trial"), ("activating slot", "flip")]
PHASE_OF_STEP = {"DOWNLOADING": "download", "VERIFYING": "extract", "INSTALLING": "sync"}


def now_ms():
    return time.time() * 1000


def exited(pid):
    try:
        with open("/proc/%d/stat" % pid) as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def read_tail(path, skip_lines=0):
    try:
        with open(path, errors="replace") as fh:
            return fh.read().splitlines()[skip_lines:]
    except OSError:
        return []


def last_step(args):
    step_re = re.compile(r"^slotupd: (?:error: )?%s: ([A-Z]+)" % re.escape(args.upd_id))
    steps = [m.group(1) for m in map(step_re.match, read_tail(args.upd_log)) if m]
    return steps[-1] if steps else None


def slotd_lines(args):
    return read_tail(args.slotd_log, args.slotd_line)


def marker_seen(args, marker):
    if marker.startswith("slotd:"):
        return any(marker[6:] in line for line in slotd_lines(args))
    step_re = re.compile(r"^slotupd: (?:error: )?%s: (?:%s)" % (re.escape(args.upd_id), marker))
    return any(step_re.match(line) for line in read_tail(args.upd_log))


def phase(args, was_done):
    if was_done:
        return "done"
    step = last_step(args)
    if step is None:
        return "start"
    if step in PHASE_OF_STEP:
        return PHASE_OF_STEP[step]
    if step != "ACTIVATING":
        return "history"
    for line in reversed(slotd_lines(args)):
        for words, name in SLOTD_STEPS:
            if words in line:
                return name
    return "flip"


def wait_for_moment(args):
    """Returns the mode and how long the install took if it was seen ending."""
    mode = random.choice(["uniform", "marker"])
    if mode == "uniform":
        until = args.start_ms + random.uniform(0, args.span_ms)
        done = lambda: now_ms() >= until
    else:
        marker = random.choice(MARKERS)
        deadline = now_ms() + 120000
        done = lambda: marker_seen(args, marker) or now_ms() > deadline
    while not done():
        if exited(args.upd_pid):
            return mode, int(now_ms() - args.start_ms)
        time.sleep(0.002)
    if mode == "marker":
        pause_until = now_ms() + random.uniform(0, 150)
        while now_ms() < pause_until:
            if exited(args.upd_pid):
                return mode, int(now_ms() - args.start_ms)
            time.sleep(0.002)
    return mode, -1


def ours(pid, text):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as fh:
            return text.encode() in fh.read()
    except OSError:
        return False


def strike(args):
    if args.shutdown:
        subprocess.run(["xfs_io", "-x", "-c", "shutdown", args.shutdown], check=True)
    for pid in args.kill:
        if ours(pid, args.ours):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--upd-pid", type=int, required=True)
    p.add_argument("--upd-id", required=True)
    p.add_argument("--upd-log", required=True)
    p.add_argument("--slotd-log", required=True)
    p.add_argument("--slotd-line", type=int, required=True)
    p.add_argument("--start-ms", type=int, required=True)
    p.add_argument("--span-ms", type=int, required=True)
    p.add_argument("--ours", required=True)
    p.add_argument("--shutdown")
    p.add_argument("--kill", type=int, action="append", default=[])
    args = p.parse_args()
    mode, took = wait_for_moment(args)
    was_done = exited(args.upd_pid)
    where = phase(args, was_done)
    strike(args)
    print(where, mode, int(was_done), took)
    return 0


if __name__ == "__main__":
    sys.exit(main())
