#!/usr/bin/python3
"""guest_sim.py URL PLAN OUTFILE

Many simulated guests over one AMQP connection, for the rollout tests.
PLAN holds one guest a line, "INSTANCE_ID VERSION BEHAVIOUR [RPC_API]", where
BEHAVIOUR says how it answers an upgrade cast:
  ok            DOWNLOADING .. ACTIVATING, SUCCESS; then runs the new version
  fail          DOWNLOADING, then FAILED "sim: download failed"
  failhtml      as fail, with a reason holding HTML and script (HOSTILE_REASON
                below): what a hostile guest may say, for the web UI's test
  revert:S      SUCCESS, then S seconds later FAILED "probation: ..." (the
                guest's revert after its SUCCESS) and the old version again
  silent        never answers
  noauto        as ok, but refuses a cast with args.automatic true as a guest
                with [updater] automatic = no does: FAILED "automatic upgrades
                disabled on this guest ([updater] automatic = no)"
RPC_API is the guest RPC API it speaks and its heartbeats say (default 1.1;
"none": heartbeats without rpc_api_version, a guest from before API
versions, which speaks 1.0); a cast whose envelope version is newer is
FAILED "RPC API X not supported (this guest: Y)", as slotupd answers.
A rollback cast is answered SUCCESS (back on the previous version).

Each guest consumes its own queue (sim.<id>) bound to guestagent.<id> on the
`trove` exchange, as slotupd serve does, and answers on the conductor topic
(trove-conductor) with guest_upgrade_outcome casts in the wire format of
updater/amqp/serve.c; every guest sends a heartbeat (agent_version,
agent_slot) every second.  A cast with an upgrade id the guest has seen is
the same attempt (as on a real guest): logged, not run again.

OUTFILE gets one line per event, flushed:
  <unix time> CAST <instance> <method> <upgrade_id> v=<version> automatic=<0|1>
                                                       every cast received
  <unix time> SENT <instance> <upgrade_id> <STATE>     every outcome sent
"READY" is printed once every queue is consumed.  Runs until SIGTERM."""
import heapq
import itertools
import json
import os
import signal
import sys
import time
import uuid

import kombu

url, plan_path, out_path = sys.argv[1:4]
HEARTBEAT = float(os.environ.get("HEARTBEAT", "5"))
guests = {}
for line in open(plan_path):
    if line.strip() and not line.startswith("#"):
        words = line.split()
        ident, version, behaviour = words[:3]
        guests[ident] = {"version": version, "previous": version, "slot": "a",
                         "behaviour": behaviour, "seen": {},
                         "rpc": words[3] if len(words) > 3 else "1.1"}

out = open(out_path, "a")
timers = []          # (when, seq, function)
seq = itertools.count()
stop = False


def log(*words):
    out.write("%.6f %s\n" % (time.time(), " ".join(words)))
    out.flush()


def later(delay, fn):
    heapq.heappush(timers, (time.time() + delay, next(seq), fn))


def on_term(signo, frame):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)
exchange = kombu.Exchange("trove", type="topic", durable=False)
conn = kombu.Connection(url)
producer = conn.Producer(exchange=exchange)


def cast(method, args):
    args["sent"] = time.time()
    inner = {"method": method, "args": args, "version": "1.0",
             "_unique_id": uuid.uuid4().hex, "_context_is_admin": False}
    body = json.dumps({"oslo.version": "2.0", "oslo.message": json.dumps(inner)})
    producer.publish(body, routing_key="trove-conductor", content_type="application/json",
                     content_encoding="utf-8", delivery_mode=2, declare=[exchange])


def outcome(ident, upgrade_id, state, reason="", to=""):
    g = guests[ident]
    g["seen"][upgrade_id] = state
    cast("guest_upgrade_outcome", {"instance_id": ident, "upgrade_id": upgrade_id,
                                   "from_version": g["previous"], "to_version": to,
                                   "state": state, "reason": reason})
    log("SENT", ident, upgrade_id, state)


HOSTILE_REASON = ('sim: <script>document.title="pwned"</script>'
                  '<img src=x onerror="document.title=\'pwned\'"> failed')


