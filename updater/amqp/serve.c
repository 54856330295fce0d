/* serve.c: the RabbitMQ consumer loop (see include/serve.h). */
#include <errno.h>
#include <limits.h>
#include <jansson.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "amqp_link.h"
#include "control.h"
#include "history.h"
#include "log.h"
#include "outcome_watch.h"
#include "rpc_message.h"
#include "serve.h"

/* The one piece of global state: set by SIGTERM/SIGINT, read by the loop. */
static volatile sig_atomic_t serve_stop;

static void serve_on_signal(int signo)
{
	(void)signo;
	serve_stop = 1;
}

struct server {
	const struct config *config;
	const struct serve_options *options;
	struct amqp_link *link;
	long long next_heartbeat;
	unsigned backoff_ms;
	struct amqp_delivery held;	/* a DEFERRED message, unacknowledged */
	long long retry_at;		/* when to run it again; 0: none held */
	struct outcome_watch watch;	/* the last SUCCESS, while on probation */
};

static long long serve_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double serve_unix_time(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleeps, but a stop signal cuts it short. */
static void serve_sleep(unsigned ms)
{
	struct timespec left = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (!serve_stop && nanosleep(&left, &left) < 0 && errno == EINTR)
		;
}

/* Takes args (rpc_cast_build steals them; without a link they are dropped).
 * -1 when the publish failed: another link may take it.  A cast that cannot
 * be built never will be: logged, 0. */
static int serve_cast(struct server *s, const char *method, json_t *args)
{
	struct error err = { "" };
	char *body = NULL;
	int rc = 0;

	if (!s->link) {
		json_decref(args);
		return -1;
	}
	if (rpc_cast_build(method, args, s->config, RPC_TO_CONDUCTOR, &body, &err) < 0) {
		log_warn("%s cast not sent: %s", method, err.text);
	} else if (amqp_link_publish(s->link, s->config->amqp.conductor_topic, body, &err) < 0) {
		log_warn("%s cast not sent: %s", method, err.text);
		rc = -1;
	}
	free(body);
	return rc;
}

static int serve_outcome(struct server *s, const char *id, const char *from, const char *to,
			 const char *state, const char *reason)
{
	return serve_cast(s, "guest_upgrade_outcome",
			  json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:f}", "instance_id",
				    s->config->amqp.instance_id, "upgrade_id", id, "from_version",
				    from, "to_version", to, "state", state, "reason", reason, "sent",
				    serve_unix_time()));
}

/* A heartbeat means "the agent is up": only when slotd says so. */
static void serve_heartbeat(struct server *s)
{
	struct control_status status;
	struct control_reply reply;
	struct error err = { "" };
	const struct control_slot_status *slot;

	if (control_call_status(s->config->supervisor.control_socket, &status, &reply, 5000,
				&err) < 0)
		return;
	if (reply.kind != CONTROL_OK || status.current == SLOT_NONE)
		return;
	slot = &status.slot[status.current];
	if (status.agent.state != CONTROL_AGENT_RUNNING || slot->status != SLOT_GOOD)
		return;
	serve_cast(s, "heartbeat",
		   json_pack("{s:s, s:{s:s, s:s}, s:f}", "instance_id", s->config->amqp.instance_id,
			     "payload", "agent_version", slot->version, "agent_slot",
			     layout_slot_name(status.current), "sent", serve_unix_time()));
}

struct serve_attempt {
	struct server *server;
	const char *id;
};

static void serve_step(void *context, enum history_state state, const char *detail)
{
	struct serve_attempt *a = context;

	serve_outcome(a->server, a->id, "", "", history_state_name(state), detail);
}

/* A refused message: recorded and reported, so the control plane learns why.
 * Under its own id only when no record has that id yet: a refusal must never
 * overwrite the record of a real attempt (its id may be a forger's guess). */
static void serve_refuse(struct server *s, const struct rpc_request *req, const char *why)
{
	struct history_record r = { .kind = "upgrade", .state = HISTORY_FAILED }, old;
	struct layout layout;
	struct error err = { "" };
	int opened;

	opened = layout_open(&layout, s->config->slots.root, 1, &err) == 0;
	if (req->unique_id[0] && opened && history_find(&layout, req->unique_id, &old, &err) == 0)
		snprintf(r.id, sizeof r.id, "%s", req->unique_id);
	else if (history_new_id(r.id, sizeof r.id, &err) < 0)
		goto out;
	snprintf(r.instance, sizeof r.instance, "%s", s->config->amqp.instance_id);
	snprintf(r.error, sizeof r.error, "message refused: %.400s", why);
	log_warn("message %s refused: %s", r.id, why);
	if (opened && history_append(&layout, &r, &err) < 0)
		log_error("history: %s", err.text);
	serve_outcome(s, r.id, "", "", "FAILED", r.error);
out:
	if (opened)
		layout_close(&layout);
}

