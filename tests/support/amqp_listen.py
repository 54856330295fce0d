#!/usr/bin/python3
"""amqp_listen.py URL QUEUE OUTFILE

Declares QUEUE bound to the `trove` exchange with routing key trove-conductor
and appends every message body it gets (the inner oslo.message) to OUTFILE,
one JSON object a line, flushing each.  Runs until SIGTERM."""
import json
import sys

import kombu

url, queue_name, out = sys.argv[1:4]
exchange = kombu.Exchange("trove", type="topic", durable=False)
queue = kombu.Queue(queue_name, exchange, routing_key="trove-conductor", durable=False)
with kombu.Connection(url) as conn, open(out, "a") as f:
    def got(body, message):
        envelope = json.loads(body) if isinstance(body, (str, bytes)) else body
        inner = envelope.get("oslo.message", envelope)
        f.write((inner if isinstance(inner, str) else json.dumps(inner)) + "\n")
        f.flush()
        message.ack()
    with conn.Consumer(queue, callbacks=[got], accept=["json"]):
        print("LISTENING", flush=True)
        while True:
            try:
                conn.drain_events(timeout=1)
            except Exception:  # timeout: keep going until killed
                pass
