/* store_single.c: the single writes of store/fleet_store.h (an upgrade's
 * insert, a report, a heartbeat), each a fleet_store_batch() of one item:
 * a single call and a batch (the consumer's deliveries, the API's
 * concurrent writes) run the same rules, and a batch shares one commit,
 * one fsync. */
#include <errno.h>

#include "store/store_internal.h"

/* The single calls are batches of one, so both paths run the same rules. */
static int store_single(struct fleet_store *store, struct fleet_batch_item *item,
			struct error *err)
{
	if (fleet_store_batch(store, item, 1, err) < 0)
		return -1;
	if (item->result < 0) {
		if (err)
			*err = item->err;
		errno = EINVAL;
		return -1;
	}
	return 0;
}

int fleet_store_upgrade_insert(struct fleet_store *store, const struct fleet_upgrade *up,
			       struct error *err)
{
	struct fleet_batch_item item = { .insert = up };

	if (store_single(store, &item, err) < 0)
		return -1;
	return item.result == 1 ? 0 : 1;
}

int fleet_store_report(struct fleet_store *store, const struct fleet_report *report,
		       int *applied, struct error *err)
{
	struct fleet_batch_item item = { .report = report };
	int rc = store_single(store, &item, err);

	if (applied)
		*applied = rc == 0 && item.result == 1;
	return rc;
}

int fleet_store_heartbeat(struct fleet_store *store, const char *instance_id,
			  const char *agent_version, const char *agent_slot,
			  const char *rpc_api_version, int64_t sent_us, struct error *err)
{
	struct fleet_heartbeat h = { instance_id, agent_version, agent_slot, sent_us,
				     rpc_api_version };
	struct fleet_batch_item item = { .heartbeat = &h };

	return store_single(store, &item, err);
}
