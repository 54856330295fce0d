/* keystone_cache.c: the bounded table of validated tokens (see
 * api/fleet_keystone_cache.h). */
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "api/fleet_keystone_cache.h"

struct cache_entry {
	unsigned char key[32];
	struct fleet_keystone_grant grant;
	int64_t until_us;	/* 0: a free slot */
	uint64_t used;		/* the cache's clock at the last get or put */
};

struct fleet_keystone_cache {
	pthread_mutex_t lock;
	struct cache_entry *entries;
	size_t capacity;
	uint64_t clock;		/* bumped at each use: LRU order without the time */
};

int fleet_keystone_cache_new(struct fleet_keystone_cache **out, size_t capacity,
			     struct error *err)
{
	struct fleet_keystone_cache *c = calloc(1, sizeof *c);

	*out = NULL;
	if (capacity == 0 || capacity > FLEET_KEYSTONE_CACHE_MAX)
		capacity = FLEET_KEYSTONE_CACHE_MAX;
	if (c)
		c->entries = calloc(capacity, sizeof *c->entries);
	if (!c || !c->entries) {
		free(c);
		return error_set(err, "out of memory");
	}
	c->capacity = capacity;
	pthread_mutex_init(&c->lock, NULL);
	*out = c;
	return 0;
}

void fleet_keystone_cache_free(struct fleet_keystone_cache *c)
{
	if (!c)
		return;
	pthread_mutex_destroy(&c->lock);
	OPENSSL_cleanse(c->entries, c->capacity * sizeof *c->entries);
	free(c->entries);
	free(c);
}

/* The entry holding key, valid or not; NULL if none.  Lock held. */
static struct cache_entry *cache_find(struct fleet_keystone_cache *c, const unsigned char key[32])
{
	size_t i;

	for (i = 0; i < c->capacity; i++)
		if (c->entries[i].until_us && !memcmp(c->entries[i].key, key, 32))
			return &c->entries[i];
	return NULL;
}

int fleet_keystone_cache_get(struct fleet_keystone_cache *c, const unsigned char key[32],
			     int64_t now_us, struct fleet_keystone_grant *grant)
{
	struct cache_entry *e;
	int found = 0;

	pthread_mutex_lock(&c->lock);
	e = cache_find(c, key);
	if (e && e->until_us > now_us) {
		*grant = e->grant;
		e->used = ++c->clock;
		found = 1;
	} else if (e) {
		memset(e, 0, sizeof *e);	/* expired: the slot is free again */
	}
	pthread_mutex_unlock(&c->lock);
	return found;
}

/* Where a new key goes: a free or expired slot, else the least recently used. */
static struct cache_entry *cache_victim(struct fleet_keystone_cache *c, int64_t now_us)
{
	struct cache_entry *oldest = &c->entries[0];
	size_t i;

	for (i = 0; i < c->capacity; i++) {
		if (c->entries[i].until_us <= now_us)
			return &c->entries[i];
		if (c->entries[i].used < oldest->used)
			oldest = &c->entries[i];
	}
	return oldest;
}

void fleet_keystone_cache_put(struct fleet_keystone_cache *c, const unsigned char key[32],
			      const struct fleet_keystone_grant *grant, int64_t until_us,
			      int64_t now_us)
{
	struct cache_entry *e;

	if (until_us <= now_us)
		return;
	pthread_mutex_lock(&c->lock);
	e = cache_find(c, key);
	if (!e)
		e = cache_victim(c, now_us);
	memcpy(e->key, key, 32);
	e->grant = *grant;
	e->until_us = until_us;
	e->used = ++c->clock;
	pthread_mutex_unlock(&c->lock);
}

size_t fleet_keystone_cache_count(struct fleet_keystone_cache *c, int64_t now_us)
{
	size_t i, n = 0;

	pthread_mutex_lock(&c->lock);
	for (i = 0; i < c->capacity; i++)
		n += c->entries[i].until_us > now_us;
	pthread_mutex_unlock(&c->lock);
	return n;
}
