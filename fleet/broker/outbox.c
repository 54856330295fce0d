/* outbox.c: the outbox's publisher thread (see broker/fleet_outbox.h). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "broker/fleet_outbox.h"
#include "crash.h"
#include "history.h"
#include "log.h"
#include "store/fleet_store_outbox.h"
#include "store/fleet_text.h"
#include "sync/fleet_wait.h"

struct fleet_outbox {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	atomic_int stop;
	atomic_int wakeup;		/* kicked or stopping: the idle sleep ends */
	struct fleet_store *store;
	struct fleet_publisher *pub;
	char owner[FLEET_ID_MAX];	/* this process's leases: pid and a random id */
	int down;			/* the broker could not be reached at the last try */
	int64_t grace_until_us;		/* until then an unrouted cast waits (see the header) */
	/* One round's casts (the thread's alone): */
	struct fleet_outbox_row rows[FLEET_OUTBOX_BATCH];
	struct fleet_outbox_row settled[FLEET_OUTBOX_BATCH];
	struct fleet_outbox_row unsent[FLEET_OUTBOX_BATCH];
	struct fleet_publisher_cast casts[FLEET_OUTBOX_BATCH];
	size_t sent_row[FLEET_OUTBOX_BATCH];	/* casts[i] is rows[sent_row[i]] */
};

static int64_t outbox_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void outbox_warn(const char *what, const struct error *err)
{
	char clean[sizeof err->text];

	log_warn("outbox: %s: %s", what, fleet_text_clean(clean, sizeof clean, err->text));
}

/* The casts to publish, in order; a row whose stored args do not parse
 * (nothing this slotfleet wrote) is refused without being sent. */
static size_t outbox_build(struct fleet_outbox *o, size_t n)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		struct fleet_outbox_row *row = &o->rows[i];
		json_t *args = json_loads(row->args, JSON_REJECT_DUPLICATES, NULL);

		row->result = FLEET_CAST_STATE_QUEUED;
		if (!json_is_object(args)) {
			json_decref(args);
			row->result = FLEET_CAST_STATE_REFUSED;
			snprintf(row->why, sizeof row->why, "the stored cast is not a JSON object");
			continue;
		}
		o->casts[k] = (struct fleet_publisher_cast){ .instance_id = row->instance_id,
			.method = row->method, .version = row->version, .args = args };
		o->sent_row[k++] = i;
	}
	return k;
}

/* Each row's outcome from its cast's; the unreachable ones set aside
 * (o->down set if there were).  Returns how many could not be sent. */
static size_t outbox_sort(struct fleet_outbox *o, size_t n, size_t k, int was_down,
			  size_t *settled)
{
	size_t i, unsent = 0, waiting = 0;

	for (i = 0; i < k; i++) {
		struct fleet_outbox_row *row = &o->rows[o->sent_row[i]];

		if (o->casts[i].rc == FLEET_CAST_UNREACHABLE) {
			row->result = FLEET_CAST_STATE_UNKNOWN;
			if (!o->down && !was_down)
				log_warn("outbox: broker unreachable, casts stay pending: %s",
					 o->casts[i].err.text);
			o->down = 1;
		} else if (o->casts[i].rc < 0 && o->casts[i].unrouted &&
			   outbox_now_us() < o->grace_until_us) {
			row->result = FLEET_CAST_STATE_UNKNOWN;
			waiting++;
		} else if (o->casts[i].rc < 0) {
			row->result = FLEET_CAST_STATE_REFUSED;
			snprintf(row->why, sizeof row->why, "%s", o->casts[i].err.text);
			log_warn("outbox: %s to %s not queued: %s", row->upgrade_id,
				 row->instance_id, o->casts[i].err.text);
		}
	}
	if (waiting)	/* one line a round: a fleet's worth may be waiting */
		log_info("outbox: %zu casts found no queue bound yet (the guests bind again after"
			 " a broker restart); sent again shortly", waiting);
	*settled = 0;
	for (i = 0; i < n; i++) {
		if (o->rows[i].result == FLEET_CAST_STATE_UNKNOWN)
			o->unsent[unsent++] = o->rows[i];
		else
			o->settled[(*settled)++] = o->rows[i];
	}
	return unsent;
}

/* One batch: claim, publish, settle, release.  1: go on (more may be
 * pending), 0: nothing was pending, -1: back off (store or broker). */
