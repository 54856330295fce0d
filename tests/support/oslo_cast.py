#!/usr/bin/python3
"""oslo_cast.py URL INSTANCE METHOD JSON-ARGS [admin|user]

Casts METHOD(**ARGS) to guestagent.INSTANCE on the `trove` exchange with the
real oslo.messaging client, as the Trove control plane does."""
import json
import sys

import oslo_messaging
from oslo_config import cfg


def main():
    url, instance, method, args = sys.argv[1:5]
    admin = len(sys.argv) < 6 or sys.argv[5] == "admin"
    conf = cfg.CONF  # oslo registers some of its options on the global one only
    conf([], project="slotd-test")
    oslo_messaging.set_transport_defaults("trove")
    transport = oslo_messaging.get_rpc_transport(conf, url=url)
    target = oslo_messaging.Target(topic="guestagent." + instance, version="1.0")
    client = oslo_messaging.get_rpc_client(transport, target) \
        if hasattr(oslo_messaging, "get_rpc_client") else oslo_messaging.RPCClient(transport, target)
    ctxt = {"is_admin": admin, "request_id": "req-slotd-test", "project_id": "admin-tenant"}
    client.cast(ctxt, method, **json.loads(args))
    transport.cleanup()


if __name__ == "__main__":
    main()
