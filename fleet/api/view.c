/* view.c: records to JSON (see api/fleet_view.h). */
#include <stdio.h>
#include <time.h>

#include "store/fleet_text.h"
#include "api/fleet_view.h"

/* Store text as a JSON string, cleaned; "" is null when empty_null. */
static json_t *view_text(const char *text, int empty_null)
{
	char clean[FLEET_LOCATION_MAX];
	json_t *value;

	if (!text[0] && empty_null)
		return json_null();
	fleet_text_clean(clean, sizeof clean, text);
	value = json_string(clean);
	/* Not UTF-8 (a store that cut a character): say so rather than drop it. */
	return value ? value : json_string("(not UTF-8)");
}

json_t *fleet_view_time(int64_t us)
{
	time_t seconds = (time_t)(us / 1000000);
	char text[48], date[32];
	struct tm tm;

	if (us <= 0 || !gmtime_r(&seconds, &tm))
		return json_null();
	strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(text, sizeof text, "%s.%06dZ", date, (int)(us % 1000000));
	return json_string(text);
}

/* Where the record's cast is: null when slotfleet recorded none (a record
 * a report created, or one from before the outbox). */
static json_t *view_cast(enum fleet_cast_state cast)
{
	static const char *const names[] = {
		[FLEET_CAST_STATE_PENDING] = "pending", [FLEET_CAST_STATE_QUEUED] = "queued",
		[FLEET_CAST_STATE_REFUSED] = "refused",
	};

	if (cast < FLEET_CAST_STATE_PENDING || cast > FLEET_CAST_STATE_REFUSED)
		return json_null();
	return json_string(names[cast]);
}

json_t *fleet_view_upgrade(const struct fleet_upgrade *up)
{
	json_t *view = json_object();

	json_object_set_new(view, "id", view_text(up->id, 0));
	json_object_set_new(view, "kind", view_text(up->kind, 0));
	json_object_set_new(view, "instance_id", view_text(up->instance_id, 0));
	json_object_set_new(view, "tenant", view_text(up->tenant, 1));
	json_object_set_new(view, "from_version", view_text(up->from_version, 1));
	json_object_set_new(view, "to_version", view_text(up->to_version, 1));
	json_object_set_new(view, "strategy", view_text(up->strategy, 1));
	json_object_set_new(view, "location", view_text(up->location, 1));
	json_object_set_new(view, "sha256", view_text(up->sha256, 1));
	json_object_set_new(view, "rollout_id", view_text(up->rollout_id, 1));
	json_object_set_new(view, "policy_id", view_text(up->policy_id, 1));
	json_object_set_new(view, "state", json_string(fleet_state_name(up->state)));
	json_object_set_new(view, "reason", view_text(up->reason, 0));
	json_object_set_new(view, "cast", view_cast(up->cast));
	json_object_set_new(view, "created", fleet_view_time(up->created_us));
	json_object_set_new(view, "updated", fleet_view_time(up->updated_us));
	return view;
}

json_t *fleet_view_events(const struct fleet_event *events, size_t count)
{
	json_t *list = json_array();
	size_t i;

	for (i = 0; i < count; i++)
		json_array_append_new(list, json_pack("{s:s, s:o, s:o, s:o}",
			"state", fleet_state_name(events[i].state),
			"reason", view_text(events[i].reason, 0),
			"at", fleet_view_time(events[i].at_us),
			"source", view_text(events[i].source, 0)));
	return list;
}

json_t *fleet_view_instance(const struct fleet_instance *in)
{
	json_t *view = json_object(), *last = json_null();

	if (in->last_upgrade_id[0])
		last = json_pack("{s:o, s:s, s:o, s:o, s:o, s:o}",
				 "id", view_text(in->last_upgrade_id, 0),
				 "state", fleet_state_name(in->last_upgrade_state),
				 "to_version", view_text(in->last_upgrade_to, 1),
				 "rollout_id", view_text(in->last_upgrade_rollout, 1),
				 "policy_id", view_text(in->last_upgrade_policy, 1),
				 "reason", view_text(in->last_upgrade_reason, 1));
	json_object_set_new(view, "id", view_text(in->id, 0));
	json_object_set_new(view, "agent_version", view_text(in->agent_version, 1));
	json_object_set_new(view, "agent_slot", view_text(in->agent_slot, 1));
	json_object_set_new(view, "rpc_api_version", view_text(in->rpc_api_version, 1));
	json_object_set_new(view, "last_seen", fleet_view_time(in->last_seen_us));
	json_object_set_new(view, "last_upgrade", last);
	return view;
}
