/* spawn.c: fetch_child_run(), the privileged side of the confined download
 * (see updater/fetch/fetch_child.h). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fetch/child_wire.h"
#include "fetch/fetch_child.h"
#include "fetch/fetch_program.h"
#include "log.h"
#include "privsep/privsep.h"

/* How long the child may exit after its result or its end of file. */
#define SPAWN_EXIT_MS 10000
/* How long a child running a deployer's program may take to stop it. */
#define SPAWN_STOP_MS 5000

struct relay {
	const struct fetch_job *job;
	int fd;
	char *buf;			/* one record */
	unsigned long long delivered, total;
	int result;			/* 0 none yet, 1 DONE, -1 FAILED */
	unsigned long long program_ms;	/* a deployer's program: its timeout, or 1 */
};

/* A deployer strategy's section and its program's input; nothing for a built-in. */
static int spawn_program(const char *strategy, const struct fetch_job *job,
			 struct fetch_child_job *msg, struct error *err)
{
	const struct config_strategy *own = config_strategy_find(job->config, strategy);

	if (!own)
		return 0;
	msg->program = *own;
	return fetch_program_input(strategy, job, msg->input, sizeof msg->input, err);
}

static int spawn_job(const char *strategy, const struct fetch_job *job,
		     struct fetch_child_job *msg, struct error *err)
{
	const struct config *c = job->config;

	memset(msg, 0, sizeof *msg);
	if (strlen(job->location) >= sizeof msg->location)
		return error_set(err, "request: location longer than %zu bytes",
				 sizeof msg->location - 1);
	msg->magic = FETCH_CHILD_JOB_MAGIC;
	msg->parent = getpid();
	snprintf(msg->fetch_user, sizeof msg->fetch_user, "%s", c->updater.fetch_user);
	snprintf(msg->strategy, sizeof msg->strategy, "%s", strategy);
	snprintf(msg->location, sizeof msg->location, "%s", job->location);
	snprintf(msg->ca_path, sizeof msg->ca_path, "%s", c->updater.ca_path);
	if (!strcmp(strategy, "swift"))
		snprintf(msg->swift_token, sizeof msg->swift_token, "%s", c->updater.swift_token);
	msg->max_rate = c->updater.max_rate;
	msg->retries = c->updater.retries;
	msg->low_speed_time_ms = c->updater.low_speed_time_ms;
	msg->retry_backoff_ms = c->updater.retry_backoff_ms;
	msg->retry_backoff_max_ms = c->updater.retry_backoff_max_ms;
	msg->max_redirects = c->updater.max_redirects;
	msg->max_bytes = c->updater.max_bytes;
	if (job->range_count > FETCH_RANGES_MAX)
		return error_set(err, "fetch: %zu ranges, more than %u", job->range_count,
				 FETCH_RANGES_MAX);
	msg->range_count = (uint32_t)job->range_count;
	msg->range_open_end = job->range_open_end ? 1 : 0;
	return spawn_program(strategy, job, msg, err);
}

static int spawn_send(int fd, const struct fetch_child_job *msg, int file_fd, struct error *err)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct iovec iov = { (void *)msg, sizeof *msg };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;
	ssize_t n;

	if (file_fd >= 0) {
		memset(&control, 0, sizeof control);
		m.msg_control = control.buf;
		m.msg_controllen = sizeof control.buf;
		cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &file_fd, sizeof(int));
	}
	do
		n = sendmsg(fd, &m, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof *msg)
		return error_errno(err, "fetch process: sending the job");
	return 0;
}

/* job->ranges after the job, FETCH_CHILD_RANGES_PER_MSG a message. */
static int spawn_send_ranges(int fd, const struct fetch_job *job, struct error *err)
{
	for (size_t i = 0; i < job->range_count; i += FETCH_CHILD_RANGES_PER_MSG) {
		size_t n = job->range_count - i < FETCH_CHILD_RANGES_PER_MSG ?
			   job->range_count - i : FETCH_CHILD_RANGES_PER_MSG;
		ssize_t sent;

		do
			sent = send(fd, job->ranges + i, n * sizeof *job->ranges, MSG_NOSIGNAL);
		while (sent < 0 && errno == EINTR);
		if (sent != (ssize_t)(n * sizeof *job->ranges))
			return error_errno(err, "fetch process: sending the ranges");
	}
	return 0;
}

