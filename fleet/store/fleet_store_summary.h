/* fleet_store_summary.h: the fleet at a glance, counted by the database
 * (GET .../mgmt/summary; the web UI's fleet page, docs/dashboard.md), on
 * both backends with the same SQL, so nobody downloads 100,000 rows to
 * draw a bar chart.  Each count is one GROUP BY or count statement over
 * instances or upgrades; the statements are not one snapshot (a heartbeat
 * between two may make their totals differ by its instance). */
#ifndef SLOTFLEET_STORE_SUMMARY_H
#define SLOTFLEET_STORE_SUMMARY_H

#include <stdint.h>

#include "store/fleet_store.h"

#define FLEET_SUMMARY_VERSIONS 50	/* the most common shown; the rest in *_other */

struct fleet_summary {
	uint64_t instances;			/* known instances */
	/* Most common first (ties by name); "" : never reported one. */
	struct fleet_version_count versions[FLEET_SUMMARY_VERSIONS];
	size_t version_count;
	uint64_t versions_other;
	struct fleet_version_count rpc_api[FLEET_SUMMARY_VERSIONS];
	size_t rpc_api_count;
	uint64_t rpc_api_other;
	/* Instances by the state of their newest upgrade; [FLEET_STATE_COUNT]
	 * counts those never upgraded. */
	uint64_t last_state[FLEET_STATE_COUNT + 1];
	uint64_t never_seen;			/* no heartbeat yet */
	uint64_t stale;				/* heard from, last before stale_before_us */
	uint64_t upgrades[FLEET_STATE_COUNT];	/* upgrade records by state */
};

/* Fills *summary; stale_before_us: a heartbeat older than this is stale. */
int fleet_store_summary(struct fleet_store *store, int64_t stale_before_us,
			struct fleet_summary *summary, struct error *err);

#endif
