/* serve_child.c: `slotupd --amqp-child`, the AMQP side of `slotupd serve`
 * (see updater/amqp/serve.h and updater/amqp/serve_wire.h).  It owns the broker
 * connection: consumes, parses and unseals each message, sends the parent a
 * checked request and holds the delivery until the parent's verdict; casts
 * what the parent asks it to.  It trusts its parent, which sent the job, and
 * nothing that comes from the broker. */
#include <errno.h>
#include <jansson.h>
#include <openssl/sha.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "amqp_link.h"
#include "log.h"
#include "privsep/privsep.h"
#include "rpc_message.h"
#include "amqp/serve.h"
#include "amqp/serve_wire.h"

/* How often the loop wakes with nothing to do: librabbitmq sends its
 * heartbeats, and reads frames OpenSSL buffered, only when called. */
#define CHILD_TICK_MS 1000

struct child {
	struct config config;		/* the job's keys; the rest defaults */
	int fd;				/* to the parent */
	struct amqp_link *link;
	unsigned backoff_ms;
	long long connect_at;		/* monotonic ms of the next connect */
	uint64_t seq;			/* the last delivery's number */
	uint64_t pending;		/* the delivery awaiting a verdict, 0: none */
	uint64_t pending_tag;
	int broken;			/* the parent cannot be told: stop */
};

static long long child_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double child_unix_time(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int child_receive(int fd, struct serve_wire_job *job, struct error *err)
{
	ssize_t n;
	size_t i;

	do
		n = recv(fd, job, sizeof *job, MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof *job || job->magic != SERVE_WIRE_MAGIC)
		return error_set(err, "AMQP process: malformed job (%zd bytes): not started by "
				 "this slotupd?", n);
	job->user[sizeof job->user - 1] = '\0';
	job->url[sizeof job->url - 1] = '\0';
	job->exchange[sizeof job->exchange - 1] = '\0';
	job->instance_id[sizeof job->instance_id - 1] = '\0';
	job->queue[sizeof job->queue - 1] = '\0';
	job->conductor_topic[sizeof job->conductor_topic - 1] = '\0';
	job->rpc_key[sizeof job->rpc_key - 1] = '\0';
	job->ca_path[sizeof job->ca_path - 1] = '\0';
	job->strategy[sizeof job->strategy - 1] = '\0';
	job->file_dir[sizeof job->file_dir - 1] = '\0';
	for (i = 0; i < CONFIG_STRATEGY_MAX; i++)
		job->strategies[i][CONFIG_STRATEGY_NAME_MAX] = '\0';
	return 0;
}

/* Before a byte from the broker: the identity, no_new_privs, Landlock (read
 * the CA, resolver and library paths; write nothing); not dumpable, so that
 * another process of the same uid (the fetch process) cannot read the keys
 * out of its memory; then die with the parent. */
static int child_confine(const struct serve_wire_job *job, struct error *err)
{
	const char *paths[PRIVSEP_PATHS_MAX];
	struct privsep_sandbox box = { .read_paths = paths, .network = 1 };
	struct privsep_identity id;

	privsep_read_paths(paths, 1, job->ca_path);
	if (privsep_identity_resolve(job->user, &id, err) < 0)
		return error_prefix(err, "AMQP process: ");
	if (privsep_confine(&id, &box, err) < 0)
		return error_prefix(err, "AMQP process: ");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 || prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 ||
	    getppid() != job->parent)
		return error_set(err, "AMQP process: the updater is gone");
	return 0;
}

