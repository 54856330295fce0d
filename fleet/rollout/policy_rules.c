/* policy_rules.c: a policy's pure rules: window, scope, overlap, budget
 * and the RPC API cap (see rollout/fleet_policy.h).  No store, no clock
 * but the one given. */
#include <stdio.h>
#include <string.h>

#include "rollout/fleet_policy.h"
#include "rpc_message.h"
#include "version.h"

/* "HH:MM" at text: minutes, or -1. */
static int rules_minutes(const char *t)
{
	int h, m;

	if (t[0] < '0' || t[0] > '2' || t[1] < '0' || t[1] > '9' || t[2] != ':' ||
	    t[3] < '0' || t[3] > '5' || t[4] < '0' || t[4] > '9')
		return -1;
	h = (t[0] - '0') * 10 + t[1] - '0';
	m = (t[3] - '0') * 10 + t[4] - '0';
	return h < 24 ? h * 60 + m : -1;
}

int fleet_policy_window_parse(const char *text, struct fleet_policy_window *w)
{
	int start, end;

	memset(w, 0, sizeof *w);
	if (!text[0])
		return 0;
	if (strlen(text) != 11 || text[5] != '-')
		return -1;
	start = rules_minutes(text);
	end = rules_minutes(text + 6);
	if (start < 0 || end < 0 || start == end)
		return -1;
	*w = (struct fleet_policy_window){ 1, (unsigned)start, (unsigned)end };
	return 0;
}

int fleet_policy_window_open(const struct fleet_policy_window *w, int64_t now_us)
{
	unsigned now;

	if (!w->set)
		return 1;
	now = (unsigned)((now_us / 60000000) % 1440);
	if (w->start < w->end)
		return now >= w->start && now < w->end;
	return now >= w->start || now < w->end;	/* across midnight */
}

/* -1, 0, 1 as version_compare; 2 when either does not parse. */
static int rules_compare(const char *a, const char *b)
{
	int cmp;

	return version_compare_text(a, b, &cmp, NULL) < 0 ? 2 : cmp;
}

static int rules_listed(const json_t *ids, const char *id)
{
	const json_t *v;
	size_t i;

	json_array_foreach(ids, i, v)
		if (json_is_string(v) && !strcmp(json_string_value(v), id))
			return 1;
	return 0;
}

int fleet_policy_candidate(const struct fleet_policy *p, const json_t *ids,
			   const char *instance_id, const char *agent_version)
{
	int below = rules_compare(agent_version, p->to_version);

	if (below == 2 || below >= 0)
		return 0;
	if (ids && !rules_listed(ids, instance_id))
		return 0;
	if (p->min_version[0] && rules_compare(agent_version, p->min_version) < 0)
		return 0;
	if (p->max_version[0] && rules_compare(agent_version, p->max_version) != -1)
		return 0;
	return 1;
}

/* [a_min, a_max) and [b_min, b_max) meet ("" unbounded). */
static int rules_ranges_meet(const struct fleet_policy *a, const struct fleet_policy *b)
{
	if (a->min_version[0] && b->max_version[0] &&
	    rules_compare(a->min_version, b->max_version) >= 0)
		return 0;
	if (b->min_version[0] && a->max_version[0] &&
	    rules_compare(b->min_version, a->max_version) >= 0)
		return 0;
	return 1;
}

static int rules_lists_meet(const struct fleet_policy *a, const struct fleet_policy *b)
{
	json_t *x = json_loads(a->instances, 0, NULL), *y = json_loads(b->instances, 0, NULL);
	const json_t *v;
	size_t i;
	int meet = 0;

	json_array_foreach(x, i, v)
		if (json_is_string(v) && rules_listed(y, json_string_value(v)))
			meet = 1;
	json_decref(x);
	json_decref(y);
	return meet;
}

static int rules_major(const char *version, uint32_t *major)
{
	struct version v;

	if (version_parse(version, &v, NULL) < 0)
		return -1;
	*major = v.number[0];
	return 0;
}

int fleet_policy_overlap(const struct fleet_policy *a, const struct fleet_policy *b)
{
	uint32_t ma, mb;

	if (strcmp(a->tenant, b->tenant) || rules_major(a->to_version, &ma) < 0 ||
	    rules_major(b->to_version, &mb) < 0 || ma != mb)
		return 0;
	if (a->instances[0] && b->instances[0] && !rules_lists_meet(a, b))
		return 0;
	return rules_ranges_meet(a, b);
}

int fleet_policy_over_budget(const struct fleet_policy *p, const struct fleet_policy_counts *c,
			     char *reason)
{
	if (c->failed <= p->max_failures)
		return 0;
	snprintf(reason, FLEET_REASON_MAX, "failure budget spent: %zu of the last %zu finished"
		 " upgrades FAILED, more than max_failures %u (budget_window %u)", c->failed,
		 c->finished, p->max_failures, p->budget_window);
	return 1;
}

static int rules_api(const char *text, unsigned *major, unsigned *minor)
{
	return rpc_api_version_parse(text, strlen(text), major, minor);
}

int fleet_policy_cap_allows(const char *config_cap, const char *reported, const char *needed,
			    char *cap)
{
	unsigned cmaj, cmin, nmaj, nmin;

	if (strcmp(config_cap, "auto"))
		snprintf(cap, FLEET_RPC_API_MAX, "%s", config_cap);
	else
		snprintf(cap, FLEET_RPC_API_MAX, "%s", reported[0] ? reported : "1.0");
	if (rules_api(cap, &cmaj, &cmin) < 0 || rules_api(needed, &nmaj, &nmin) < 0)
		return -1;
	return cmaj == nmaj && cmin >= nmin;
}
