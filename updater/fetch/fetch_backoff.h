/* fetch_backoff.h: the wait before a download's next attempt, shared by the
 * strategies that retry (http.c, program.c); private to updater/fetch/. */
#ifndef SLOTD_FETCH_BACKOFF_H
#define SLOTD_FETCH_BACKOFF_H

#include "config.h"

/* Before retry n (0-based): [updater] retry_backoff * 2^n, capped at
 * retry_backoff_max, plus up to 50% random jitter; a server's Retry-After
 * (seconds, <= 0: none) wins when it asks for more, within the cap. */
unsigned fetch_backoff_ms(const struct config *c, unsigned n, long retry_after);
/* Sleeps ms, through signals. */
void fetch_sleep_ms(unsigned ms);

#endif
