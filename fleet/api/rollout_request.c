/* rollout_request.c: a rollout's creation request, checked, and the
 * selection the store applies (see rollout_request.h): no target list is
 * built here beyond the one page a request may carry. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "history.h"
#include "request_check.h"
#include "api/rollout_request.h"

#define REQUEST_DURATION_MAX_US (INT64_C(30) * 86400 * 1000000)
#define REQUEST_RATE_MAX 1000.0
#define REQUEST_TIMEOUT_DEFAULT_US (INT64_C(30) * 60 * 1000000)

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
	if (write_metadata(metadata, res) < 0)
		return -1;
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

struct request_id {
	const char *id;
	size_t index;
};

static int request_id_cmp(const void *a, const void *b)
{
	const struct request_id *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	return c ? c : x->index < y->index ? -1 : x->index > y->index;
}

/* The first index whose id came earlier in ids, or count: sorted copies,
 * n log n for a page of FLEET_ROLLOUT_PAGE_MAX. */
static size_t request_first_twice(const char *const *ids, size_t count)
{
	struct request_id *sorted = calloc(count ? count : 1, sizeof *sorted);
	size_t i, first = count;

	if (!sorted)
		return count + 1;
	for (i = 0; i < count; i++)
		sorted[i] = (struct request_id){ ids[i], i };
	qsort(sorted, count, sizeof *sorted, request_id_cmp);
	for (i = 1; i < count; i++)
		if (!strcmp(sorted[i].id, sorted[i - 1].id) && sorted[i].index < first)
			first = sorted[i].index;
	free(sorted);
	return first;
}

int rollout_request_ids(json_t *list, const char *field, const char ***ids, size_t *count,
			struct fleet_response *res)
{
	struct error err = { "" };
	char name[64];
	size_t i, twice;
	json_t *v;

	*ids = NULL;
	*count = 0;
	if (!json_is_array(list) || !json_array_size(list))
		return fleet_reply_error(res, 400, field, "not an array of ids");
	if (json_array_size(list) > FLEET_ROLLOUT_PAGE_MAX)
		return fleet_reply_error(res, 400, field, "more than %d instances: create a draft "
					 "and append them in pages (POST .../rollouts/ID/targets)",
					 FLEET_ROLLOUT_PAGE_MAX);
	if (!(*ids = calloc(json_array_size(list), sizeof **ids)))
		return fleet_reply_error(res, 500, "", "out of memory");
	json_array_foreach(list, i, v) {
		snprintf(name, sizeof name, "%s[%zu]", field, i);
		if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
		    request_check_id(name, json_string_value(v), REQUEST_INSTANCE_MAX, &err) < 0)
			return fleet_reply_error(res, 400, name, "%s",
						 err.text[0] ? err.text : "not an id");
		(*ids)[i] = json_string_value(v);
	}
	*count = json_array_size(list);
	twice = request_first_twice(*ids, *count);
	if (twice > *count)
		return fleet_reply_error(res, 500, "", "out of memory");
	if (twice < *count) {
		snprintf(name, sizeof name, "%s[%zu]", field, twice);
		return fleet_reply_error(res, 400, name, "given twice");
	}
	return 0;
}

/* targets: an id list, or a version selector the database applies. */
static int request_targets(json_t *body, struct fleet_rollout *r,
			   struct fleet_rollout_selection *sel, struct fleet_response *res)
{
	static const char *const kinds[] = { "instances", "agent_version_below", "agent_version",
					     NULL };
	json_t *t = json_object_get(body, "targets");
	const char *version = NULL, *field;
	struct error err = { "" };

	if (!t)
		return fleet_reply_error(res, 400, "targets", "missing");
	if (!json_is_object(t) || json_object_size(t) != 1)
		return fleet_reply_error(res, 400, "targets", "want {\"instances\": [...]}, "
					 "{\"agent_version_below\": \"V\"} or "
					 "{\"agent_version\": \"V\"}");
	if (write_known_fields(t, "targets.", kinds, res) < 0)
		return -1;
	if (json_object_get(t, "instances")) {
		sel->kind = FLEET_SELECT_LIST;
		if (rollout_request_ids(json_object_get(t, "instances"), "targets.instances",
					(const char ***)&sel->ids, &sel->count, res) < 0)
			return -1;
		snprintf(r->selector, sizeof r->selector, "{\"instances\": %zu}", sel->count);
		return 0;
	}
	sel->kind = json_object_get(t, "agent_version") ? FLEET_SELECT_VERSION_EQUAL :
							  FLEET_SELECT_VERSION_BELOW;
	field = sel->kind == FLEET_SELECT_VERSION_EQUAL ? "agent_version" : "agent_version_below";
	snprintf(r->selector, sizeof r->selector, "targets.%s", field);
	if (write_string(t, field, r->selector, 1, &version, res) < 0)
		return -1;
	if (request_check_version(r->selector, version, &err) < 0)
		return fleet_reply_error(res, 400, r->selector, "%s", err.text);
	snprintf(r->selector, sizeof r->selector, "{\"%s\": \"%s\"}", field, version);
	sel->version = version;
	return 0;
}

