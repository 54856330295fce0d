/* store_coalesce.c: which heartbeats of a batch need writing (see
 * store_internal.h).
 *
 * A heartbeat only ever replaces an older one: the stored row ends as the
 * newest by sent time of the stored one and the batch's, ties going to the
 * later in the batch (the upsert applies when last_seen <= sent).  So of an
 * instance's heartbeats in one batch only that newest one (the last of
 * them among equal sent times) can leave a trace; the others are marked
 * superseded and never reach the database.  Found with an open-addressing
 * table of the batch's instance ids, sized by the batch: a batch's memory
 * stays bounded by its count, and the work is linear in it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

static uint64_t coalesce_hash(const char *s)
{
	uint64_t h = UINT64_C(1469598103934665603);	/* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * UINT64_C(1099511628211);
	return h;
}

/* The slot of id's newest heartbeat so far, or the empty slot for it. */
static size_t *coalesce_slot(size_t *table, size_t size, const struct fleet_batch_item *items,
			     const char *id)
{
	size_t i = (size_t)(coalesce_hash(id) & (size - 1));

	while (table[i] &&
	       strcmp(items[table[i] - 1].heartbeat->instance_id, id))
		i = (i + 1) & (size - 1);
	return &table[i];
}

int store_coalesce(const struct fleet_batch_item *items, size_t count, unsigned char *superseded)
{
	size_t size = 16, *table, *slot, i;
	const struct fleet_heartbeat *h;

	memset(superseded, 0, count);
	while (size < 2 * count)
		size *= 2;
	if (!(table = calloc(size, sizeof *table)))	/* item index + 1; 0: empty */
		return -1;
	for (i = 0; i < count; i++) {
		if (!items[i].heartbeat || items[i].result < 0)
			continue;
		h = items[i].heartbeat;
		slot = coalesce_slot(table, size, items, h->instance_id);
		if (*slot && items[*slot - 1].heartbeat->sent_us > h->sent_us) {
			superseded[i] = 1;	/* older than one before it */
			continue;
		}
		if (*slot)
			superseded[*slot - 1] = 1;
		*slot = i + 1;
	}
	free(table);
	return 0;
}
