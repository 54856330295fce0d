/* fleet_ratelimit.h: a token bucket per tenant for the API's writes.
 *
 * Each tenant's bucket holds at most `burst` tokens and refills at
 * count/period; a request takes one token or is refused with the number of
 * whole seconds (rounded up, at least 1) until a token is there, for
 * Retry-After.  The table holds FLEET_RATE_TENANTS buckets: when it is full
 * the bucket used longest ago is reused (only tenants with a valid token
 * reach it, so the table is larger than any token file in practice).
 * Thread-safe; time is passed in (monotonic microseconds) for tests. */
#ifndef SLOTFLEET_RATELIMIT_H
#define SLOTFLEET_RATELIMIT_H

#include <stdint.h>

#include "error.h"

#define FLEET_RATE_TENANTS 1024

struct fleet_ratelimit;

int fleet_ratelimit_new(struct fleet_ratelimit **rl, unsigned count, unsigned period_ms,
			unsigned burst, struct error *err);
void fleet_ratelimit_free(struct fleet_ratelimit *rl);
/* 1: allowed (a token taken); 0: refused, *retry_after_s set. */
int fleet_ratelimit_take(struct fleet_ratelimit *rl, const char *tenant, int64_t now_us,
			 unsigned *retry_after_s);

#endif
