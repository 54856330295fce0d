/* rollout_driver.c: the thread that drives rollouts (see
 * rollout/fleet_rollout.h) and policies (rollout/fleet_policy.h): which
 * rollouts this process drives, and a step of each, then the policies'
 * tick, every ROLLOUT_TICK_MS, sooner while casts are due (when the
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
#include "rollout/fleet_policy.h"
#include "rollout/fleet_rollout.h"
#include "store/fleet_text.h"
#include "log.h"

struct fleet_rollout_driver {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	atomic_int stop;
	atomic_int wakeup;		/* kicked or stopping: the sleep ends */
	atomic_int kick;		/* a FAILED was stored since the tick began */
	struct fleet_store *store;
	struct fleet_publisher *pub;
	struct fleet_driven driven[ROLLOUT_DRIVEN_MAX];
	struct fleet_claims claims;
	char running[ROLLOUT_DRIVEN_MAX][FLEET_ID_MAX];
	struct fleet_policy_driver *policies;
};

static void driver_warn(const char *what, const char *id, const struct error *err)
{
	char clean[sizeof err->text];

	log_warn("rollout %s: %s: %s", id, what, fleet_text_clean(clean, sizeof clean, err->text));
}

/* Steps every rollout driven here; returns when one is due again (0: none). */
static int64_t driver_rollouts(struct fleet_rollout_driver *d)
{
	struct error err = { "" };
	int64_t due_us = 0;
	size_t running, i;
	int kicked, heard;

	/* Before any judging: a FAILED stored from now on kicks again. */
	kicked = atomic_exchange(&d->kick, 0);
	atomic_store(&d->wakeup, 0);
	/* A FAILED stored by another slotfleet on the database. */
	if (fleet_store_failed_heard(d->store, &heard, &err) < 0)
		driver_warn("signals", "*", &err);
	else if (heard)
		kicked = 1;
	if (fleet_store_rollout_running(d->store, d->running, ROLLOUT_DRIVEN_MAX, &running,
					&err) < 0) {
		driver_warn("list", "*", &err);
		return 0;
	}
	fleet_claims_update(&d->claims, d->store, d->running, running);
	for (i = 0; i < d->claims.count && !atomic_load(&d->stop); i++) {
		struct fleet_rollout_pace *pace = &d->driven[i].pace;

		if (kicked)
			pace->judged_us = 0;	/* a FAILED: judge before casting */
		if (fleet_rollout_step(d->store, d->pub, d->driven[i].id, pace, &d->kick, &err) < 0)
			driver_warn("step", d->driven[i].id, &err);
		if (pace->due_us && (!due_us || pace->due_us < due_us))
			due_us = pace->due_us;
	}
	return due_us;
}

/* Steps every rollout and policy driven here; returns how long to sleep (ms). */
static unsigned driver_tick(struct fleet_rollout_driver *d)
{
	struct timespec ts;
	int64_t now_us, due_us = driver_rollouts(d), policy_us;

	policy_us = atomic_load(&d->stop) ? 0 : fleet_policy_tick(d->policies, d->store, d->pub,
								 &d->stop);
	if (policy_us && (!due_us || policy_us < due_us))
		due_us = policy_us;
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
			struct fleet_publisher *publisher, const char *rpc_version_cap,
			struct error *err)
{
	struct fleet_rollout_driver *d = calloc(1, sizeof *d);
	int rc;

	*out = NULL;
	if (!d)
		return error_set(err, "rollouts: out of memory");
	d->claims = (struct fleet_claims){ "rollout", fleet_store_rollout_lock,
					   fleet_store_rollout_unlock, d->driven, 0,
					   ROLLOUT_DRIVEN_MAX };
	if (fleet_policy_driver_new(&d->policies, rpc_version_cap, err) < 0) {
		free(d);
		return -1;
	}
	if (fleet_store_open(&d->store, spec, err) < 0) {
		fleet_policy_driver_free(d->policies, NULL);
		free(d);
		return -1;
	}
	d->pub = publisher;
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->wake, NULL);
	rc = pthread_create(&d->thread, NULL, driver_main, d);
	if (rc != 0) {
		fleet_policy_driver_free(d->policies, d->store);
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
	fleet_policy_driver_free(d->policies, d->store);
	fleet_store_close(d->store);	/* its connection's locks go with it */
	pthread_cond_destroy(&d->wake);
	pthread_mutex_destroy(&d->lock);
	free(d);
}
