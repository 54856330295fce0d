/* hooks.c: [hooks] pre_install, pre_activate, post_commit (see
 * install/install_hooks.h).  One child at a time, watched with poll on its
 * stderr pipe and its pidfd until it exits or [hooks] timeout passes; the
 * environment is built before the fork, so the child only dup2s and execs. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "install/install_hooks.h"
#include "log.h"
#include "text.h"

#define HOOKS_POLL_MS 100	/* without a pidfd, how often the exit is checked */

extern char **environ;

static const char *const hooks_names[] = {
	[HOOKS_PRE_INSTALL] = "pre_install", [HOOKS_PRE_ACTIVATE] = "pre_activate",
	[HOOKS_POST_COMMIT] = "post_commit",
};

struct hooks_child {
	pid_t pid;
	int err_fd, pidfd;
	char said[HOOKS_STDERR_MAX + 1];	/* the start of its stderr */
	size_t used;
	int status, timed_out;
};

static const char *hooks_path(const struct config *c, enum hooks_kind kind)
{
	return kind == HOOKS_PRE_INSTALL ? c->hooks.pre_install :
	       kind == HOOKS_PRE_ACTIVATE ? c->hooks.pre_activate : c->hooks.post_commit;
}

#define HOOKS_OWN_VARS 7	/* the SLOTD_ variables hooks_environment() makes */

/* Frees what hooks_environment() allocated: the array and its own strings,
 * not the inherited ones after them. */
static void hooks_free_env(char **env)
{
	size_t i;

	for (i = 0; env && i < HOOKS_OWN_VARS && env[i]; i++)
		free(env[i]);
	free(env);
}

/* Ours first (so they win over inherited ones of the same name), then
 * slotupd's own; NULL when out of memory. */
static char **hooks_environment(enum hooks_kind kind, const struct hooks_context *ctx)
{
	const char *const ours[HOOKS_OWN_VARS][2] = {
		{ "SLOTD_HOOK", hooks_names[kind] }, { "SLOTD_UPGRADE_ID", ctx->id },
		{ "SLOTD_FROM_VERSION", ctx->from_version }, { "SLOTD_TO_VERSION", ctx->to_version },
		{ "SLOTD_ROOT", ctx->root }, { "SLOTD_CURRENT_SLOT", ctx->current_slot },
		{ "SLOTD_NEW_SLOT", ctx->new_slot },
	};
	size_t n = HOOKS_OWN_VARS, inherited = 0, i;
	char **env;

	while (environ[inherited])
		inherited++;
	env = calloc(n + inherited + 1, sizeof *env);
	for (i = 0; env && i < n; i++) {
		if (asprintf(&env[i], "%s=%s", ours[i][0], ours[i][1] ? ours[i][1] : "") < 0) {
			env[i] = NULL;
			hooks_free_env(env);
			return NULL;
		}
	}
	for (i = 0; env && i < inherited; i++)
		env[n + i] = environ[i];
	return env;
}

/* In the child: never returns. */
static void hooks_exec(const char *path, char **env, int err_fd)
{
	char *argv[] = { (char *)path, NULL };
	sigset_t none;
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	setpgid(0, 0);	/* its own group: a timeout kills what it started too */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0 ||
	    dup2(err_fd, STDERR_FILENO) < 0)
		_exit(127);
	execve(path, argv, env);
	dprintf(STDERR_FILENO, "cannot run %s: %s\n", path, strerror(errno));
	_exit(127);
}

static int hooks_spawn(struct hooks_child *h, const char *path, char **env, struct error *err)
{
	int pipefd[2];

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return error_errno(err, "pipe");
	h->pid = fork();
	if (h->pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return error_errno(err, "fork");
	}
	if (h->pid == 0)
		hooks_exec(path, env, pipefd[1]);
	close(pipefd[1]);
	h->err_fd = pipefd[0];
	h->pidfd = (int)syscall(SYS_pidfd_open, h->pid, 0);	/* -1: polled instead */
	return 0;
}

/* Keeps what fits of its stderr, drops the rest; 0 at EOF. */
static int hooks_read(struct hooks_child *h)
{
	char buf[1024];
	ssize_t n = read(h->err_fd, buf, sizeof buf);
	size_t keep;

	if (n < 0 && errno == EINTR)
		return 1;
	if (n <= 0)
		return 0;
	keep = (size_t)n < HOOKS_STDERR_MAX - h->used ? (size_t)n : HOOKS_STDERR_MAX - h->used;
	memcpy(h->said + h->used, buf, keep);
	h->used += keep;
	return 1;
}