/* One record from the child: 1 go on, 0 end of file, -1 err set. */
static int relay_record(struct relay *r, struct error *err)
{
	uint32_t type;
	uint64_t total;
	ssize_t n;
	size_t len;

	do
		n = recv(r->fd, r->buf, sizeof type + FETCH_CHILD_CHUNK, MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return error_set(err, "fetch process: silent for longer than its own timeouts "
				 "allow; stopped");
	if (n < 0)
		return error_errno(err, "fetch process: reading");
	if (n == 0)
		return 0;
	if ((size_t)n < sizeof type || (size_t)n > sizeof type + FETCH_CHILD_CHUNK)
		return error_set(err, "fetch process: malformed record (%zd bytes)", n);
	memcpy(&type, r->buf, sizeof type);
	len = (size_t)n - sizeof type;
	if (r->result)
		return error_set(err, "fetch process: record %u after its result", type);
	switch (type) {
	case FETCH_RECORD_DATA:
		if (!len)
			break;
		if (r->job->sink(r->buf + sizeof type, len, r->job->ctx, err) < 0)
			return -1;
		r->delivered += len;
		if (r->job->progress)
			r->job->progress(r->job->ctx, r->delivered, r->total);
		return 1;
	case FETCH_RECORD_TOTAL:
		if (len != sizeof total)
			break;
		memcpy(&total, r->buf + sizeof type, sizeof total);
		r->total = total;
		return 1;
	case FETCH_RECORD_DONE:
		if (len)
			break;
		r->result = 1;
		return 1;
	case FETCH_RECORD_FAILED:
		if (!len || len >= sizeof err->text)
			break;
		r->buf[sizeof type + len] = '\0';
		error_set(err, "%s", r->buf + sizeof type);	/* sanitised */
		r->result = -1;
		return 1;
	}
	return error_set(err, "fetch process: malformed record (type %u, %zu bytes)", type, len);
}

/* The child ended without a result: its exit says why. */
static int spawn_died(int status, struct error *err)
{
	if (WIFSIGNALED(status))
		return error_set(err, "fetch process: killed by signal %d (%s) before its result",
				 WTERMSIG(status), strsignal(WTERMSIG(status)));
	return error_set(err, "fetch process: exited with status %d before its result",
			 WEXITSTATUS(status));
}

/* Records until end of file; the idle bound is the child's own worst case
 * (connect, a low-speed period, the longest backoff) with some slack. */
static int spawn_relay(struct relay *r, pid_t pid, struct error *err)
{
	const struct config *c = r->job->config;
	unsigned long long idle_ms = 30000ULL + c->updater.low_speed_time_ms +
				     c->updater.retry_backoff_max_ms + 30000 + r->program_ms;
	struct timeval tv = { (time_t)(idle_ms / 1000), 0 };
	int rc, status;

	setsockopt(r->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	while ((rc = relay_record(r, err)) > 0)
		;
	if (rc < 0) {
		/* A broken or unwanted child: no reason to wait, except for a
		 * deployer's program, which the child stops with its group when
		 * it sees the hang-up (a SIGKILL would leave its group behind). */
		shutdown(r->fd, SHUT_RDWR);
		privsep_reap(pid, r->program_ms ? SPAWN_STOP_MS : 0);
		return -1;
	}
	status = privsep_reap(pid, SPAWN_EXIT_MS);
	if (!r->result)
		return spawn_died(status, err);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != (r->result > 0 ? 0 : 1))
		log_warn("fetch process ended with status 0x%x after its result", status);
	return r->result > 0 ? 0 : -1;
}

int fetch_child_run(const char *strategy, const struct fetch_job *job, struct error *err)
{
	struct fetch_child_job msg;
	struct relay r = { .job = job, .fd = -1 };
	int pair[2] = { -1, -1 }, file_fd = -1, size = 1 << 20, rc = -1;
	pid_t pid = -1;

	if (fetch_validate(job->config, strategy, job->location, err) < 0 ||
	    spawn_job(strategy, job, &msg, err) < 0)
		goto out;
	if (msg.program.fetch[0])
		r.program_ms = msg.program.timeout_ms ? msg.program.timeout_ms : 1;
	if (!strcmp(strategy, "file") && (file_fd = fetch_file_open(job->location, job->file_beneath, err)) < 0)
		goto out;
	r.buf = malloc(sizeof(uint32_t) + FETCH_CHILD_CHUNK + 1);
	if (!r.buf) {
		error_errno(err, "fetch process");
		goto out;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0) {
		error_errno(err, "fetch process: socketpair");
		goto out;
	}
	setsockopt(pair[1], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
	setsockopt(pair[0], SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
	if (privsep_spawn("slotupd-fetch", FETCH_CHILD_ARG, pair[1], &pid, err) < 0)
		goto out;
	close(pair[1]);
	pair[1] = -1;
	r.fd = pair[0];
	if (spawn_send(r.fd, &msg, file_fd, err) < 0 || spawn_send_ranges(r.fd, job, err) < 0) {
		kill(pid, SIGKILL);
		privsep_reap(pid, 0);
		goto out;
	}
	rc = spawn_relay(&r, pid, err);
out:
	explicit_bzero(&msg, sizeof msg);	/* the swift token */
	if (file_fd >= 0)
		close(file_fd);
	if (pair[0] >= 0)
		close(pair[0]);
	if (pair[1] >= 0)
		close(pair[1]);
	free(r.buf);
	return rc;
}