/* Checks the percents; the waves are made from them and the count by the
 * store (fleet_store_rollout_create). */
static int request_waves(json_t *body, struct fleet_rollout *r,
			 struct fleet_rollout_selection *sel, struct fleet_response *res)
{
	json_t *waves = json_object_get(body, "waves"), *v;
	char field[32], *text;
	json_int_t last = 0;
	size_t i;

	if (!waves || !json_is_array(waves) || !json_array_size(waves) ||
	    json_array_size(waves) > FLEET_ROLLOUT_WAVES_MAX)
		return fleet_reply_error(res, 400, "waves", "want 1 to %d cumulative percents, "
					 "e.g. [1, 10, 50, 100]", FLEET_ROLLOUT_WAVES_MAX);
	json_array_foreach(waves, i, v) {
		snprintf(field, sizeof field, "waves[%zu]", i);
		if (!json_is_integer(v) || json_integer_value(v) <= last ||
		    json_integer_value(v) > 100)
			return fleet_reply_error(res, 400, field, "want a whole percent above the "
						 "previous one, at most 100");
		last = json_integer_value(v);
		sel->percents[i] = (unsigned)last;
	}
	if (last != 100)
		return fleet_reply_error(res, 400, "waves", "the last wave must be 100");
	sel->percent_count = json_array_size(waves);
	text = json_dumps(waves, JSON_COMPACT);
	snprintf(r->waves, sizeof r->waves, "%s", text ? text : "[]");
	free(text);
	return 0;
}

static int request_draft(json_t *body, struct fleet_rollout *r,
			 struct fleet_rollout_selection *sel, struct fleet_response *res)
{
	json_t *v = json_object_get(body, "draft");

	if (v && !json_is_boolean(v))
		return fleet_reply_error(res, 400, "draft", "want true or false");
	sel->draft = json_is_true(v);
	r->state = sel->draft ? FLEET_ROLLOUT_PAUSED : FLEET_ROLLOUT_RUNNING;
	if (sel->draft)
		snprintf(r->reason, sizeof r->reason,
			 "draft: append targets (POST .../targets), then resume");
	return 0;
}

int rollout_request(struct fleet_request *req, json_t *body, struct fleet_rollout *r,
		    struct fleet_rollout_selection *sel, struct fleet_response *res)
{
	static const char *const fields[] = { "rollout_id", "instance_version", "location",
		"strategy", "metadata", "sha256", "targets", "waves", "max_failure_rate", "rate",
		"probation", "timeout", "draft", NULL };
	struct error err = { "" };
	const char *id = NULL;

	memset(r, 0, sizeof *r);
	memset(sel, 0, sizeof *sel);
	if (write_known_fields(body, "", fields, res) < 0 ||
	    write_string(body, "rollout_id", "rollout_id", 0, &id, res) < 0 ||
	    (id && request_check_id("rollout_id", id, REQUEST_ID_MAX, &err) < 0 &&
	     fleet_reply_error(res, 400, "rollout_id", "%s", err.text) < 0) ||
	    request_upgrade(body, r, res) < 0 || request_numbers(body, r, res) < 0 ||
	    request_targets(body, r, sel, res) < 0 || request_waves(body, r, sel, res) < 0 ||
	    request_draft(body, r, sel, res) < 0)
		return -1;
	if (id)
		snprintf(r->id, sizeof r->id, "%s", id);
	else if (history_new_id(r->id, sizeof r->id, &err) < 0)
		return fleet_reply_error(res, 500, "", "%s", err.text);
	snprintf(r->tenant, sizeof r->tenant, "%s", req->tenant);
	return 0;
}
