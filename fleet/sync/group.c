/* group.c: jobs run in batches by whichever caller leads (see
 * sync/fleet_group.h). */
#include <stdlib.h>

#include "sync/fleet_group.h"

struct fleet_group_waiter {
	void *job;
	int done;
	struct fleet_group_waiter *next;
};

void fleet_group_init(struct fleet_group *g, size_t max, fleet_group_fn fn, void *ctx)
{
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->settled, NULL);
	g->head = NULL;
	g->tail = &g->head;
	g->leading = 0;
	g->max = max < 1 ? 1 : max > FLEET_GROUP_MAX ? FLEET_GROUP_MAX : max;
	g->fn = fn;
	g->ctx = ctx;
}

void fleet_group_destroy(struct fleet_group *g)
{
	pthread_cond_destroy(&g->settled);
	pthread_mutex_destroy(&g->lock);
}

/* Takes up to max queued jobs and runs them; called and returns locked. */
static void group_lead(struct fleet_group *g)
{
	struct fleet_group_waiter *taken[FLEET_GROUP_MAX];
	void *jobs[FLEET_GROUP_MAX];
	size_t n = 0, i;

	g->leading = 1;
	while (g->head && n < g->max) {
		taken[n] = g->head;
		jobs[n++] = g->head->job;
		g->head = g->head->next;
	}
	if (!g->head)
		g->tail = &g->head;
	pthread_mutex_unlock(&g->lock);
	g->fn(g->ctx, jobs, n);
	pthread_mutex_lock(&g->lock);
	for (i = 0; i < n; i++)
		taken[i]->done = 1;
	g->leading = 0;
	pthread_cond_broadcast(&g->settled);
}

/* 1 once every waiter is done; called locked. */
static int group_all_done(const struct fleet_group_waiter *w, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!w[i].done)
			return 0;
	return 1;
}

/* Queues the n waiters together (one batch when they fit) and leads or
 * waits until all are done. */
static void group_wait(struct fleet_group *g, struct fleet_group_waiter *w, size_t n)
{
	size_t i;

	pthread_mutex_lock(&g->lock);
	for (i = 0; i < n; i++) {
		*g->tail = &w[i];
		g->tail = &w[i].next;
	}
	while (!group_all_done(w, n)) {
		if (!g->leading)
			group_lead(g);
		else
			pthread_cond_wait(&g->settled, &g->lock);
	}
	pthread_mutex_unlock(&g->lock);
}

void fleet_group_run(struct fleet_group *g, void *job)
{
	struct fleet_group_waiter me = { job, 0, NULL };

	group_wait(g, &me, 1);
}

int fleet_group_run_many(struct fleet_group *g, void *const *jobs, size_t n)
{
	struct fleet_group_waiter *w = calloc(n ? n : 1, sizeof *w);
	size_t i;

	if (!w)
		return -1;
	for (i = 0; i < n; i++)
		w[i].job = jobs[i];
	group_wait(g, w, n);
	free(w);
	return 0;
}
