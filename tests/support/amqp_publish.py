#!/usr/bin/python3
"""amqp_publish.py URL ROUTING_KEY BODY-FILE

Publishes the bytes of BODY-FILE, as they are, to the `trove` exchange: for
messages no well-behaved client would send."""
import sys

import kombu

url, key, path = sys.argv[1:4]
with open(path, "rb") as f:
    body = f.read()
with kombu.Connection(url) as conn:
    exchange = kombu.Exchange("trove", type="topic", durable=False)
    producer = conn.Producer(exchange=exchange)
    producer.publish(body, routing_key=key, content_type="application/json",
                     content_encoding="utf-8", delivery_mode=2, declare=[exchange])
