#!/bin/sh
# slotfleet's GET /metrics, without a broker: after a write the broker
# cannot take yet (202, the record NEW, its cast pending in the outbox), a
# 429, a 401, a 404 and a 405, the
# scrape needs no token, passes `promtool check metrics` and
# tests/support/prom_get.py, counts each answer under its route template
# and status (never the path as sent), shows the store's counts (upgrades
# by state, casts pending, instances by agent version), and carries no token, tenant or
# URL from the configuration.
. "$SLOTD_SRC/tests/support/lib.sh"
. "$SLOTD_SRC/tests/support/slotfleet.sh"
command -v curl >/dev/null || { echo "curl not installed" >&2; exit 77; }

FLEET_NO_BROKER=1
fleet_tokens
FLEET_API_EXTRA="rate = 1/m
burst = 1"
fleet_ini "path = $T/fleet.db"
fleet_start || exit 1

I=27e25b73-88a1-4526-b2b9-919a28b8b33f
BODY="{\"instance_id\": \"$I\", \"instance_version\": \"v2.0.0\", \"location\": \"http://127.0.0.1:9/v2.bundle\"}"
check "a write the broker cannot take yet answers 202" [ "$(api POST /upgrade "$BODY")" = 202 ]
check "the next write is over the rate: 429" [ "$(api POST /upgrade "$BODY")" = 429 ]
check "an unknown upgrade answers 404" [ "$(api GET "/upgrades/nosuch")" = 404 ]
check "a list answers 200" [ "$(api GET /upgrades)" = 200 ]
check "an unknown path answers 404" [ "$(api GET "/x%0Ainjected")" = 404 ]
check "no token answers 401" \
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$API/upgrades")" = 401 ]
check "POST /metrics answers 405" \
	[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$FLEET_PORT/metrics")" = 405 ]

M=$T/metrics.txt
check "GET /metrics needs no token" \
	[ "$(curl -s -o "$M" -D "$T/mheaders" -w '%{http_code}' "http://127.0.0.1:$FLEET_PORT/metrics")" = 200 ]
check "in the Prometheus text format" grep -qi '^Content-Type: text/plain; version=0.0.4' "$T/mheaders"
if command -v promtool >/dev/null; then
	check "promtool check metrics passes" promtool check metrics < "$M"
else
	echo "# promtool missing (Debian package prometheus): not checked"
fi
get() { /usr/bin/python3 "$SLOTD_SRC/tests/support/prom_get.py" "$M" "$1"; }
is() { # SAMPLE VALUE
	got=$(get "$1")
	if [ "$got" = "$2" ]; then
		PASSED=$((PASSED + 1)); printf "ok   - %s = %s\n" "$1" "$2"
	else
		FAILED=$((FAILED + 1)); printf "FAIL - %s = %s (got '%s')\n" "$1" "$2" "$got"
	fi
}
check "prom_get.py reads it strictly" /usr/bin/python3 "$SLOTD_SRC/tests/support/prom_get.py" "$M"
R='/v1.0/{tenant}/mgmt'
is "slotfleet_http_requests_total{route=\"POST $R/upgrade\",status=\"202\"}" 1
is "slotfleet_http_requests_total{route=\"POST $R/upgrade\",status=\"429\"}" 1
is "slotfleet_http_requests_total{route=\"GET $R/upgrades/{id}\",status=\"404\"}" 1
is "slotfleet_http_requests_total{route=\"GET $R/upgrades\",status=\"200\"}" 1
is "slotfleet_http_requests_total{route=\"GET $R/upgrades\",status=\"401\"}" 1
is "slotfleet_http_requests_total{route=\"unmatched\",status=\"404\"}" 1
is "slotfleet_http_requests_total{route=\"unmatched\",status=\"405\"}" 1
is slotfleet_http_rate_limited_total 1
is 'slotfleet_upgrades{state="FAILED"}' 0
is 'slotfleet_upgrades{state="NEW"}' 1
is slotfleet_casts_pending 1
is 'slotfleet_instances{agent_version="unknown"}' 1
is 'slotfleet_instances{agent_version="other"}' 0
is slotfleet_reports_ingested_total 0
check "a path as sent is never a label" sh -c '! grep -q injected "$0"' "$M"
check "no token, tenant or configured URL in the page" sh -c \
	'! grep -q -e "$1" -e "$2" -e acme -e "127.0.0.1:1" -e guest "$0"' "$M" "$ADMIN" "$(printf %s "$ADMIN" | sha256sum | cut -c1-16)"

curl -s -o "$M" "http://127.0.0.1:$FLEET_PORT/metrics"
is "slotfleet_http_requests_total{route=\"GET /metrics\",status=\"200\"}" 1
fleet_stop
check "slotfleet stopped cleanly" [ "$FLEET_RC" = 0 ]
finish
