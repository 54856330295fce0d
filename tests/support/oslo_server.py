#!/usr/bin/python3
"""oslo_server.py URL OUTFILE INSTANCE...

A stand-in for guests that run the real oslo.messaging RPC server: one server
per INSTANCE on topic guestagent.INSTANCE of the `trove` exchange.  Each
upgrade or rollback call it dispatches is appended to OUTFILE as one JSON line
{"instance", "method", "is_admin", "args"}.  Prints LISTENING once every
server consumes; runs until SIGTERM."""
import json
import signal
import sys
import threading

import oslo_messaging
from oslo_config import cfg

LOCK = threading.Lock()


class Guest:
    def __init__(self, instance, out):
        self.instance, self.out = instance, out

    def record(self, method, ctxt, args):
        line = json.dumps({"instance": self.instance, "method": method,
                           "is_admin": ctxt.get("is_admin"), "args": args})
        with LOCK:
            self.out.write(line + "\n")
            self.out.flush()

    def upgrade(self, ctxt, **args):
        self.record("upgrade", ctxt, args)

    def rollback(self, ctxt, **args):
        self.record("rollback", ctxt, args)


def main():
    url, out_path, instances = sys.argv[1], sys.argv[2], sys.argv[3:]
    conf = cfg.CONF
    conf([], project="slotd-test")
    oslo_messaging.set_transport_defaults("trove")
    transport = oslo_messaging.get_rpc_transport(conf, url=url)
    out = open(out_path, "a")
    servers = []
    for instance in instances:
        target = oslo_messaging.Target(topic="guestagent." + instance, server=instance)
        server = oslo_messaging.get_rpc_server(transport, target, [Guest(instance, out)],
                                               executor="threading")
        server.start()
        servers.append(server)
    print("LISTENING", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    for server in servers:
        server.stop()


if __name__ == "__main__":
    main()
