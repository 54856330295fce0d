/* consumer.c: reports from the conductor topic into the store (see
 * broker/fleet_consumer.h). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "amqp_link.h"
#include "sync/fleet_wait.h"
#include "broker/fleet_consumer.h"
#include "broker/fleet_report.h"
#include "store/fleet_text.h"
#include "log.h"

#define CONSUMER_POLL_MS 500		/* how soon a stop request is seen */
#define CONSUMER_FILL_MS 2		/* a batch waits this long for the next delivery:
					 * the broker streams a batch's worth after an ack,
					 * and one commit for many beats one each */
#define CONSUMER_STORE_BACKOFF_MAX_MS 30000
#define CONSUMER_LINK_BACKOFF_MAX_MS 60000
#define CONSUMER_BATCH_MAX 1024		/* bounds the memory a batch holds (~2 MiB, and
					 * ~2 MiB more while the store runs it) */

/* A delivery and what it says, while its batch is being stored. */
struct consumer_slot {
	struct amqp_delivery d;
	struct fleet_msg msg;
	struct fleet_report report;
	struct fleet_heartbeat heartbeat;
};

struct fleet_consumer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	atomic_int stop;
	const struct rpc_keys *keys;
	struct fleet_store *store;
	struct config amqp;
	unsigned prefetch;
	struct amqp_link *link;
	size_t batch;			/* deliveries per transaction: min(prefetch, MAX) */
	struct consumer_slot *slots;	/* batch of them */
	struct fleet_batch_item *items;	/* batch of them */
	int64_t *sent_us;		/* each item's `sent` (0: none), for the lag */
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

/* Parses the batch's deliveries; returns how many store items they make.
 * Malformed, unverifiable and ignored messages make none (they are acked
 * with the rest: retrying would not fix them). */
static size_t consumer_parse(struct fleet_consumer *c, size_t n)
{
	struct error err = { "" };
	char clean[sizeof err.text];
	size_t i, items = 0;

	for (i = 0; i < n; i++) {
		struct consumer_slot *slot = &c->slots[i];

		if (fleet_report_parse(slot->d.body, slot->d.len, c->keys, &slot->msg, &err) < 0) {
			fleet_metrics_refused(c->metrics, 1);
			log_warn("report refused (acknowledged, not stored): %s",
				 fleet_text_clean(clean, sizeof clean, err.text));
		}
		else if (slot->msg.kind != FLEET_MSG_IGNORE) {
			c->sent_us[items] = slot->msg.sent_us;
			consumer_item(slot, &c->items[items++]);
		}
	}
	return items;
}

/* Stores the items in one transaction, retrying until it commits (1) or a
 * stop is asked (0).  Items the store refused are logged. */
static int consumer_store(struct fleet_consumer *c, size_t items)
{
	unsigned backoff = 1000;
	struct error err = { "" };
	char clean[sizeof err.text];
	int64_t now;
	size_t i;
	int failed = 0;

	while (items && fleet_store_batch(c->store, c->items, items, &err) < 0) {
		log_warn("%zu reports not stored: %s; retrying in %u ms", items, err.text, backoff);
		fleet_wait(&c->lock, &c->wake, &c->stop, backoff);
		if (atomic_load(&c->stop))
			return 0;
		backoff = backoff * 2 > CONSUMER_STORE_BACKOFF_MAX_MS ?
			  CONSUMER_STORE_BACKOFF_MAX_MS : backoff * 2;
	}
	now = consumer_now_us();
	for (i = 0; i < items; i++) {
		if (c->items[i].result == 1 && c->items[i].report &&
		    c->items[i].report->state == FLEET_FAILED)
			failed = 1;
		if (c->items[i].result >= 0) {
			fleet_metrics_ingested(c->metrics, now - c->sent_us[i], c->sent_us[i] != 0);
			continue;
		}
		fleet_metrics_refused(c->metrics, 1);
		log_warn("report refused by the store (acknowledged, not stored): %s",
			 fleet_text_clean(clean, sizeof clean, c->items[i].err.text));
	}
	if (failed && c->on_failed)
		c->on_failed(c->on_failed_arg);	/* a rollout may have to halt now */
	return 1;
}

