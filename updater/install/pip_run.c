/* pip_run.c: one confined command of a pip build, and handing its tree
 * back to root (see updater/install/install_pip_run.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "install/install_pip_run.h"
#include "text.h"

/* The command itself, PID 1 of its namespace when root.  Never returns. */
static void pip_command(const struct pip_run *r, int out_fd)
{
	struct error err = { "" };
	sigset_t none;
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	umask(022);
	if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 ||
	    dup2(out_fd, STDERR_FILENO) < 0 || chdir(r->cwd) < 0) {
		dprintf(out_fd, "ERROR: build: cannot set up: %s\n", strerror(errno));
		_exit(126);
	}
	if (privsep_confine(r->id, r->box, &err) < 0) {
		dprintf(STDERR_FILENO, "ERROR: build: %s\n", err.text);
		_exit(126);
	}
	execve(r->argv[0], r->argv, r->env);
	dprintf(STDERR_FILENO, "ERROR: build: cannot run %s: %s\n", r->argv[0], strerror(errno));
	_exit(127);
}

/* The keeper: its own group, a PID namespace for the command when root,
 * then it waits and dies the way the command did.  Never returns. */
static void pip_keeper(const struct pip_run *r, pid_t parent, int out_fd)
{
	struct rlimit no_core = { 0, 0 };
	int status = 0;
	pid_t pid;

	setpgid(0, 0);	/* a timeout kills the group: the keeper and the command */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(126);
	setrlimit(RLIMIT_CORE, &no_core);
	if (r->id->drop && unshare(CLONE_NEWPID) < 0) {
		dprintf(out_fd, "ERROR: build: unshare(CLONE_NEWPID): %s\n", strerror(errno));
		_exit(126);
	}
	pid = fork();
	if (pid < 0) {
		dprintf(out_fd, "ERROR: build: fork: %s\n", strerror(errno));
		_exit(126);
	}
	if (pid == 0)
		pip_command(r, out_fd);
	close(out_fd);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(status)) {
		signal(WTERMSIG(status), SIG_DFL);
		kill(getpid(), WTERMSIG(status));
	}
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 126);
}

/* Keeps the last PIP_OUTPUT_MAX bytes; 0 at end of file. */
static int pip_read(struct pip_run *r, int fd)
{
	char buf[PIP_OUTPUT_MAX / 2];
	ssize_t n = read(fd, buf, sizeof buf);
	size_t drop;

	if (n < 0 && errno == EINTR)
		return 1;
	if (n <= 0)
		return 0;
	if (r->used + (size_t)n > PIP_OUTPUT_MAX) {
		drop = r->used + (size_t)n - PIP_OUTPUT_MAX;
		drop = drop > r->used ? r->used : drop;
		memmove(r->out, r->out + drop, r->used - drop);
		r->used -= drop;
	}
	memcpy(r->out + r->used, buf, (size_t)n);
	r->used += (size_t)n;
	return 1;
}

static int64_t pip_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Its output and its exit, until the deadline (then the group is
 * killed); reaped in every case.  Without a pidfd the exit is polled. */
static void pip_wait(struct pip_run *r, pid_t pid, int out_fd)
{
	int64_t deadline = pip_now_ms() + r->timeout_ms, left;
	struct pollfd p[2] = { { .fd = out_fd, .events = POLLIN },
			       { .fd = (int)syscall(SYS_pidfd_open, pid, 0), .events = POLLIN } };

	while (waitpid(pid, &r->status, WNOHANG) == 0) {
		left = deadline - pip_now_ms();
		if (left <= 0) {
			kill(-pid, SIGKILL);
			waitpid(pid, &r->status, 0);
			r->timed_out = 1;
			break;
		}
		if (p[1].fd < 0 && left > 100)
			left = 100;
		if (poll(p, 2, (int)left) > 0 && (p[0].revents & (POLLIN | POLLHUP)) &&
		    !pip_read(r, out_fd))
			p[0].fd = -1;	/* end of file: only its exit is awaited now */
	}
	while (p[0].fd >= 0 && poll(p, 1, 0) > 0 && pip_read(r, out_fd))
		;	/* what it wrote before it exited */
	if (p[1].fd >= 0)
		close(p[1].fd);
	r->out[r->used] = '\0';
}

