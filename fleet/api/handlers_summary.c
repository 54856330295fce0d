/* handlers_summary.c: GET .../mgmt/summary?stale_after=SECONDS, the fleet
 * at a glance (fleet_store_summary.h): instances by agent version, by guest
 * RPC API version and by the state of their newest upgrade, how many were
 * never heard from and how many are stale (their last heartbeat older than
 * stale_after seconds, default 180: three of the guests' default
 * heartbeat_interval), upgrade records by state.  Counted by the database:
 * the answer's size does not grow with the fleet (the 50 most common
 * versions, the rest summed in *_other). */
#include <stdlib.h>
#include <time.h>

#include "api/fleet_http.h"
#include "api/fleet_view.h"
#include "number.h"
#include "store/fleet_pool.h"
#include "store/fleet_store_summary.h"

#define SUMMARY_STALE_DEFAULT 180
#define SUMMARY_STALE_MAX (366ULL * 24 * 3600)

static json_t *summary_versions(const struct fleet_version_count *v, size_t count)
{
	json_t *list = json_array();
	size_t i;

	for (i = 0; i < count; i++)
		json_array_append_new(list, json_pack("{s:o, s:I}", "version",
			fleet_view_text_or_null(v[i].version), "count", (json_int_t)v[i].count));
	return list;
}

/* Every state named, zeros too, so a client need not know the list. */
static json_t *summary_states(const uint64_t *counts, int with_none)
{
	json_t *states = json_object();
	int s;

	for (s = 0; s < FLEET_STATE_COUNT; s++)
		json_object_set_new(states, fleet_state_name((enum fleet_state)s),
				    json_integer((json_int_t)counts[s]));
	if (with_none)
		json_object_set_new(states, "NONE",
				    json_integer((json_int_t)counts[FLEET_STATE_COUNT]));
	return states;
}

static json_t *summary_view(const struct fleet_summary *s, unsigned long long stale_after,
			    int64_t now_us)
{
	return json_pack("{s:{s:o, s:I, s:o, s:I, s:o, s:I, s:o, s:I, s:I, s:I, s:o}}", "summary",
		"at", fleet_view_time(now_us),
		"instances", (json_int_t)s->instances,
		"agent_versions", summary_versions(s->versions, s->version_count),
		"agent_versions_other", (json_int_t)s->versions_other,
		"rpc_api_versions", summary_versions(s->rpc_api, s->rpc_api_count),
		"rpc_api_versions_other", (json_int_t)s->rpc_api_other,
		"last_upgrade_states", summary_states(s->last_state, 1),
		"never_seen", (json_int_t)s->never_seen,
		"stale", (json_int_t)s->stale,
		"stale_after", (json_int_t)stale_after,
		"upgrades", summary_states(s->upgrades, 0));
}

void fleet_handle_summary(struct fleet_request *req, struct fleet_response *res)
{
	static const char *const allowed[] = { "stale_after" };
	unsigned long long stale_after = SUMMARY_STALE_DEFAULT;
	struct fleet_summary *s;
	struct fleet_store *store;
	struct error err = { "" };
	struct timespec now;
	const char *q[1];
	int64_t now_us;
	int rc;

	if (fleet_query(req, allowed, 1, q, res) < 0)
		return;
	if (q[0] && (number_parse(q[0], SUMMARY_STALE_MAX, &stale_after) < 0 || !stale_after)) {
		fleet_reply_error(res, 400, "stale_after", "want seconds, from 1 to %llu",
				  SUMMARY_STALE_MAX);
		return;
	}
	s = malloc(sizeof *s);
	if (!s) {
		fleet_reply_error(res, 500, "", "out of memory");
		return;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	now_us = (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
	store = fleet_pool_get(req->deps->pool);
	rc = fleet_store_summary(store, now_us - (int64_t)stale_after * 1000000, s, &err);
	fleet_pool_put(req->deps->pool, store);
	if (rc < 0)
		fleet_reply_error(res, 503, "", "%s", err.text);
	else
		fleet_reply(res, 200, summary_view(s, stale_after, now_us));
	free(s);
}
