/* rollout_request.h (private to fleet/): the body of
 * POST .../mgmt/rollouts, checked whole, and the selection made from it
 * (the store chooses the targets and their waves: fleet_store_rollout.h).
 *
 *   instance_version, location (required), strategy, metadata, sha256:
 *       the upgrade, checked like POST .../mgmt/upgrade (the guest's rules)
 *   targets (required): {"instances": ["ID", ...]}  in this order, each once,
 *       at most FLEET_ROLLOUT_PAGE_MAX (a draft takes more in pages), or
 *       {"agent_version_below": "V"}  every known instance whose last
 *       heartbeat reported a version lower than V (by id; instances with
 *       no or an unparsable version are left out), or {"agent_version":
 *       "V"}  those that reported V; 1 to FLEET_ROLLOUT_TARGETS_MAX
 *   draft: true creates it PAUSED, its waves not made: more ids may be
 *       appended (POST .../rollouts/ID/targets), resume starts it
 *   waves (required): cumulative percents of the targets, whole numbers
 *       1..100 strictly increasing and ending at 100, at most
 *       FLEET_ROLLOUT_WAVES_MAX: [1, 10, 50, 100] makes wave k end at
 *       ceil(p_k * N / 100) targets; a wave that would be empty is dropped
 *   max_failure_rate: the fraction 0..1 of a wave that may fail (default 0:
 *       the first failure halts)
 *   rate: casts per second, above 0, at most 1000 (default 1)
 *   probation: how long a SUCCESS must stand before it counts, seconds or
 *       "30s", "10m", "1h" (default 0); timeout: how long after its cast an
 *       upgrade may take to SUCCESS or FAILED (default 30m, above 0); both
 *       at most 30 days
 *   rollout_id: 1 to 63 of [0-9A-Za-z_-] (made otherwise)
 * Anything else, a wrong type or value: 400 naming the field
 * ("waves[2]", "targets.instances[0]"). */
#ifndef SLOTFLEET_ROLLOUT_REQUEST_H
#define SLOTFLEET_ROLLOUT_REQUEST_H

#include <jansson.h>
#include <stddef.h>

#include "api/fleet_http.h"
#include "store/fleet_store_rollout.h"

/* 0 with r filled (RUNNING, or PAUSED for a draft; tenant, id, selector,
 * the requested percents as waves) and sel (sel->ids: malloc()ed pointers
 * into body, which must outlive it; freed by the caller even on -1); -1
 * with the answer set. */
int rollout_request(struct fleet_request *req, json_t *body, struct fleet_rollout *r,
		    struct fleet_rollout_selection *sel, struct fleet_response *res);
/* A JSON array of 1..FLEET_ROLLOUT_PAGE_MAX instance ids, each once, as
 * *ids (malloc()ed pointers into list; freed by the caller, even on -1);
 * a 400 names field[i]. */
int rollout_request_ids(json_t *list, const char *field, const char ***ids, size_t *count,
			struct fleet_response *res);

/* Shared with the policies' request (policy_request.c); each answers the
 * 400 naming the field and returns -1.
 * target: instance_version, location, strategy, metadata, sha256 into the
 * buffers (FLEET_VERSION_MAX, 32, FLEET_LOCATION_MAX, 65 and
 * FLEET_ROLLOUT_METADATA_MAX bytes);
 * rate: casts per second (default 1) as the interval between casts;
 * duration: seconds or "90s", "10m", "1h", up to 30 days (zero_ok: 0
 * allowed); *us unchanged when absent. */
struct rollout_target {
	char *to_version, *strategy, *location, *sha256, *metadata;
};
int rollout_request_target(json_t *body, const struct rollout_target *target,
			   struct fleet_response *res);
int rollout_request_rate(json_t *body, int64_t *interval_us, struct fleet_response *res);
int rollout_request_duration(json_t *body, const char *key, int zero_ok, int64_t *us,
			     struct fleet_response *res);

#endif
