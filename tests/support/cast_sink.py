#!/usr/bin/python3
"""cast_sink.py URL OUTFILE INSTANCE...

Stands in for guests that only record the casts they get (the outbox
tests).  Each INSTANCE has a durable queue sink.<id> bound to
guestagent.<id> on the `trove` exchange (topic, transient: as slotfleet and
oslo.messaging declare it by default), as slotupd serve declares its own.
When the connection is lost (the broker stopped or restarted) it connects
again every 0.2 s and declares everything again, as a guest does: a
transient exchange and its bindings do not survive a broker restart, the
durable queues and the persistent messages in them do.

Every delivery is appended to OUTFILE, flushed, then acknowledged:
  <unix time> CAST <instance> <method> <upgrade_id> redelivered=<0|1>
and "CONNECTED" is printed on stdout each time the queues are consumed
again.  Runs until SIGTERM."""
import json
import signal
import socket
import sys
import time

import kombu

url, out_path = sys.argv[1:3]
instances = sys.argv[3:]
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
exchange = kombu.Exchange("trove", type="topic", durable=False)
out = open(out_path, "a")


def on_message(ident):
    def got(body, message):
        envelope = json.loads(body) if isinstance(body, (str, bytes)) else body
        inner = json.loads(envelope["oslo.message"])
        args = inner.get("args", {})
        upgrade_id = args.get("upgrade_id", "?")
        redelivered = 1 if message.delivery_info.get("redelivered") else 0
        out.write("%.6f CAST %s %s %s redelivered=%d\n" % (
            time.time(), ident, inner.get("method", "?"), upgrade_id, redelivered))
        out.flush()
        message.ack()
    return got


def serve():
    with kombu.Connection(url, connect_timeout=2) as conn:
        conn.connect()
        consumers = []
        for ident in instances:
            queue = kombu.Queue("sink." + ident, exchange, routing_key="guestagent." + ident,
                                durable=True)
            consumer = conn.Consumer(queue, callbacks=[on_message(ident)], accept=["json"])
            consumer.consume()
            consumers.append(consumer)
        print("CONNECTED", flush=True)
        while True:
            try:
                conn.drain_events(timeout=1)
            except socket.timeout:
                pass


while True:
    try:
        serve()
    except (OSError, Exception):     # the broker went away: connect again
        time.sleep(0.2)
