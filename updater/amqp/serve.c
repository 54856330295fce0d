/* serve.c: `slotupd serve`, the privileged side (see updater/amqp/serve.h): it
 * runs the AMQP process and settles what that process asks for. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "history.h"
#include "log.h"
#include "amqp/outcome_watch.h"
#include "privsep/privsep.h"
#include "amqp/serve.h"
#include "amqp/serve_wire.h"
#include "text.h"

/* How long the AMQP process may take to close its connection and exit. */
#define SERVE_CHILD_EXIT_MS 20000
/* A child that lived this long was no crash loop: its restart backoff
 * starts over at 1 s. */
#define SERVE_CHILD_STABLE_MS 60000
/* The closest two heartbeats may be (a reconnect brings the next forward). */
#define SERVE_HEARTBEAT_MIN_MS 1000

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
	pid_t child;			/* the AMQP process, -1: none */
	int fd;				/* to it, -1: none */
	long long started, respawn_at;	/* monotonic ms */
	unsigned backoff_ms;		/* before the next restart */
	long long last_heartbeat, next_heartbeat;
	struct serve_wire_request held;	/* DEFERRED or jittered (its delivery unacked);
					 * type 0: none */
	long long retry_at;		/* when to run it again */
	struct outcome_watch watch;	/* the last SUCCESS, while on probation */
};

static long long serve_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The exit of the AMQP process, logged; its held delivery is the broker's
 * again.  Restarted after 1 s, doubled up to 60 s while it keeps dying. */
static void serve_child_gone(struct server *s, int timeout_ms)
{
	long long now = serve_now_ms();
	int status;

	close(s->fd);
	s->fd = -1;
	status = privsep_reap(s->child, timeout_ms);
	s->child = -1;
	s->held.type = 0;
	if (serve_stop)
		return;
	if (now - s->started >= SERVE_CHILD_STABLE_MS)
		s->backoff_ms = 1000;
	if (WIFSIGNALED(status))
		log_error("AMQP process killed by signal %d (%s); restarting it in %u ms",
			  WTERMSIG(status), strsignal(WTERMSIG(status)), s->backoff_ms);
	else
		log_error("AMQP process exited with status %d; restarting it in %u ms",
			  WEXITSTATUS(status), s->backoff_ms);
	s->respawn_at = now + s->backoff_ms;
	s->backoff_ms = s->backoff_ms >= 30000 ? 60000 : s->backoff_ms * 2;
}

/* A process that stops reading (or sends nonsense) is not waited for. */
static void serve_child_kill(struct server *s, const char *why)
{
	log_error("AMQP process: %s; stopping it", why);
	kill(s->child, SIGKILL);
	serve_child_gone(s, 0);
}

/* Replies never block: a full socketpair means a child that is stuck.
 * -1 when no AMQP process took it (none running, or it went). */
static int serve_send(struct server *s, struct serve_wire_reply *r, uint32_t type)
{
	struct error err = { "" };

	if (s->fd < 0)
		return -1;
	r->magic = SERVE_WIRE_MAGIC;
	r->type = type;
	if (serve_wire_send(s->fd, r, sizeof *r, MSG_DONTWAIT, &err) == 0)
		return 0;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		serve_child_kill(s, "not reading what it is sent");
	else
		serve_child_gone(s, 5000);	/* it closed its end: it is exiting */
	return -1;
}

