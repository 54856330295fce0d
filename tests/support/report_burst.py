#!/usr/bin/python3
"""report_burst.py URL PREFIX N

Publishes, on the conductor topic (trove-conductor on the `trove` exchange,
persistent), what N guests would send for one upgrade each: the outcomes
DOWNLOADING .. SUCCESS of upgrade PREFIX-<i> from instance PREFIX-inst-<i>,
in the wire format guest_sim.py uses (updater/amqp/serve.c's), oldest
first.  The same arguments publish the same reports again (a redelivery)."""
import json
import sys
import uuid

import kombu

url, prefix, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
STATES = ["DOWNLOADING", "VERIFYING", "INSTALLING", "ACTIVATING", "SUCCESS"]
exchange = kombu.Exchange("trove", type="topic", durable=False)
with kombu.Connection(url) as conn:
    producer = conn.Producer(exchange=exchange)
    for step, state in enumerate(STATES):
        for i in range(n):
            args = {"instance_id": "%s-inst-%d" % (prefix, i),
                    "upgrade_id": "%s-%d" % (prefix, i), "from_version": "v1.0.0",
                    "to_version": "v2.0.0", "state": state, "reason": "",
                    "sent": 1700000000 + step}
            inner = {"method": "guest_upgrade_outcome", "args": args, "version": "1.0",
                     "_unique_id": uuid.uuid4().hex, "_context_is_admin": False}
            body = json.dumps({"oslo.version": "2.0", "oslo.message": json.dumps(inner)})
            producer.publish(body, routing_key="trove-conductor",
                             content_type="application/json", content_encoding="utf-8",
                             delivery_mode=2, declare=[exchange])
