/* rollout_view.c: a rollout as the API's JSON (see rollout/fleet_rollout.h).
 * Every text from the store goes out cleaned (fleet_text.h); the JSON texts
 * the store keeps (metadata, selector, waves) were made by slotfleet and
 * are parsed back, or shown as null if they no longer parse. */
#include <stdio.h>

#include "rollout/fleet_rollout.h"
#include "store/fleet_text.h"
#include "api/fleet_view.h"

json_t *fleet_view_text_or_null(const char *text)
{
	char clean[FLEET_LOCATION_MAX];
	json_t *value;

	if (!text[0])
		return json_null();
	fleet_text_clean(clean, sizeof clean, text);
	value = json_string(clean);
	return value ? value : json_string("(not UTF-8)");
}

json_t *fleet_view_json(const char *text)
{
	json_t *value = text[0] ? json_loads(text, 0, NULL) : NULL;

	return value ? value : json_null();
}

json_t *fleet_view_duration(int64_t us)
{
	char text[32];

	if (us == 0)
		return json_string("0s");
	fleet_rollout_duration(text, sizeof text, us);
	return json_string(text);
}

static json_t *view_waves(const struct fleet_rollout *r, size_t (*counts)[FLEET_STATE_COUNT + 1])
{
	json_t *percents = fleet_view_json(r->waves), *list = json_array(), *states;
	size_t size, s;
	unsigned w;

	for (w = 0; w < r->wave_count && w < FLEET_ROLLOUT_WAVES_MAX; w++) {
		states = json_object();
		size = 0;
		for (s = 0; s <= FLEET_STATE_COUNT; s++) {
			size += counts[w][s];
			if (counts[w][s])
				json_object_set_new(states, s == FLEET_STATE_COUNT ? "PENDING" :
						    fleet_state_name((enum fleet_state)s),
						    json_integer((json_int_t)counts[w][s]));
		}
		json_array_append_new(list, json_pack("{s:i, s:O, s:i, s:i, s:o}", "wave", (int)w + 1,
			"percent", json_array_get(percents, w) ? json_array_get(percents, w) :
			json_null(), "size", (int)size, "failed", (int)counts[w][FLEET_FAILED],
			"states", states));
	}
	json_decref(percents);
	return list;
}

static json_t *view_failed(const struct fleet_rollout_member *failed, size_t count)
{
	json_t *list = json_array();
	size_t i;

	for (i = 0; i < count; i++)
		json_array_append_new(list, json_pack("{s:o, s:o, s:i, s:o, s:o}",
			"instance_id", fleet_view_text_or_null(failed[i].instance_id),
			"upgrade_id", fleet_view_text_or_null(failed[i].upgrade_id),
			"wave", (int)failed[i].wave + 1,
			"reason", fleet_view_text_or_null(failed[i].reason),
			"at", fleet_view_time(failed[i].updated_us)));
	return list;
}

json_t *fleet_rollout_view(const struct fleet_rollout *r, size_t (*counts)[FLEET_STATE_COUNT + 1],
			   const struct fleet_rollout_member *failed, size_t failed_count)
{
	json_t *view = json_object();

	json_object_set_new(view, "id", fleet_view_text_or_null(r->id));
	json_object_set_new(view, "tenant", fleet_view_text_or_null(r->tenant));
	json_object_set_new(view, "state", json_string(fleet_rollout_state_name(r->state)));
	json_object_set_new(view, "reason", fleet_view_text_or_null(r->reason));
	json_object_set_new(view, "instance_version", fleet_view_text_or_null(r->to_version));
	json_object_set_new(view, "strategy", fleet_view_text_or_null(r->strategy));
	json_object_set_new(view, "location", fleet_view_text_or_null(r->location));
	json_object_set_new(view, "sha256", fleet_view_text_or_null(r->sha256));
	json_object_set_new(view, "metadata", fleet_view_json(r->metadata));
	json_object_set_new(view, "targets", fleet_view_json(r->selector));
	json_object_set_new(view, "draft", json_boolean(r->wave_count == 0));
	json_object_set_new(view, "current_wave", json_integer(r->current_wave + 1));
	json_object_set_new(view, "wave_percents", fleet_view_json(r->waves));
	json_object_set_new(view, "max_failure_rate", json_real(r->max_failure_ppm / 1e6));
	json_object_set_new(view, "rate", json_real(r->cast_interval_us > 0 ?
						     1e6 / (double)r->cast_interval_us : 0));
	json_object_set_new(view, "probation", fleet_view_duration(r->probation_us));
	json_object_set_new(view, "timeout", fleet_view_duration(r->timeout_us));
	json_object_set_new(view, "created", fleet_view_time(r->created_us));
	json_object_set_new(view, "updated", fleet_view_time(r->updated_us));
	if (counts)
		json_object_set_new(view, "waves", view_waves(r, counts));
	if (failed)
		json_object_set_new(view, "failed", view_failed(failed, failed_count));
	return view;
}
