#!/usr/bin/python3
"""fleet_watch.py NODE OUTCOMES_FILE COUNT TIMEOUT

Watches a fleet upgrade until COUNT distinct instances have cast a SUCCESS
guest_upgrade_outcome (read from OUTCOMES_FILE, which amqp_listen.py fills).
Meanwhile a thread samples, with `rabbitmqctl -n NODE list_queues` (about one
sample a second), the messages in the guests' queues (slotupd.*): ready plus
unacknowledged, i.e. upgrades queued or in progress.  Prints
"DONE seconds peak_depth samples", "TIMEOUT done_count peak_depth samples" or,
as soon as a guest's upgrade FAILED, "FAILED instance reason"; exits 0 or 1."""
import json
import subprocess
import sys
import threading
import time

node, outcomes, count, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
depth = {"peak": 0, "samples": 0}
stop = threading.Event()


def sample():
    while not stop.is_set():
        run = subprocess.run(["rabbitmqctl", "-n", node, "-q", "list_queues", "name", "messages"],
                             capture_output=True, text=True)
        total = 0
        for line in run.stdout.splitlines():
            fields = line.split()
            if len(fields) == 2 and fields[0].startswith("slotupd.") and fields[1].isdigit():
                total += int(fields[1])
        if run.returncode == 0:
            depth["peak"] = max(depth["peak"], total)
            depth["samples"] += 1


def done_instances():
    """The instances that reported SUCCESS; exits at the first FAILED."""
    done = set()
    with open(outcomes) as f:
        for line in f:
            try:
                m = json.loads(line)
            except ValueError:
                continue
            a = m.get("args", {})
            if m.get("method") != "guest_upgrade_outcome":
                continue
            if a.get("state") == "SUCCESS":
                done.add(a.get("instance_id"))
            elif a.get("state") == "FAILED":
                print("FAILED %s %s" % (a.get("instance_id"), a.get("reason")), flush=True)
                sys.exit(1)
    return done


start = time.monotonic()
threading.Thread(target=sample, daemon=True).start()
while True:
    done = len(done_instances())
    elapsed = time.monotonic() - start
    if done >= count:
        stop.set()
        print("DONE %.2f %d %d" % (elapsed, depth["peak"], depth["samples"]))
        sys.exit(0)
    if elapsed > timeout:
        print("TIMEOUT %d %d %d" % (done, depth["peak"], depth["samples"]))
        sys.exit(1)
    time.sleep(0.2)
