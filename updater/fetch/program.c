/* program.c: a deployer strategy's program (see updater/fetch/fetch_program.h).
 * One run at a time in the fetch process, which is single-threaded: a plain
 * fork is safe here.  Watched with poll on its stdout, its stderr and the
 * fetch process's own socket (the updater hanging up stops it). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fetch/fetch_backoff.h"
#include "fetch/fetch_program.h"
#include "log.h"
#include "text.h"

#define PROGRAM_CHUNK (64u << 10)
#define PROGRAM_SAID_MAX 200		/* bytes of a line of its stderr kept */
#define PROGRAM_LOG_LINES 50		/* lines of its stderr logged per run */

enum program_verdict { PROGRAM_DONE, PROGRAM_RETRY, PROGRAM_FINAL };

struct program_run {
	const struct fetch_job *job;
	const struct config_strategy *s;
	pid_t pid;
	int out, err;			/* its stdout and stderr, -1 once at EOF */
	unsigned long long produced;	/* this run's stdout bytes */
	unsigned long long delivered;	/* bytes the sink took, over all runs */
	char said[PROGRAM_SAID_MAX + 1];	/* its stderr's first line, "" if none */
	char line[PROGRAM_SAID_MAX + 1];	/* the line being read */
	size_t line_len;
	unsigned lines;			/* lines seen */
	char *buf;
};

static long long program_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* In the forked child: never returns. */
static void program_exec(const struct program_run *r, const int in[2], const int out[2],
			 const int err[2])
{
	char strategy_var[CONFIG_STRATEGY_NAME_MAX + 16];
	char *argv[] = { (char *)r->s->fetch, NULL };
	char *envp[] = { "PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C", strategy_var, NULL };
	sigset_t none;

	snprintf(strategy_var, sizeof strategy_var, "SLOTD_STRATEGY=%s", r->s->name);
	setpgid(0, 0);	/* its own group: a timeout kills what it started too */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (dup2(in[0], STDIN_FILENO) < 0 || dup2(out[1], STDOUT_FILENO) < 0 ||
	    dup2(err[1], STDERR_FILENO) < 0)
		_exit(127);
	execve(r->s->fetch, argv, envp);
	dprintf(STDERR_FILENO, "cannot run %s: %s\n", r->s->fetch, strerror(errno));
	_exit(127);
}

static void program_close_pair(int fd[2])
{
	if (fd[0] >= 0)
		close(fd[0]);
	if (fd[1] >= 0)
		close(fd[1]);
}

/* Starts it and hands it its input (far below a pipe's capacity, so the
 * write never waits on a program that does not read). */
static int program_start(struct program_run *r, struct error *err)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, er[2] = { -1, -1 }, rc = -1;
	const char *input = r->job->input ? r->job->input : "";

	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(er, O_CLOEXEC) < 0) {
		error_errno(err, "strategy %s: pipe", r->s->name);
		goto out;
	}
	r->pid = fork();
	if (r->pid < 0) {
		error_errno(err, "strategy %s: fork", r->s->name);
		goto out;
	}
	if (r->pid == 0)
		program_exec(r, in, out, er);
	setpgid(r->pid, r->pid);	/* either side may run first */
	if (write(in[1], input, strlen(input)) < 0) {
		/* a program that exits without reading it: its exit says why */
	}
	r->out = out[0];
	r->err = er[0];
	out[0] = er[0] = -1;
	rc = 0;
out:
	program_close_pair(in);
	program_close_pair(out);
	program_close_pair(er);
	return rc;
}

/* One line of its stderr is complete: logged (the first PROGRAM_LOG_LINES),
 * the first kept for the reason. */
static void program_line(struct program_run *r)
{
	r->line[r->line_len] = '\0';
	if (r->line_len && r->lines < PROGRAM_LOG_LINES)
		log_info("strategy %s: %s", r->s->name, r->line);
	if (r->line_len && !r->lines++)
		memcpy(r->said, r->line, r->line_len + 1);
	r->line_len = 0;
}

