/* rollout_request.c: a rollout's creation request, checked, and its plan
 * (see rollout_request.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "store/fleet_pool.h"
#include "history.h"
#include "request_check.h"
#include "api/rollout_request.h"
#include "version.h"

#define REQUEST_DURATION_MAX_US (INT64_C(30) * 86400 * 1000000)
#define REQUEST_RATE_MAX 1000.0
#define REQUEST_TIMEOUT_DEFAULT_US (INT64_C(30) * 60 * 1000000)

struct plan {
	struct fleet_rollout_target *t;
	size_t count;
};

/* A number of seconds, or a duration text; *us unchanged when absent. */
int rollout_request_duration(json_t *body, const char *key, int zero_ok, int64_t *us,
			     struct fleet_response *res)
{
	json_t *v = json_object_get(body, key);
	uint64_t ms;
	double s;

	if (!v)
		return 0;
	if (json_is_number(v)) {
		s = json_number_value(v);
		if (!(s >= 0) || s * 1e6 > (double)REQUEST_DURATION_MAX_US)
			return fleet_reply_error(res, 400, key, "want 0 to 30 days");
		*us = (int64_t)(s * 1e6 + 0.5);
	} else if (json_is_string(v) &&
		   config_parse_duration64(json_string_value(v), &ms) == 0 &&
		   ms <= (uint64_t)REQUEST_DURATION_MAX_US / 1000) {
		*us = (int64_t)ms * 1000;
	} else {
		return fleet_reply_error(res, 400, key, "want seconds or a duration (\"90s\", "
				     "\"10m\", \"1h\") up to 30 days");
	}
	if (!zero_ok && *us == 0)
		return fleet_reply_error(res, 400, key, "must be above 0");
	return 0;
}

/* max_failure_rate, rate, probation, timeout. */
static int request_numbers(json_t *body, struct fleet_rollout *r, struct fleet_response *res)
{
	json_t *v = json_object_get(body, "max_failure_rate");

	if (v && (!json_is_number(v) || !(json_number_value(v) >= 0) ||
		  json_number_value(v) > 1))
		return fleet_reply_error(res, 400, "max_failure_rate",
					 "want a fraction from 0 to 1");
	r->max_failure_ppm = v ? (uint32_t)(json_number_value(v) * 1e6 + 0.5) : 0;
	r->probation_us = 0;
	r->timeout_us = REQUEST_TIMEOUT_DEFAULT_US;
	if (rollout_request_rate(body, &r->cast_interval_us, res) < 0 ||
	    rollout_request_duration(body, "probation", 1, &r->probation_us, res) < 0 ||
	    rollout_request_duration(body, "timeout", 0, &r->timeout_us, res) < 0)
		return -1;
	return 0;
}

int rollout_request_rate(json_t *body, int64_t *interval_us, struct fleet_response *res)
{
	json_t *v = json_object_get(body, "rate");
	double rate = 1;

	if (v && (!json_is_number(v) || !(json_number_value(v) > 0) ||
		  json_number_value(v) > REQUEST_RATE_MAX))
		return fleet_reply_error(res, 400, "rate", "want casts per second, above 0, at "
					 "most %.0f", REQUEST_RATE_MAX);
	if (v)
		rate = json_number_value(v);
	*interval_us = (int64_t)(1e6 / rate + 0.5);
	return 0;
}

/* The upgrade's fields, with the guest's rules. */
int rollout_request_target(json_t *body, const struct rollout_target *r,
			   struct fleet_response *res)
{
	const char *version, *location, *strategy, *sha256;
	json_t *metadata = json_object_get(body, "metadata");
	struct error err = { "" };
	char *text;