/* 0: settled (all acked after the commit, or left for redelivery on stop);
 * -1: the link broke (the broker redelivers what was not acked). */
static int consumer_handle(struct fleet_consumer *c, size_t n)
{
	struct error err = { "" };

	if (!consumer_store(c, consumer_parse(c, n)))
		return 0;	/* stopping: unacknowledged, the broker keeps them */
	/* One frame for the batch: every earlier delivery is acked already
	 * (batches settle in order, one channel), so "up to the last tag" is
	 * exactly this batch. */
	if (amqp_link_ack_upto(c->link, c->slots[n - 1].d.tag, &err) < 0) {
		log_warn("%s", err.text);
		return -1;
	}
	return 0;
}

/* Takes a batch: waits up to CONSUMER_POLL_MS for a first delivery, then
 * takes the next ones while each comes within CONSUMER_FILL_MS, up to the
 * batch size.  Returns the link's status (-1 broke, err set); *n
 * deliveries were taken. */
static int consumer_collect(struct fleet_consumer *c, size_t *n, struct error *err)
{
	int got = amqp_link_next(c->link, CONSUMER_POLL_MS, &c->slots[0].d, err);

	*n = 0;
	while (got > 0) {
		if (++*n == c->batch)
			break;
		got = amqp_link_next(c->link, CONSUMER_FILL_MS, &c->slots[*n].d, err);
	}
	return got < 0 ? -1 : 0;
}

static void consumer_disconnect(struct fleet_consumer *c)
{
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

static void consumer_free_deliveries(struct fleet_consumer *c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		amqp_delivery_free(&c->slots[i].d);
}

static void *consumer_main(void *arg)
{
	struct fleet_consumer *c = arg;
	struct error err = { "" };
	unsigned backoff = 1000;
	size_t n;
	int rc;

	while (!atomic_load(&c->stop)) {
		if (!c->link) {
			consumer_connect(c, &backoff);
			continue;
		}
		/* A link that broke while collecting: what was taken is
		 * unacknowledged, so the broker redelivers it. */
		rc = consumer_collect(c, &n, &err);
		if (!rc && n && consumer_handle(c, n) < 0)
			rc = -1;
		consumer_free_deliveries(c, n);
		if (rc < 0) {
			if (!atomic_load(&c->stop))
				log_warn("consumer: %s; reconnecting", err.text);
			consumer_disconnect(c);
		}
	}
	consumer_disconnect(c);
	return NULL;
}

static void consumer_free(struct fleet_consumer *c)
{
	pthread_cond_destroy(&c->wake);
	pthread_mutex_destroy(&c->lock);
	free(c->slots);
	free(c->items);
	free(c->sent_us);
	free(c);
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
	c->keys = keys;
	c->store = store;
	c->metrics = metrics;
	c->on_failed = on_failed;
	c->on_failed_arg = on_failed_arg;
	c->prefetch = config->amqp.prefetch;
	c->batch = c->prefetch < CONSUMER_BATCH_MAX ? c->prefetch : CONSUMER_BATCH_MAX;
	c->slots = calloc(c->batch, sizeof *c->slots);
	c->items = calloc(c->batch, sizeof *c->items);
	c->sent_us = calloc(c->batch, sizeof *c->sent_us);
	if (!c->slots || !c->items || !c->sent_us) {
		consumer_free(c);
		return error_set(err, "out of memory");
	}
	fleet_config_amqp(config, &c->amqp);
	rc = pthread_create(&c->thread, NULL, consumer_main, c);
	if (rc != 0) {
		errno = rc;
		consumer_free(c);
		return error_errno(err, "consumer thread");
	}
	*out = c;
	return 0;
}

void fleet_consumer_stop(struct fleet_consumer *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	atomic_store(&c->stop, 1);
	pthread_cond_broadcast(&c->wake);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	consumer_free(c);
}
