/* fleet_pool.h: a fixed set of store connections for the API's threads.
 *
 * A fleet_store handle is used by one thread at a time; the pool opens
 * `size` of them on one database and lends them out: fleet_pool_get()
 * waits until one is free, fleet_pool_put() gives it back.  Opened once at
 * start (the first open applies the migrations), closed at stop.
 *
 * Writes go through fleet_pool_write() instead: one more store handle, the
 * writer, applies concurrent writes together in one transaction
 * (fleet_group.h, fleet_store_batch()), so N requests arriving together
 * cost one commit (one fsync) instead of N, and SQLite's writers never
 * contend for its lock (a contended SQLite lock is waited for by sleeping,
 * up to 100 ms a turn). */
#ifndef SLOTFLEET_POOL_H
#define SLOTFLEET_POOL_H

#include "error.h"
#include "store/fleet_store.h"

#define FLEET_POOL_MAX 64
#define FLEET_POOL_WRITE_BATCH 256

struct fleet_pool;

int fleet_pool_open(struct fleet_pool **pool, const char *spec, unsigned size,
		    struct error *err);
void fleet_pool_close(struct fleet_pool *pool);
struct fleet_store *fleet_pool_get(struct fleet_pool *pool);
void fleet_pool_put(struct fleet_pool *pool, struct fleet_store *store);
/* One write (fleet_store_batch()'s item) in the next group transaction:
 * 0 with item->result set once it committed, or -1 (EIO) when the backend
 * failed (nothing of the group was written). */
int fleet_pool_write(struct fleet_pool *pool, struct fleet_batch_item *item, struct error *err);

#endif