enum serve_verdict {
	SERVE_ACK,		/* final and durable: acknowledge */
	SERVE_HOLD,		/* deferred: keep unacknowledged, retry later */
	SERVE_DROP,		/* not recorded: let the broker redeliver it */
};

/* Runs one valid request once. */
static enum serve_verdict serve_attempt(struct server *s, const struct rpc_request *req)
{
	struct serve_attempt a = { s, req->unique_id };
	struct install_progress progress = { serve_step, NULL, &a };
	struct install_request ir = {
		.id = req->unique_id,
		.kind = req->kind == RPC_ROLLBACK ? INSTALL_ROLLBACK : INSTALL_UPGRADE,
		.instance_id = s->config->amqp.instance_id,
		.location = req->location[0] ? req->location : NULL,
		.strategy = req->strategy[0] ? req->strategy : NULL,
		.expected_version = req->instance_version[0] ? req->instance_version : NULL,
		.expected_sha256 = req->sha256[0] ? req->sha256 : NULL,
		.allow_downgrade = req->kind == RPC_ROLLBACK,
	};
	struct install_result result;
	struct error err = { "" };

	if (s->options->install(s->config, &ir, &progress, &result, &err) < 0) {
		log_error("attempt %s not recorded: %s", req->unique_id, err.text);
		return SERVE_DROP;
	}
	if (result.already_done)
		log_info("message %s: attempt already %s; acknowledging, outcome sent again",
			 req->unique_id, history_state_name(result.record.state));
	serve_outcome(s, req->unique_id, result.record.from_version, result.record.to_version,
		      history_state_name(result.record.state), result.record.error);
	if (result.outcome == INSTALL_SUCCESS && !result.already_done)
		outcome_watch_start(&s->watch, s->config, req->unique_id, result.record.updated);
	return result.outcome == INSTALL_DEFERRED ? SERVE_HOLD : SERVE_ACK;
}

/* An upgrade reported SUCCESS whose slot slotd then reverted in probation:
 * FAILED, a later state change of the same id. */
static void serve_watch(struct server *s, long long now)
{
	struct history_record r;

	if (!outcome_watch_poll(&s->watch, s->config, now, &r))
		return;
	log_warn("upgrade %s failed its probation: %s", r.id, r.error);
	if (serve_outcome(s, r.id, r.from_version, r.to_version, "FAILED", r.error) < 0)
		outcome_watch_again(&s->watch, r.id, now);
}

/* Unacknowledged messages go back to the queue when the connection goes. */
static void serve_disconnect(struct server *s)
{
	amqp_link_close(s->link);
	s->link = NULL;
	amqp_delivery_free(&s->held);
	s->retry_at = 0;
}

/* Keeps d unacknowledged (prefetch 1: nothing else arrives meanwhile) and
 * runs it again in delay_ms. */
static void serve_hold(struct server *s, struct amqp_delivery *d, unsigned delay_ms)
{
	if (d != &s->held) {
		s->held = *d;	/* takes the body */
		d->body = NULL;
	}
	s->retry_at = serve_now_ms() + delay_ms;
}

static void serve_settle(struct server *s, struct amqp_delivery *d, enum serve_verdict verdict)
{
	struct error err = { "" };

	if (verdict == SERVE_DROP) {
		serve_disconnect(s);
	} else if (verdict == SERVE_HOLD) {
		serve_hold(s, d, s->config->amqp.retry_interval_ms);
	} else {
		if (amqp_link_ack(s->link, d->tag, &err) < 0) {
			log_warn("%s", err.text);
			serve_disconnect(s);
		}
		if (d == &s->held) {
			amqp_delivery_free(&s->held);
			s->retry_at = 0;
		}
	}
}

/* A fleet notified at once would download at once: a new upgrade is held
 * for a random part of [amqp] download_jitter first, heartbeats going on. */
