#!/bin/sh
# Creating a rollout of the whole fleet (issue 28): N instances written
# straight into slotfleet's database with one SQL statement (sqlite3,
# psql), then slotfleet (release build, no broker: nothing is cast) is
# asked for
#   POST .../rollouts  {"agent_version_below": ...} selecting all N, waves
#                      [1, 10, 50, 100]: its time as curl saw it;
#   GET  .../rollouts/ID  the view with its per-wave counts (GROUP BY);
#   a draft: a list of 10,000 ids, 9 more pages of 10,000 appended (POST
#                      .../targets, each timed, beside the N-target rollout),
#                      then resume (waves made from the count: one UPDATE of
#                      its 100,000 targets);
# and slotfleet's RSS before and after, and its peak (VmHWM).  On SQLite
# and, when its server binaries are installed, a private PostgreSQL (fsync
# on), for N in BENCH_CREATE_SIZES (100000 1000000; BENCH_QUICK=1: 10000
# 100000).
#   tests/bench/rollout_create.sh RELEASE_BUILD_DIR OUTDIR
# Writes OUTDIR/rollout_create.md and appends it to OUTDIR/report.md.
set -eu
. "$(dirname "$0")/common.sh"
sizes=${BENCH_CREATE_SIZES:-100000 1000000}
stores=${BENCH_CREATE_STORES:-sqlite postgresql}
[ "$quick" = 1 ] && sizes="10000 100000"
command -v sqlite3 >/dev/null || { echo "rollout_create: sqlite3 not installed" >&2; exit 77; }
S=$top/tests/support
B=$build/bin
. "$S/lib.sh"
PG_FSYNC=on
# PostgreSQL's default shared_buffers (the tests' cluster runs 16MB): a
# million rows and their indexes are ~200 MB of pages
PG_SERVER_OPTS="-c shared_buffers=128MB"
. "$S/postgres.sh"
. "$S/slotfleet.sh"
case " $stores " in
*" postgresql "*)
	if [ -x "$PG_BINDIR/postgres" ]; then
		pg_start "$T/pg" || { echo "rollout_create: postgresql did not start" >&2; exit 1; }
	else
		echo "rollout_create: no PostgreSQL server binaries: SQLite only" >&2
		stores=sqlite
	fi ;;
esac
FLEET_NO_BROKER=1
FLEET_API_EXTRA="rate = 1000000/s
burst = 1000000
max_body = 1MiB"
fleet_tokens
upgrade='"instance_version": "v2.0.0", "location": "http://127.0.0.1:9/v2.bundle"'

fill() { # BACKEND NAME N: N instances, all v1.0.0
	if [ "$1" = sqlite ]; then
		sqlite3 "$T/$2.db" "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n
			WHERE i < $3 - 1) INSERT INTO instances (id, agent_version, agent_slot, last_seen_us)
			SELECT printf('inst-%07d', i), 'v1.0.0', 'a', 1 FROM n; ANALYZE;"
	else
		"$PG_BINDIR/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U slotfleet -d "$2" -c "INSERT INTO
			instances (id, agent_version, agent_slot, last_seen_us) SELECT
			'inst-' || lpad(i::text, 7, '0'), 'v1.0.0', 'a', 1 FROM generate_series(0, $3 - 1) i" \
			-c "VACUUM ANALYZE instances"
	fi
}
rss() { awk -v k="$1:" '$1 == k { print int($2 / 1024) }' "/proc/$FLEET_PID/status"; }
post_ms() { # PATH BODY: the request's time in ms; the status must be 2xx
	curl -s -o "$T/body" -w '%{http_code} %{time_total}\n' -X POST -H "X-Auth-Token: $ADMIN" \
		-H 'Content-Type: application/json' --data-binary "@$2" "$API$1" > "$T/timing"
	grep -q '^20[02] ' "$T/timing" || { cat "$T/timing" "$T/body" >&2; return 1; }
	awk '{ printf "%d\n", $2 * 1000 }' "$T/timing"
}
get_ms() {
	curl -s -o "$T/body" -w '%{time_total}\n' -H "X-Auth-Token: $ADMIN" "$API$1" |
		awk '{ printf "%d\n", $1 * 1000 }'
}

md=$out/rollout_create.md
{
	echo "## rollout_create"
	echo
	echo "Rollouts of the whole fleet, created by a selector the database applies (no broker:"
	echo "nothing cast). load average before: $(cut -d' ' -f1-3 /proc/loadavg)."
	echo
	echo "| store | instances | POST (selector) | GET view | 9 pages of 10,000 appended to a draft (each) | resume of the 100,000-target draft | RSS before | RSS after | peak RSS |"
	echo "|---|---|---|---|---|---|---|---|---|"
} > "$md"
awk 'BEGIN { printf "{\"instances\": ["; for (i = 0; i < 10000; i++) printf "%s\"x-%05d\"", (i ? ", " : ""), i; print "]}" }' > "$T/page0"
for store in $stores; do
	for n in $sizes; do
		name=c_${store}_$n
		fleet_ini "$(db_spec "$store" "$name")"
		fleet_start || exit 1
		fleet_stop
		fill "$store" "$name" "$n"
		fleet_start || exit 1
		before=$(rss VmRSS)
		printf '{%s, "rollout_id": "all", "targets": {"agent_version_below": "v2.0.0"}, "waves": [1, 10, 50, 100]}' "$upgrade" > "$T/req"
		post=$(post_ms /rollouts "$T/req")
		[ "$(json_get '["rollout"]["target_count"]' < "$T/body")" = "$n" ] ||
			{ echo "rollout_create: not $n targets" >&2; cat "$T/body" >&2; exit 1; }
		view=$(get_ms /rollouts/all)
		printf '{%s, "rollout_id": "draft", "draft": true, "targets": %s, "waves": [1, 10, 50, 100]}' "$upgrade" "$(cat "$T/page0")" > "$T/req"
		post_ms /rollouts "$T/req" > /dev/null
		pages=""
		for p in 1 2 3 4 5 6 7 8 9; do
			sed "s/\"x-/\"x$p-/g" "$T/page0" > "$T/page"
			pages="$pages $(post_ms /rollouts/draft/targets "$T/page")"
		done
		echo '{"resume": {}}' > "$T/req"
		resume=$(post_ms /rollouts/draft/action "$T/req")
		after=$(rss VmRSS)
		peak=$(rss VmHWM)
		pages=$(echo $pages | awk '{ min = $1; max = $1; for (i = 1; i <= NF; i++) { s += $i;
			if ($i < min) min = $i; if ($i > max) max = $i } printf "%d ms mean (%d to %d)", s / NF, min, max }')
		echo "| $store | $n | $post ms | $view ms | $pages | $resume ms | $before MiB | $after MiB | $peak MiB |" >> "$md"
		echo "rollout_create: $store $n: POST $post ms, view $view ms, pages $pages, resume $resume ms, RSS $before/$after/$peak MiB" >&2
		fleet_stop
		if [ "$store" = sqlite ]; then rm -f "$T/$name.db"*; fi
	done
done
{
	echo
	echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)."
	echo
} >> "$md"
cat "$md" >> "$out/report.md"
cat "$md"
set +e	# lib.sh's exit hooks (stopping the servers) must not fail a finished run
exit 0