	if (write_string(body, "instance_version", "instance_version", 1, &version, res) < 0 ||
	    write_string(body, "location", "location", 1, &location, res) < 0 ||
	    write_string(body, "strategy", "strategy", 0, &strategy, res) < 0 ||
	    write_string(body, "sha256", "sha256", 0, &sha256, res) < 0)
		return -1;
	if (!strategy)
		strategy = "http";
	if (request_check_version("instance_version", version, &err) < 0)
		return fleet_reply_error(res, 400, "instance_version", "%s", err.text);
	/* any well-formed name: the guest knows its own [strategy.NAME]s */
	if (!config_strategy_name_ok(strategy))
		return fleet_reply_error(res, 400, "strategy", "want 1 to %d of [a-z0-9_-] "
					 "(built in: http, swift, file)", CONFIG_STRATEGY_NAME_MAX);
	if (request_check_location("location", strategy, location, &err) < 0)
		return fleet_reply_error(res, 400, "location", "%s", err.text);
	if (metadata && !json_is_object(metadata))
		return fleet_reply_error(res, 400, "metadata", "not an object");
	if (write_sha256(metadata, &sha256, res) < 0)
		return -1;
	text = metadata ? json_dumps(metadata, JSON_COMPACT) : NULL;
	if (text && strlen(text) >= FLEET_ROLLOUT_METADATA_MAX) {
		free(text);
		return fleet_reply_error(res, 400, "metadata", "larger than %d bytes as JSON",
					 FLEET_ROLLOUT_METADATA_MAX - 1);
	}
	snprintf(r->metadata, FLEET_ROLLOUT_METADATA_MAX, "%s", text ? text : "");
	free(text);
	snprintf(r->to_version, FLEET_VERSION_MAX, "%s", version);
	snprintf(r->strategy, 32, "%s", strategy);
	snprintf(r->location, FLEET_LOCATION_MAX, "%s", location);
	snprintf(r->sha256, 65, "%s", sha256 ? sha256 : "");
	return 0;
}

static int request_upgrade(json_t *body, struct fleet_rollout *r, struct fleet_response *res)
{
	struct rollout_target t = { r->to_version, r->strategy, r->location, r->sha256,
				    r->metadata };

	return rollout_request_target(body, &t, res);
}

static int request_add(struct plan *p, const char *id, struct fleet_response *res)
{
	if (p->count == FLEET_ROLLOUT_TARGETS_MAX)
		return fleet_reply_error(res, 400, "targets", "more than %d instances",
					 FLEET_ROLLOUT_TARGETS_MAX);
	snprintf(p->t[p->count++].instance_id, FLEET_INSTANCE_MAX, "%s", id);
	return 0;
}

static int request_list(json_t *list, struct plan *p, struct fleet_response *res)
{
	struct error err = { "" };
	char field[48];
	json_t *v;
	size_t i, j;

	if (!json_is_array(list))
		return fleet_reply_error(res, 400, "targets.instances", "not an array of ids");
	json_array_foreach(list, i, v) {
		snprintf(field, sizeof field, "targets.instances[%zu]", i);
		if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
		    request_check_id(field, json_string_value(v), REQUEST_INSTANCE_MAX, &err) < 0)
			return fleet_reply_error(res, 400, field, "%s",
						 err.text[0] ? err.text : "not an id");
		for (j = 0; j < p->count; j++)
			if (!strcmp(p->t[j].instance_id, json_string_value(v)))
				return fleet_reply_error(res, 400, field, "given twice");
		if (request_add(p, json_string_value(v), res) < 0)
			return -1;
	}
	return 0;
}

/* Every known instance that reported a version below `below`, by id. */
static int request_select(struct fleet_request *req, const char *below, struct plan *p,
			  struct fleet_response *res)
{
	struct fleet_instance *page = calloc(FLEET_PAGE_MAX, sizeof *page);
	struct fleet_store *store;
	struct error err = { "" };
	char marker[FLEET_INSTANCE_MAX] = "";
	size_t n = 0, i;
	int more = 1, cmp, rc = 0;

	if (!page)
		return fleet_reply_error(res, 500, "", "out of memory");
	store = fleet_pool_get(req->deps->pool);
	while (more && rc == 0) {
		rc = fleet_store_instance_list(store, NULL, marker[0] ? marker : NULL,
					       FLEET_PAGE_MAX, page, &n, &more, &err);
		for (i = 0; rc == 0 && i < n; i++)
			if (page[i].agent_version[0] &&
			    version_compare_text(page[i].agent_version, below, &cmp, NULL) == 0 &&
			    cmp < 0)
				rc = request_add(p, page[i].id, res);
		if (n)
			memcpy(marker, page[n - 1].id, sizeof marker);
	}
	fleet_pool_put(req->deps->pool, store);
	free(page);
	if (rc < 0 && err.text[0])	/* the store's failure, not a refused target */
		return fleet_reply_error(res, 503, "", "%s", err.text);
	return rc < 0 ? -1 : 0;
}

static int request_targets(struct fleet_request *req, json_t *body, struct fleet_rollout *r,
			   struct plan *p, struct fleet_response *res)
{
	static const char *const kinds[] = { "instances", "agent_version_below", NULL };
	json_t *t = json_object_get(body, "targets");
	const char *below = NULL;
	struct error err = { "" };

