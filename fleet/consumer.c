/* consumer.c: reports from the conductor topic into the store (see
 * include/fleet_consumer.h). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "amqp_link.h"
#include "fleet_consumer.h"
#include "fleet_report.h"
#include "fleet_text.h"
#include "log.h"

#define CONSUMER_POLL_MS 500		/* how soon a stop request is seen */
#define CONSUMER_STORE_BACKOFF_MAX_MS 30000
#define CONSUMER_LINK_BACKOFF_MAX_MS 60000

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
};

/* Sleeps ms, or less when asked to stop. */
static void consumer_sleep(struct fleet_consumer *c, unsigned ms)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&c->lock);
	while (!atomic_load(&c->stop) &&
	       pthread_cond_timedwait(&c->wake, &c->lock, &until) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&c->lock);
}

static int64_t consumer_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* One store call for a parsed report: 0 done, -1 store failure. */
static int consumer_apply(struct fleet_consumer *c, const struct fleet_msg *msg,
			  struct error *err)
{
	struct fleet_report report = {
		.upgrade_id = msg->upgrade_id, .instance_id = msg->instance_id,
		.from_version = msg->from_version, .to_version = msg->to_version,
		.state = msg->state, .reason = msg->reason,
		.at_us = msg->sent_us ? msg->sent_us : consumer_now_us(), .source = "guest",
	};

	if (msg->kind == FLEET_MSG_HEARTBEAT)
		return fleet_store_heartbeat(c->store, msg->instance_id, msg->agent_version,
					     msg->agent_slot, msg->sent_us ? msg->sent_us :
					     consumer_now_us(), err);
	return fleet_store_report(c->store, &report, NULL, err);
}

/* Applies until the store takes it (1) or a stop is asked (0). */
static int consumer_apply_retrying(struct fleet_consumer *c, const struct fleet_msg *msg)
{
	unsigned backoff = 1000;
	struct error err = { "" };

	while (consumer_apply(c, msg, &err) < 0) {
		log_warn("report from %s not stored: %s; retrying in %u ms", msg->instance_id,
			 err.text, backoff);
		consumer_sleep(c, backoff);
		if (atomic_load(&c->stop))
			return 0;
		backoff = backoff * 2 > CONSUMER_STORE_BACKOFF_MAX_MS ?
			  CONSUMER_STORE_BACKOFF_MAX_MS : backoff * 2;
	}
	return 1;
}

/* 0: settled (acked, or left for redelivery on stop); -1: the link broke. */
static int consumer_handle(struct fleet_consumer *c, const struct amqp_delivery *d)
{
	struct fleet_msg msg;
	struct error err = { "" };
	char clean[sizeof err.text];

	if (fleet_report_parse(d->body, d->len, c->keys, &msg, &err) < 0)
		log_warn("report refused (acknowledged, not stored): %s",
			 fleet_text_clean(clean, sizeof clean, err.text));
	else if (msg.kind != FLEET_MSG_IGNORE && !consumer_apply_retrying(c, &msg))
		return 0;	/* stopping: unacknowledged, the broker keeps it */
	if (amqp_link_ack(c->link, d->tag, &err) < 0) {
		log_warn("%s", err.text);
		return -1;
	}
	return 0;
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
	consumer_sleep(c, *backoff + jitter % (*backoff / 2 + 1));
	*backoff = *backoff * 2 > CONSUMER_LINK_BACKOFF_MAX_MS ? CONSUMER_LINK_BACKOFF_MAX_MS :
		   *backoff * 2;
}

static void *consumer_main(void *arg)
{
	struct fleet_consumer *c = arg;
	struct amqp_delivery d;
	struct error err = { "" };
	unsigned backoff = 1000;
	int got;

	while (!atomic_load(&c->stop)) {
		if (!c->link) {
			consumer_connect(c, &backoff);
			continue;
		}
		got = amqp_link_next(c->link, CONSUMER_POLL_MS, &d, &err);
		if (got > 0 && consumer_handle(c, &d) < 0)
			got = -1;
		amqp_delivery_free(&d);
		if (got < 0) {
			if (!atomic_load(&c->stop))
				log_warn("consumer: %s; reconnecting", err.text);
			consumer_disconnect(c);
		}
	}
	consumer_disconnect(c);
	return NULL;
}

int fleet_consumer_start(struct fleet_consumer **out, const struct fleet_config *config,
			 const struct rpc_keys *keys, struct fleet_store *store,
			 struct error *err)
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
	c->prefetch = config->amqp.prefetch;
	fleet_config_amqp(config, &c->amqp);
	rc = pthread_create(&c->thread, NULL, consumer_main, c);
	if (rc != 0) {
		errno = rc;
		free(c);
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
	pthread_cond_destroy(&c->wake);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