static void child_config(const struct serve_wire_job *job, struct config *c)
{
	size_t i;

	config_defaults(c);
	snprintf(c->amqp.url, sizeof c->amqp.url, "%s", job->url);
	snprintf(c->amqp.exchange, sizeof c->amqp.exchange, "%s", job->exchange);
	snprintf(c->amqp.instance_id, sizeof c->amqp.instance_id, "%s", job->instance_id);
	snprintf(c->amqp.queue, sizeof c->amqp.queue, "%s", job->queue);
	snprintf(c->amqp.conductor_topic, sizeof c->amqp.conductor_topic, "%s",
		 job->conductor_topic);
	snprintf(c->amqp.rpc_key, sizeof c->amqp.rpc_key, "%s", job->rpc_key);
	snprintf(c->amqp.ca_path, sizeof c->amqp.ca_path, "%s", job->ca_path);
	snprintf(c->updater.strategy, sizeof c->updater.strategy, "%s", job->strategy);
	snprintf(c->amqp.file_dir, sizeof c->amqp.file_dir, "%s", job->file_dir);
	/* the names: a cast naming a strategy this guest lacks is refused here;
	 * and whether each has a fetcher, which fetch_transport() reads to judge
	 * the location (any non-empty fetch does: the child never runs it) */
	for (i = 0; i < CONFIG_STRATEGY_MAX && job->strategies[i][0]; i++) {
		snprintf(c->strategies.list[i].name, sizeof c->strategies.list[i].name, "%s",
			 job->strategies[i]);
		if (job->strategy_fetchers & (1u << i))
			snprintf(c->strategies.list[i].fetch, sizeof c->strategies.list[i].fetch,
				 "(serve's)");
		c->strategies.count++;
	}
	c->amqp.exchange_durable = job->exchange_durable != 0;
	c->amqp.max_age_ms = job->max_age_ms;
	c->updater.automatic = job->automatic != 0;
}

/* Records to the parent block: the parent reads them promptly, and a child
 * that cannot tell it anything has no reason to go on. */
static void child_tell(struct child *c, uint32_t type, struct serve_wire_request *r)
{
	struct error err = { "" };

	r->magic = SERVE_WIRE_MAGIC;
	r->type = type;
	if (!c->broken && serve_wire_send(c->fd, r, sizeof *r, 0, &err) < 0) {
		log_error("AMQP process: to the updater: %s", err.text);
		c->broken = 1;
	}
}

/* Unacknowledged deliveries go back to the queue with the connection. */
static void child_disconnect(struct child *c)
{
	struct serve_wire_request r;

	amqp_link_close(c->link);
	c->link = NULL;
	c->connect_at = child_now_ms();
	memset(&r, 0, sizeof r);
	c->pending = 0;
	child_tell(c, SERVE_REQ_LINK_DOWN, &r);
}

/* Reconnects with exponential backoff and up to 50% jitter, 1 s to 60 s. */
static void child_connect(struct child *c)
{
	struct serve_wire_request r;
	struct error err = { "" };
	unsigned jitter = 0;

	if (amqp_link_open(&c->link, &c->config, &err) == 0) {
		log_info("connected; consuming %s", c->config.amqp.queue);
		c->backoff_ms = 1000;
		memset(&r, 0, sizeof r);
		child_tell(c, SERVE_REQ_LINK_UP, &r);
		return;
	}
	if (getrandom(&jitter, sizeof jitter, 0) != sizeof jitter)
		jitter = 0;
	log_warn("%s; retrying in about %u ms", err.text, c->backoff_ms);
	c->connect_at = child_now_ms() + c->backoff_ms + jitter % (c->backoff_ms / 2 + 1);
	c->backoff_ms = c->backoff_ms >= 30000 ? 60000 : c->backoff_ms * 2;
}

/* Takes args (rpc_cast_build steals them; without a link they are dropped).
 * A publish that fails drops the link: the delivery awaiting its verdict
 * then goes back to the broker unacknowledged, and its redelivery, a no-op
 * for the finished attempt, casts the outcome again.  An outcome is never
 * lost behind an ack that went through. */
static void child_cast(struct child *c, const char *method, json_t *args)
{
	struct error err = { "" };
	char *body = NULL;

	if (!c->link) {
		json_decref(args);
		return;
	}
	if (rpc_cast_build(method, args, &c->config, RPC_TO_CONDUCTOR, &body, &err) < 0) {
		log_warn("%s cast not built: %s", method, err.text);
	} else if (amqp_link_publish(c->link, c->config.amqp.conductor_topic, body, &err) < 0) {
		log_warn("%s cast not sent: %s; reconnecting", method, err.text);
		child_disconnect(c);
	}
	free(body);
}

