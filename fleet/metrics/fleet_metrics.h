/* fleet_metrics.h: slotfleet's counters, and GET /metrics in the Prometheus
 * text format (docs/fleet.md, Metrics).
 *
 * The counters are atomics: the API's request threads and the report
 * consumer bump them without a lock.  They count since slotfleet started
 * (slotfleet_start_time_seconds says when).  The gauges that describe the
 * fleet (upgrades by state, instances by agent version) are read from the
 * store at each scrape, so every slotfleet on one database shows the same.
 *
 * Cardinality is bounded: routes are the route table's templates (never a
 * path as sent), statuses a fixed list plus "other", agent versions the
 * FLEET_METRICS_VERSIONS most common plus "other".  Nothing of a request
 * (token, tenant, id) and nothing of the configuration (URLs, keys) is
 * ever a label. */
#ifndef SLOTFLEET_METRICS_H
#define SLOTFLEET_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "store/fleet_store.h"

#define FLEET_METRICS_ROUTES 24		/* route labels: see fleet_route_label() */
#define FLEET_METRICS_VERSIONS 50	/* agent versions shown by name */

struct fleet_metrics;

int fleet_metrics_new(struct fleet_metrics **metrics, struct error *err);
void fleet_metrics_free(struct fleet_metrics *metrics);

/* One answered request: route is fleet_route_label()'s index (an index out
 * of range counts as the unmatched route), status the HTTP status. */
void fleet_metrics_request(struct fleet_metrics *metrics, size_t route, unsigned status);
void fleet_metrics_rate_limited(struct fleet_metrics *metrics);
/* Reports and heartbeats committed by the consumer; lag_us is the time from
 * the guest's `sent` to the commit (0 when the message had no `sent`). */
void fleet_metrics_ingested(struct fleet_metrics *metrics, int64_t lag_us, int has_sent);
/* Deliveries acknowledged without being stored (malformed, unverifiable,
 * refused by the store). */
void fleet_metrics_refused(struct fleet_metrics *metrics, size_t count);

/* The whole exposition in a malloc'd buffer (*text, *len); store is read
 * for the fleet's gauges.  -1 (err set) when the store fails. */
int fleet_metrics_render(struct fleet_metrics *metrics, struct fleet_store *store, char **text,
			 size_t *len, struct error *err);

/* routes.c: the label of route index i ("GET /v1.0/{tenant}/mgmt/upgrades"),
 * NULL past the last; the unmatched route's index (404, 405, 413). */
const char *fleet_route_label(size_t i, char *buf, size_t size);
size_t fleet_route_unmatched(void);

/* store_metrics.c: what the gauges show. */
struct fleet_version_count {
	char version[FLEET_VERSION_MAX];	/* "" : never reported one */
	uint64_t count;
};
/* counts[state] = how many upgrade records are in that state. */
int fleet_store_upgrade_counts(struct fleet_store *store, uint64_t counts[FLEET_STATE_COUNT],
			       struct error *err);
/* The max most common agent versions, most common first (ties by version),
 * *count of them, and *total instances known. */
int fleet_store_version_counts(struct fleet_store *store, struct fleet_version_count *versions,
			       size_t max, size_t *count, uint64_t *total, struct error *err);

#endif
