#!/usr/bin/python3
"""fleet_watch.py AMQP_URL QUEUES_FILE OUTCOMES_FILE COUNT TIMEOUT

Watches a fleet upgrade until COUNT distinct instances have cast a SUCCESS
guest_upgrade_outcome (read from OUTCOMES_FILE, which amqp_listen.py fills),
sampling meanwhile the messages ready in every queue named in QUEUES_FILE
(passive declares on one connection).  Prints "DONE seconds peak_depth" or
"TIMEOUT done_count peak_depth" or, as soon as a guest's upgrade FAILED,
"FAILED instance reason", and exits 0 or 1."""
import json
import sys
import time

import kombu

url, queues_file, outcomes, count, timeout = sys.argv[1:6]
count, timeout = int(count), float(timeout)
queues = [q.strip() for q in open(queues_file) if q.strip()]


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
                print("FAILED %s %s" % (a.get("instance_id"), a.get("reason")))
                sys.exit(1)
    return done


start = time.monotonic()
peak = 0
with kombu.Connection(url) as conn:
    channel = conn.channel()
    while True:
        depth = sum(channel.queue_declare(q, passive=True).message_count for q in queues)
        peak = max(peak, depth)
        done = len(done_instances())
        elapsed = time.monotonic() - start
        if done >= count:
            print("DONE %.2f %d" % (elapsed, peak))
            sys.exit(0)
        if elapsed > timeout:
            print("TIMEOUT %d %d" % (done, peak))
            sys.exit(1)
        time.sleep(0.2)
