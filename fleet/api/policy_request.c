/* policy_request.c: a policy's creation request, checked (see
 * policy_request.h); the target, rate and durations as a rollout's
 * (rollout_request.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"
#include "request_check.h"
#include "api/policy_request.h"
#include "api/rollout_request.h"
#include "rollout/fleet_policy.h"
#include "version.h"

#define POLICY_RETRY_DEFAULT_US (INT64_C(6) * 3600 * 1000000)
#define POLICY_TIMEOUT_DEFAULT_US (INT64_C(30) * 60 * 1000000)	/* as rollouts' */

/* A whole number lo..hi into *out (unchanged when absent). */
static int request_uint(json_t *body, const char *key, unsigned lo, unsigned hi, unsigned *out,
			struct fleet_response *res)
{
	json_t *v = json_object_get(body, key);

	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return fleet_reply_error(res, 400, key, "want a whole number from %u to %u", lo, hi);
	*out = (unsigned)json_integer_value(v);
	return 0;
}

static int request_ids(json_t *list, struct fleet_policy *p, struct fleet_response *res)
{
	struct error err = { "" };
	char field[48], *text;
	json_t *v;
	size_t i, j;

	if (!json_is_array(list) || !json_array_size(list) || json_array_size(list) > POLICY_IDS_MAX)
		return fleet_reply_error(res, 400, "scope.instances", "want 1 to %d instance ids",
					 POLICY_IDS_MAX);
	json_array_foreach(list, i, v) {
		snprintf(field, sizeof field, "scope.instances[%zu]", i);
		if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
		    request_check_id(field, json_string_value(v), REQUEST_INSTANCE_MAX, &err) < 0)
			return fleet_reply_error(res, 400, field, "%s",
						 err.text[0] ? err.text : "not an id");
		for (j = 0; j < i; j++)
			if (json_equal(json_array_get(list, j), v))
				return fleet_reply_error(res, 400, field, "given twice");
	}
	text = json_dumps(list, JSON_COMPACT);
	if (!text || strlen(text) >= sizeof p->instances) {
		free(text);
		return fleet_reply_error(res, 400, "scope.instances", "too long");
	}
	snprintf(p->instances, sizeof p->instances, "%s", text);
	free(text);
	return 0;
}

static int request_scope(json_t *body, struct fleet_policy *p, struct fleet_response *res)
{
	static const char *const fields[] = { "instances", "min_version", "max_version", NULL };
	json_t *scope = json_object_get(body, "scope");
	const char *names[2] = { "min_version", "max_version" }, *v;
	char *out[2] = { p->min_version, p->max_version }, field[32];
	struct error err = { "" };
	int i, cmp;

	if (!scope)
		return 0;
	if (!json_is_object(scope))
		return fleet_reply_error(res, 400, "scope", "not an object");
	if (write_known_fields(scope, "scope.", fields, res) < 0 ||
	    (json_object_get(scope, "instances") &&
	     request_ids(json_object_get(scope, "instances"), p, res) < 0))
		return -1;
	for (i = 0; i < 2; i++) {
		snprintf(field, sizeof field, "scope.%s", names[i]);
		if (write_string(scope, names[i], field, 0, &v, res) < 0)
			return -1;
		if (v && request_check_version(field, v, &err) < 0)
			return fleet_reply_error(res, 400, field, "%s", err.text);
		snprintf(out[i], FLEET_VERSION_MAX, "%s", v ? v : "");
	}
	if (p->min_version[0] && p->max_version[0] &&
	    (version_compare_text(p->min_version, p->max_version, &cmp, NULL) < 0 || cmp >= 0))
		return fleet_reply_error(res, 400, "scope.max_version", "not above min_version");
	return 0;
}

/* rate, max_in_flight, window, probation, budget, retry_after, timeout. */
static int request_pace(json_t *body, struct fleet_policy *p, struct fleet_response *res)
{
	struct fleet_policy_window w;
	const char *window = NULL;

	p->max_in_flight = 10;
	p->max_failures = 5;
	p->budget_window = 100;
	p->retry_after_us = POLICY_RETRY_DEFAULT_US;
	p->timeout_us = POLICY_TIMEOUT_DEFAULT_US;
	if (rollout_request_rate(body, &p->cast_interval_us, res) < 0 ||
	    request_uint(body, "max_in_flight", 1, 10000, &p->max_in_flight, res) < 0 ||
	    request_uint(body, "budget_window", 1, 10000, &p->budget_window, res) < 0 ||
	    request_uint(body, "max_failures", 0, p->budget_window, &p->max_failures, res) < 0 ||
	    rollout_request_duration(body, "probation", 1, &p->probation_us, res) < 0 ||
	    rollout_request_duration(body, "retry_after", 1, &p->retry_after_us, res) < 0 ||
	    rollout_request_duration(body, "timeout", 0, &p->timeout_us, res) < 0 ||
	    write_string(body, "window", "window", 0, &window, res) < 0)
		return -1;
	if (p->max_failures > p->budget_window)	/* the default 5 over a smaller window */
		return fleet_reply_error(res, 400, "max_failures", "above budget_window");
	if (window && (strlen(window) >= sizeof p->window ||
		       fleet_policy_window_parse(window, &w) < 0 || !w.set))
		return fleet_reply_error(res, 400, "window", "want \"HH:MM-HH:MM\" (UTC), two "
					 "different times");
	snprintf(p->window, sizeof p->window, "%s", window ? window : "");
	return 0;
}

int policy_request(struct fleet_request *req, json_t *body, struct fleet_policy *p,
		   struct fleet_response *res)
{
	static const char *const fields[] = { "policy_id", "instance_version", "location",
		"strategy", "metadata", "sha256", "scope", "rate", "max_in_flight", "window",
		"probation", "max_failures", "budget_window", "retry_after", "timeout", NULL };
	struct rollout_target t = { p->to_version, p->strategy, p->location, p->sha256,
				    p->metadata };
	struct error err = { "" };
	const char *id = NULL;

	memset(p, 0, sizeof *p);
	if (write_known_fields(body, "", fields, res) < 0 ||
	    write_string(body, "policy_id", "policy_id", 0, &id, res) < 0)
		return -1;
	if (id && request_check_id("policy_id", id, REQUEST_ID_MAX, &err) < 0)
		return fleet_reply_error(res, 400, "policy_id", "%s", err.text);
	if (rollout_request_target(body, &t, res) < 0 || request_scope(body, p, res) < 0 ||
	    request_pace(body, p, res) < 0)
		return -1;
	if (id)
		snprintf(p->id, sizeof p->id, "%s", id);
	else if (history_new_id(p->id, sizeof p->id, &err) < 0)
		return fleet_reply_error(res, 500, "", "%s", err.text);
	snprintf(p->tenant, sizeof p->tenant, "%s", req->tenant);
	p->state = FLEET_POLICY_ACTIVE;
	return 0;
}
