/* wait.c: a sleep that a stop request cuts short (see sync/fleet_wait.h). */
#include <errno.h>
#include <time.h>

#include "sync/fleet_wait.h"

void fleet_wait(pthread_mutex_t *lock, pthread_cond_t *wake, atomic_int *stop, unsigned ms)
{
	struct timespec until;

	/* CLOCK_REALTIME: the condition variable's default clock. */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(lock);
	while (!atomic_load(stop) && pthread_cond_timedwait(wake, lock, &until) != ETIMEDOUT)
		;
	pthread_mutex_unlock(lock);
}
