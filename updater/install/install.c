/* install.c: one upgrade attempt, recorded at every step (see updater/install/install.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "fetch/fetch.h"
#include "inhibit.h"
#include "install/install.h"
#include "install/install_hooks.h"
#include "install/install_metrics.h"
#include "install/install_pip.h"
#include "install/install_recovery.h"
#include "install/install_stream.h"
#include "log.h"

struct attempt {
	const struct config *config;
	const struct install_request *request;
	const struct install_progress *progress;	/* the caller's, may be NULL */
	struct slots slots;
	struct history_record record;
	struct error record_err;
	int record_failed;
	unsigned long long bytes;	/* of the bundle, fetched so far */
};

static void attempt_copy(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

/* An id is a history key, a log word and a routing of outcomes: an empty one
 * would make a record every reader skips. */
static int install_id_ok(const char *id)
{
	size_t len = strlen(id);

	return len && len < HISTORY_ID_MAX &&
	       strspn(id, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-") == len;
}

/* Appends the record in its new state; remembers the first failure to write it. */
static void attempt_record(struct attempt *a, enum history_state state, const char *error)
{
	a->record.state = state;
	attempt_copy(a->record.error, sizeof a->record.error, error);
	if (history_append(&a->slots.layout, &a->record, &a->record_err) < 0)
		a->record_failed = 1;
}

/* install_stream's steps: recorded, then passed on to the caller. */
static void attempt_step(void *context, enum history_state state, const char *detail)
{
	struct attempt *a = context;

	log_info("%s: %s %s", a->record.id, history_state_name(state), detail);
	attempt_record(a, state, "");
	if (a->progress && a->progress->step)
		a->progress->step(a->progress->context, state, detail);
}

static void attempt_bytes(void *context, unsigned long long done, unsigned long long total)
{
	struct attempt *a = context;

	a->bytes = done;
	if (a->progress && a->progress->bytes)
		a->progress->bytes(a->progress->context, done, total);
}

static enum install_outcome attempt_finish(struct attempt *a, enum history_state state,
					   const char *error)
{
	if (error && error[0] && state != HISTORY_SUCCESS)
		log_error("%s: %s: %s", a->record.id, history_state_name(state), error);
	else
		log_info("%s: %s%s%s", a->record.id, history_state_name(state),
			 error && error[0] ? ": " : "", error ? error : "");
	attempt_record(a, state, error);
	return state == HISTORY_SUCCESS ? INSTALL_SUCCESS :
	       state == HISTORY_DEFERRED ? INSTALL_DEFERRED : INSTALL_FAILED;
}

/* slotd's answer, by its kind: done, come back later with the same id
 * (nothing changed), or failed.  The record keeps slotd's words for people. */
static enum install_outcome attempt_answer(struct attempt *a, const struct control_reply *reply)
{
	char why[64 + CONTROL_TEXT_MAX];

	snprintf(why, sizeof why, "slotd: %s: %s", control_kind_name(reply->kind), reply->text);
	switch (reply->kind) {
	case CONTROL_OK:
		return attempt_finish(a, HISTORY_SUCCESS, "");
	case CONTROL_BUSY:
		return attempt_finish(a, HISTORY_DEFERRED, why);
	case CONTROL_HEALTH:
		snprintf(why, sizeof why, "health: the trial failed, reverted: %s", reply->text);
		return attempt_finish(a, HISTORY_FAILED, why);
	case CONTROL_USAGE:
	case CONTROL_REFUSED:
	case CONTROL_STATE:
		break;
	}
	return attempt_finish(a, HISTORY_FAILED, why);
}

/* slotd's reply was lost (it died, or was restarted, during the activation).
 * A trial saved on disk goes on under the restarted slotd: its verdict is
 * the slot's status, not the lost connection, so wait for it (bounded by
 * activate_timeout).  A slot that never went on trial was not activated:
 * the lost reply is the reason. */
static enum install_outcome attempt_verdict_on_disk(struct attempt *a, int slot,
						     const char *lost)
{
	struct timespec pause = { 0, 100 * 1000000L }, now, deadline;
	struct history_record r;
	struct error err = { "" };
	int verdict;

	log_warn("%s: %s; waiting for the trial's verdict on disk", a->record.id, lost);
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += a->config->updater.activate_timeout_ms / 1000;
	for (;;) {
		if (slots_reload(&a->slots, &err) < 0)
			return attempt_finish(a, HISTORY_FAILED, err.text);
		if (a->slots.state.slot[slot].status == SLOT_INSTALLED)
			return attempt_finish(a, HISTORY_FAILED, lost);
		r = a->record;
		verdict = install_trial_verdict(&a->slots, &r);
		if (verdict >= 0)
			return attempt_finish(a, (enum history_state)verdict, r.error);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > deadline.tv_sec)
			return attempt_finish(a, HISTORY_FAILED,
					      "slotd went away during the trial and gave no verdict in time");
		nanosleep(&pause, NULL);
	}
}

/* Asks slotd to start the trial and waits for its verdict. */
static enum install_outcome attempt_activate(struct attempt *a, int slot)
{
	struct control_request request = { CONTROL_ACTIVATE, slot };
	struct control_reply reply;
	struct error err = { "" };

	attempt_step(a, HISTORY_ACTIVATING, "asking slotd to activate the new slot");
	if (control_call(a->config->supervisor.control_socket, &request, &reply,
			 a->config->updater.activate_timeout_ms, &err) < 0)
		return attempt_verdict_on_disk(a, slot, err.text);
	return attempt_answer(a, &reply);
}

/* An admin rollback without a bundle: slotd flips to the other slot. */
static enum install_outcome attempt_rollback(struct attempt *a)
{
	struct control_request request = { CONTROL_ROLLBACK, SLOT_NONE };
	struct control_reply reply;
	struct error err = { "" };

	if (control_call(a->config->supervisor.control_socket, &request, &reply,
			 a->config->updater.activate_timeout_ms, &err) < 0)
		return attempt_finish(a, HISTORY_FAILED, err.text);
	return attempt_answer(a, &reply);
}

/* The agent holds the inhibitor: come back later, same id. */
static int attempt_agent_busy(struct attempt *a, struct error *err)
{
	int fd, rc;

	fd = inhibit_open(&a->slots.layout, err);
	if (fd < 0)
		return -1;
	rc = inhibit_try(fd, err);
	if (rc == 0)
		inhibit_release(fd);
	close(fd);
	return rc;
}

/* No strategy given: a path or file: URL means `file`, anything else the
 * configured default. */
static const char *attempt_strategy(const struct config *config, const struct install_request *req)
{
	if (req->strategy)
		return req->strategy;
	if (req->location && (req->location[0] == '/' || !strncmp(req->location, "file:", 5)))
		return "file";
	return config->updater.strategy;
}

/* A [hooks] program for this attempt; 0 to go on, else *out is the
 * attempt's end (DEFERRED or FAILED; a post_commit's failure is only
 * logged: the slot is committed). */
static int attempt_hook(struct attempt *a, enum hooks_kind kind, int slot,
			enum install_outcome *out)
{
	char current[PATH_MAX] = "", next[PATH_MAX] = "", reason[512];
	struct hooks_context ctx = { a->record.id, a->record.from_version, a->record.to_version,
				     a->slots.layout.root, current, next };
	enum hooks_result result;

	if (slots_bootable(&a->slots))
		layout_slot_path(&a->slots.layout, a->slots.current, current, sizeof current);
	layout_slot_path(&a->slots.layout, slot, next, sizeof next);
	result = hooks_run(a->config, kind, &ctx, reason, sizeof reason);
	if (result == HOOKS_OK)
		return 0;
	if (kind == HOOKS_POST_COMMIT) {
		log_warn("%s: %s (the upgrade stays committed)", a->record.id, reason);
		return 0;
	}
	*out = attempt_finish(a, result == HOOKS_DEFER ? HISTORY_DEFERRED : HISTORY_FAILED,
			      reason);
	return -1;
}

/* Activated, then post_commit once the new slot is good. */
static enum install_outcome attempt_commit(struct attempt *a, int slot)
{
	enum install_outcome out;

	if (attempt_hook(a, HOOKS_PRE_ACTIVATE, slot, &out) < 0)
		return out;
	out = attempt_activate(a, slot);
	if (out == INSTALL_SUCCESS)
		attempt_hook(a, HOOKS_POST_COMMIT, slot, &out);
	return out;
}

static enum install_outcome attempt_upgrade(struct attempt *a)
{
	const struct install_request *req = a->request;
	const char *strategy = attempt_strategy(a->config, req);
	struct install_progress progress = { attempt_step, attempt_bytes, a };
	struct install_stream_checks checks = {
		.expected_version = req->expected_version,
		.expected_sha256 = req->expected_sha256,
		.metadata = req->metadata,
		.running_version = "", .running_digest = "",
		.allow_downgrade = req->allow_downgrade,
		.file_beneath = req->file_beneath,
		.authenticated = req->authenticated,
	};
	const struct config_strategy *own = config_strategy_find(a->config, strategy);
	struct install_stream_result result;
	enum install_outcome out;
	struct error err = { "" };
	int slot, busy, rc;

	if (!req->location || !req->location[0])
		return attempt_finish(a, HISTORY_FAILED, "request: location is missing");
	if (fetch_validate(a->config, strategy, req->location, &err) < 0)
		return attempt_finish(a, HISTORY_FAILED, err.text);
	busy = attempt_agent_busy(a, &err);
	if (busy != 0)
		return attempt_finish(a, busy > 0 ? HISTORY_DEFERRED : HISTORY_FAILED,
				      busy > 0 ? "agent busy: upgrade inhibitor held" : err.text);
	slot = slots_inactive(&a->slots, &err);
	if (slot < 0)
		return attempt_finish(a, HISTORY_FAILED, err.text);
	attempt_copy(a->record.slot, sizeof a->record.slot, layout_slot_name(slot));
	if (slots_bootable(&a->slots)) {
		checks.running_version = a->slots.state.slot[a->slots.current].version;
		checks.running_digest = a->slots.state.slot[a->slots.current].digest;
	}
	if (attempt_hook(a, HOOKS_PRE_INSTALL, slot, &out) < 0)
		return out;
	rc = own && own->format == STRATEGY_FORMAT_PIP ?
	     install_pip(a->config, strategy, req->location, &a->slots, slot, &checks, &progress,
			 &result, &err) :
	     install_stream(a->config, strategy, req->location, &a->slots, slot, &checks,
			    &progress, &result, &err);
	a->record.fetched = (int64_t)result.fetched_bytes;
	a->record.reused = (int64_t)result.reused_bytes;
	a->bytes = result.fetched_bytes;	/* a delta reports no progress: its total */
	if (rc < 0)
		return attempt_finish(a, HISTORY_FAILED, err.text);
	if (result.outcome == INSTALL_STREAM_IDENTICAL)
		return attempt_finish(a, HISTORY_SUCCESS, "no-op: identical to the running slot");
	attempt_copy(a->record.to_version, sizeof a->record.to_version, result.manifest.version);
	return attempt_commit(a, slot);
}

static void attempt_init_record(struct attempt *a, const char *id)
{
	const struct install_request *req = a->request;
	struct history_record *r = &a->record;

	attempt_copy(r->id, sizeof r->id, id);
	attempt_copy(r->kind, sizeof r->kind,
		     req->kind == INSTALL_ROLLBACK ? "rollback" : "upgrade");
	attempt_copy(r->instance, sizeof r->instance,
		     req->instance_id ? req->instance_id : a->config->amqp.instance_id);
	attempt_copy(r->strategy, sizeof r->strategy, attempt_strategy(a->config, req));
	attempt_copy(r->location, sizeof r->location, req->location);
	attempt_copy(r->to_version, sizeof r->to_version, req->expected_version);
	if (slots_bootable(&a->slots))
		attempt_copy(r->from_version, sizeof r->from_version,
			     a->slots.state.slot[a->slots.current].version);
}

/* One slotupd at a time: a second one would write into the same slot. */
static int install_lock(const struct slots *slots, struct error *err)
{
	int fd;

	fd = openat(slots->layout.root_fd, "run/updater.lock",
		    O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return error_errno(err, "%s/run/updater.lock", slots->layout.root);
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK)
			error_set(err, "another slotupd is running (%s/run/updater.lock is held)",
				  slots->layout.root);
		else
			error_errno(err, "%s/run/updater.lock", slots->layout.root);
		close(fd);
		return -1;
	}
	return fd;
}

