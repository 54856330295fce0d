#!/usr/bin/python3
"""rollout_check.py SIMLOG COMMAND ARGS...: questions about guest_sim.py's log.

  casts INSTANCE...          prints the number of upgrade casts each received
                             (deliveries, a re-send of the same id included)
  attempts INSTANCE...       prints the number of distinct upgrade ids each got
  once INSTANCE...           exit 0 when each got exactly one upgrade id
  none INSTANCE...           exit 0 when none got any cast at all
  order PROBATION WAVE[;WAVE...]  each WAVE a comma-separated list of instances:
                             exit 0 when every cast of a wave came after every
                             SUCCESS of the previous wave plus PROBATION seconds
                             (and so after all of its casts)
  pace MIN MAX INSTANCE...   exit 0 when their upgrade casts came at MIN casts/s
                             or more (mean from the first to the last) and at
                             most MAX in any 1 s window; prints both
  after_failed INSTANCE...   prints how many upgrade casts they received after
                             the first FAILED any guest sent"""
import sys

log, command, args = sys.argv[1], sys.argv[2], sys.argv[3:]
casts, success, failed = {}, {}, []
for line in open(log):
    words = line.split()
    if len(words) >= 5 and words[1] == "CAST" and words[3] == "upgrade":
        casts.setdefault(words[2], []).append((float(words[0]), words[4]))
    elif len(words) >= 4 and words[1] == "CAST":
        casts.setdefault(words[2] + "/" + words[3], []).append((float(words[0]), words[4]))
    elif len(words) >= 5 and words[1] == "SENT" and words[4] == "SUCCESS":
        success.setdefault(words[2], []).append(float(words[0]))
    elif len(words) >= 5 and words[1] == "SENT" and words[4] == "FAILED":
        failed.append(float(words[0]))


def all_casts(i):
    return [c for key, v in casts.items() if key.split("/")[0] == i for c in v]


if command == "casts":
    print(" ".join(str(len(casts.get(i, []))) for i in args))
elif command == "attempts":
    print(" ".join(str(len({u for _, u in casts.get(i, [])})) for i in args))
elif command == "once":
    sys.exit(0 if all(len({u for _, u in casts.get(i, [])}) == 1 for i in args) else 1)
elif command == "none":
    sys.exit(0 if not any(all_casts(i) for i in args) else 1)
elif command == "order":
    probation = float(args[0])
    waves = [w.split(",") for w in args[1].split(";")]
    for before, after in zip(waves, waves[1:]):
        done = max(max(success.get(i, [float("inf")])) for i in before)
        first = min(min(t for t, _ in casts.get(i, [(float("-inf"), "")])) for i in after)
        if first < done + probation - 0.01:
            print("wave starting with %s cast %.3f s after the previous wave's last SUCCESS"
                  % (after[0], first - done))
            sys.exit(1)
elif command == "pace":
    low, high = float(args[0]), int(args[1])
    times = sorted(t for i in args[2:] for t, _ in casts.get(i, []))
    first, most = 0, 0
    for last, t in enumerate(times):
        while times[first] <= t - 1.0:
            first += 1
        most = max(most, last - first + 1)
    mean = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
    print("%d casts, %.1f/s mean, at most %d in 1 s" % (len(times), mean, most))
    sys.exit(0 if mean >= low and most <= high else 1)
elif command == "after_failed":
    first = min(failed) if failed else float("inf")
    print(sum(1 for i in args for t, _ in casts.get(i, []) if t > first))
else:
    sys.exit("unknown command " + command)
