/* rollout_driver.c: the thread that drives rollouts (see
 * rollout/fleet_rollout.h): which rollouts this process drives, and a
 * step of each every ROLLOUT_TICK_MS, sooner while casts are due (when the
 * next is due, but at least ROLLOUT_CAST_MS apart unless behind the rate,
 * so that a step casts a few and judging stays cheap), at once when kicked
 * (a FAILED stored). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sync/fleet_wait.h"
#include "rollout/fleet_rollout.h"
#include "store/fleet_text.h"
#include "log.h"

struct driven {
	char id[FLEET_ID_MAX];
	struct fleet_rollout_pace pace;	/* kept between steps */
	int seen;			/* RUNNING at this tick */
};

struct fleet_rollout_driver {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	atomic_int stop;
	atomic_int wakeup;		/* kicked or stopping: the sleep ends */
	atomic_int kick;		/* a FAILED was stored since the tick began */
	struct fleet_store *store;
	struct fleet_publisher *pub;
	struct driven driven[ROLLOUT_DRIVEN_MAX];
	size_t count;
	char running[ROLLOUT_DRIVEN_MAX][FLEET_ID_MAX];
};

static void driver_warn(const char *what, const char *id, const struct error *err)
{
	char clean[sizeof err->text];

	log_warn("rollout %s: %s: %s", id, what, fleet_text_clean(clean, sizeof clean, err->text));
}

static struct driven *driver_find(struct fleet_rollout_driver *d, const char *id)
{
	size_t i;

	for (i = 0; i < d->count; i++)
		if (!strcmp(d->driven[i].id, id))
			return &d->driven[i];
	return NULL;
}

/* Drops the rollouts no longer RUNNING, releasing their lock. */
static void driver_release(struct fleet_rollout_driver *d)
{
	struct error err = { "" };
	size_t i = 0;

	while (i < d->count) {
		if (d->driven[i].seen) {
			i++;
			continue;
		}
		if (fleet_store_rollout_unlock(d->store, d->driven[i].id, &err) < 0)
			driver_warn("unlock", d->driven[i].id, &err);
		log_info("rollout %s: not RUNNING here any more; not driving it", d->driven[i].id);
		d->driven[i] = d->driven[--d->count];
	}
}

/* Marks the RUNNING rollouts this process holds, taking those it can.  The
 * lock is asked again every tick (it does not stack): a PostgreSQL
 * connection that was reset lost its locks, and another process may have
 * taken the rollout meanwhile. */
static void driver_claim(struct fleet_rollout_driver *d, size_t running)
{
	struct error err = { "" };
	struct driven *x;
	size_t i;
	int held;

	for (i = 0; i < d->count; i++)
		d->driven[i].seen = 0;
	for (i = 0; i < running; i++) {
		x = driver_find(d, d->running[i]);
		if (fleet_store_rollout_lock(d->store, d->running[i], &held, &err) < 0) {
			driver_warn("lock", d->running[i], &err);
			held = x != NULL;	/* the store is away: nothing happens anyway */
		}
		if (!held && x)
			log_warn("rollout %s: another slotfleet drives it now", x->id);
		if (!held || (!x && d->count == ROLLOUT_DRIVEN_MAX))
			continue;
		if (!x) {
			x = &d->driven[d->count++];
			memset(x, 0, sizeof *x);
			memcpy(x->id, d->running[i], sizeof x->id);
			log_info("rollout %s: driving it", x->id);
		}
		x->seen = 1;
	}
}

/* Steps every rollout driven here; returns how long to sleep (ms). */
static unsigned driver_tick(struct fleet_rollout_driver *d)
{
	struct error err = { "" };
	struct timespec ts;
	int64_t now_us, due_us = 0;
	size_t running, i;
	int kicked;

	/* Before any judging: a FAILED stored from now on kicks again. */
	kicked = atomic_exchange(&d->kick, 0);
	atomic_store(&d->wakeup, 0);
	if (fleet_store_rollout_running(d->store, d->running, ROLLOUT_DRIVEN_MAX, &running,
					&err) < 0) {
		driver_warn("list", "*", &err);
		return ROLLOUT_TICK_MS;
	}
	driver_claim(d, running);
	driver_release(d);
	for (i = 0; i < d->count && !atomic_load(&d->stop); i++) {
		struct fleet_rollout_pace *pace = &d->driven[i].pace;

		if (kicked)
			pace->judged_us = 0;	/* a FAILED: judge before casting */
		if (fleet_rollout_step(d->store, d->pub, d->driven[i].id, pace, &d->kick, &err) < 0)
			driver_warn("step", d->driven[i].id, &err);
		if (pace->due_us && (!due_us || pace->due_us < due_us))
			due_us = pace->due_us;
	}
	if (!due_us)
		return ROLLOUT_TICK_MS;
	clock_gettime(CLOCK_REALTIME, &ts);
	now_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	if (due_us <= now_us)
		return 0;	/* behind the rate: cast on */
	if (due_us - now_us >= ROLLOUT_TICK_MS * 1000)
		return ROLLOUT_TICK_MS;
	return due_us - now_us <= ROLLOUT_CAST_MS * 1000 ? ROLLOUT_CAST_MS :
	       (unsigned)((due_us - now_us) / 1000);
}

static void *driver_main(void *arg)
{
	struct fleet_rollout_driver *d = arg;
	unsigned ms;

	while (!atomic_load(&d->stop)) {
		ms = driver_tick(d);
		/* A stop asked before the tick cleared wakeup is seen here;
		 * one asked after it set wakeup again. */
		if (!atomic_load(&d->stop))
			fleet_wait(&d->lock, &d->wake, &d->wakeup, ms);
	}
	return NULL;
}

void fleet_rollout_kick(struct fleet_rollout_driver *d)
{
	atomic_store(&d->kick, 1);
	pthread_mutex_lock(&d->lock);
	atomic_store(&d->wakeup, 1);
	pthread_cond_broadcast(&d->wake);
	pthread_mutex_unlock(&d->lock);
}

int fleet_rollout_start(struct fleet_rollout_driver **out, const char *spec,
			struct fleet_publisher *publisher, struct error *err)
{
	struct fleet_rollout_driver *d = calloc(1, sizeof *d);
	int rc;

	*out = NULL;
	if (!d)
		return error_set(err, "rollouts: out of memory");
	if (fleet_store_open(&d->store, spec, err) < 0) {
		free(d);
		return -1;
	}
	d->pub = publisher;
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->wake, NULL);
	rc = pthread_create(&d->thread, NULL, driver_main, d);
	if (rc != 0) {
		fleet_store_close(d->store);
		pthread_cond_destroy(&d->wake);
		pthread_mutex_destroy(&d->lock);
		free(d);
		errno = rc;
		return error_errno(err, "rollout driver thread");
	}
	*out = d;
	return 0;
}

void fleet_rollout_stop(struct fleet_rollout_driver *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->lock);
	atomic_store(&d->stop, 1);
	atomic_store(&d->wakeup, 1);
	pthread_cond_broadcast(&d->wake);
	pthread_mutex_unlock(&d->lock);
	pthread_join(d->thread, NULL);
	fleet_store_close(d->store);	/* its connection's locks go with it */
	pthread_cond_destroy(&d->wake);
	pthread_mutex_destroy(&d->lock);
	free(d);
}
