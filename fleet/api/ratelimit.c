/* ratelimit.c: token buckets per tenant (see api/fleet_ratelimit.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/fleet_ratelimit.h"
#include "request_check.h"

/* Integer arithmetic, no rounding drift: a bucket's level is counted in
 * token-microseconds (one token = period_us of them), and refills by
 * `count` of them per microsecond. */
struct fleet_bucket {
	char tenant[REQUEST_ID_MAX + 1];
	int64_t level;
	int64_t refilled_us;
	int64_t used_us;
};

struct fleet_ratelimit {
	pthread_mutex_t lock;
	int64_t count, period_us, full;
	size_t used;
	struct fleet_bucket buckets[FLEET_RATE_TENANTS];
};

int fleet_ratelimit_new(struct fleet_ratelimit **out, unsigned count, unsigned period_ms,
			unsigned burst, struct error *err)
{
	struct fleet_ratelimit *rl;

	*out = NULL;
	if (!count || !period_ms || !burst)
		return error_set(err, "rate limit: count, period and burst must be positive");
	rl = calloc(1, sizeof *rl);
	if (!rl)
		return error_set(err, "out of memory");
	pthread_mutex_init(&rl->lock, NULL);
	rl->count = count;
	rl->period_us = (int64_t)period_ms * 1000;
	rl->full = (int64_t)burst * rl->period_us;
	*out = rl;
	return 0;
}

void fleet_ratelimit_free(struct fleet_ratelimit *rl)
{
	if (!rl)
		return;
	pthread_mutex_destroy(&rl->lock);
	free(rl);
}

/* The tenant's bucket; a new one starts full, in a free or the least
 * recently used place. */
static struct fleet_bucket *rate_bucket(struct fleet_ratelimit *rl, const char *tenant,
					int64_t now_us)
{
	struct fleet_bucket *b, *oldest = NULL;
	size_t i;

	for (i = 0; i < rl->used; i++) {
		b = &rl->buckets[i];
		if (!strcmp(b->tenant, tenant))
			return b;
		if (!oldest || b->used_us < oldest->used_us)
			oldest = b;
	}
	b = rl->used < FLEET_RATE_TENANTS ? &rl->buckets[rl->used++] : oldest;
	snprintf(b->tenant, sizeof b->tenant, "%s", tenant);
	b->level = rl->full;
	b->refilled_us = now_us;
	return b;
}

int fleet_ratelimit_take(struct fleet_ratelimit *rl, const char *tenant, int64_t now_us,
			 unsigned *retry_after_s)
{
	struct fleet_bucket *b;
	int64_t elapsed, wait_us;
	int allowed;

	pthread_mutex_lock(&rl->lock);
	b = rate_bucket(rl, tenant, now_us);
	if (now_us > b->refilled_us) {
		elapsed = now_us - b->refilled_us;
		/* Clamped first: a long pause must not overflow the product. */
		if (elapsed > rl->full)
			elapsed = rl->full;
		b->level = b->level + elapsed * rl->count > rl->full ? rl->full :
			   b->level + elapsed * rl->count;
		b->refilled_us = now_us;
	}
	b->used_us = now_us;
	allowed = b->level >= rl->period_us;
	if (allowed) {
		b->level -= rl->period_us;
	} else {
		wait_us = (rl->period_us - b->level + rl->count - 1) / rl->count;
		*retry_after_s = (unsigned)((wait_us + 999999) / 1000000);
	}
	pthread_mutex_unlock(&rl->lock);
	return allowed;
}
