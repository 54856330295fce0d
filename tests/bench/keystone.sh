#!/bin/sh
# slotfleet's API with [api] auth = keystone (issue 27): what Keystone costs.
# Run just this (minutes: mostly Keystone validating each fresh token twice, about
# 2 s a token on a busy 2-core machine; BENCH_QUICK=1: about 4 min there):
#   sh tests/bench/keystone.sh build/release build/bench
# (part of `make bench`).  Writes OUTDIR/keystone.md and appends it to
# OUTDIR/report.md.  One private Keystone (tests/support/keystone.sh: Debian's
# python3-keystone, SQLite, fernet, wsgiref), one private RabbitMQ, slotfleet
# (release build) on SQLite, all on 127.0.0.1.
#   cached    the API part of slotfleet.sh (wrk, slotfleet_post.lua: POST
#             /upgrade, a new instance id each, rate limit off) for
#             BENCH_FLEET_API_S s over BENCH_FLEET_CONNS connections, with
#             auth = tokens and with auth = keystone and one admin token,
#             validated once before wrk starts (every wrk request is a cache
#             hit, checked in /metrics); BENCH_KS_ROUNDS rounds in the order
#             tokens keystone keystone tokens ... so a drifting load favours
#             neither.  Accepted/s, p50, p99; the ratio keystone/tokens.
#   uncached  BENCH_KS_TOKENS fresh tokens issued beforehand; one curl, one
#             connection, sequential: GET /instances/ID (an indexed lookup,
#             404) with each (a cache miss each: one validation by Keystone),
#             the same GET with the cached token, and each token validated by
#             Keystone directly (GET /v3/auth/tokens?nocatalog, what slotfleet
#             asks).  Per request: mean, p50, p99; the miss minus the hit is
#             what an uncached validation costs.
# BENCH_QUICK=1: 5 s of wrk, 1 round each, 50 tokens.  Exit 77 without
# python3-keystone, RabbitMQ or wrk.
set -eu
. "$(dirname "$0")/common.sh"
api_s=${BENCH_FLEET_API_S:-20}
conns=${BENCH_FLEET_CONNS:-32}
threads=${BENCH_FLEET_THREADS:-16}
rounds=${BENCH_KS_ROUNDS:-2}
ntok=${BENCH_KS_TOKENS:-300}
if [ "$quick" = 1 ]; then api_s=5 rounds=1 ntok=${BENCH_KS_TOKENS:-50}; fi
command -v wrk >/dev/null || { echo "keystone: wrk not installed (packaging/deps.sh)" >&2; exit 77; }
command -v rabbitmq-server >/dev/null || { echo "keystone: rabbitmq-server not installed" >&2; exit 77; }
command -v keystone-manage >/dev/null || { echo "keystone: python3-keystone not installed (packaging/deps.sh)" >&2; exit 77; }
bench_fleet_env keystone
SLOTD_SRC=$top
. "$S/keystone.sh"
ks_start || { echo "keystone: Keystone did not start (see $T/keystone)" >&2; exit 1; }
"$LOAD" sink "$AMQP" bench-casts 'guestagent.#'
fleet_tokens

# The integration test's setup: slotfleet's service user, an admin of acme.
ks_project service > /dev/null
ACME=$(ks_project acme)
ks_user slotfleet svc-secret service admin > /dev/null
ks_user alice alice-pw acme admin > /dev/null
printf 'svc-secret\n' > "$T/ks-password"
KTOK=$(ks_token alice alice-pw acme)
[ -n "$KTOK" ] || { echo "keystone: no token for alice" >&2; exit 1; }
# Keystone's first validation loads code: not on the clock.
curl -s -o /dev/null -H "X-Auth-Token: $(ks_admin_token)" -H "X-Subject-Token: $KTOK" \
	"$KS_URL/auth/tokens?nocatalog"

API_EXTRA="rate = 1000000/s
burst = 1000000
threads = $threads
connection_limit = 1024"
KS_SECTION="[keystone]
auth_url = $KS_URL
username = slotfleet
password_file = $T/ks-password
project_name = service
cache_ttl = 300s
timeout = 10s
admin_roles = admin"
ms() { awk -v u="$1" 'BEGIN { printf "%.1f ms", u / 1000 }'; }

# metric NAME{LABELS}: its value in slotfleet's /metrics (0 when absent)
metric() {
	curl -s "http://127.0.0.1:$FLEET_PORT/metrics" |
		awk -v m="$1" '$1 == m { v = $2 } END { printf "%d", v + 0 }'
}

# fleet_auth tokens|keystone DBNAME: slotfleet started in that mode; sets
# TOKEN and API (the path's tenant: acme, or its project id).
fleet_auth() {
	FLEET_PORT=0
	if [ "$1" = tokens ]; then
		FLEET_API_EXTRA=$API_EXTRA
		fleet_ini "path = $T/$2.db" "prefetch = 256"
		TOKEN=$ADMIN
	else
		FLEET_API_EXTRA="auth = keystone
$API_EXTRA"
		fleet_ini "path = $T/$2.db" "prefetch = 256
$KS_SECTION"
		TOKEN=$KTOK
	fi
	fleet_start || return 1
	[ "$1" = tokens ] || API=http://127.0.0.1:$FLEET_PORT/v1.0/$ACME/mgmt
}