def run_upgrade(ident, upgrade_id, to):
    g = guests[ident]
    kind = g["behaviour"].split(":")[0]
    if kind == "silent":
        return
    if kind == "failhtml":
        later(0.3, lambda: outcome(ident, upgrade_id, "FAILED", HOSTILE_REASON, to))
        return
    steps = ["DOWNLOADING"] if kind == "fail" else \
        ["DOWNLOADING", "VERIFYING", "INSTALLING", "ACTIVATING"]
    for i, state in enumerate(steps):
        later(0.05 * (i + 1), lambda s=state: outcome(ident, upgrade_id, s, "", to))
    if kind == "fail":
        later(0.3, lambda: outcome(ident, upgrade_id, "FAILED", "sim: download failed", to))
        return

    def success():
        g["previous"], g["version"], g["slot"] = g["version"], to, "b" if g["slot"] == "a" else "a"
        outcome(ident, upgrade_id, "SUCCESS", "", to)
    later(0.3, success)
    if kind == "revert":
        def revert():
            g["version"], g["slot"] = g["previous"], "b" if g["slot"] == "a" else "a"
            outcome(ident, upgrade_id, "FAILED",
                    "probation: agent unhealthy; reverted to %s" % g["version"], to)
        later(0.3 + float(g["behaviour"].split(":")[1]), revert)


def run_rollback(ident, upgrade_id):
    g = guests[ident]
    g["version"], g["previous"] = g["previous"], g["version"]
    g["slot"] = "b" if g["slot"] == "a" else "a"
    later(0.1, lambda: outcome(ident, upgrade_id, "SUCCESS", "", g["version"]))


def on_message(ident):
    def got(body, message):
        envelope = json.loads(body) if isinstance(body, (str, bytes)) else body
        inner = json.loads(envelope["oslo.message"])
        args = inner.get("args", {})
        upgrade_id = args.get("upgrade_id") or inner.get("_unique_id", "?")
        version = inner.get("version", "1.0")
        automatic = args.get("automatic") is True
        log("CAST", ident, inner.get("method", "?"), upgrade_id, "v=" + version,
            "automatic=%d" % automatic)
        message.ack()
        g = guests[ident]
        if upgrade_id in g["seen"]:
            return      # the same attempt again: nothing new
        g["seen"][upgrade_id] = "NEW"
        speaks = "1.0" if g["rpc"] == "none" else g["rpc"]
        if [int(x) for x in version.split(".")] > [int(x) for x in speaks.split(".")]:
            later(0.05, lambda: outcome(ident, upgrade_id, "FAILED", "RPC API %s not supported"
                                        " (this guest: %s)" % (version, speaks)))
        elif automatic and g["behaviour"] == "noauto":
            later(0.05, lambda: outcome(ident, upgrade_id, "FAILED", "automatic upgrades "
                                        "disabled on this guest ([updater] automatic = no)"))
        elif inner.get("method") == "rollback":
            run_rollback(ident, upgrade_id)
        elif inner.get("method") == "upgrade":
            run_upgrade(ident, upgrade_id, args.get("instance_version", ""))
    return got


def heartbeats():
    for ident, g in guests.items():
        payload = {"agent_version": g["version"], "agent_slot": g["slot"]}
        if g["rpc"] != "none":
            payload["rpc_api_version"] = g["rpc"]
        cast("heartbeat", {"instance_id": ident, "payload": payload})
    later(HEARTBEAT, heartbeats)


consumers = []
for ident in guests:
    queue = kombu.Queue("sim." + ident, exchange, routing_key="guestagent." + ident,
                        durable=False)
    consumer = conn.Consumer(queue, callbacks=[on_message(ident)], accept=["json"])
    consumer.consume()
    consumers.append(consumer)
later(0, heartbeats)
print("READY", flush=True)
while not stop:
    now = time.time()
    while timers and timers[0][0] <= now:
        heapq.heappop(timers)[2]()
    wait = min(0.05, max(0.0, timers[0][0] - now)) if timers else 0.05
    try:
        conn.drain_events(timeout=wait if wait > 0 else 0.001)
    except Exception:   # socket.timeout: nothing arrived
        pass
conn.release()
