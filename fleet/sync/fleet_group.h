/* fleet_group.h: callers' jobs run together in batches (group commit).
 *
 * Some work costs the same for one item as for many: a commit (one fsync),
 * a publisher confirmation (one broker round trip and fsync).  A caller
 * hands its job to fleet_group_run() and gets it back done.  Whoever finds
 * no batch running becomes the leader: it takes every queued job (at most
 * `max`), runs fn on them in its own thread, marks them done and wakes
 * their callers; jobs that arrive meanwhile wait for the next batch, which
 * one of their callers leads.  So a batch never waits for more company: a
 * lone caller runs alone at once, and under load batches grow by
 * themselves to what arrived during the previous one.
 *
 * fn runs in one thread at a time (it may use state of its own without a
 * lock) and must settle every job it is given: fleet_group_run() returns
 * once its job was in a batch that fn returned from. */
#ifndef SLOTFLEET_GROUP_H
#define SLOTFLEET_GROUP_H

#include <pthread.h>
#include <stddef.h>

typedef void (*fleet_group_fn)(void *ctx, void *const *jobs, size_t n);

struct fleet_group_waiter;

struct fleet_group {
	pthread_mutex_t lock;
	pthread_cond_t settled;
	struct fleet_group_waiter *head, **tail;
	int leading;
	size_t max;
	fleet_group_fn fn;
	void *ctx;
};

#define FLEET_GROUP_MAX 1024

/* max 1..FLEET_GROUP_MAX jobs per batch. */
void fleet_group_init(struct fleet_group *g, size_t max, fleet_group_fn fn, void *ctx);
void fleet_group_destroy(struct fleet_group *g);
void fleet_group_run(struct fleet_group *g, void *job);
/* n jobs of one caller, queued together (in one batch when they fit in
 * max); returns once all are done: 0, or -1 out of memory (none ran). */
int fleet_group_run_many(struct fleet_group *g, void *const *jobs, size_t n);

#endif
