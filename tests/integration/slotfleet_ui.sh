#!/bin/sh
# slotfleet's web UI (issue 29, docs/dashboard.md) in a real browser:
# Debian's chromium, headless, driven over the DevTools protocol by
# tests/support/ui_check.py, against slotfleet on SQLite with RabbitMQ and
# simulated guests (tests/support/guest_sim.py) and a HALTED rollout.
#   here: /ui/ is served with its Content-Type and security headers, /ui
#   redirects, unknown files are 404, [api] ui = no is a 404, the summary
#   counts match the instance list;
#   ui_check.py: each page's DOM against the API (version counts, waves,
#   halt reason), a guest reason holding <script> shown as text and nothing
#   injected, the rollback and rollout actions confirmed and sent, 401, 403,
#   404, 429 and slotfleet down said in words, no console error, no request
#   off 127.0.0.1, labels, headings and state colours' contrast; a
#   screenshot of each page in build/<mode>/ui-screenshots/.
. "$SLOTD_SRC/tests/support/lib.sh"
. "$SLOTD_SRC/tests/support/guest.sh"
. "$SLOTD_SRC/tests/support/slotfleet.sh"
. "$SLOTD_SRC/tests/support/slotfleet_rollout.sh"
command -v curl >/dev/null || { echo "curl not installed" >&2; exit 77; }
command -v chromium >/dev/null || { echo "chromium not installed (packaging/deps.sh)" >&2; exit 77; }
/usr/bin/python3 -c 'import websocket' 2>/dev/null ||
	{ echo "python3-websocket not installed (packaging/deps.sh)" >&2; exit 77; }

{
	for i in 01 02 03 04; do echo "u$i v1.0.0 ok"; done
	echo "u05 v1.0.0 fail"
	echo "x01 v1.0.0 failhtml"
	echo "n01 v1.5.0 ok"
	echo "n02 v1.5.0 ok none"
} > "$T/plan"
# 1 write a minute after a burst of 6: the test's own writes (5) fit, and the
# UI's 429 is reached by a few more clicks.
FLEET_API_EXTRA="rate = 1/m
burst = 6"
rollout_env "$T/plan" || exit 1
BASE=http://127.0.0.1:$FLEET_PORT

# The files: types, headers, redirect, 404s.
headers() { curl -s -o "$T/ui.body" -D "$T/ui.headers" -w '%{http_code}' "$BASE$1"; }
has() { grep -qi "^$1" "$T/ui.headers"; }
check "GET /ui/ is the page, text/html" sh -c '[ "$(curl -s -o /dev/null -w "%{http_code} %{content_type}" "$0/ui/")" = "200 text/html; charset=utf-8" ]' "$BASE"
headers /ui/ > /dev/null
check "with the Content-Security-Policy (no inline script)" has "Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"
check "X-Content-Type-Options: nosniff" has "X-Content-Type-Options: nosniff"
check "Referrer-Policy: no-referrer" has "Referrer-Policy: no-referrer"
check "no inline script in the page" sh -c '! grep -i "<script>\|<script [^s]*>\| on[a-z]*=" "$0"' "$T/ui.body"
check "app.js is text/javascript" sh -c '[ "$(curl -s -o /dev/null -w "%{http_code} %{content_type}" "$0/ui/app.js")" = "200 text/javascript; charset=utf-8" ]' "$BASE"
check "app.css is text/css" sh -c '[ "$(curl -s -o /dev/null -w "%{http_code} %{content_type}" "$0/ui/app.css")" = "200 text/css; charset=utf-8" ]' "$BASE"
check "/ui redirects to /ui/" sh -c '[ "$(curl -s -o /dev/null -w "%{http_code} %{redirect_url}" "$0/ui")" = "301 $0/ui/" ]' "$BASE"
check "an unknown file is a 404" [ "$(headers /ui/nope.js)" = 404 ]
check "no folder below /ui/" [ "$(headers /ui/x/app.js)" = 404 ]
check "POST /ui/ is a 405" [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$BASE/ui/")" = 405 ]