int pip_run(struct pip_run *r, struct error *err)
{
	int pipefd[2];
	pid_t pid, self = getpid();

	r->used = 0;
	r->status = 0;
	r->timed_out = 0;
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return error_errno(err, "build: pipe");
	pid = fork();
	if (pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return error_errno(err, "build: fork");
	}
	if (pid == 0) {
		close(pipefd[0]);
		pip_keeper(r, self, pipefd[1]);
	}
	setpgid(pid, pid);	/* also here: no kill(-pid) before the child did it */
	close(pipefd[1]);
	pip_wait(r, pid, pipefd[0]);
	close(pipefd[0]);
	return 0;
}

/* The line of its output that says why: pip's first "ERROR:" line, else
 * the last line that is not empty. */
static void pip_why(const char *out, char *line, size_t len)
{
	const char *at = out, *end, *pick = NULL;
	size_t n, pick_len = 0;

	for (; *at; at += n + (end != NULL)) {
		end = strchr(at, '\n');
		n = end ? (size_t)(end - at) : strlen(at);
		while (n && (at[n - 1] == '\r' || at[n - 1] == ' '))
			n--;
		if (!n)
			continue;
		if (!strncmp(at, "ERROR:", 6)) {
			pick = at;
			pick_len = n;
			break;
		}
		pick = at;
		pick_len = n;
	}
	snprintf(line, len, "%.*s", (int)(pick_len < 300 ? pick_len : 300), pick ? pick : "");
}

void pip_run_reason(const struct pip_run *r, char *out, size_t len)
{
	char line[320], shown[4 * 320];

	pip_why(r->out, line, sizeof line);
	text_sanitize(line, shown, sizeof shown);
	if (r->timed_out)
		snprintf(out, len, "timed out after %u ms%s%s", r->timeout_ms, shown[0] ? ": " : "",
			 shown);
	else if (WIFSIGNALED(r->status))
		snprintf(out, len, "killed by signal %d%s%s", WTERMSIG(r->status),
			 shown[0] ? ": " : "", shown);
	else
		snprintf(out, len, "exit %d%s%s", WEXITSTATUS(r->status), shown[0] ? ": " : "",
			 shown);
}

static int pip_chown_entries(int dir_fd, uid_t uid, gid_t gid, unsigned depth,
			     struct error *err);

/* One entry: owner, then mode without group/other write and set-id bits
 * (a symlink has no mode of its own), then a directory's entries. */
static int pip_chown_one(int dir_fd, const char *name, uid_t uid, gid_t gid, unsigned depth,
			 struct error *err)
{
	struct stat st;
	int sub, rc;

	if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return error_errno(err, "venv: %s", name);
	if (fchownat(dir_fd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return error_errno(err, "venv: chown %s", name);
	if (S_ISLNK(st.st_mode))
		return 0;
	if ((st.st_mode & (S_IWGRP | S_IWOTH | S_ISUID | S_ISGID)) &&
	    fchmodat(dir_fd, name, st.st_mode & 0755, 0) < 0)
		return error_errno(err, "venv: chmod %s", name);
	if (!S_ISDIR(st.st_mode))
		return 0;
	sub = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub < 0)
		return error_errno(err, "venv: %s", name);
	rc = pip_chown_entries(sub, uid, gid, depth + 1, err);
	close(sub);
	return rc;
}

static int pip_chown_entries(int dir_fd, uid_t uid, gid_t gid, unsigned depth,
			     struct error *err)
{
	struct dirent *e;
	DIR *d;
	int fd, rc = 0;

	if (depth > PIP_TREE_DEPTH_MAX)
		return error_set(err, "venv: deeper than %d directories", PIP_TREE_DEPTH_MAX);
	fd = dup(dir_fd);
	d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		return error_errno(err, "venv: opendir");
	}
	while (rc == 0 && (errno = 0, e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			rc = pip_chown_one(dirfd(d), e->d_name, uid, gid, depth, err);
	if (rc == 0 && errno)
		rc = error_errno(err, "venv: readdir");
	closedir(d);
	return rc;
}

int pip_chown_tree(int dir_fd, uid_t uid, gid_t gid, struct error *err)
{
	struct stat st;

	if (fstat(dir_fd, &st) < 0 || fchown(dir_fd, uid, gid) < 0 ||
	    fchmod(dir_fd, st.st_mode & 0755) < 0)
		return error_errno(err, "venv: chown");
	return pip_chown_entries(dir_fd, uid, gid, 1, err);
}
