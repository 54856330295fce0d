/* fleet_wait.h: a worker thread's sleep that a stop request cuts short.
 *
 * slotfleet's background threads (the report consumer, the rollout driver)
 * sleep between rounds; a clean stop must not wait out a backoff.  The
 * thread sleeps on cond under lock until ms have passed or *stop is set
 * (whoever sets it signals cond). */
#ifndef SLOTFLEET_WAIT_H
#define SLOTFLEET_WAIT_H

#include <pthread.h>
#include <stdatomic.h>

void fleet_wait(pthread_mutex_t *lock, pthread_cond_t *wake, atomic_int *stop, unsigned ms);

#endif
