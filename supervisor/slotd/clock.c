/* clock.c: slotd's one clock, milliseconds of CLOCK_MONOTONIC.  Every
 * deadline the supervisor keeps (the machine's, the control clients', a
 * leftover agent's) is on it, so a change of the wall clock moves none. */
#include <time.h>

#include "slotd.h"

int64_t clock_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
