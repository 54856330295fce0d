/* pidrecord.c: <root>/run/agent.pid, the agent a slotd launched, so that a
 * slotd started after its predecessor was killed (SIGKILL, OOM) stops the
 * agent that outlived it before launching a second one.
 *
 * Content: "PID STARTTIME BOOT_ID\n": the pid, its start time (field 22 of
 * /proc/PID/stat, clock ticks since boot) and the kernel's boot id.  The three
 * name one process: a recycled pid has another start time, a record written
 * before a reboot another boot id, so no bystander is ever signalled.  The
 * process is then held by a pidfd, so it cannot be swapped between the check
 * and the signal.
 *
 * Written atomically (atomic.h) right after the fork; removed once the agent
 * is reaped.  The agent's PR_SET_PDEATHSIG covers the moment between the fork
 * and the write; this record covers an agent that cleared its pdeathsig or
 * runs setuid (exec clears it then).  A record that cannot be read or parsed
 * is removed with a warning and nothing is signalled. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "log.h"
#include "number.h"
#include "slotd.h"

#define PIDRECORD_NAME "agent.pid"
#define PIDRECORD_MAX 160
#define PIDRECORD_KILL_WAIT_MS 5000	/* for the kernel to finish a SIGKILL */
#define PIDRECORD_POLL_MS 20		/* without pidfd only */

struct pidrecord {
	pid_t pid;
	unsigned long long start_time;
	char boot_id[64];
};