/* ACK or DROP of the delivery awaiting it; a verdict on one the broker has
 * taken back (the link went down meanwhile) is moot. */
static void child_verdict(struct child *c, const struct serve_wire_reply *r)
{
	struct error err = { "" };

	if (r->seq != c->pending || !c->link)
		return;
	if (r->type == SERVE_REPLY_DROP) {
		child_disconnect(c);
	} else if (amqp_link_ack(c->link, c->pending_tag, &err) < 0) {
		log_warn("%s", err.text);
		child_disconnect(c);
	} else {
		c->pending = 0;
	}
}

static void child_reply(struct child *c, const struct serve_wire_reply *r)
{
	const char *instance = c->config.amqp.instance_id;

	if (r->type == SERVE_REPLY_OUTCOME)
		child_cast(c, "guest_upgrade_outcome",
			   json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:f}", "instance_id", instance,
				     "upgrade_id", r->id, "from_version", r->from, "to_version",
				     r->to, "state", r->state, "reason", r->reason, "sent",
				     child_unix_time()));
	else if (r->type == SERVE_REPLY_HEARTBEAT)
		child_cast(c, "heartbeat",
			   json_pack("{s:s, s:{s:s, s:s, s:s}, s:f}", "instance_id", instance,
				     "payload", "agent_version", r->agent_version, "agent_slot",
				     r->agent_slot, "rpc_api_version", RPC_API_VERSION, "sent",
				     child_unix_time()));
	else
		child_verdict(c, r);
}

/* Everything the parent sent: 1 go on, 0 it closed (stop), -1 broken. */
static int child_from_parent(struct child *c)
{
	struct serve_wire_reply r;
	char buf[sizeof r + 1];
	struct error err = { "" };
	ssize_t n;

	for (;;) {
		n = serve_wire_recv(c->fd, buf, sizeof r, &err);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 1;
		if (n <= 0)
			return n == 0 ? 0 : (log_error("%s", err.text), -1);
		if (serve_wire_reply_decode(buf, (size_t)n, &r, &err) < 0) {
			log_error("AMQP process: from the updater: %s", err.text);
			return -1;
		}
		child_reply(c, &r);
	}
}

/* A request without upgrade_id or _unique_id gets an id from its bytes, so
 * a redelivery (or a held message run again) is the same attempt, never an
 * empty id that history readers would skip. */
static void child_body_id(const struct amqp_delivery *d, char *id)
{
	unsigned char digest[SHA256_DIGEST_LENGTH];
	size_t i;

	SHA256((const unsigned char *)d->body, d->len, digest);
	memcpy(id, "msg-", 4);
	for (i = 0; i < 16; i++)
		snprintf(id + 4 + 2 * i, 3, "%02x", digest[i]);
}

/* The parsed message as a request, checked as the parent will check it. */
static int child_request(const struct rpc_request *in, const struct amqp_delivery *d,
			 const struct config *config, struct serve_wire_request *out,
			 struct error *err)
{
	out->magic = SERVE_WIRE_MAGIC;
	out->type = in->kind == RPC_ROLLBACK ? SERVE_REQ_ROLLBACK : SERVE_REQ_UPGRADE;
	out->flags = (in->sealed ? SERVE_FLAG_SEALED : 0) | (in->is_admin ? SERVE_FLAG_ADMIN : 0) |
		     (d->redelivered ? SERVE_FLAG_REDELIVERED : 0);
	snprintf(out->id, sizeof out->id, "%s", in->unique_id);
	if (in->kind == RPC_UPGRADE) {
		snprintf(out->version, sizeof out->version, "%s", in->instance_version);
		snprintf(out->location, sizeof out->location, "%s", in->location);
		snprintf(out->strategy, sizeof out->strategy, "%s", in->strategy);
		snprintf(out->sha256, sizeof out->sha256, "%s", in->sha256);
		snprintf(out->metadata, sizeof out->metadata, "%s", in->metadata);
	}
	return serve_wire_request_check(out, config, err);
}

