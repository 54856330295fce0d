/* fleet_keystone_cache.h: the tokens Keystone said were valid, remembered
 * for a while (docs/fleet.md, "Keystone").
 *
 * A bounded table of at most `capacity` entries keyed by the SHA-256 of a
 * token (the token itself is never kept): what it grants (its project id
 * and whether it holds an admin role) and until when (monotonic
 * microseconds, chosen by the caller: never past the token's expiry nor
 * [keystone] cache_ttl).  An expired entry is never returned.  When the
 * table is full, a put reuses an expired entry, else the one used longest
 * ago (LRU).  Lookups scan the table (4096 entries at most in slotfleet: a
 * few microseconds, nothing beside a round trip to Keystone).
 * Thread-safe: one mutex, held only for the scan; time is passed in (tests). */
#ifndef SLOTFLEET_KEYSTONE_CACHE_H
#define SLOTFLEET_KEYSTONE_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "keystone.h"

#define FLEET_KEYSTONE_CACHE_MAX 4096

struct fleet_keystone_grant {
	char project_id[KEYSTONE_ID_MAX + 1];
	int admin;		/* holds one of [keystone] admin_roles */
};

struct fleet_keystone_cache;

int fleet_keystone_cache_new(struct fleet_keystone_cache **cache, size_t capacity,
			     struct error *err);
void fleet_keystone_cache_free(struct fleet_keystone_cache *cache);
/* 1 and *grant filled when key is there and valid at now_us; else 0. */
int fleet_keystone_cache_get(struct fleet_keystone_cache *cache, const unsigned char key[32],
			     int64_t now_us, struct fleet_keystone_grant *grant);
/* Remembers key until until_us (nothing when until_us <= now_us). */
void fleet_keystone_cache_put(struct fleet_keystone_cache *cache, const unsigned char key[32],
			      const struct fleet_keystone_grant *grant, int64_t until_us,
			      int64_t now_us);
/* Entries still valid at now_us. */
size_t fleet_keystone_cache_count(struct fleet_keystone_cache *cache, int64_t now_us);

#endif