static int serve_jitter(struct server *s, struct amqp_delivery *d, const struct rpc_request *req)
{
	unsigned random = 0, delay;

	if (!s->config->amqp.download_jitter_ms || req->kind != RPC_UPGRADE || d == &s->held)
		return 0;
	if (getrandom(&random, sizeof random, 0) != sizeof random)
		random = 0;
	delay = random % (s->config->amqp.download_jitter_ms + 1);
	log_info("message %s: starting in %u ms (download_jitter)", req->unique_id, delay);
	serve_hold(s, d, delay);
	return 1;
}

/* Parses and runs a message: a new delivery, or the held one again. */
/* A request without upgrade_id or _unique_id gets an id from its bytes, so
 * a redelivery (or a held message run again) is the same attempt, never an
 * empty id that history readers would skip. */
static void serve_body_id(const struct amqp_delivery *d, struct rpc_request *req)
{
	unsigned char digest[SHA256_DIGEST_LENGTH];
	size_t i;

	SHA256((const unsigned char *)d->body, d->len, digest);
	memcpy(req->unique_id, "msg-", 4);
	for (i = 0; i < 16; i++)
		snprintf(req->unique_id + 4 + 2 * i, 3, "%02x", digest[i]);
}

static void serve_message(struct server *s, struct amqp_delivery *d)
{
	struct rpc_request req;
	struct error err = { "" };
	enum serve_verdict verdict = SERVE_ACK;
	int rc;

	memset(&req, 0, sizeof req);
	rc = rpc_message_parse(d->body, d->len, s->config, &req, &err);
	if (rc == 0 && req.kind != RPC_IGNORE && !req.unique_id[0])
		serve_body_id(d, &req);
	if (rc < 0)
		serve_refuse(s, &req, err.text);
	else if (req.kind == RPC_IGNORE)
		log_info("message ignored: %s", req.why_ignored);
	else if (serve_jitter(s, d, &req))
		return;
	else
		verdict = serve_attempt(s, &req);
	serve_settle(s, d, verdict);
}

/* Reconnects with exponential backoff and up to 50% jitter, 1 s to 60 s. */
static void serve_connect(struct server *s)
{
	struct error err = { "" };
	unsigned jitter = 0;

	if (amqp_link_open(&s->link, s->config, &err) == 0) {
		log_info("connected; consuming %s", s->config->amqp.queue);
		s->backoff_ms = 1000;
		return;
	}
	if (getrandom(&jitter, sizeof jitter, 0) != sizeof jitter)
		jitter = 0;
	log_warn("%s; retrying in about %u ms", err.text, s->backoff_ms);
	serve_sleep(s->backoff_ms + jitter % (s->backoff_ms / 2 + 1));
	s->backoff_ms = s->backoff_ms >= 30000 ? 60000 : s->backoff_ms * 2;
}

int serve_run(const struct config *config, const struct serve_options *options,
	      struct error *err)
{
	struct server s = { .config = config, .options = options, .backoff_ms = 1000 };
	long long due;
	struct sigaction sa = { .sa_handler = serve_on_signal };
	struct amqp_delivery d;
	long long now, wait;
	int got;

	if (!config->amqp.instance_id[0])
		return error_set(err, "%s: [amqp] instance_id: missing", config->path);
	if (!config->amqp.rpc_key[0])
		log_warn("casts are not authenticated: [amqp] rpc_key is not set, so anyone who "
			 "can publish to the broker can upgrade or roll back this guest");
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	outcome_watch_resume(&s.watch, config);
	while (!serve_stop) {
		if (!s.link) {
			serve_connect(&s);
			continue;
		}
		now = serve_now_ms();
		if (now >= s.next_heartbeat) {
			serve_heartbeat(&s);
			s.next_heartbeat = now + config->amqp.heartbeat_interval_ms;
		}
		if (s.retry_at && now >= s.retry_at) {
			serve_message(&s, &s.held);
			continue;
		}
		serve_watch(&s, now);
		wait = s.next_heartbeat - now;
		if (s.retry_at && s.retry_at - now < wait)
			wait = s.retry_at - now;
		due = outcome_watch_due(&s.watch);
		if (due != LLONG_MAX && due - now < wait)
			wait = due > now ? due - now : 0;
		got = amqp_link_next(s.link, (unsigned)wait, &d, err);
		if (got < 0) {
			log_warn("%s; reconnecting", err->text);
			serve_disconnect(&s);
		} else if (got > 0) {
			serve_message(&s, &d);
			amqp_delivery_free(&d);
		}
	}
	serve_disconnect(&s);
	log_info("stopped");
	return 0;
}