static void child_message(struct child *c, const struct amqp_delivery *d)
{
	struct serve_wire_request r;
	struct rpc_request req;
	struct error err = { "" };
	int rc;

	memset(&r, 0, sizeof r);
	rc = rpc_message_parse(d->body, d->len, &c->config, &req, &err);
	if (rc == 0 && req.kind == RPC_IGNORE) {
		log_info("message ignored: %s", req.why_ignored);
		if (amqp_link_ack(c->link, d->tag, &err) < 0) {
			log_warn("%s", err.text);
			child_disconnect(c);
		}
		return;
	}
	if (rc == 0 && !req.unique_id[0])
		child_body_id(d, req.unique_id);
	r.seq = ++c->seq;
	if (rc == 0 && child_request(&req, d, &c->config, &r, &err) == 0) {
		child_tell(c, r.type, &r);
	} else {
		memset(&r, 0, sizeof r);
		r.seq = c->seq;
		snprintf(r.id, sizeof r.id, "%s", req.unique_id);
		snprintf(r.reason, sizeof r.reason, "%s", err.text);
		child_tell(c, SERVE_REQ_REFUSED, &r);
	}
	c->pending = c->seq;
	c->pending_tag = d->tag;
}

/* One look at the broker: a message, nothing, or a broken link. */
static void child_consume(struct child *c)
{
	struct amqp_delivery d;
	struct error err = { "" };
	int got = amqp_link_next(c->link, 0, &d, &err);

	if (got < 0) {
		log_warn("%s; reconnecting", err.text);
		child_disconnect(c);
	} else if (got > 0 && c->pending) {
		/* prefetch 1 should make this impossible: start clean */
		log_warn("a second delivery while one awaits its verdict; reconnecting");
		amqp_delivery_free(&d);
		child_disconnect(c);
	} else if (got > 0) {
		child_message(c, &d);
		amqp_delivery_free(&d);
	}
}

/* Returns the exit code once the parent has closed its end (0) or broke
 * the protocol (1). */
static int child_loop(struct child *c)
{
	struct pollfd p[2];
	long long now, wait;
	int rc;

	while (!c->broken) {
		now = child_now_ms();
		if (!c->link && now >= c->connect_at) {
			child_connect(c);
			continue;
		}
		wait = c->link ? CHILD_TICK_MS : c->connect_at - now;
		p[0] = (struct pollfd){ .fd = c->fd, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = c->link ? amqp_link_fd(c->link) : -1,
					.events = POLLIN };
		if (c->link && p[1].fd < 0)
			wait = 0;
		if (poll(p, 2, (int)wait) < 0 && errno != EINTR)
			return 1;
		if (p[0].revents && (rc = child_from_parent(c)) <= 0)
			return rc < 0;
		if (c->link)
			child_consume(c);
	}
	return 1;
}

int serve_child_main(void)
{
	struct child c = { .fd = PRIVSEP_CHILD_FD, .backoff_ms = 1000 };
	struct serve_wire_job job;
	struct error err = { "" };
	int rc = 1;

	log_init("slotupd-amqp");
	prctl(PR_SET_NAME, "slotupd-amqp");
	/* Stopping is the parent's: it finishes the message at hand, then closes
	 * the socketpair, and the last ack and outcome go out before the end. */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	if (child_receive(c.fd, &job, &err) == 0 && child_confine(&job, &err) == 0) {
		child_config(&job, &c.config);
		rc = child_loop(&c);
	} else {
		log_error("%s", err.text);
	}
	explicit_bzero(&job, sizeof job);
	amqp_link_close(c.link);
	explicit_bzero(&c.config, sizeof c.config);
	return rc;
}