/* Its stderr, line by line; a line's bytes beyond PROGRAM_SAID_MAX are
 * dropped.  0 at EOF. */
static int program_stderr(struct program_run *r)
{
	char buf[1024];
	ssize_t n = read(r->err, buf, sizeof buf), i;

	if (n < 0 && errno == EINTR)
		return 1;
	if (n <= 0) {
		if (r->line_len)
			program_line(r);
		return 0;
	}
	for (i = 0; i < n; i++) {
		if (buf[i] == '\n')
			program_line(r);
		else if (r->line_len < PROGRAM_SAID_MAX)
			r->line[r->line_len++] = buf[i];
	}
	return 1;
}

/* Its stdout to the sink, past what earlier runs delivered.  1 go on, 0 at
 * EOF, -1 (err set) to stop for good. */
static int program_stdout(struct program_run *r, struct error *err)
{
	const struct fetch_job *job = r->job;
	ssize_t n = read(r->out, r->buf, PROGRAM_CHUNK);
	size_t skip = 0;

	if (n < 0 && errno == EINTR)
		return 1;
	if (n < 0)
		return error_errno(err, "strategy %s: reading its output", r->s->name);
	if (n == 0)
		return 0;
	if (r->produced < r->delivered)
		skip = r->delivered - r->produced < (unsigned long long)n ?
		       (size_t)(r->delivered - r->produced) : (size_t)n;
	r->produced += (unsigned long long)n;
	if (r->produced > job->config->updater.max_bytes)
		return error_set(err, "strategy %s: fetcher wrote more than [updater] max_bytes "
				 "(%llu bytes): cut off", r->s->name,
				 (unsigned long long)job->config->updater.max_bytes);
	if ((size_t)n == skip)
		return 1;
	if (job->sink(r->buf + skip, (size_t)n - skip, job->ctx, err) < 0)
		return -1;
	r->delivered += (size_t)n - skip;
	if (job->progress)
		job->progress(job->ctx, r->delivered, 0);
	return 1;
}

/* The bound of this run from now: the section's timeout from start, else
 * silence since the last byte for [updater] low_speed_time. */
static long long program_left_ms(const struct program_run *r, long long start, long long last)
{
	if (r->s->timeout_ms)
		return start + r->s->timeout_ms - program_now_ms();
	return last + r->job->config->updater.low_speed_time_ms - program_now_ms();
}

/* Until both pipes end (the exit comes next) or a bound or the updater
 * stops it: 0, 1 timed out, -1 err set (stop for good). */
static int program_watch(struct program_run *r, struct error *err)
{
	long long start = program_now_ms(), last = start, left;
	struct pollfd p[3] = { { .fd = r->out, .events = POLLIN }, { .fd = r->err, .events = POLLIN },
			       { .fd = r->job->stop_fd > 0 ? r->job->stop_fd : -1,
				 .events = POLLRDHUP } };
	int rc;

	while (p[0].fd >= 0 || p[1].fd >= 0) {
		left = program_left_ms(r, start, last);
		if (left <= 0)
			return 1;
		if (poll(p, 3, left > 1000 ? 1000 : (int)left) < 0 && errno != EINTR)
			return error_errno(err, "strategy %s: poll", r->s->name);
		if (p[2].revents)
			return error_set(err, "strategy %s: the updater stopped reading", r->s->name);
		if (p[1].revents && !program_stderr(r))
			p[1].fd = -1;
		if (!p[0].revents)
			continue;
		rc = program_stdout(r, err);
		if (rc < 0)
			return -1;
		if (rc == 0)
			p[0].fd = -1;
		last = program_now_ms();
	}
	return 0;
}

/* Its exit, within what is left of its bound (the pipes ended, so it is
 * normally immediate); then its group goes, whatever it left behind. */
