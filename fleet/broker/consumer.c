/* consumer.c: reports from the conductor topic into the store (see
 * broker/fleet_consumer.h). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "amqp_link.h"
#include "sync/fleet_wait.h"
#include "broker/fleet_consumer.h"
#include "broker/fleet_report.h"
#include "store/fleet_store_rollout.h"
#include "store/fleet_text.h"
#include "log.h"

#define CONSUMER_POLL_MS 500		/* how soon a stop request is seen */
#define CONSUMER_STORE_BACKOFF_MAX_MS 30000
#define CONSUMER_LINK_BACKOFF_MAX_MS 60000
#define CONSUMER_BATCH_MAX 1024		/* bounds the memory a batch holds (~1.5 MiB; two
					 * batches, and ~2 MiB more while the store runs one) */

/* A delivery and what it says, while its batch is being stored. */
struct consumer_slot {
	struct amqp_delivery d;		/* the body is freed once parsed */
	struct fleet_msg msg;
	struct fleet_report report;
	struct fleet_heartbeat heartbeat;
};

/* Deliveries taken and parsed, then stored in one transaction. */
struct consumer_batch {
	struct consumer_slot *slots;
	struct fleet_batch_item *items;	/* the reports and heartbeats among them */
	int64_t *sent_us;		/* each item's `sent` (0: none), for the lag */
	size_t n, nitems;
	uint64_t last_tag;		/* acknowledges the whole batch */
};

/* Two threads: the reader owns the AMQP link (librabbitmq's connection is
 * not shareable), takes and parses deliveries and acknowledges; the writer
 * stores.  While the writer commits one batch the reader fills the other,
 * so parsing and the broker's deliveries overlap the database, and a batch
 * is whatever came while the one before was stored (group commit, bounded
 * by the batch size).  Hand-over under lock: the reader sets handed, the
 * writer sets handed_done (and signals done_fd), the reader clears both
 * after acknowledging. */
struct fleet_consumer {
	pthread_t thread, writer;
	pthread_mutex_t lock;
	pthread_cond_t wake;		/* stop: fleet_wait's */
	pthread_cond_t work;		/* the writer: a batch handed, or stop */
	pthread_cond_t done;		/* the reader: the handed batch is done */
	atomic_int stop;
	const struct rpc_keys *keys;
	struct fleet_store *store;
	struct config amqp;
	unsigned prefetch;
	struct amqp_link *link;
	size_t batch;			/* deliveries per transaction: min(prefetch, MAX) */
	struct consumer_batch batches[2];
	struct consumer_batch *filling;	/* the reader's */
	struct consumer_batch *handed;	/* under lock: the writer's, or NULL */
	int handed_done, handed_stored;	/* under lock */
	int done_fd;			/* eventfd: the writer finished a batch */
	int writer_started;
	struct fleet_metrics *metrics;
	void (*on_failed)(void *arg);	/* may be NULL */
	void *on_failed_arg;
};

static int64_t consumer_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Fills slot's store item from its parsed message. */
static void consumer_item(struct consumer_slot *slot, struct fleet_batch_item *item)
{
	const struct fleet_msg *msg = &slot->msg;
	int64_t at_us = msg->sent_us ? msg->sent_us : consumer_now_us();

	memset(item, 0, sizeof *item);
	if (msg->kind == FLEET_MSG_HEARTBEAT) {
		slot->heartbeat = (struct fleet_heartbeat){
			.instance_id = msg->instance_id, .agent_version = msg->agent_version,
			.agent_slot = msg->agent_slot, .sent_us = at_us,
			.rpc_api_version = msg->rpc_api_version,
		};
		item->heartbeat = &slot->heartbeat;
		return;
	}
	slot->report = (struct fleet_report){
		.upgrade_id = msg->upgrade_id, .instance_id = msg->instance_id,
		.from_version = msg->from_version, .to_version = msg->to_version,
		.state = msg->state, .reason = msg->reason, .at_us = at_us, .source = "guest",
	};
	item->report = &slot->report;
}

/* Parses the delivery just taken into b and frees its body.  Malformed,
 * unverifiable and ignored messages make no store item (they are acked
 * with the rest: retrying would not fix them). */
