/* policy_view.c: a policy as the API's JSON (docs/fleet.md "Automatic
 * upgrades"): its fields as they were given, and with counts (GET of one
 * policy) what is in flight and the failure budget. */
#include "api/fleet_view.h"
#include "api/policy_view.h"

static json_t *view_scope(const struct fleet_policy *p)
{
	json_t *scope = json_object();

	if (p->instances[0])
		json_object_set_new(scope, "instances", fleet_view_json(p->instances));
	if (p->min_version[0])
		json_object_set_new(scope, "min_version", fleet_view_text_or_null(p->min_version));
	if (p->max_version[0])
		json_object_set_new(scope, "max_version", fleet_view_text_or_null(p->max_version));
	return scope;
}

json_t *fleet_policy_view(const struct fleet_policy *p, const struct fleet_policy_counts *counts)
{
	json_t *view = json_object();

	json_object_set_new(view, "id", fleet_view_text_or_null(p->id));
	json_object_set_new(view, "tenant", fleet_view_text_or_null(p->tenant));
	json_object_set_new(view, "state", json_string(fleet_policy_state_name(p->state)));
	json_object_set_new(view, "reason", fleet_view_text_or_null(p->reason));
	json_object_set_new(view, "instance_version", fleet_view_text_or_null(p->to_version));
	json_object_set_new(view, "strategy", fleet_view_text_or_null(p->strategy));
	json_object_set_new(view, "location", fleet_view_text_or_null(p->location));
	json_object_set_new(view, "sha256", fleet_view_text_or_null(p->sha256));
	json_object_set_new(view, "metadata", fleet_view_json(p->metadata));
	json_object_set_new(view, "scope", view_scope(p));
	json_object_set_new(view, "rate", json_real(p->cast_interval_us > 0 ?
						     1e6 / (double)p->cast_interval_us : 0));
	json_object_set_new(view, "max_in_flight", json_integer(p->max_in_flight));
	json_object_set_new(view, "window", fleet_view_text_or_null(p->window));
	json_object_set_new(view, "probation", fleet_view_duration(p->probation_us));
	json_object_set_new(view, "max_failures", json_integer(p->max_failures));
	json_object_set_new(view, "budget_window", json_integer(p->budget_window));
	json_object_set_new(view, "retry_after", fleet_view_duration(p->retry_after_us));
	json_object_set_new(view, "timeout", fleet_view_duration(p->timeout_us));
	json_object_set_new(view, "created", fleet_view_time(p->created_us));
	json_object_set_new(view, "updated", fleet_view_time(p->updated_us));
	if (counts)
		json_object_set_new(view, "counts", json_pack("{s:i, s:i, s:i}",
			"in_flight", (json_int_t)counts->in_flight,
			"finished", (json_int_t)counts->finished,
			"failed", (json_int_t)counts->failed));
	return view;
}