/* "-" where the kernel has no boot id to give: start times alone decide. */
static void pidrecord_boot_id(char *buf, size_t len)
{
	ssize_t n = -1;
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		n = read(fd, buf, len - 1);
		close(fd);
	}
	if (n <= 0) {
		snprintf(buf, len, "-");
		return;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

static int pidrecord_run_dir(const struct layout *l, struct error *err)
{
	int fd = openat(l->root_fd, "run", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return error_errno(err, "%s/run", l->root);
	return fd;
}

int pidrecord_save(const struct layout *l, pid_t pid, struct error *err)
{
	struct proc_stat ps;
	char boot[64], text[PIDRECORD_MAX];
	int dir, n, rc;

	if (proc_stat_read(pid, &ps) < 0)
		return error_errno(err, "/proc/%d/stat", (int)pid);
	pidrecord_boot_id(boot, sizeof boot);
	n = snprintf(text, sizeof text, "%d %llu %s\n", (int)pid, ps.start_time, boot);
	dir = pidrecord_run_dir(l, err);
	if (dir < 0)
		return -1;
	rc = atomic_replace_file(dir, PIDRECORD_NAME, text, (size_t)n, 0640, err);
	close(dir);
	return rc;
}

/* Not made durable: a record the crash brings back names a process that is
 * gone, which the start time tells. */
void pidrecord_remove(const struct layout *l)
{
	struct error err = { "" };
	int dir = pidrecord_run_dir(l, &err);

	if (dir < 0) {
		log_warn("%s", err.text);
		return;
	}
	if (unlinkat(dir, PIDRECORD_NAME, 0) < 0 && errno != ENOENT)
		log_warn("%s/run/%s: %s", l->root, PIDRECORD_NAME, strerror(errno));
	close(dir);
}

static int pidrecord_parse(char *text, struct pidrecord *r, struct error *err)
{
	char *save = NULL, *pid = strtok_r(text, " \n", &save), *start = strtok_r(NULL, " \n", &save),
	     *boot = strtok_r(NULL, " \n", &save);
	unsigned long long value;

	if (!pid || !start || !boot || strtok_r(NULL, " \n", &save))
		return error_set(err, "not \"PID STARTTIME BOOT_ID\"");
	if (number_parse(pid, INT_MAX, &value) < 0 || value < 2)
		return error_set(err, "bad pid");
	r->pid = (pid_t)value;
	if (number_parse(start, ULLONG_MAX, &r->start_time) < 0)
		return error_set(err, "bad start time");
	if (strlen(boot) >= sizeof r->boot_id || strspn(boot, "0123456789abcdef-") != strlen(boot))
		return error_set(err, "bad boot id");
	strcpy(r->boot_id, boot);
	return 0;
}

/* Reads the record: 1 and *r filled, 0 when there is none (or a bad one). */
static int pidrecord_load(const struct layout *l, struct pidrecord *r)
{
	struct error err = { "" };
	char *text = NULL;
	size_t len;
	int dir, rc;

	dir = pidrecord_run_dir(l, &err);
	if (dir < 0)
		return 0;	/* no run/ yet: no agent was ever launched here */
	rc = atomic_read_file(dir, PIDRECORD_NAME, PIDRECORD_MAX, &text, &len, &err);
	close(dir);
	if (rc < 0 && errno == ENOENT)
		return 0;
	if (rc == 0 && strlen(text) != len)
		rc = error_set(&err, "a NUL byte");
	if (rc == 0)
		rc = pidrecord_parse(text, r, &err);
	free(text);
	if (rc < 0) {
		log_warn("%s/run/%s: %s: ignored", l->root, PIDRECORD_NAME, err.text);
		return 0;
	}
	return 1;
}

/* The recorded process still runs: same start time and not a zombie. */
static int pidrecord_alive(const struct pidrecord *r)
{
	struct proc_stat ps;

	return proc_stat_read(r->pid, &ps) == 0 && ps.start_time == r->start_time &&
	       ps.state != 'Z' && ps.state != 'X';
}

static int pidrecord_signal(const struct pidrecord *r, int pidfd, int signo)
{
	if (pidfd >= 0)
		return (int)syscall(SYS_pidfd_send_signal, pidfd, signo, NULL, 0);
	return kill(r->pid, signo);
}

/* 0 once the process has exited, -1 after ms. */
static int pidrecord_wait_gone(const struct pidrecord *r, int pidfd, unsigned ms)
{
	struct timespec tick = { 0, PIDRECORD_POLL_MS * 1000000L };
	int64_t end = supervisor_now() + ms, left;
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	while ((left = end - supervisor_now()) > 0) {
		if (pidfd >= 0) {	/* readable once it has exited */
			if (poll(&p, 1, (int)left) > 0)
				return 0;
		} else if (!pidrecord_alive(r)) {
			return 0;
		} else {
			nanosleep(&tick, NULL);
		}
	}
	return pidrecord_alive(r) ? -1 : 0;
}

static int pidrecord_stop(const struct pidrecord *r, int pidfd, unsigned stop_timeout_ms,
			  struct error *err)
{
	log_warn("agent pid %d of a previous slotd is still running: stopping it", (int)r->pid);
	pidrecord_signal(r, pidfd, SIGTERM);
	if (pidrecord_wait_gone(r, pidfd, stop_timeout_ms) == 0)
		return 0;
	log_warn("agent pid %d ignored SIGTERM for %u ms: SIGKILL", (int)r->pid, stop_timeout_ms);
	kill(-r->pid, SIGKILL);	/* its session, as agent_deadlines does */
	pidrecord_signal(r, pidfd, SIGKILL);
	if (pidrecord_wait_gone(r, pidfd, PIDRECORD_KILL_WAIT_MS) == 0)
		return 0;
	return error_set(err, "agent pid %d of a previous slotd survived SIGKILL for %d ms",
			 (int)r->pid, PIDRECORD_KILL_WAIT_MS);
}

int pidrecord_stop_leftover(const struct layout *l, unsigned stop_timeout_ms, struct error *err)
{
	struct pidrecord r;
	char boot[64];
	int pidfd, rc;

	if (!pidrecord_load(l, &r)) {
		pidrecord_remove(l);
		return 0;
	}
	pidrecord_boot_id(boot, sizeof boot);
	if (strcmp(boot, r.boot_id)) {
		pidrecord_remove(l);	/* from before a reboot: its agent died with it */
		return 0;
	}
	/* Held first, checked second: the pidfd then surely names the recorded process. */
	pidfd = (int)syscall(SYS_pidfd_open, r.pid, 0);
	if (!pidrecord_alive(&r)) {
		if (pidfd >= 0)
			close(pidfd);
		pidrecord_remove(l);
		return 0;
	}
	rc = pidrecord_stop(&r, pidfd, stop_timeout_ms, err);
	if (pidfd >= 0)
		close(pidfd);
	if (rc == 0)
		pidrecord_remove(l);
	return rc;
}
