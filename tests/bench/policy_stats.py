#!/usr/bin/python3
"""policy_stats.py RUN_PREFIX LABEL GUESTS RATE POST_S

Figures of one policy run of tests/bench/policy.sh, as a markdown table
row on stdout and a one-line summary on stderr.  RUN_PREFIX names its files:
  .casts      fleet_load rollout's log: "T CAST ID UPGRADE_ID"
  .plan       "INSTANCE|PLANNED_US|CAST_US" per upgrade of the policy (database)
  .converged  "T COUNT" lines: instances at the target version, polled
  .hwm        slotfleet's VmHWM in kB when the run converged
POST_S is when the policy was POSTed.  The row: guests, time to converge
(POST to every guest's heartbeat of the target stored), upgrades cast,
casts the guests received (re-sent casts included), mean casts/s, the most
casts in any 1 s window as the guests received them and as slotfleet
planned them (held: planned at most RATE + 1, as rollout.sh judges it),
slotfleet's peak RSS.  Exit 1 when it did not converge."""
import sys

from rollout_stats import max_window, read


def main():
    prefix, label, guests, rate, post_s = sys.argv[1:6]
    guests, rate, post_s = int(guests), float(rate), float(post_s)
    casts = sorted(float(c[0]) for c in read(prefix + ".casts") if c[1] == "CAST")
    plan = [line.split("|") for line in open(prefix + ".plan").read().split()]
    planned = sorted(int(p[1]) / 1e6 for p in plan)
    done = [float(f[0]) for f in read(prefix + ".converged") if int(f[1]) >= guests]
    hwm = int(open(prefix + ".hwm").read().split()[0] or 0)
    peak_guests, peak_planned = max_window(casts) if casts else 0, max_window(planned) if planned else 0
    held = peak_planned <= rate + 1
    span = casts[-1] - casts[0] if len(casts) > 1 else 0
    mean = "%.0f" % ((len(casts) - 1) / span) if span > 0 else "-"
    conv = "%.1f s" % (done[0] - post_s) if done else "not converged"
    print("| %s | %d | %s | %d | %d | %s | %d | %d (%s) | %d MiB |" % (
        label, guests, conv, len(plan), len(casts), mean, peak_guests, peak_planned,
        "held" if held else "NOT held", hwm // 1024))
    print("%s policy: %s, %d upgrades, %d casts received, max %d/s planned (%s), "
          "%d/s received, VmHWM %d MiB" % (label, conv, len(plan), len(casts), peak_planned,
                                           "held" if held else "NOT held", peak_guests,
                                           hwm // 1024), file=sys.stderr)
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(main())
