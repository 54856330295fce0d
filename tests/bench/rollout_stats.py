#!/usr/bin/python3
"""rollout_stats.py clean|halt RUN_PREFIX LABEL RATE POST_S

Figures of one rollout of tests/bench/rollout.sh, as markdown table rows
on stdout and a one-line summary on stderr.  RUN_PREFIX names its files:
  .casts   fleet_load rollout's log: "T CAST ID UPGRADE_ID", "T SENT ID UPGRADE_ID FAILED"
  .probe   rollout_probe.py's log: "T STATE STATE WAVE", "T SAMPLE RSS_KB DB_KB"
  .depth   fleet_load watch's samples: "T_MS DEPTH" (guest queues + slotfleet's)
  .json    the rollout as GET rollouts/ID answered at the end
  .plan    "INSTANCE|WAVE|PLANNED_US|CAST_US" per planned target, from the database
LABEL starts each row (e.g. the store), RATE is the configured casts/s,
POST_S the time the rollout was POSTed (the first wave's start).

clean: a row per wave: instances, wall time (from the wave's start as the
API showed it, the POST for the first, to the next wave's start or
FINISHED), casting span (first to last cast received), casts/s (mean over
the span, and the most in any 1 s window: held to RATE when at most
RATE + 1), slotfleet's peak RSS during the wave, database size at its end,
the broker's peak queue depth during the wave.
halt: one row: first FAILED sent, HALTED in the database (the rollout's
updated time) and in the API, each after the FAILED; casts received after
the FAILED was sent, after HALTED; casts planned and confirmed after
HALTED (in the database)."""
import json
import sys


def read(path):
    with open(path) as f:
        return [line.split() for line in f if line.strip()]


def max_window(times, span=1.0):
    """The most timestamps in any half-open window [t, t + span)."""
    best, i = 0, 0
    for j, t in enumerate(times):
        while times[i] <= t - span:
            i += 1
        best = max(best, j - i + 1)
    return best


def waves_bounds(rollout, post_s, probe):
    """[(wave, percent, size, start, end)] from the rollout and the probe's states."""
    starts, end = {1: post_s}, None
    for f in probe:
        if f[1] != "STATE":
            continue
        t, state, wave = float(f[0]), f[2], int(f[3])
        if state == "RUNNING" and wave not in starts:
            starts[wave] = t
        if state in ("FINISHED", "HALTED", "CANCELLED") and end is None:
            end = t
    out = []
    for w in rollout["waves"]:
        k = w["wave"]
        start = starts.get(k)
        stop = starts.get(k + 1, end)
        out.append((k, w["percent"], w["size"], start, stop))
    return out


def in_span(rows, lo, hi, col, scale=1.0):
    vals = [float(r[col]) for r in rows if lo <= float(r[0]) * scale <= hi]
    return max(vals) if vals else 0


def clean(prefix, label, rate, post_s):
    casts = read(prefix + ".casts")
    probe = read(prefix + ".probe")
    depth = read(prefix + ".depth")
    rollout = json.load(open(prefix + ".json"))["rollout"]
    plan = [line.split("|") for line in open(prefix + ".plan").read().split()]
    wave_of = {p[0]: int(p[1]) + 1 for p in plan}      # stored from 0
    planned_at = {p[0]: int(p[2]) / 1e6 for p in plan}
    samples = [(float(f[0]), int(f[2]), int(f[3])) for f in probe if f[1] == "SAMPLE"]
    held = True
    for k, pct, size, start, stop in waves_bounds(rollout, post_s, probe):
        times = sorted(float(c[0]) for c in casts if c[1] == "CAST" and wave_of.get(c[2]) == k)
        if not times or start is None or stop is None:
            print("| %s | %d | %d %% | %d | not reached | | | | | | | |" % (label, k, pct, size))
            continue
        span = times[-1] - times[0]
        mean = "%.0f" % ((len(times) - 1) / span) if span > 0 else "-"
        peak = max_window(times)
        planned = max_window(sorted(t for i, t in planned_at.items() if wave_of[i] == k))
        held = held and planned <= rate + 1
        rss = max([s[1] for s in samples if start <= s[0] <= stop] or [0])
        # SQLite's size is sampled as it runs; PostgreSQL's only at the end.
        db = [s[2] for s in samples if s[0] <= stop and s[2] > 0]
        if not db and k == len(rollout["waves"]):
            db = [s[2] for s in samples if s[2] > 0]
        dep = [int(d[1]) for d in depth if start * 1000 <= float(d[0]) <= stop * 1000]
        print("| %s | %d | %d %% | %d | %.1f s | %.1f s | %s | %d | %d | %d MiB | %s | %d |" % (
            label, k, pct, size, stop - start, span, mean, peak, planned, rss // 1024,
            "%.1f MiB" % (db[-1] / 1024) if db else "-", max(dep or [0])))
    total = sum(1 for c in casts if c[1] == "CAST")
    print("%s clean: %d casts received, state %s, rate %s" % (
        label, total, rollout["state"], "held" if held else "NOT held"), file=sys.stderr)
    return 0 if rollout["state"] == "FINISHED" else 1


def halt(prefix, label, rate, post_s):
    casts = read(prefix + ".casts")
    probe = read(prefix + ".probe")
    rollout = json.load(open(prefix + ".json"))["rollout"]
    plan = [line.split("|") for line in open(prefix + ".plan").read().split()]
    failed = sorted(float(c[0]) for c in casts if c[1] == "SENT" and c[4] == "FAILED")
    api = [float(f[0]) for f in probe if f[1] == "STATE" and f[2] == "HALTED"]
    if rollout["state"] != "HALTED" or not failed or not api:
        print("%s halt: state %s, %d FAILED sent" % (label, rollout["state"], len(failed)),
              file=sys.stderr)
        return 1
    t_fail, t_api = failed[0], api[0]
    db = rollout_updated_s(prefix)
    received = [float(c[0]) for c in casts if c[1] == "CAST"]
    after_fail = sum(1 for t in received if t > t_fail)
    after_halt = sum(1 for t in received if t > db)
    planned_after = sum(1 for p in plan if int(p[2]) / 1e6 > db)
    confirmed_after = sum(1 for p in plan if int(p[3]) / 1e6 > db)
    print("| %s | %d | %d | %.0f ms | %.0f ms | %d | %d | %d | %d |" % (
        label, len(received), len(failed), (db - t_fail) * 1000, (t_api - t_fail) * 1000,
        after_fail, after_halt, planned_after, confirmed_after))
    print("%s halt: HALTED %.0f ms after the FAILED (API %.0f ms); casts after the FAILED %d,"
          " after HALTED %d (planned %d)" % (label, (db - t_fail) * 1000,
                                              (t_api - t_fail) * 1000, after_fail, after_halt,
                                              planned_after), file=sys.stderr)
    return 0


def rollout_updated_s(prefix):
    """When the rollout's row last changed (its HALTED), from the database dump."""
    with open(prefix + ".updated") as f:
        return int(f.read().strip()) / 1e6


def main():
    mode, prefix, label, rate, post_s = sys.argv[1:6]
    fn = clean if mode == "clean" else halt
    return fn(prefix, label, float(rate), float(post_s))


if __name__ == "__main__":  # policy_stats.py imports max_window
    sys.exit(main())