	if (!t)
		return fleet_reply_error(res, 400, "targets", "missing");
	if (!json_is_object(t) || json_object_size(t) != 1)
		return fleet_reply_error(res, 400, "targets", "want {\"instances\": [...]} or "
					 "{\"agent_version_below\": \"V\"}");
	if (write_known_fields(t, "targets.", kinds, res) < 0)
		return -1;
	if (json_object_get(t, "instances")) {
		if (request_list(json_object_get(t, "instances"), p, res) < 0)
			return -1;
		snprintf(r->selector, sizeof r->selector, "{\"instances\": %zu}", p->count);
	} else {
		if (write_string(t, "agent_version_below", "targets.agent_version_below", 1, &below,
				 res) < 0)
			return -1;
		if (request_check_version("targets.agent_version_below", below, &err) < 0)
			return fleet_reply_error(res, 400, "targets.agent_version_below", "%s",
						 err.text);
		if (request_select(req, below, p, res) < 0)
			return -1;
		snprintf(r->selector, sizeof r->selector, "{\"agent_version_below\": \"%s\"}",
			 below);
	}
	if (p->count == 0)
		return fleet_reply_error(res, 400, "targets", "no instance matches");
	return 0;
}

/* Checks the percents, then gives each target its wave. */
static int request_waves(json_t *body, struct fleet_rollout *r, struct plan *p,
			 struct fleet_response *res)
{
	json_t *waves = json_object_get(body, "waves"), *v, *kept = json_array();
	size_t i, end, start = 0, k;
	char field[32], *text;
	json_int_t last = 0;

	if (!waves || !json_is_array(waves) || !json_array_size(waves) ||
	    json_array_size(waves) > FLEET_ROLLOUT_WAVES_MAX) {
		json_decref(kept);
		return fleet_reply_error(res, 400, "waves", "want 1 to %d cumulative percents, "
					 "e.g. [1, 10, 50, 100]", FLEET_ROLLOUT_WAVES_MAX);
	}
	json_array_foreach(waves, i, v) {
		snprintf(field, sizeof field, "waves[%zu]", i);
		if (!json_is_integer(v) || json_integer_value(v) <= last ||
		    json_integer_value(v) > 100) {
			json_decref(kept);
			return fleet_reply_error(res, 400, field, "want a whole percent above the "
						 "previous one, at most 100");
		}
		last = json_integer_value(v);
		end = (size_t)((last * (json_int_t)p->count + 99) / 100);
		if (end > start) {	/* an empty wave is dropped */
			for (k = start; k < end; k++)
				p->t[k].wave = r->wave_count;
			r->wave_count++;
			json_array_append(kept, v);
			start = end;
		}
	}
	if (last != 100) {
		json_decref(kept);
		return fleet_reply_error(res, 400, "waves", "the last wave must be 100");
	}
	text = json_dumps(kept, JSON_COMPACT);
	snprintf(r->waves, sizeof r->waves, "%s", text ? text : "[]");
	free(text);
	json_decref(kept);
	return 0;
}

int rollout_request(struct fleet_request *req, json_t *body, struct fleet_rollout *r,
		    struct fleet_rollout_target **targets, size_t *count,
		    struct fleet_response *res)
{
	static const char *const fields[] = { "rollout_id", "instance_version", "location",
		"strategy", "metadata", "sha256", "targets", "waves", "max_failure_rate", "rate",
		"probation", "timeout", NULL };
	struct plan p = { calloc(FLEET_ROLLOUT_TARGETS_MAX, sizeof *p.t), 0 };
	struct error err = { "" };
	const char *id = NULL;

	memset(r, 0, sizeof *r);
	*targets = NULL;
	*count = 0;
	if (!p.t)
		return fleet_reply_error(res, 500, "", "out of memory");
	if (write_known_fields(body, "", fields, res) < 0 ||
	    write_string(body, "rollout_id", "rollout_id", 0, &id, res) < 0 ||
	    (id && request_check_id("rollout_id", id, REQUEST_ID_MAX, &err) < 0 &&
	     fleet_reply_error(res, 400, "rollout_id", "%s", err.text) < 0) ||
	    request_upgrade(body, r, res) < 0 || request_numbers(body, r, res) < 0 ||
	    request_targets(req, body, r, &p, res) < 0 || request_waves(body, r, &p, res) < 0)
		goto fail;
	if (id)
		snprintf(r->id, sizeof r->id, "%s", id);
	else if (history_new_id(r->id, sizeof r->id, &err) < 0) {
		fleet_reply_error(res, 500, "", "%s", err.text);
		goto fail;
	}
	snprintf(r->tenant, sizeof r->tenant, "%s", req->tenant);
	r->state = FLEET_ROLLOUT_RUNNING;
	*targets = p.t;
	*count = p.count;
	return 0;
fail:
	free(p.t);
	return -1;
}