static void consumer_parse(struct fleet_consumer *c, struct consumer_batch *b)
{
	struct consumer_slot *slot = &b->slots[b->n++];
	struct error err = { "" };
	char clean[sizeof err.text];

	b->last_tag = slot->d.tag;
	if (fleet_report_parse(slot->d.body, slot->d.len, c->keys, &slot->msg, &err) < 0) {
		fleet_metrics_refused(c->metrics, 1);
		log_warn("report refused (acknowledged, not stored): %s",
			 fleet_text_clean(clean, sizeof clean, err.text));
	} else if (slot->msg.kind != FLEET_MSG_IGNORE) {
		b->sent_us[b->nitems] = slot->msg.sent_us;
		consumer_item(slot, &b->items[b->nitems++]);
	}
	amqp_delivery_free(&slot->d);
}

/* Stores b's items in one transaction, retrying until it commits (1) or a
 * stop is asked (0).  Items the store refused are logged.  The writer's. */
static int consumer_store(struct fleet_consumer *c, struct consumer_batch *b)
{
	unsigned backoff = 1000;
	struct error err = { "" };
	char clean[sizeof err.text];
	int64_t now;
	size_t i;
	int failed = 0;

	while (b->nitems && fleet_store_batch(c->store, b->items, b->nitems, &err) < 0) {
		log_warn("%zu reports not stored: %s; retrying in %u ms", b->nitems, err.text,
			 backoff);
		fleet_wait(&c->lock, &c->wake, &c->stop, backoff);
		if (atomic_load(&c->stop))
			return 0;
		backoff = backoff * 2 > CONSUMER_STORE_BACKOFF_MAX_MS ?
			  CONSUMER_STORE_BACKOFF_MAX_MS : backoff * 2;
	}
	now = consumer_now_us();
	for (i = 0; i < b->nitems; i++) {
		if (b->items[i].result == 1 && b->items[i].report &&
		    b->items[i].report->state == FLEET_FAILED)
			failed = 1;
		if (b->items[i].result >= 0) {
			fleet_metrics_ingested(c->metrics, now - b->sent_us[i], b->sent_us[i] != 0);
			continue;
		}
		fleet_metrics_refused(c->metrics, 1);
		log_warn("report refused by the store (acknowledged, not stored): %s",
			 fleet_text_clean(clean, sizeof clean, b->items[i].err.text));
	}
	if (failed && c->on_failed)
		c->on_failed(c->on_failed_arg);	/* a rollout may have to halt now */
	/* and its driver may be another slotfleet on the database */
	if (failed && fleet_store_failed_signal(c->store, &err) < 0)
		log_warn("a FAILED stored, not signalled to other slotfleets: %s",
			 fleet_text_clean(clean, sizeof clean, err.text));
	return 1;
}

/* The writer thread: stores each batch handed to it, then says so. */
static void *consumer_writer(void *arg)
{
	struct fleet_consumer *c = arg;
	struct consumer_batch *b;
	uint64_t one = 1;
	int stored;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (!atomic_load(&c->stop) && (!c->handed || c->handed_done))
			pthread_cond_wait(&c->work, &c->lock);
		if (atomic_load(&c->stop))
			break;
		b = c->handed;
		pthread_mutex_unlock(&c->lock);
		stored = consumer_store(c, b);
		pthread_mutex_lock(&c->lock);
		c->handed_done = 1;
		c->handed_stored = stored;
		pthread_cond_broadcast(&c->done);
		if (write(c->done_fd, &one, sizeof one) != sizeof one)
			log_warn("consumer: cannot signal a stored batch");	/* seen at the next poll */
	}
	c->handed_done = 1;	/* a stop: whatever it held stays unacknowledged */
	pthread_cond_broadcast(&c->done);
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

static void consumer_batch_reset(struct consumer_batch *b)
{
	b->n = b->nitems = 0;
	b->last_tag = 0;
}

/* Settles the writer's batch once it is done: acknowledged when it was
 * committed (one frame: every earlier delivery is acked already, batches
 * settle in order on one channel), else left to the broker.  1 while the
 * writer still works, 0 when it holds nothing now, -1 the ack failed. */