static int program_reap(struct program_run *r, long long wait_ms, int *timed_out)
{
	long long deadline = program_now_ms() + (wait_ms > 0 ? wait_ms : 0);
	int status = 0;
	pid_t got;

	while ((got = waitpid(r->pid, &status, WNOHANG)) == 0 && program_now_ms() < deadline)
		fetch_sleep_ms(10);
	if (got == 0) {
		*timed_out = 1;
		kill(-r->pid, SIGKILL);
		while (waitpid(r->pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	kill(-r->pid, SIGKILL);
	r->pid = -1;
	return status;
}

/* The run's outcome into err, and whether to run it again. */
static enum program_verdict program_verdict(struct program_run *r, int status, int timed_out,
					    struct error *err)
{
	char said[4 * PROGRAM_SAID_MAX + 8] = "", shown[4 * PROGRAM_SAID_MAX + 1];
	const struct config *c = r->job->config;

	if (r->said[0])
		snprintf(said, sizeof said, ": %s", text_sanitize(r->said, shown, sizeof shown));
	if (timed_out && r->s->timeout_ms) {
		error_set(err, "strategy %s: fetcher killed after its timeout (%u ms)%s", r->s->name,
			  r->s->timeout_ms, said);
		return PROGRAM_RETRY;
	}
	if (timed_out) {
		error_set(err, "strategy %s: fetcher killed: silent for [updater] low_speed_time "
			  "(%u ms)%s", r->s->name, c->updater.low_speed_time_ms, said);
		return PROGRAM_RETRY;
	}
	if (WIFSIGNALED(status)) {
		error_set(err, "strategy %s: fetcher killed by signal %d (%s)%s", r->s->name,
			  WTERMSIG(status), strsignal(WTERMSIG(status)), said);
		return PROGRAM_RETRY;
	}
	if (WEXITSTATUS(status) == 0)
		return PROGRAM_DONE;
	error_set(err, "strategy %s: fetcher exited %d%s", r->s->name, WEXITSTATUS(status), said);
	return WEXITSTATUS(status) == FETCH_PROGRAM_EX_TEMPFAIL ? PROGRAM_RETRY : PROGRAM_FINAL;
}

static enum program_verdict program_attempt(struct program_run *r, struct error *err)
{
	long long start = program_now_ms(), left;
	int watched, status, timed_out = 0;

	r->produced = 0;
	r->said[0] = '\0';
	r->line_len = 0;
	r->lines = 0;
	if (program_start(r, err) < 0)
		return PROGRAM_FINAL;
	watched = program_watch(r, err);
	left = r->s->timeout_ms ? start + r->s->timeout_ms - program_now_ms() :
				  (long long)r->job->config->updater.low_speed_time_ms;
	status = program_reap(r, watched == 0 ? left : 0, &timed_out);
	close(r->out);
	close(r->err);
	if (watched < 0)
		return PROGRAM_FINAL;
	return program_verdict(r, status, timed_out || watched > 0, err);
}

int fetch_program(const struct fetch_job *job, const struct config_strategy *s, struct error *err)
{
	struct program_run r = { .job = job, .s = s, .pid = -1 };
	enum program_verdict verdict = PROGRAM_RETRY;
	unsigned attempt;

	r.buf = malloc(PROGRAM_CHUNK);
	if (!r.buf)
		return error_errno(err, "strategy %s", s->name);
	signal(SIGPIPE, SIG_IGN);	/* a program that quits without reading its input */
	for (attempt = 0; attempt <= job->config->updater.retries; attempt++) {
		if (attempt > 0)
			fetch_sleep_ms(fetch_backoff_ms(job->config, attempt - 1, 0));
		verdict = program_attempt(&r, err);
		if (verdict != PROGRAM_RETRY)
			break;
	}
	if (verdict == PROGRAM_RETRY && attempt > 1)
		error_prefix(err, "after %u attempts: ", attempt);
	free(r.buf);
	return verdict == PROGRAM_DONE ? 0 : -1;
}
