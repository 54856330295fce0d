/* fleet_view.h: store records as the API's JSON (docs/fleet.md, "API contract").
 *
 * Times are ISO 8601 UTC with microseconds ("2025-05-01T12:00:00.123456Z");
 * text never known ("" in the store: a version not reported yet) is null.
 * Every string goes out as valid UTF-8 without control characters. */
#ifndef SLOTFLEET_VIEW_H
#define SLOTFLEET_VIEW_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "store/fleet_store.h"

json_t *fleet_view_upgrade(const struct fleet_upgrade *up);
json_t *fleet_view_events(const struct fleet_event *events, size_t count);
json_t *fleet_view_instance(const struct fleet_instance *instance);
/* us == 0 gives null. */
json_t *fleet_view_time(int64_t us);
/* rollout_view.c's, shared with policy_view.c: a stored text cleaned ("":
 * null); a JSON text slotfleet stored, parsed back (null if it no longer
 * parses); a duration ("90s"). */
json_t *fleet_view_text_or_null(const char *text);
json_t *fleet_view_json(const char *text);
json_t *fleet_view_duration(int64_t us);

#endif
