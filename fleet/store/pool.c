/* pool.c: store handles lent to threads (see store/fleet_pool.h). */
#include <pthread.h>
#include <stdlib.h>

#include "sync/fleet_group.h"
#include "store/fleet_pool.h"

struct pool_write {
	struct fleet_batch_item *item;
	int rc;
	struct error err;
};

struct fleet_pool {
	struct fleet_group writes;
	struct fleet_store *writer;	/* the group's leader only */
	struct fleet_batch_item batch[FLEET_POOL_WRITE_BATCH];
	pthread_mutex_t lock;
	pthread_cond_t freed;
	unsigned size, free_count;
	struct fleet_store *all[FLEET_POOL_MAX];
	struct fleet_store *free_list[FLEET_POOL_MAX];
};

/* The group's batch: one transaction for every queued write. */
static void pool_run_writes(void *ctx, void *const *jobs, size_t n)
{
	struct fleet_pool *pool = ctx;
	struct error err = { "" };
	size_t i;
	int rc;

	for (i = 0; i < n; i++)
		pool->batch[i] = *((struct pool_write *)jobs[i])->item;
	rc = fleet_store_batch(pool->writer, pool->batch, n, &err);
	for (i = 0; i < n; i++) {
		struct pool_write *w = jobs[i];

		w->rc = rc;
		w->err = err;
		w->item->result = pool->batch[i].result;
		w->item->err = pool->batch[i].err;
	}
}

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
	fleet_group_init(&pool->writes, FLEET_POOL_WRITE_BATCH, pool_run_writes, pool);
	if (fleet_store_open(&pool->writer, spec, err) < 0) {
		fleet_pool_close(pool);
		return -1;
	}
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
	fleet_store_close(pool->writer);
	fleet_group_destroy(&pool->writes);
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

int fleet_pool_write(struct fleet_pool *pool, struct fleet_batch_item *item, struct error *err)
{
	struct pool_write w = { .item = item };

	fleet_group_run(&pool->writes, &w);
	if (w.rc < 0 && err)
		*err = w.err;
	return w.rc;
}
