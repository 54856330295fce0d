/* child.c: `slotupd --fetch-child`, the confined download process (see
 * updater/fetch/fetch_child.h).  It trusts its parent, which sent the job, and
 * nothing it downloads. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fetch/child_wire.h"
#include "fetch/fetch_child.h"
#include "log.h"
#include "privsep/privsep.h"

struct child {
	int fd;
	unsigned long long total;
};

static int child_send(int fd, enum fetch_record type, const void *data, size_t len)
{
	uint32_t head = type;
	struct iovec iov[2] = { { &head, sizeof head }, { (void *)data, len } };
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
	ssize_t n;

	do
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -1 : 0;
}

static int child_sink(const void *data, size_t len, void *context, struct error *err)
{
	struct child *c = context;
	const char *p = data;
	size_t n;

	while (len > 0) {
		n = len < FETCH_CHILD_CHUNK ? len : FETCH_CHILD_CHUNK;
		if (child_send(c->fd, FETCH_RECORD_DATA, p, n) < 0)
			return error_errno(err, "fetch process: the updater stopped reading");
		p += n;
		len -= n;
	}
	return 0;
}

static void child_progress(void *context, unsigned long long done, unsigned long long total)
{
	struct child *c = context;
	uint64_t size = total;

	(void)done;	/* the parent counts what it received */
	if (total && total != c->total && child_send(c->fd, FETCH_RECORD_TOTAL, &size,
						     sizeof size) == 0)
		c->total = total;
}

/* The job, and for `file` the descriptor that comes with it. */
static int child_receive(int fd, struct fetch_child_job *job, int *file_fd, struct error *err)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct iovec iov = { job, sizeof *job };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
			      .msg_controllen = sizeof control.buf };
	struct cmsghdr *cm;
	ssize_t n;

	do
		n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return error_errno(err, "fetch process: reading the job");
	cm = CMSG_FIRSTHDR(&msg);
	if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
	    cm->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(file_fd, CMSG_DATA(cm), sizeof(int));
	if ((size_t)n != sizeof *job || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
	    job->magic != FETCH_CHILD_JOB_MAGIC)
		return error_set(err, "fetch process: malformed job (%zd bytes): not started by "
				 "this slotupd?", n);
	job->fetch_user[sizeof job->fetch_user - 1] = '\0';
	job->strategy[sizeof job->strategy - 1] = '\0';
	job->location[sizeof job->location - 1] = '\0';
	job->ca_path[sizeof job->ca_path - 1] = '\0';
	job->swift_token[sizeof job->swift_token - 1] = '\0';
	job->program.name[sizeof job->program.name - 1] = '\0';
	job->program.fetch[sizeof job->program.fetch - 1] = '\0';
	job->program.read[sizeof job->program.read - 1] = '\0';
	job->input[sizeof job->input - 1] = '\0';
	return 0;
}

/* The ranges that follow a job, checked: ascending, apart, none empty. */
static int child_receive_ranges(int fd, const struct fetch_child_job *job,
				struct fetch_range **ranges, struct error *err)
{
	size_t got = 0, n;
	ssize_t len;

	if (job->range_count == 0)
		return 0;
	if (job->range_count > FETCH_RANGES_MAX)
		return error_set(err, "fetch process: %u ranges", job->range_count);
	*ranges = malloc((size_t)job->range_count * sizeof **ranges);
	if (!*ranges)
		return error_errno(err, "fetch process: ranges");
	while (got < job->range_count) {
		n = job->range_count - got < FETCH_CHILD_RANGES_PER_MSG ?
		    job->range_count - got : FETCH_CHILD_RANGES_PER_MSG;
		do
			len = recv(fd, *ranges + got, n * sizeof **ranges, MSG_TRUNC);
		while (len < 0 && errno == EINTR);
		if (len != (ssize_t)(n * sizeof **ranges))
			return error_set(err, "fetch process: malformed ranges");
		got += n;
	}
	for (size_t i = 0; i < got; i++) {
		const struct fetch_range *w = *ranges + i;

		if (w->len == 0 || w->offset > UINT64_MAX / 2 || w->len > UINT64_MAX / 2 ||
		    (i && w->offset <= w[-1].offset + w[-1].len))
			return error_set(err, "fetch process: range %zu out of order or empty", i);
	}
	return 0;
}

