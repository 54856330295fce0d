/* inhibit.c: the upgrade inhibitor (see include/inhibit.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/time.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "inhibit.h"

/* Mode 0600: flock(LOCK_SH) works on a read-only descriptor, so whoever can
 * open the file can defer upgrades for as long as they like.  A file of ours
 * left readable by others (made by an older slotd) is narrowed. */
int inhibit_open(const struct layout *layout, struct error *err)
{
	struct stat st;
	int fd;

	fd = openat(layout->root_fd, "run/inhibit", O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
		    0600);
	if (fd < 0)
		return error_errno(err, "%s/run/inhibit: open", layout->root);
	if (fstat(fd, &st) < 0 ||
	    ((st.st_mode & 077) && st.st_uid == geteuid() && fchmod(fd, 0600) < 0)) {
		error_errno(err, "%s/run/inhibit: make it private (mode 0600)", layout->root);
		close(fd);
		return -1;
	}
	return fd;
}

int inhibit_try(int fd, struct error *err)
{
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			return 1;
		if (errno != EINTR)
			return error_errno(err, "run/inhibit: flock");
	}
	return 0;
}

pid_t inhibit_spawn_waiter(int fd, unsigned timeout_ms, struct error *err)
{
	struct itimerval timer = { 0 };
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return error_errno(err, "run/inhibit: fork waiter");
	if (pid > 0)
		return pid;
	/* Child: keep only the lock's fd, so no other descriptor of the parent
	 * (a client socket, a pipe) outlives its closing there.  SIGALRM's
	 * default action ends us if the lock stays held. */
	if (fd > 3)
		close_range(3, (unsigned)fd - 1, 0);
	close_range((unsigned)fd + 1, ~0u, 0);
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	signal(SIGALRM, SIG_DFL);
	timer.it_value.tv_sec = timeout_ms / 1000;
	timer.it_value.tv_usec = (timeout_ms % 1000) * 1000;
	if (timeout_ms == 0)
		timer.it_value.tv_usec = 1;
	setitimer(ITIMER_REAL, &timer, NULL);
	_exit(flock(fd, LOCK_EX) == 0 ? 0 : 1);
}

int inhibit_acquire(int fd, unsigned timeout_ms, struct error *err)
{
	int status, rc;
	pid_t pid;

	rc = inhibit_try(fd, err);
	if (rc != 1)
		return rc;
	pid = inhibit_spawn_waiter(fd, timeout_ms, err);
	if (pid < 0)
		return -1;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return error_errno(err, "run/inhibit: wait for waiter");
	}
	return (WIFEXITED(status) && WEXITSTATUS(status) == 0) ? 0 : 1;
}

int inhibit_release(int fd)
{
	while (flock(fd, LOCK_UN) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}