static int outbox_round(struct fleet_outbox *o)
{
	struct error err = { "" };
	int64_t now = outbox_now_us();
	size_t n, k, settled, unsent, i;
	int rc = 1, was_down;

	if (fleet_store_outbox_claim(o->store, o->owner, now,
				     now + (int64_t)FLEET_OUTBOX_LEASE_S * 1000000,
				     FLEET_OUTBOX_BATCH, FLEET_OUTBOX_BYTES, o->rows, &n,
				     &err) < 0) {
		outbox_warn("claim", &err);
		return -1;
	}
	if (!n)
		return 0;
	k = outbox_build(o, n);
	if (k && fleet_publisher_cast_many(o->pub, k, o->casts, &err) < 0) {
		outbox_warn("publish", &err);
		for (i = 0; i < k; i++)
			o->casts[i].rc = FLEET_CAST_UNREACHABLE;	/* none went out */
	}
	/* Published, not yet recorded: a crash here sends them again (tests). */
	crash_point("outbox-published");
	was_down = o->down;
	o->down = 0;
	unsent = outbox_sort(o, n, k, was_down, &settled);
	if (was_down && k && !o->down) {
		log_info("outbox: broker reached again, sending the pending casts");
		o->grace_until_us = outbox_now_us() + (int64_t)FLEET_OUTBOX_GRACE_S * 1000000;
	}
	/* A failed settle leaves them pending and leased by us: sent again
	 * (same ids) at the next round. */
	if (fleet_store_outbox_settle(o->store, o->settled, settled, outbox_now_us(), &err) < 0) {
		outbox_warn("record the confirmations", &err);
		rc = -1;
	}
	if (unsent) {
		rc = -1;
		if (fleet_store_outbox_release(o->store, o->owner, o->unsent, unsent, &err) < 0)
			outbox_warn("release", &err);
	}
	fleet_outbox_rows_free(o->rows, n);
	return rc;
}

static void *outbox_main(void *arg)
{
	struct fleet_outbox *o = arg;
	unsigned backoff = 0;
	int rc;

	while (!atomic_load(&o->stop)) {
		/* A kick from now on ends the idle sleep below. */
		atomic_store(&o->wakeup, 0);
		rc = outbox_round(o);
		if (atomic_load(&o->stop))
			break;
		if (rc > 0) {
			backoff = 0;
		} else if (rc == 0) {
			backoff = 0;
			fleet_wait(&o->lock, &o->wake, &o->wakeup, FLEET_OUTBOX_POLL_MS);
		} else {
			backoff = backoff ? backoff * 2 : FLEET_OUTBOX_BACKOFF_MIN_MS;
			if (backoff > FLEET_OUTBOX_BACKOFF_MAX_MS)
				backoff = FLEET_OUTBOX_BACKOFF_MAX_MS;
			fleet_wait(&o->lock, &o->wake, &o->stop, backoff);
		}
	}
	return NULL;
}

void fleet_outbox_kick(struct fleet_outbox *o)
{
	if (!o)
		return;
	pthread_mutex_lock(&o->lock);
	atomic_store(&o->wakeup, 1);
	pthread_cond_broadcast(&o->wake);
	pthread_mutex_unlock(&o->lock);
}

int fleet_outbox_start(struct fleet_outbox **out, const char *spec, struct fleet_publisher *pub,
		       struct error *err)
{
	struct fleet_outbox *o = calloc(1, sizeof *o);
	char random[40];
	int rc;

	*out = NULL;
	if (!o)
		return error_set(err, "outbox: out of memory");
	if (history_new_id(random, sizeof random, err) < 0 ||
	    fleet_store_open(&o->store, spec, err) < 0) {
		free(o);
		return -1;
	}
	snprintf(o->owner, sizeof o->owner, "%ld-%.32s", (long)getpid(), random);
	o->pub = pub;
	o->grace_until_us = outbox_now_us() + (int64_t)FLEET_OUTBOX_GRACE_S * 1000000;
	pthread_mutex_init(&o->lock, NULL);
	pthread_cond_init(&o->wake, NULL);
	rc = pthread_create(&o->thread, NULL, outbox_main, o);
	if (rc != 0) {
		fleet_store_close(o->store);
		pthread_cond_destroy(&o->wake);
		pthread_mutex_destroy(&o->lock);
		free(o);
		errno = rc;
		return error_errno(err, "outbox thread");
	}
	*out = o;
	return 0;
}

void fleet_outbox_stop(struct fleet_outbox *o)
{
	if (!o)
		return;
	pthread_mutex_lock(&o->lock);
	atomic_store(&o->stop, 1);
	atomic_store(&o->wakeup, 1);
	pthread_cond_broadcast(&o->wake);
	pthread_mutex_unlock(&o->lock);
	pthread_join(o->thread, NULL);
	fleet_store_close(o->store);
	pthread_cond_destroy(&o->wake);
	pthread_mutex_destroy(&o->lock);
	free(o);
}