static double install_seconds(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* [updater] metrics_file after an attempt that is over: a failure to write
 * it is logged, never the attempt's failure. */
static void install_metrics(const struct attempt *a, const struct timespec *start)
{
	struct error err = { "" };

	if (history_state_final(a->record.state) &&
	    install_metrics_write(a->config, &a->slots.layout, &a->record, install_seconds(start),
				  a->bytes, &err) < 0)
		log_warn("metrics: %s", err.text);
}

int install_run(const struct config *config, const struct install_request *request,
		const struct install_progress *progress, struct install_result *result,
		struct error *err)
{
	struct attempt a = { .config = config, .request = request, .progress = progress };
	char id[HISTORY_ID_MAX];
	int lock_fd = -1, found, rc = -1;
	struct timespec start;

	clock_gettime(CLOCK_MONOTONIC, &start);
	memset(result, 0, sizeof *result);
	if (slots_open(&a.slots, config->slots.root, config->agent.max_attempts, err) < 0)
		return -1;
	lock_fd = install_lock(&a.slots, err);
	if (lock_fd < 0)
		goto out;
	if (request->id && !install_id_ok(request->id)) {
		error_set(err, "upgrade id: want 1 to %d of [0-9A-Za-z_-]", HISTORY_ID_MAX - 1);
		goto out;
	}
	if (request->id)
		attempt_copy(id, sizeof id, request->id);
	else if (history_new_id(id, sizeof id, err) < 0)
		goto out;
	found = history_find(&a.slots.layout, id, &result->record, err);
	if (found < 0)
		goto out;
	if (found && history_state_final(result->record.state)) {
		/* Redelivery of a finished attempt: report it, change nothing. */
		result->already_done = 1;
		result->outcome = result->record.state == HISTORY_SUCCESS ? INSTALL_SUCCESS :
										INSTALL_FAILED;
		rc = 0;
		goto out;
	}
	if (install_recover(&a.slots, id, err) < 0)
		goto out;
	attempt_init_record(&a, id);
	attempt_record(&a, HISTORY_NEW, "");
	if (a.record_failed) {
		*err = a.record_err;
		goto out;
	}
	if (request->kind == INSTALL_ROLLBACK && !request->location)
		result->outcome = attempt_rollback(&a);
	else
		result->outcome = attempt_upgrade(&a);
	result->record = a.record;
	if (a.record_failed) {
		/* The outcome is not durable: the caller must not acknowledge it. */
		*err = a.record_err;
		goto out;
	}
	install_metrics(&a, &start);
	rc = 0;
out:
	if (lock_fd >= 0)
		close(lock_fd);
	slots_close(&a.slots);
	return rc;
}
