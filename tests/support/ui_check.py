#!/usr/bin/python3
"""ui_check.py BASE TENANT ADMIN MEMBER FLEET_PID SHOTS ROLLOUT FAILHTML OK

Drives Debian's chromium headless through the DevTools protocol (one
websocket, python3-websocket) over slotfleet's web UI at BASE/ui/, and
prints one "ok   - ..." or "FAIL - ..." line per check, then the tally, as
tests/support/lib.sh's check does.  Chromium is started here and stopped
by its PID.  --no-sandbox: the test runs as root in a container, where
chromium's sandbox (user namespaces, setuid helper) is not available and
chromium refuses to start as root with it; the pages come from our own
slotfleet on 127.0.0.1, nothing else is loaded.  FLEET_PID is stopped at
the end, to see the UI say that slotfleet is down.  ROLLOUT is a HALTED
rollout's id, FAILHTML an instance whose failure reason holds HTML, OK an
instance whose upgrade succeeded."""
import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket

BASE, TENANT, ADMIN, MEMBER, FLEET_PID, SHOTS, ROLLOUT, FAILHTML, OK = sys.argv[1:10]
API = BASE + "/v1.0/" + TENANT + "/mgmt"
passed = failed = 0


def check(desc, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok   - " + desc, flush=True)
    else:
        failed += 1
        print("FAIL - " + desc + (": " + str(detail) if detail else ""), flush=True)


def api(path, token=ADMIN):
    req = urllib.request.Request(API + path, headers={"X-Auth-Token": token})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)