/* Before anything from the network: the identity, no_new_privs, Landlock;
 * then die with the parent (the setting does not survive the uid change).
 * The user is looked up here, not in the parent: NSS modules (and their
 * memory) stay out of the process that writes the slots. */
static int child_confine(const struct fetch_child_job *job, int file_fd, struct error *err)
{
	const char *paths[PRIVSEP_PATHS_MAX];
	struct privsep_sandbox box = { .read_paths = paths, .network = file_fd < 0 };
	struct privsep_identity id;
	char storage[sizeof job->program.read];

	if (job->program.fetch[0])	/* a deployer's program: it runs in this sandbox */
		privsep_program_paths(&box, paths, job->program.fetch, job->ca_path,
				      job->program.read, storage, sizeof storage);
	else
		privsep_read_paths(paths, file_fd < 0, job->ca_path);
	if (privsep_identity_resolve(job->fetch_user, &id, err) < 0)
		return -1;
	if (privsep_confine(&id, &box, err) < 0)
		return error_prefix(err, "fetch process: ");
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != job->parent)
		return error_set(err, "fetch process: the updater is gone");
	return 0;
}

static void child_config(const struct fetch_child_job *job, struct config *config)
{
	config_defaults(config);
	snprintf(config->updater.ca_path, sizeof config->updater.ca_path, "%s", job->ca_path);
	snprintf(config->updater.swift_token, sizeof config->updater.swift_token, "%s",
		 job->swift_token);
	config->updater.max_rate = job->max_rate;
	config->updater.retries = job->retries;
	config->updater.low_speed_time_ms = job->low_speed_time_ms;
	config->updater.retry_backoff_ms = job->retry_backoff_ms;
	config->updater.retry_backoff_max_ms = job->retry_backoff_max_ms;
	config->updater.max_redirects = job->max_redirects;
	config->updater.max_bytes = job->max_bytes;
	if (job->program.fetch[0]) {
		config->strategies.list[0] = job->program;
		config->strategies.count = 1;
	}
}

int fetch_child_main(void)
{
	struct fetch_child_job job;
	struct config config;
	struct child c = { .fd = FETCH_CHILD_FD };
	struct fetch_job fj = { .config = &config, .location = job.location, .sink = child_sink,
				.ctx = &c, .progress = child_progress, .input = job.input,
				.stop_fd = FETCH_CHILD_FD };
	struct error err = { "" };
	struct fetch_range *ranges = NULL;
	int file_fd = -1, rc = -1;

	log_init("slotupd-fetch");
	prctl(PR_SET_NAME, "slotupd-fetch");
	if (child_receive(c.fd, &job, &file_fd, &err) == 0 &&
	    child_receive_ranges(c.fd, &job, &ranges, &err) == 0 &&
	    child_confine(&job, file_fd, &err) == 0) {
		child_config(&job, &config);
		fj.ranges = ranges;
		fj.range_count = job.range_count;
		fj.range_open_end = job.range_open_end != 0;
		if (ranges && (file_fd >= 0 || job.program.fetch[0]))
			rc = error_set(&err, "fetch process: ranges are for http and swift only");
		else
			rc = file_fd >= 0 ? fetch_file_read(file_fd, &fj, &err)
					  : fetch_run(job.strategy, &fj, &err);
	}
	free(ranges);
	explicit_bzero(job.swift_token, sizeof job.swift_token);
	explicit_bzero(config.updater.swift_token, sizeof config.updater.swift_token);
	if (rc == 0)
		child_send(c.fd, FETCH_RECORD_DONE, NULL, 0);
	else
		child_send(c.fd, FETCH_RECORD_FAILED, err.text, strlen(err.text));
	if (file_fd >= 0)
		close(file_fd);
	return rc == 0 ? 0 : 1;
}
