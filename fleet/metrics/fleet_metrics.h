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

#define FLEET_METRICS_ROUTES 24		/* route labels: see fleet_metrics_routes */
#define FLEET_METRICS_VERSIONS 50	/* agent versions shown by name */

struct fleet_metrics;

/* The API's route labels, given by the API (routes.c) so that the counters
 * need not know its route table: label(i) is route index i's label
 * ("GET /v1.0/{tenant}/mgmt/upgrades"), NULL past the last; unmatched is
 * the index that counts requests no route matched (404, 405, 413). */
struct fleet_metrics_routes {
	const char *(*label)(size_t i, char *buf, size_t size);
	size_t unmatched;
};

/* routes must outlive the metrics. */
int fleet_metrics_new(struct fleet_metrics **metrics, const struct fleet_metrics_routes *routes,
		      struct error *err);
void fleet_metrics_free(struct fleet_metrics *metrics);

/* One answered request: route is a route label's index (an index out
 * of range counts as the unmatched route), status the HTTP status. */
void fleet_metrics_request(struct fleet_metrics *metrics, size_t route, unsigned status);
void fleet_metrics_rate_limited(struct fleet_metrics *metrics);
/* [api] auth = keystone: what became of each token checked (api/keystone.c). */
enum fleet_metrics_keystone {
	FLEET_KEYSTONE_CACHED,		/* answered from the cache */
	FLEET_KEYSTONE_VALID,		/* Keystone said valid */
	FLEET_KEYSTONE_INVALID,		/* Keystone said not valid: 401 */
	FLEET_KEYSTONE_UNAVAILABLE,	/* Keystone down, slow, 5xx, or garbled: 503 */
	FLEET_KEYSTONE_RESULTS
};
void fleet_metrics_keystone(struct fleet_metrics *metrics, enum fleet_metrics_keystone result);
/* slotfleet's own token was issued (at start, before expiry, after a 401). */
void fleet_metrics_keystone_issued(struct fleet_metrics *metrics);
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

#endif
