#!/usr/bin/python3
"""rollout_probe.py API TOKEN ROLLOUT_ID FLEET_PID DB OUT [INTERVAL_MS]

Watches one rollout for tests/bench/rollout.sh, the way an operator's
client would see it: GET API/rollouts?limit=5 (the list: state and
current_wave, no per-wave counts, so the probe costs slotfleet little)
over one keep-alive connection every INTERVAL_MS (default 20).  Appends to
OUT, with CLOCK_REALTIME seconds:
  T STATE STATE WAVE      whenever the rollout's state or current_wave changes
  T SAMPLE RSS_KB DB_KB   every 200 ms: slotfleet's VmRSS, and the size of
                          DB (a SQLite file with its -wal; "-" for none)
Exits 0 once the rollout is FINISHED, HALTED or CANCELLED (after one last
sample), 1 after an hour or when the API fails 50 times in a row."""
import http.client
import json
import os
import sys
import time
import urllib.parse

api, token, rid, pid, db, out_path = sys.argv[1:7]
interval = float(sys.argv[7]) / 1000 if len(sys.argv) > 7 else 0.02
url = urllib.parse.urlsplit(api)
out = open(out_path, "a", buffering=1)
FINAL = ("FINISHED", "HALTED", "CANCELLED")


def rss_kb():
    try:
        with open("/proc/%s/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def db_kb():
    if db == "-":
        return 0
    total = 0
    for suffix in ("", "-wal"):
        try:
            total += os.stat(db + suffix).st_size
        except OSError:
            pass
    return total // 1024


def state(conn):
    conn.request("GET", url.path + "/rollouts?limit=5", headers={"X-Auth-Token": token})
    res = conn.getresponse()
    body = res.read()
    if res.status != 200:
        raise OSError("HTTP %d" % res.status)
    for r in json.loads(body)["rollouts"]:
        if r["id"] == rid:
            return r["state"], r["current_wave"]
    raise OSError("rollout %s not listed" % rid)


def main():
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    last, errors, next_sample = None, 0, 0.0
    deadline = time.time() + 3600
    while time.time() < deadline:
        try:
            now = state(conn)
            errors = 0
        except (OSError, http.client.HTTPException, ValueError, KeyError) as e:
            errors += 1
            if errors >= 50:
                print("rollout_probe: %s" % e, file=sys.stderr)
                return 1
            conn.close()
            conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
            time.sleep(interval)
            continue
        t = time.time()
        if now != last:
            out.write("%.6f STATE %s %d\n" % (t, now[0], now[1]))
            last = now
        if t >= next_sample or now[0] in FINAL:
            out.write("%.6f SAMPLE %d %d\n" % (t, rss_kb(), db_kb()))
            next_sample = t + 0.2
        if now[0] in FINAL:
            return 0
        time.sleep(interval)
    print("rollout_probe: the rollout did not end within an hour", file=sys.stderr)
    return 1


sys.exit(main())
