/* policy_request.h (private to fleet/): the body of
 * POST .../mgmt/policies, checked whole (docs/fleet.md "Automatic
 * upgrades").
 *
 *   instance_version, location (required), strategy, metadata, sha256:
 *       the target, checked like a rollout's (rollout_request.h)
 *   scope: {"instances": ["ID", ...], "min_version": "V", "max_version": "V"}
 *       each optional: ids (1 to POLICY_IDS_MAX, each once), and the range
 *       of reported versions [min_version, max_version); absent: every
 *       instance
 *   rate: casts per second (default 1, at most 1000)
 *   max_in_flight: 1..10000 (default 10)
 *   window: "HH:MM-HH:MM" UTC (default: always)
 *   probation: seconds or "10m" (default 0): a SUCCESS is in flight until then
 *   max_failures: 0..budget_window (default 5); budget_window: 1..10000
 *       (default 100)
 *   retry_after: seconds or "6h" (default 6h; 0: never retry a FAILED)
 *   policy_id: 1 to 63 of [0-9A-Za-z_-] (made otherwise)
 * Anything else, a wrong type or value: 400 naming the field
 * ("scope.instances[1]"). */
#ifndef SLOTFLEET_POLICY_REQUEST_H
#define SLOTFLEET_POLICY_REQUEST_H

#include <jansson.h>

#include "api/fleet_http.h"
#include "store/fleet_store_policy.h"

/* 0 with p filled (ACTIVE, tenant, id); -1 with the answer set. */
int policy_request(struct fleet_request *req, json_t *body, struct fleet_policy *p,
		   struct fleet_response *res);

#endif