wrk_round() { # tokens|keystone N
	fleet_auth "$1" "api_$1_$2" || return 1
	code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Auth-Token: $TOKEN" "$API/instances/warm-up")
	[ "$code" = 404 ] || { echo "keystone: $1: warm-up GET answered $code" >&2; return 1; }
	wrk -t 2 -c "$conns" -d "${api_s}s" -s "$top/tests/bench/slotfleet_post.lua" \
		"$API/upgrade" -- "$TOKEN" > "$T/wrk.out" || { cat "$T/wrk.out" >&2; return 1; }
	hits=- misses=-
	if [ "$1" = keystone ]; then
		hits=$(metric 'slotfleet_keystone_validations_total{result="cached"}')
		misses=$(metric 'slotfleet_keystone_validations_total{result="valid"}')
	fi
	fleet_stop
	set -- "$1" "$2" $(tail -n 1 "$T/wrk.out")	# accepted A other O p50_us P p99_us Q seconds S
	[ "$6" = 0 ] || echo "keystone: $1: $6 requests not accepted (see $T/fleet.log)" >&2
	rate=$(awk -v a="$4" -v s="${12}" 'BEGIN { printf "%d", a / s }')
	echo "| $1 | $2 | $4 | $6 | $rate/s | $(ms "$8") | $(ms "${10}") | $hits | $misses |" >> "$T/api.rows"
	echo "$1 $rate" >> "$T/api.rates"
	echo "keystone: $1 round $2: $rate/s accepted, p50 $(ms "$8"), p99 $(ms "${10}"); cache hits $hits, validations by Keystone $misses"
}

: > "$T/api.rows"; : > "$T/api.rates"
round=1
while [ "$round" -le "$rounds" ]; do
	if [ $((round % 2)) = 1 ]; then order="tokens keystone"; else order="keystone tokens"; fi
	for mode in $order; do wrk_round "$mode" "$round" || exit 1; done
	round=$((round + 1))
done
ratio=$(awk '{ s[$1] += $2; n[$1]++ } END {
	if (s["tokens"] > 0) printf "%.3f", (s["keystone"] / n["keystone"]) / (s["tokens"] / n["tokens"]) }' "$T/api.rates")
echo "keystone: cached/tokens throughput ratio $ratio"

# Uncached: fresh tokens.  Issued with the token method from alice's token
# (no password hash per token, same project, roles and lifetime; each a
# distinct fernet token, so a distinct cache key).
echo "keystone: issuing $ntok tokens"
body='{"auth": {"identity": {"methods": ["token"], "token": {"id": "'$KTOK'"}},
 "scope": {"project": {"id": "'$ACME'"}}}}'
issued=0
while [ "$issued" -lt "$ntok" ]; do
	curl -s -D - -o /dev/null -H 'Content-Type: application/json' --data-binary "$body" \
		"$KS_URL/auth/tokens" | tr -d '\r' | sed -n 's/^[Xx]-[Ss]ubject-[Tt]oken: //p'
	issued=$((issued + 1))
done > "$T/fresh"
[ "$(sort -u "$T/fresh" | grep -c .)" = "$ntok" ] ||
	{ echo "keystone: $(sort -u "$T/fresh" | grep -c .) distinct tokens of $ntok" >&2; exit 1; }
