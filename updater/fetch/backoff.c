/* backoff.c: see updater/fetch/fetch_backoff.h. */
#include <errno.h>
#include <sys/random.h>
#include <time.h>

#include "fetch/fetch_backoff.h"

unsigned fetch_backoff_ms(const struct config *c, unsigned n, long retry_after)
{
	unsigned long long delay = c->updater.retry_backoff_ms, cap = c->updater.retry_backoff_max_ms;
	unsigned jitter = 0;

	while (n-- > 0 && delay < cap)
		delay *= 2;
	if (delay > cap)
		delay = cap;
	if (getrandom(&jitter, sizeof jitter, 0) == sizeof jitter && delay > 1)
		delay += jitter % (delay / 2 + 1);
	if (retry_after > 0 && (unsigned long long)retry_after * 1000 > delay)
		delay = (unsigned long long)retry_after * 1000;
	return (unsigned)(delay > cap ? cap : delay);
}

void fetch_sleep_ms(unsigned ms)
{
	struct timespec left = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&left, &left) < 0 && errno == EINTR)
		;
}