class Browser:
    """One chromium, one page, its events kept for the checks."""

    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="slotfleet-ui-chromium.")
        self.proc = subprocess.Popen(
            ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
             "--remote-debugging-port=0", "--user-data-dir=" + self.profile,
             "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--disable-extensions",
             "--window-size=1280,900", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        for _ in range(600):		# chromium writes it once it listens
            if os.path.exists(port_file) and open(port_file).read().count("\n") >= 1:
                break
            time.sleep(0.05)
        port = open(port_file).read().split("\n")[0]
        pages = json.load(urllib.request.urlopen("http://127.0.0.1:%s/json/list" % port))
        page = [p for p in pages if p["type"] == "page"][0]
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30)
        self.seq = 0
        self.events = []
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(domain + ".enable")

    def send(self, method, **params):
        self.seq += 1
        self.ws.send(json.dumps({"id": self.seq, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.seq:
                if "error" in msg:
                    raise RuntimeError("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})
            self.events.append(msg)

    def js(self, expr):
        r = self.send("Runtime.evaluate", expression=expr, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in r:
            raise RuntimeError("%s: %s" % (expr[:60], r["exceptionDetails"].get("text")))
        return r["result"].get("value")

    def wait(self, expr, secs=20):
        """Polls a DOM condition until it holds (the page renders after its fetches)."""
        end = time.time() + secs
        while time.time() < end:
            if self.js(expr):
                return True
            time.sleep(0.1)
        return False

    def go(self, hash_):
        self.js("location.hash = %s" % json.dumps(hash_))

    def shot(self, name):
        data = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        with open(os.path.join(SHOTS, name + ".png"), "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        self.ws.close()
        self.proc.terminate()
        self.proc.wait(10)
        subprocess.run(["rm", "-rf", self.profile])


A11Y = r"""(() => {
  const bad = [];
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (el.type === "hidden" || el.closest("dialog:not([open])")) continue;
    const ok = el.getAttribute("aria-label") || (el.id && document.querySelector('label[for="' + el.id + '"]'));
    if (!ok) bad.push("no label: " + (el.id || el.name || el.outerHTML.slice(0, 40)));
  }
  if (!document.querySelector("main h1, main h2")) bad.push("no h1/h2 in main");
  const rgb = (s) => (s.match(/[\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map((c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; })
                                      .reduce((a, c, i) => a + c * [0.2126, 0.7152, 0.0722][i], 0);
  let n = 0;
  for (const el of document.querySelectorAll("span.st")) {
    const cs = getComputedStyle(el), fg = lum(rgb(cs.color)), bg = lum(rgb(cs.backgroundColor));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    n++;
    if (ratio < 4.5) bad.push(el.textContent + " contrast " + ratio.toFixed(2));
  }
  return {bad, states: n};
})()"""


def a11y(b, page):
    r = b.js(A11Y)
    check(page + ": every input has a label, an h1/h2, state colours' contrast >= 4.5 (%d badges)"
          % r["states"], not r["bad"], r["bad"])


def console_errors(b, allow_network=False):
    errs = []
    for e in b.events:
        m, p = e.get("method"), e.get("params", {})
        if m == "Runtime.exceptionThrown":
            errs.append(p["exceptionDetails"].get("text"))
        elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            errs.append(str(p.get("args")))
        elif m == "Log.entryAdded" and p["entry"]["level"] == "error":
            if not (allow_network and p["entry"].get("source") == "network"):
                errs.append(p["entry"].get("text"))
    return errs


def requests_elsewhere(b):
    urls = [e["params"]["request"]["url"] for e in b.events if e.get("method") == "Network.requestWillBeSent"]
    return [u for u in urls if not (u.startswith(BASE + "/") or u.startswith("data:"))], len(urls)


def fleet_page(b):
    b.send("Page.navigate", url=BASE + "/ui/#/fleet")
    check("the sign-in form is shown first", b.wait("!!document.querySelector('form#signin')"))
    a11y(b, "sign-in")
    b.js("document.getElementById('tenant').value = %s; document.getElementById('token').value = %s;"
         "document.getElementById('signin').requestSubmit()" % (json.dumps(TENANT), json.dumps(ADMIN)))
    check("signed in, the fleet page shows the version chart",
          b.wait("document.querySelectorAll('#versions g.bar').length > 0"))
    check("the token is in sessionStorage, no cookie, not in the URL",
          b.js("sessionStorage.getItem('slotfleet.token') === %s && document.cookie === '' && "
               "!location.href.includes(%s)" % (json.dumps(ADMIN), json.dumps(ADMIN))))
    s = api("/summary")["summary"]
    want = [(v["version"] or "(none reported)", v["count"]) for v in s["agent_versions"]]
    got = b.js("[...document.querySelectorAll('#versions g.bar')].map(g => [g.dataset.label, +g.dataset.count])")
    check("version counts match GET summary", [tuple(x) for x in got] == want, (got, want))
    check("known, stale and never-heard counts shown", b.js(
        "[...['total','stale','never']].map(i => +document.getElementById(i).textContent).join()") ==
        "%d,%d,%d" % (s["instances"], s["stale"], s["never_seen"]))
    states = b.js("[...document.querySelectorAll('#states g.bar')].map(g => +g.dataset.count)"
                  ".reduce((a, c) => a + c, 0)")
    check("last-upgrade-state bars add up to the instances", states == s["instances"], states)
    check("instances listed, paged by the API",
          b.wait("document.querySelectorAll('#instances tbody tr').length > 0"))
    a11y(b, "fleet")
    b.shot("fleet")


def instance_page(b):
    b.go("#/instance/" + FAILHTML)
    check("instance page: the upgrade's timeline is shown",
          b.wait("document.querySelectorAll('ol.timeline li.event').length > 0"))
    check("a guest reason holding <script> is shown as text",
          b.js("[...document.querySelectorAll('.reason')].some(e => e.textContent.includes('<script>document.title'))"))
    check("and nothing was injected (no script/img in main, title intact)",
          b.js("document.querySelectorAll('main script, main img').length === 0 && document.title === 'slotfleet'"))
    a11y(b, "instance")
    b.shot("instance")
    b.go("#/instance/" + OK)
    b.wait("!!document.getElementById('rollback')")
    before = len(api("/upgrades?instance_id=" + OK)["upgrades"])
    b.js("document.getElementById('rollback').click()")
    check("the rollback button asks for confirmation", b.wait("document.getElementById('confirm').open"))
    b.js("document.getElementById('confirm-ok').click()")
    check("the API's answer is shown (202)",
          b.wait("document.getElementById('action-result').textContent.includes('answered 202')"))
    ups = api("/upgrades?instance_id=" + OK)["upgrades"]
    check("a rollback record was created", len(ups) == before + 1 and ups[0]["kind"] == "rollback", ups[:1])


def upgrades_page(b):
    b.go("#/upgrades?state=FAILED")
    check("upgrades page filtered by state lists the failures",
          b.wait("document.querySelectorAll('#upgrade-list tbody tr').length >= 2"))
    want = sorted(u["id"] for u in api("/upgrades?state=FAILED&limit=50")["upgrades"])
    got = sorted(b.js("[...document.querySelectorAll('#upgrade-list tbody tr')].map(r => r.dataset.upgrade)"))
    check("the same rows as GET upgrades?state=FAILED", got == want, (got, want))
    check("rows link to the record",
          b.js("[...document.querySelectorAll('#upgrade-list tbody tr td:first-child a')]"
               ".every(a => a.getAttribute('href').startsWith('#/upgrade/'))"))
    check("the poller says when it refreshed",
          b.wait("document.getElementById('poll-status').textContent.includes('Refreshed')"))
    a11y(b, "upgrades")
    b.shot("upgrades")
    b.go("#/upgrade/" + want[0])
    check("a row's record opens with its events", b.wait("document.querySelectorAll('li.event').length > 0"))


def rollout_pages(b):
    b.go("#/rollouts")
    check("rollouts list shows the rollout",
          b.wait("!!document.querySelector('tr[data-rollout=%s]')" % json.dumps(ROLLOUT)))
    a11y(b, "rollouts")
    b.shot("rollouts")
    r = api("/rollouts/" + ROLLOUT)["rollout"]
    b.go("#/rollouts/" + ROLLOUT)
    check("rollout detail: one progress bar per wave",
          b.wait("document.querySelectorAll('#waves li.wave .stack').length === %d" % len(r["waves"])))
    check("its halt reason appears", b.js("document.getElementById('halt-reason').textContent.includes(%s)"
                                          % json.dumps(r["reason"])))
    segs = b.js("[...document.querySelectorAll('#waves li.wave')].map(w => [...w.querySelectorAll('.seg')]"
                ".map(s => s.dataset.part + '=' + s.dataset.count).join(','))")
    flight = ("NEW", "DEFERRED", "DOWNLOADING", "VERIFYING", "INSTALLING", "ACTIVATING")
    want = [",".join("%s=%d" % (k, n) for k, n in (
        ("PENDING", w["states"].get("PENDING", 0)),
        ("in flight", sum(w["states"].get(x, 0) for x in flight)),
        ("SUCCESS", w["states"].get("SUCCESS", 0)), ("FAILED", w["states"].get("FAILED", 0))) if n)
        for w in r["waves"]]
    check("wave bars match the API's counts", segs == want, (segs, want))
    check("failed instances with their reasons, as text",
          b.js("[...document.querySelectorAll('#failed td.reason')].some(e => e.textContent.includes('<script>'))"
               " && !document.querySelector('main img')"))
    check("the failure budget is shown", b.js("document.querySelectorAll('p.budget').length === %d" % len(r["waves"])))
    a11y(b, "rollout")
    b.shot("rollout")
    b.js("document.querySelector('[data-action=rollback_failed]').click()")
    b.wait("document.getElementById('confirm').open")
    b.js("document.getElementById('confirm-ok').click()")
    check("rollback_failed: the API's answer shown",
          b.wait("document.getElementById('action-result').textContent.includes('rollbacks cast')"))
    b.js("document.querySelector('[data-action=cancel]').click()")
    b.wait("document.getElementById('confirm').open")
    b.js("document.getElementById('confirm-cancel').click()")
    b.wait("!document.getElementById('confirm').open")
    check("cancelling the dialog sends nothing", api("/rollouts/" + ROLLOUT)["rollout"]["state"] == r["state"])
    b.js("document.querySelector('[data-action=cancel]').click()")
    b.wait("document.getElementById('confirm').open")
    b.js("document.getElementById('confirm-ok').click()")
    check("cancel: the page shows CANCELLED",
          b.wait("document.querySelector('#rollout .st').textContent === 'CANCELLED'"))
    check("and the API says so", api("/rollouts/" + ROLLOUT)["rollout"]["state"] == "CANCELLED")
    b.shot("rollout-cancelled")


def error_pages(b):
    b.go("#/instance/no-such-instance")
    check("404 in words", b.wait("(document.querySelector('main .error') || {}).textContent?.includes('Not found (404')"))
    b.js("sessionStorage.setItem('slotfleet.token', %s)" % json.dumps(MEMBER))
    b.go("#/fleet")
    check("403 in words", b.wait("[...document.querySelectorAll('main .error')].some(e => e.textContent.includes('(403'))"))
    b.js("sessionStorage.setItem('slotfleet.token', 'wrong-token'); location.hash = '#/upgrades'")
    check("401 in words, with the way back to sign in",
          b.wait("[...document.querySelectorAll('main .error, #poll-status')].some(e => e.textContent.includes('(401'))"
                 " || !!document.querySelector('form#signin')"))
    b.js("sessionStorage.setItem('slotfleet.token', %s); sessionStorage.setItem('slotfleet.tenant', %s)"
         % (json.dumps(ADMIN), json.dumps(TENANT)))
    b.go("#/instance/" + OK)
    b.wait("!!document.getElementById('rollback')")
    for _ in range(8):		# [api] rate is 1/m here: a few clicks reach the limit
        b.js("document.getElementById('action-result').textContent = ''; document.getElementById('rollback').click()")
        b.wait("document.getElementById('confirm').open")
        b.js("document.getElementById('confirm-ok').click()")
        b.wait("/answered|\\(\\d{3}/.test(document.getElementById('action-result').textContent)")
        if "(429" in b.js("document.getElementById('action-result').textContent"):
            break
    check("429 in words", "Too many requests (429)" in b.js("document.getElementById('action-result').textContent"))
    os.kill(int(FLEET_PID), signal.SIGTERM)
    b.go("#/rollouts")
    check("slotfleet down: said in words, not a blank page",
          b.wait("(document.querySelector('main .error') || {}).textContent?.includes('does not answer')", 30))
    b.shot("down")


def main():
    os.makedirs(SHOTS, exist_ok=True)
    b = Browser()
    try:
        fleet_page(b)
        instance_page(b)
        upgrades_page(b)
        rollout_pages(b)
        errs = console_errors(b)
        check("no console error on the pages", not errs, errs)
        error_pages(b)
        errs = console_errors(b, allow_network=True)
        check("no script error on the error pages either", not errs, errs)
        elsewhere, total = requests_elsewhere(b)
        check("no request left 127.0.0.1 (%d requests)" % total, total > 0 and not elsewhere, elsewhere)
    except Exception as e:	# a broken step is a failure, not a traceback
        check("the browser session ran to its end", False, repr(e))
    finally:
        b.close()
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


main()
