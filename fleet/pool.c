/* pool.c: store handles lent to threads (see include/fleet_pool.h). */
#include <pthread.h>
#include <stdlib.h>

#include "fleet_pool.h"

struct fleet_pool {
	pthread_mutex_t lock;
	pthread_cond_t freed;
	unsigned size, free_count;
	struct fleet_store *all[FLEET_POOL_MAX];
	struct fleet_store *free_list[FLEET_POOL_MAX];
};

int fleet_pool_open(struct fleet_pool **out, const char *spec, unsigned size, struct error *err)
{
	struct fleet_pool *pool;

	*out = NULL;
	if (size == 0 || size > FLEET_POOL_MAX)
		return error_set(err, "store pool: size %u not in 1..%d", size, FLEET_POOL_MAX);
	pool = calloc(1, sizeof *pool);
	if (!pool)
		return error_set(err, "out of memory");
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->freed, NULL);
	for (; pool->size < size; pool->size++) {
		if (fleet_store_open(&pool->all[pool->size], spec, err) < 0) {
			fleet_pool_close(pool);
			return -1;
		}
		pool->free_list[pool->free_count++] = pool->all[pool->size];
	}
	*out = pool;
	return 0;
}

void fleet_pool_close(struct fleet_pool *pool)
{
	unsigned i;

	if (!pool)
		return;
	for (i = 0; i < pool->size; i++)
		fleet_store_close(pool->all[i]);
	pthread_cond_destroy(&pool->freed);
	pthread_mutex_destroy(&pool->lock);
	free(pool);
}

struct fleet_store *fleet_pool_get(struct fleet_pool *pool)
{
	struct fleet_store *store;

	pthread_mutex_lock(&pool->lock);
	while (pool->free_count == 0)
		pthread_cond_wait(&pool->freed, &pool->lock);
	store = pool->free_list[--pool->free_count];
	pthread_mutex_unlock(&pool->lock);
	return store;
}

void fleet_pool_put(struct fleet_pool *pool, struct fleet_store *store)
{
	pthread_mutex_lock(&pool->lock);
	pool->free_list[pool->free_count++] = store;
	pthread_cond_signal(&pool->freed);
	pthread_mutex_unlock(&pool->lock);
}