static void serve_job(const struct config *c, struct serve_wire_job *job)
{
	unsigned i;

	memset(job, 0, sizeof *job);
	job->magic = SERVE_WIRE_MAGIC;
	job->parent = getpid();
	snprintf(job->user, sizeof job->user, "%s", c->updater.fetch_user);
	snprintf(job->url, sizeof job->url, "%s", c->amqp.url);
	snprintf(job->exchange, sizeof job->exchange, "%s", c->amqp.exchange);
	snprintf(job->instance_id, sizeof job->instance_id, "%s", c->amqp.instance_id);
	snprintf(job->queue, sizeof job->queue, "%s", c->amqp.queue);
	snprintf(job->conductor_topic, sizeof job->conductor_topic, "%s", c->amqp.conductor_topic);
	snprintf(job->rpc_key, sizeof job->rpc_key, "%s", c->amqp.rpc_key);
	snprintf(job->ca_path, sizeof job->ca_path, "%s", c->amqp.ca_path);
	snprintf(job->strategy, sizeof job->strategy, "%s", c->updater.strategy);
	snprintf(job->file_dir, sizeof job->file_dir, "%s", c->amqp.file_dir);
	for (i = 0; i < c->strategies.count; i++) {
		snprintf(job->strategies[i], sizeof job->strategies[i], "%s",
			 c->strategies.list[i].name);
		if (c->strategies.list[i].fetch[0])
			job->strategy_fetchers |= 1u << i;
	}
	job->exchange_durable = c->amqp.exchange_durable != 0;
	job->max_age_ms = c->amqp.max_age_ms;
	job->automatic = c->updater.automatic != 0;
}

/* Starts the AMQP process and sends it its job; on failure, tries again later. */
static void serve_spawn(struct server *s)
{
	struct serve_wire_job job;
	struct error err = { "" };
	int pair[2] = { -1, -1 };

	s->started = serve_now_ms();
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0) {
		error_errno(&err, "AMQP process: socketpair");
	} else if (privsep_spawn("slotupd-amqp", SERVE_CHILD_ARG, pair[1], &s->child, &err) < 0) {
		close(pair[0]);
	} else {
		s->fd = pair[0];
		serve_job(s->config, &job);
		if (serve_wire_send(s->fd, &job, sizeof job, 0, &err) < 0)
			error_prefix(&err, "sending the job: ");
		explicit_bzero(&job, sizeof job);	/* the password, the rpc_key */
	}
	if (pair[1] >= 0)
		close(pair[1]);
	if (err.text[0] && s->fd >= 0) {
		serve_child_kill(s, err.text);
	} else if (err.text[0]) {
		log_error("%s", err.text);
		s->respawn_at = s->started + 60000;
	}
}

static int serve_outcome(struct server *s, const char *id, const char *from, const char *to,
			 const char *state, const char *reason)
{
	struct serve_wire_reply r;

	memset(&r, 0, sizeof r);
	text_sanitize(id, r.id, sizeof r.id);
	text_sanitize(from, r.from, sizeof r.from);
	text_sanitize(to, r.to, sizeof r.to);
	text_sanitize(state, r.state, sizeof r.state);
	text_sanitize(reason, r.reason, sizeof r.reason);
	return serve_send(s, &r, SERVE_REPLY_OUTCOME);
}

/* A heartbeat means "the agent is up": only when slotd says so.  Only this
 * process may ask slotd; the AMQP process casts what it is told. */