# The fleet: heartbeats in, one instance only an upgrade named, a rollout halted.
heard() { # INSTANCES NEVER_SEEN
	api GET /summary > /dev/null &&
		[ "$(body_py '(j["summary"]["instances"], j["summary"]["never_seen"])')" = "$1" ]
}
check "the simulated guests' heartbeats are stored" wait_until 30 heard "(8, 0)"
check "an upgrade to a guest with no queue: 202, FAILED later" [ "$(api POST /upgrade '{"instance_id": "ghost", "instance_version": "v2.0.0", "location": "http://127.0.0.1:9/v2.bundle"}')" = 202 ]
code=$(api POST /rollouts '{"rollout_id": "rui", "instance_version": "v2.0.0", "location": "http://127.0.0.1:9/v2.bundle", "targets": {"instances": ["u01", "u02", "u03", "u04", "u05", "x01"]}, "waves": [50, 100], "rate": 20}')
check "a rollout accepted" [ "$code" = 202 ]
check "it halts on wave 2's failures" wait_rollout rui HALTED 60
final() { api GET "/upgrades?state=$1&limit=100" > /dev/null && [ "$(body_py 'len(j["upgrades"])')" = "$2" ]; }
# ghost's cast waits up to 30 s after slotfleet's start for a queue (the outbox's grace)
answered() { wait_until 30 final SUCCESS 4 && wait_until 60 final FAILED 3; }
check "every cast answered (4 SUCCESS; u05, x01, ghost FAILED)" answered
versions() { # the summary's versions, as the guests' heartbeats say them
	api GET "/summary?stale_after=3600" > /dev/null &&
		[ "$(body_py 'sorted((v["version"] or "", v["count"]) for v in j["summary"]["agent_versions"])')" = "$1" ]
}
check "summary: instances by version, once the new versions' heartbeats are in" \
	wait_until 30 versions "[('', 1), ('v1.0.0', 2), ('v1.5.0', 2), ('v2.0.0', 4)]"
check "summary: 9 instances, 1 never heard from, none stale" [ "$(body_py '(j["summary"]["instances"], j["summary"]["never_seen"], j["summary"]["stale"])')" = "(9, 1, 0)" ]
check "summary: by last upgrade state" [ "$(body_py '[j["summary"]["last_upgrade_states"][s] for s in ("SUCCESS", "FAILED", "NONE")]')" = "[4, 3, 2]" ]
check "summary: RPC API versions" [ "$(body_py 'sorted((v["version"] or "", v["count"]) for v in j["summary"]["rpc_api_versions"])')" = "[('', 1), ('1.0', 1), ('1.1', 7)]" ]
cp "$T/body" "$T/summary"
for v in v1.0.0 v1.5.0 v2.0.0; do
	n=$(/usr/bin/python3 -c 'import json, sys; j = json.load(open(sys.argv[1]))
print([x["count"] for x in j["summary"]["agent_versions"] if x["version"] == sys.argv[2]][0])' "$T/summary" "$v")
	api GET "/instances?agent_version=$v&limit=100" > /dev/null
	check "summary's $v count is the instance list's" [ "$(body_py 'len(j["instances"])')" = "$n" ]
done
check "summary: a bad stale_after is a 400 naming it" refused_with "$(api GET '/summary?stale_after=0')" 400 stale_after

# The browser.
SHOTS=$SLOTD_BIN/../ui-screenshots
rm -rf "$SHOTS"
/usr/bin/python3 "$S/ui_check.py" "$BASE" acme "$ADMIN" "$MEMBER" "$FLEET_PID" "$SHOTS" rui x01 u01 > "$T/ui.out" 2>&1
rc=$?
cat "$T/ui.out"
check "the browser's checks pass" [ "$rc" = 0 ]
for page in fleet instance upgrades rollouts rollout down; do
	check "a screenshot of $page" [ -s "$SHOTS/$page.png" ]
done
fleet_stop

# [api] ui = no: the same 404 as any unknown path.
FLEET_API_EXTRA="ui = no"
fleet_ini "path = $T/fleet.db"
FLEET_NO_BROKER=1 fleet_start || exit 1
check "[api] ui = no: /ui/ is a 404" [ "$(curl -s -o "$T/off" -w '%{http_code}' "http://127.0.0.1:$FLEET_PORT/ui/")" = 404 ]
check "with the API's error body" grep -q '"no such resource"' "$T/off"
fleet_stop
finish