fleet_auth keystone uncached || exit 1
curl -s -o /dev/null -H "X-Auth-Token: $KTOK" "$API/instances/warm-up"
valid0=$(metric 'slotfleet_keystone_validations_total{result="valid"}')
# curl_seq NAME: one curl, the requests of $T/NAME.cfg one after the other on
# one connection; NAME.times: one line per request, status and time in us.
curl_seq() {
	curl --no-progress-meter -K "$T/$1.cfg" > "$T/$1.times" || true
}
# cfg URL TOKEN-OR-"fresh" [SUBJECT]: a curl config of $ntok GETs of URL
cfg() {
	awk -v url="$1" -v tok="$2" -v subj="${3:-}" -v n="$ntok" -v adm="$(ks_admin_token)" '
	function req(t) {
		if (done) print "next"
		done = 1
		printf "url = \"%s\"\n", url
		if (subj != "") printf "header = \"X-Auth-Token: %s\"\nheader = \"X-Subject-Token: %s\"\n", adm, t
		else printf "header = \"X-Auth-Token: %s\"\n", t
		printf "output = \"/dev/null\"\nwrite-out = \"%%{http_code} %%{time_total}\\n\"\n"
	}
	tok == "fresh" { req($0) }
	tok != "fresh" && NR <= n { req(tok) }' "$T/fresh"
}
cfg "$API/instances/none" fresh > "$T/miss.cfg"
cfg "$API/instances/none" "$KTOK" > "$T/hit.cfg"
cfg "$KS_URL/auth/tokens?nocatalog" fresh subject > "$T/ks.cfg"
curl_seq hit
curl_seq miss
curl_seq ks
valid1=$(metric 'slotfleet_keystone_validations_total{result="valid"}')
fleet_stop
# stats NAME OKCODE: "mean p50 p99 max" in us over the requests answered OKCODE
stats() {
	bad=$(awk -v c="$2" '$1 != c' "$T/$1.times" | wc -l)
	[ "$bad" = 0 ] || echo "keystone: $1: $bad answers not $2: $(awk -v c="$2" '$1 != c { print $1 }' "$T/$1.times" | sort | uniq -c | tr '\n' ' ')" >&2
	awk -v c="$2" '$1 == c { print $2 * 1000000 }' "$T/$1.times" | sort -n | awk '
	{ v[NR] = $1; s += $1 }
	END { if (NR == 0) { print "0 0 0 0"; exit }
		i50 = int(NR * 0.5 + 0.5); if (i50 < 1) i50 = 1
		i99 = int(NR * 0.99 + 0.5); if (i99 < 1) i99 = 1
		printf "%d %d %d %d\n", s / NR, v[i50], v[i99], v[NR] }'
}
set -- $(stats hit 404) $(stats miss 404) $(stats ks 200)
row() { echo "| $1 | $(ms "$2") | $(ms "$3") | $(ms "$4") | $(ms "$5") |"; }
{
	row "slotfleet, cached token (hit)" "$1" "$2" "$3" "$4"
	row "slotfleet, fresh token (miss: one validation)" "$5" "$6" "$7" "$8"
	row "Keystone alone: GET /v3/auth/tokens" "$9" "${10}" "${11}" "${12}"
} > "$T/uncached.rows"
cost=$(awk -v a="$5" -v b="$1" 'BEGIN { printf "%.1f ms", (a - b) / 1000 }')
over=$(awk -v a="$5" -v b="$1" -v k="$9" 'BEGIN { printf "%.1f ms", (a - b - k) / 1000 }')
echo "keystone: uncached validation costs $cost per request (Keystone alone $(ms "$9")); Keystone asked $((valid1 - valid0)) times for $ntok tokens"

load=$(cut -d' ' -f1-3 /proc/loadavg)
{
	echo
	echo "## slotfleet with auth = keystone (issue 27)"
	echo
	echo "One slotfleet (release build) on SQLite, one private RabbitMQ, one private Keystone"
	echo "(Debian's python3-keystone $(dpkg-query -W -f '${Version}' python3-keystone 2>/dev/null || echo '?'),"
	echo "SQLite, fernet tokens, wsgiref: one request at a time), all on this machine (load average"
	echo "at the end: $load)."
	echo
	echo "Cached: slotfleet.sh's API part (\`wrk -t 2 -c $conns -d ${api_s}s\`, POST /upgrade, a new"
	echo "instance id each, rate limit off, [api] threads = $threads) with \`auth = tokens\` and with"
	echo "\`auth = keystone\` and one admin token, validated once before wrk (cache hits and"
	echo "validations by Keystone counted in /metrics during the run); rounds in the order"
	echo "tokens, keystone, keystone, tokens, ..."
	echo
	echo "| auth | round | accepted | refused | accepted/s | p50 | p99 | cache hits | Keystone asked |"
	echo "|---|---|---|---|---|---|---|---|---|"
	cat "$T/api.rows"
	echo
	echo "Throughput keystone (cached) / tokens: **$ratio** (the aim: at least 0.9)."
	echo
	echo "Uncached: $ntok fresh tokens issued beforehand; one curl, one connection, one request after"
	echo "the other: GET /instances/ID (404, an indexed lookup) with each fresh token (each a cache"
	echo "miss: Keystone asked $((valid1 - valid0)) times), the same with the cached token, and each fresh"
	echo "token validated by Keystone directly (\`GET /v3/auth/tokens?nocatalog\`, what slotfleet asks)."
	echo
	echo "| request | mean | p50 | p99 | max |"
	echo "|---|---|---|---|---|"
	cat "$T/uncached.rows"
	echo
	echo "An uncached validation costs **$cost** per request (miss minus hit, means), of which"
	echo "Keystone's own answer is $(ms "$9"); slotfleet's part beyond Keystone: $over."
	echo
	echo "Command: \`BENCH_FLEET_API_S=$api_s BENCH_FLEET_CONNS=$conns BENCH_FLEET_THREADS=$threads BENCH_KS_ROUNDS=$rounds BENCH_KS_TOKENS=$ntok sh tests/bench/keystone.sh build/release build/bench\`"
	echo "(or \`make bench\`; BENCH_QUICK=1 for the small variant)."
} > "$out/keystone.md"
cat "$out/keystone.md" >> "$out/report.md"
set +e	# lib.sh's exit hooks (stopping the servers) must not fail a finished run
echo "keystone: $out/keystone.md"