static void serve_heartbeat(struct server *s)
{
	struct control_status status;
	struct control_reply reply;
	struct serve_wire_reply r;
	struct error err = { "" };
	const struct control_slot_status *slot;

	if (s->fd < 0 || control_call_status(s->config->supervisor.control_socket, &status,
					     &reply, 5000, &err) < 0)
		return;
	if (reply.kind != CONTROL_OK || status.current == SLOT_NONE)
		return;
	slot = &status.slot[status.current];
	if (status.agent.state != CONTROL_AGENT_RUNNING || slot->status != SLOT_GOOD)
		return;
	memset(&r, 0, sizeof r);
	text_sanitize(slot->version, r.agent_version, sizeof r.agent_version);
	snprintf(r.agent_slot, sizeof r.agent_slot, "%s", layout_slot_name(status.current));
	if (r.agent_version[0])
		serve_send(s, &r, SERVE_REPLY_HEARTBEAT);
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
static void serve_refuse(struct server *s, const char *id, const char *why)
{
	struct history_record r = { .kind = "upgrade", .state = HISTORY_FAILED }, old;
	struct layout layout;
	struct error err = { "" };
	int opened;

	opened = layout_open(&layout, s->config->slots.root, 1, &err) == 0;
	if (id[0] && opened && history_find(&layout, id, &old, &err) == 0)
		snprintf(r.id, sizeof r.id, "%s", id);
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
static enum serve_verdict serve_attempt(struct server *s, const struct serve_wire_request *req)
{
	struct serve_attempt a = { s, req->id };
	struct install_progress progress = { serve_step, NULL, &a };
	int rollback = req->type == SERVE_REQ_ROLLBACK;
	struct install_request ir = {
		.id = req->id,
		.kind = rollback ? INSTALL_ROLLBACK : INSTALL_UPGRADE,
		.instance_id = s->config->amqp.instance_id,
		.location = req->location[0] ? req->location : NULL,
		.strategy = req->strategy[0] ? req->strategy : NULL,
		.expected_version = req->version[0] ? req->version : NULL,
		.expected_sha256 = req->sha256[0] ? req->sha256 : NULL,
		.metadata = req->metadata[0] ? req->metadata : NULL,
		.allow_downgrade = rollback,
		.file_beneath = s->config->amqp.file_dir,
		.authenticated = (req->flags & SERVE_FLAG_SEALED) != 0,
	};
	struct install_result result;
	struct error err = { "" };

	if (s->options->install(s->config, &ir, &progress, &result, &err) < 0) {
		log_error("attempt %s not recorded: %s", req->id, err.text);
		return SERVE_DROP;
	}
	if (result.already_done)
		log_info("message %s: attempt already %s; acknowledging, outcome sent again",
			 req->id, history_state_name(result.record.state));
	serve_outcome(s, req->id, result.record.from_version, result.record.to_version,
		      history_state_name(result.record.state), result.record.error);
	if (result.outcome == INSTALL_SUCCESS && !result.already_done)
		outcome_watch_start(&s->watch, s->config, req->id, result.record.updated);
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

/* The verdict, to the AMQP process; a held request stays here and its
 * delivery there, unacknowledged (prefetch 1: nothing else arrives). */
static void serve_settle(struct server *s, const struct serve_wire_request *req,
			 enum serve_verdict verdict)
{
	struct serve_wire_reply r;

	if (verdict == SERVE_HOLD) {
		if (req != &s->held)
			s->held = *req;
		s->retry_at = serve_now_ms() + s->config->amqp.retry_interval_ms;
		return;
	}
	memset(&r, 0, sizeof r);
	r.seq = req->seq;
	s->held.type = 0;
	serve_send(s, &r, verdict == SERVE_ACK ? SERVE_REPLY_ACK : SERVE_REPLY_DROP);
}

/* A fleet notified at once would download at once: a new upgrade is held
 * for a random part of [amqp] download_jitter first, heartbeats going on. */
static int serve_jitter(struct server *s, const struct serve_wire_request *req)
{
	unsigned random = 0, delay;

	if (!s->config->amqp.download_jitter_ms || req->type != SERVE_REQ_UPGRADE ||
	    req == &s->held)
		return 0;
	if (getrandom(&random, sizeof random, 0) != sizeof random)
		random = 0;
	delay = random % (s->config->amqp.download_jitter_ms + 1);
	log_info("message %s: starting in %u ms (download_jitter)", req->id, delay);
	s->held = *req;
	s->retry_at = serve_now_ms() + delay;
	return 1;
}

/* A request: a new one from the AMQP process, or the held one again. */
static void serve_request(struct server *s, const struct serve_wire_request *req)
{
	if (req->type == SERVE_REQ_REFUSED) {
		serve_refuse(s, req->id, req->reason);
		serve_settle(s, req, SERVE_ACK);
	} else if (!serve_jitter(s, req)) {
		serve_settle(s, req, serve_attempt(s, req));
	}
}

/* A new connection: the first heartbeat need not wait for the interval,
 * but a child that reconnects in a loop cannot make this process ask
 * slotd more than once a second. */
static void serve_heartbeat_soon(struct server *s)
{
	long long soon = s->last_heartbeat + SERVE_HEARTBEAT_MIN_MS;

	if (soon < s->next_heartbeat)
		s->next_heartbeat = soon;
}

/* Everything the AMQP process sent, each record checked again: it is the
 * side that parsed hostile input, so its word is data, not a command.  A
 * record that fails the checks stops it (the broker redelivers). */
static void serve_from_child(struct server *s)
{
	struct serve_wire_request req;
	char buf[sizeof req + 1];
	struct error err = { "" };
	ssize_t n;

	while (s->fd >= 0) {
		n = serve_wire_recv(s->fd, buf, sizeof req, &err);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			serve_child_gone(s, 5000);
		} else if (serve_wire_request_decode(buf, (size_t)n, s->config, &req, &err) < 0) {
			serve_child_kill(s, err.text);
		} else if (req.type == SERVE_REQ_LINK_UP) {
			serve_heartbeat_soon(s);
		} else if (req.type == SERVE_REQ_LINK_DOWN) {
			s->held.type = 0;	/* the broker redelivers it */
		} else {
			serve_request(s, &req);
		}
	}
}

/* How long the loop may wait for the AMQP process. */
static int serve_wait_ms(const struct server *s, long long now)
{
	long long wait = s->next_heartbeat - now, due = outcome_watch_due(&s->watch);

	if (s->fd < 0 && s->respawn_at - now < wait)
		wait = s->respawn_at - now;
	if (s->held.type && s->retry_at - now < wait)
		wait = s->retry_at - now;
	if (due != LLONG_MAX && due - now < wait)
		wait = due - now;
	return wait < 0 ? 0 : wait > INT_MAX ? INT_MAX : (int)wait;
}

/* SIGTERM and SIGINT are blocked but while the loop waits, so that a stop
 * comes between two messages, never inside one, and is never missed. */
static void serve_signals(sigset_t *waiting)
{
	struct sigaction sa = { .sa_handler = serve_on_signal };
	sigset_t stop;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigprocmask(SIG_BLOCK, &stop, waiting);
	sigdelset(waiting, SIGTERM);
	sigdelset(waiting, SIGINT);
}

int serve_run(const struct config *config, const struct serve_options *options,
	      struct error *err)
{
	struct server s = { .config = config, .options = options, .child = -1, .fd = -1,
			    .backoff_ms = 1000 };
	struct pollfd p;
	struct timespec wait;
	sigset_t waiting;
	long long now;
	int ms;

	if (!config->amqp.instance_id[0])
		return error_set(err, "%s: [amqp] instance_id: missing", config->path);
	if (!config->amqp.rpc_key[0])
		log_warn("casts are not authenticated: [amqp] rpc_key is not set, so anyone who "
			 "can publish to the broker can upgrade or roll back this guest");
	serve_signals(&waiting);
	outcome_watch_resume(&s.watch, config);
	while (!serve_stop) {
		now = serve_now_ms();
		if (s.fd < 0 && now >= s.respawn_at) {
			serve_spawn(&s);
			continue;
		}
		if (now >= s.next_heartbeat) {
			serve_heartbeat(&s);
			s.last_heartbeat = now;
			s.next_heartbeat = now + config->amqp.heartbeat_interval_ms;
		}
		if (s.held.type && now >= s.retry_at) {
			serve_request(&s, &s.held);
			continue;
		}
		serve_watch(&s, now);
		p = (struct pollfd){ .fd = s.fd, .events = POLLIN };
		ms = serve_wait_ms(&s, now);
		wait = (struct timespec){ ms / 1000, (long)(ms % 1000) * 1000000L };
		if (ppoll(&p, 1, &wait, &waiting) > 0)
			serve_from_child(&s);
	}
	if (s.fd >= 0)
		serve_child_gone(&s, SERVE_CHILD_EXIT_MS);	/* it sees the end, exits */
	log_info("stopped");
	return 0;
}
