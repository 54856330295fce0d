#!/usr/bin/python3
"""amqp_listen.py URL QUEUE OUTFILE [ROUTING_KEY [raw]]

Declares QUEUE bound to the `trove` exchange with ROUTING_KEY (default
trove-conductor) and appends every message body it gets (the inner
oslo.message, or with `raw` the whole body as it came) to OUTFILE, one JSON
object a line, flushing each.  Runs until SIGTERM."""
import json
import sys

import kombu

url, queue_name, out = sys.argv[1:4]
routing_key = sys.argv[4] if len(sys.argv) > 4 else "trove-conductor"
raw = len(sys.argv) > 5 and sys.argv[5] == "raw"
exchange = kombu.Exchange("trove", type="topic", durable=False)
queue = kombu.Queue(queue_name, exchange, routing_key=routing_key, durable=False)
with kombu.Connection(url) as conn, open(out, "a") as f:
    def got(body, message):
        if raw:
            f.write(message.body.decode() if isinstance(message.body, bytes) else message.body)
            f.write("\n")
            f.flush()
            message.ack()
            return
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
