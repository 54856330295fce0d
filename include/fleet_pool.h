/* fleet_pool.h: a fixed set of store connections for the API's threads.
 *
 * A fleet_store handle is used by one thread at a time; the pool opens
 * `size` of them on one database and lends them out: fleet_pool_get()
 * waits until one is free, fleet_pool_put() gives it back.  Opened once at
 * start (the first open applies the migrations), closed at stop. */
#ifndef SLOTFLEET_POOL_H
#define SLOTFLEET_POOL_H

#include "error.h"
#include "fleet_store.h"

#define FLEET_POOL_MAX 64

struct fleet_pool;

int fleet_pool_open(struct fleet_pool **pool, const char *spec, unsigned size,
		    struct error *err);
void fleet_pool_close(struct fleet_pool *pool);
struct fleet_store *fleet_pool_get(struct fleet_pool *pool);
void fleet_pool_put(struct fleet_pool *pool, struct fleet_store *store);

#endif