static int64_t hooks_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Until it exits (its stderr read meanwhile) or the deadline: then its
 * whole group is killed.  Reaped either way. */
static void hooks_wait(struct hooks_child *h, unsigned timeout_ms)
{
	int64_t deadline = hooks_now_ms() + timeout_ms, left;
	struct pollfd p[2] = { { .fd = h->err_fd, .events = POLLIN },
			       { .fd = h->pidfd, .events = POLLIN } };

	while (waitpid(h->pid, &h->status, WNOHANG) == 0) {
		left = deadline - hooks_now_ms();
		if (left <= 0) {
			kill(-h->pid, SIGKILL);
			waitpid(h->pid, &h->status, 0);
			h->timed_out = 1;
			break;
		}
		if (h->pidfd < 0 && left > HOOKS_POLL_MS)
			left = HOOKS_POLL_MS;
		if (poll(p, 2, (int)left) > 0 && (p[0].revents & (POLLIN | POLLHUP)) &&
		    !hooks_read(h))
			p[0].fd = -1;	/* EOF: only its exit is awaited now */
	}
	while (p[0].fd >= 0 && poll(p, 1, 0) > 0 && hooks_read(h))
		;	/* what it wrote before it exited */
	h->said[h->used] = '\0';
}

/* Every line it wrote to the log; the first (sanitised) into first. */
static void hooks_report(const struct hooks_child *h, const char *name, char *first, size_t len)
{
	char line[HOOKS_STDERR_MAX + 1], shown[4 * 200];
	const char *at = h->said, *end;
	size_t n;

	first[0] = '\0';
	while (*at) {
		end = strchr(at, '\n');
		n = end ? (size_t)(end - at) : strlen(at);
		memcpy(line, at, n);
		line[n] = '\0';
		text_sanitize(line, shown, sizeof shown);
		if (n && !first[0])
			snprintf(first, len, "%.200s", shown);	/* a reason, not a log */
		if (n)
			log_info("%s hook: %s", name, shown);
		at += n + (end != NULL);
	}
}

static enum hooks_result hooks_verdict(const struct hooks_child *h, const char *name,
				       unsigned timeout_ms, char *reason, size_t len)
{
	char first[256];

	hooks_report(h, name, first, sizeof first);
	if (h->timed_out) {
		snprintf(reason, len, "%s hook timed out after %u ms%s%s", name, timeout_ms,
			 first[0] ? ": " : "", first);
		return HOOKS_FAILED;
	}
	if (WIFEXITED(h->status) && WEXITSTATUS(h->status) == 0)
		return HOOKS_OK;
	if (WIFEXITED(h->status) && WEXITSTATUS(h->status) == HOOKS_EX_TEMPFAIL) {
		snprintf(reason, len, "%s hook deferred the upgrade (exit %d)%s%s", name,
			 HOOKS_EX_TEMPFAIL, first[0] ? ": " : "", first);
		return HOOKS_DEFER;
	}
	if (WIFEXITED(h->status))
		snprintf(reason, len, "%s hook failed (exit %d)%s%s", name, WEXITSTATUS(h->status),
			 first[0] ? ": " : "", first);
	else
		snprintf(reason, len, "%s hook failed (killed by signal %d)%s%s", name,
			 WIFSIGNALED(h->status) ? WTERMSIG(h->status) : 0, first[0] ? ": " : "",
			 first);
	return HOOKS_FAILED;
}

enum hooks_result hooks_run(const struct config *c, enum hooks_kind kind,
			    const struct hooks_context *ctx, char *reason, size_t len)
{
	struct hooks_child h = { .pid = -1, .err_fd = -1, .pidfd = -1 };
	const char *path = hooks_path(c, kind), *name = hooks_names[kind];
	struct error err = { "" };
	enum hooks_result result;
	char **env;

	reason[0] = '\0';
	if (!path[0])
		return HOOKS_OK;
	env = hooks_environment(kind, ctx);
	if (!env || hooks_spawn(&h, path, env, &err) < 0) {
		snprintf(reason, len, "%s hook: %s", name, env ? err.text : "out of memory");
		hooks_free_env(env);
		return HOOKS_FAILED;
	}
	hooks_free_env(env);
	log_info("%s hook: running %s (pid %d)", name, path, (int)h.pid);
	hooks_wait(&h, c->hooks.timeout_ms);
	close(h.err_fd);
	if (h.pidfd >= 0)
		close(h.pidfd);
	result = hooks_verdict(&h, name, c->hooks.timeout_ms, reason, len);
	if (result == HOOKS_OK)
		log_info("%s hook: done", name);
	return result;
}