static int consumer_settle(struct fleet_consumer *c, int ack, struct error *err)
{
	struct consumer_batch *b;
	uint64_t count;
	int stored, rc = 0;

	pthread_mutex_lock(&c->lock);
	b = c->handed;
	stored = c->handed_stored;
	if (b && !c->handed_done) {
		pthread_mutex_unlock(&c->lock);
		return 1;
	}
	pthread_mutex_unlock(&c->lock);
	if (!b)
		return 0;
	if (read(c->done_fd, &count, sizeof count) < 0 && errno != EAGAIN)
		log_warn("consumer: reading the writer's signal failed");
	if (ack && stored && b->n)
		rc = amqp_link_ack_upto(c->link, b->last_tag, err);
	consumer_batch_reset(b);
	pthread_mutex_lock(&c->lock);
	c->handed = NULL;
	c->handed_done = 0;
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* Gives the filling batch to the (idle) writer; fills the other one next. */
static void consumer_hand(struct fleet_consumer *c)
{
	pthread_mutex_lock(&c->lock);
	c->handed = c->filling;
	c->handed_done = 0;
	pthread_cond_signal(&c->work);
	pthread_mutex_unlock(&c->lock);
	c->filling = c->filling == &c->batches[0] ? &c->batches[1] : &c->batches[0];
}

/* Waits up to CONSUMER_POLL_MS for a delivery (when the filling batch has
 * room) or the writer's signal; takes and parses one delivery if it came.
 * 0, or -1 when the link broke (err set). */
static int consumer_take(struct fleet_consumer *c, struct error *err)
{
	struct consumer_batch *b = c->filling;
	int room = b->n < c->batch, fd = amqp_link_fd(c->link), got;
	struct pollfd p[2] = { { c->done_fd, POLLIN, 0 }, { fd, POLLIN, 0 } };

	if (!room || fd >= 0) {		/* fd -1: a frame is buffered already */
		if (poll(p, room ? 2 : 1, CONSUMER_POLL_MS) < 0 && errno != EINTR)
			return error_errno(err, "consumer: poll");
		if (!room || !p[1].revents)
			return 0;
	}
	got = amqp_link_next(c->link, 0, &b->slots[b->n].d, err);
	if (got > 0)
		consumer_parse(c, b);
	return got < 0 ? -1 : 0;
}

/* One turn of the reader: settle what the writer finished, hand it the
 * filling batch when it is idle, take what comes.  -1: the link broke. */
static int consumer_step(struct fleet_consumer *c, struct error *err)
{
	int busy = consumer_settle(c, 1, err);

	if (busy < 0)
		return -1;
	if (!busy && c->filling->n) {
		consumer_hand(c);
		return 0;
	}
	return consumer_take(c, err);
}

/* Drops the link: waits for the writer's batch first (its commit must not
 * be acknowledged on a new link, whose delivery tags start again); what
 * was not acknowledged the broker delivers again, and the store's rules
 * make that a no-op. */
static void consumer_disconnect(struct fleet_consumer *c)
{
	pthread_mutex_lock(&c->lock);
	while (c->handed && !c->handed_done)
		pthread_cond_wait(&c->done, &c->lock);
	pthread_mutex_unlock(&c->lock);
	consumer_settle(c, 0, NULL);
	consumer_batch_reset(c->filling);
	amqp_link_close(c->link);
	c->link = NULL;
}

/* Connects, or sleeps the backoff (doubled, with up to 50% jitter). */
static void consumer_connect(struct fleet_consumer *c, unsigned *backoff)
{
	struct error err = { "" };
	unsigned jitter = 0;

	if (amqp_link_open_consumer(&c->link, &c->amqp, c->amqp.amqp.queue,
				    c->amqp.amqp.conductor_topic, c->prefetch, &err) == 0) {
		log_info("consumer: connected; consuming %s (bound to %s)", c->amqp.amqp.queue,
			 c->amqp.amqp.conductor_topic);
		*backoff = 1000;
		return;
	}
	if (getrandom(&jitter, sizeof jitter, 0) != sizeof jitter)
		jitter = 0;
	log_warn("consumer: %s; retrying in about %u ms", err.text, *backoff);
	fleet_wait(&c->lock, &c->wake, &c->stop, *backoff + jitter % (*backoff / 2 + 1));
	*backoff = *backoff * 2 > CONSUMER_LINK_BACKOFF_MAX_MS ? CONSUMER_LINK_BACKOFF_MAX_MS :
		   *backoff * 2;
}

/* The reader thread. */
static void *consumer_main(void *arg)
{
	struct fleet_consumer *c = arg;
	struct error err = { "" };
	unsigned backoff = 1000;

	while (!atomic_load(&c->stop)) {
		if (!c->link) {
			consumer_connect(c, &backoff);
			continue;
		}
		if (consumer_step(c, &err) < 0) {
			if (!atomic_load(&c->stop))
				log_warn("consumer: %s; reconnecting", err.text);
			consumer_disconnect(c);
		}
	}
	if (c->link)
		consumer_disconnect(c);
	return NULL;
}

static void consumer_free(struct fleet_consumer *c)
{
	int i;

	for (i = 0; i < 2; i++) {
		free(c->batches[i].slots);
		free(c->batches[i].items);
		free(c->batches[i].sent_us);
	}
	if (c->done_fd >= 0)
		close(c->done_fd);
	pthread_cond_destroy(&c->done);
	pthread_cond_destroy(&c->work);
	pthread_cond_destroy(&c->wake);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* The two batches' memory, and the writer's signal. */
static int consumer_alloc(struct fleet_consumer *c)
{
	int i;

	for (i = 0; i < 2; i++) {
		c->batches[i].slots = calloc(c->batch, sizeof *c->batches[i].slots);
		c->batches[i].items = calloc(c->batch, sizeof *c->batches[i].items);
		c->batches[i].sent_us = calloc(c->batch, sizeof *c->batches[i].sent_us);
		if (!c->batches[i].slots || !c->batches[i].items || !c->batches[i].sent_us)
			return -1;
	}
	c->filling = &c->batches[0];
	c->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return c->done_fd < 0 ? -1 : 0;
}

/* Asks both threads to stop and waits for them. */
static void consumer_join(struct fleet_consumer *c, int reader)
{
	pthread_mutex_lock(&c->lock);
	atomic_store(&c->stop, 1);
	pthread_cond_broadcast(&c->wake);
	pthread_cond_broadcast(&c->work);
	pthread_mutex_unlock(&c->lock);
	if (reader)
		pthread_join(c->thread, NULL);
	if (c->writer_started)
		pthread_join(c->writer, NULL);
}

int fleet_consumer_start(struct fleet_consumer **out, const struct fleet_config *config,
			 const struct rpc_keys *keys, struct fleet_store *store,
			 struct fleet_metrics *metrics, void (*on_failed)(void *arg),
			 void *on_failed_arg, struct error *err)
{
	struct fleet_consumer *c = calloc(1, sizeof *c);
	int rc;

	*out = NULL;
	if (!c)
		return error_set(err, "out of memory");
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->wake, NULL);
	pthread_cond_init(&c->work, NULL);
	pthread_cond_init(&c->done, NULL);
	c->done_fd = -1;
	c->keys = keys;
	c->store = store;
	c->metrics = metrics;
	c->on_failed = on_failed;
	c->on_failed_arg = on_failed_arg;
	c->prefetch = config->amqp.prefetch;
	c->batch = c->prefetch < CONSUMER_BATCH_MAX ? c->prefetch : CONSUMER_BATCH_MAX;
	if (c->prefetch == 0 || c->prefetch > UINT16_MAX) {
		consumer_free(c);
		return error_set(err, "consumer: [amqp] prefetch %u: not 1..65535", c->prefetch);
	}
	if (consumer_alloc(c) < 0) {
		consumer_free(c);
		return error_set(err, "consumer: out of memory or descriptors");
	}
	fleet_config_amqp(config, &c->amqp);
	rc = pthread_create(&c->writer, NULL, consumer_writer, c);
	c->writer_started = rc == 0;
	if (rc == 0 && (rc = pthread_create(&c->thread, NULL, consumer_main, c)) != 0)
		consumer_join(c, 0);
	if (rc != 0) {
		consumer_free(c);
		errno = rc;
		return error_errno(err, "consumer thread");
	}
	*out = c;
	return 0;
}

void fleet_consumer_stop(struct fleet_consumer *c)
{
	if (!c)
		return;
	consumer_join(c, 1);
	consumer_free(c);
}
