/* pidrecord.c: <root>/run/agent.pid, the agent a slotd launched, and the
 * proof that a process is that agent.  leftover.c uses it so that a slotd
 * started after its predecessor was killed (SIGKILL, OOM) stops the agent
 * that outlived it before launching a second one.
 *
 * Content: "PID STARTTIME BOOT_ID TOKEN\n": the pid, its start time (field 22
 * of /proc/PID/stat, clock ticks since boot), the kernel's boot id, and 32
 * hex digits drawn from getrandom for this launch, which agent.c puts first
 * in the agent's environment (PIDRECORD_TOKEN_VAR=TOKEN).  A process is ours
 * only when all four match: a recycled pid has another start time, a record
 * from before a reboot another boot id, and a process slotd never started
 * (a planted or corrupted record naming a live process with the right start
 * time) lacks the token.  The process is held by a pidfd before it is
 * checked, so it cannot be swapped between the check and the signal.
 *
 * The record is only written and read where /proc can prove anything:
 *  - as PID 1 of its PID namespace slotd has no earlier agent to fear (the
 *    kernel kills a namespace's processes with its init), so it keeps none;
 *  - where /proc is not this PID namespace's (readlink("/proc/self") is not
 *    getpid(): `unshare --pid` without a /proc of its own), /proc/PID is
 *    some other process, so no record is kept and an old one is discarded.
 * A record that cannot be proven to name a process of ours is discarded with
 * a warning and nothing is signalled; it never keeps the agent from starting.
 *
 * Written atomically (atomic.h) right after the fork; removed once the agent
 * is reaped.  The agent's PR_SET_PDEATHSIG covers the moment between the fork
 * and the write; this record covers an agent that cleared its pdeathsig or
 * runs setuid (exec clears it then). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "atomic.h"
#include "log.h"
#include "number.h"
#include "slotd.h"

#define PIDRECORD_NAME "agent.pid"
#define PIDRECORD_MAX 200

struct pidrecord {
	pid_t pid;
	unsigned long long start_time;
	char boot_id[64];
	char token[PIDRECORD_TOKEN_LEN + 1];
};

/* Reads at most len - 1 bytes of a small file; -1 when it cannot. */
static ssize_t pidrecord_read_small(const char *path, char *buf, size_t len)
{
	ssize_t n = -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		n = read(fd, buf, len - 1);
		close(fd);
	}
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

/* "-" where the kernel has no boot id to give: start times alone decide. */
static void pidrecord_boot_id(char *buf, size_t len)
{
	if (pidrecord_read_small("/proc/sys/kernel/random/boot_id", buf, len) <= 0) {
		snprintf(buf, len, "-");
		return;
	}
	buf[strcspn(buf, "\n")] = '\0';
}

/* Why no record can be kept here, or NULL when one can. */
static const char *pidrecord_unusable(void)
{
	if (getpid() == 1)
		return "slotd is PID 1: an agent of an earlier slotd died with its namespace";
	if (!proc_is_own())
		return "/proc is not this PID namespace's: it cannot tell which process a pid is";
	return NULL;
}

int pidrecord_new_token(char *token, size_t len)
{
	unsigned char raw[PIDRECORD_TOKEN_LEN / 2];
	size_t i;

	token[0] = '\0';
	if (len < PIDRECORD_TOKEN_LEN + 1 || pidrecord_unusable() ||
	    getrandom(raw, sizeof raw, GRND_NONBLOCK) != (ssize_t)sizeof raw)
		return -1;
	for (i = 0; i < sizeof raw; i++)
		snprintf(token + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

static int pidrecord_run_dir(const struct layout *l, struct error *err)
{
	int fd = openat(l->root_fd, "run", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return error_errno(err, "%s/run", l->root);
	return fd;
}

int pidrecord_save(const struct layout *l, pid_t pid, const char *token, struct error *err)
{
	struct proc_stat ps;
	char boot[64], text[PIDRECORD_MAX];
	int dir, n, rc;

	if (!token[0]) {	/* nothing could prove the record: keep none */
		pidrecord_remove(l);
		return 0;
	}
	if (proc_stat_read(pid, &ps) < 0)
		return error_errno(err, "/proc/%d/stat", (int)pid);
	pidrecord_boot_id(boot, sizeof boot);
	n = snprintf(text, sizeof text, "%d %llu %s %s\n", (int)pid, ps.start_time, boot, token);
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

	if (dir < 0)
		return;	/* no run/ yet: no record either */
	if (unlinkat(dir, PIDRECORD_NAME, 0) < 0 && errno != ENOENT)
		log_warn("%s/run/%s: %s", l->root, PIDRECORD_NAME, strerror(errno));
	close(dir);
}

static int pidrecord_parse(char *text, struct pidrecord *r, struct error *err)
{
	char *save = NULL, *pid = strtok_r(text, " \n", &save), *start = strtok_r(NULL, " \n", &save),
	     *boot = strtok_r(NULL, " \n", &save), *token = strtok_r(NULL, " \n", &save);
	unsigned long long value;

	if (!pid || !start || !boot || !token || strtok_r(NULL, " \n", &save))
		return error_set(err, "not \"PID STARTTIME BOOT_ID TOKEN\"");
	if (number_parse(pid, INT_MAX, &value) < 0 || value < 2)
		return error_set(err, "bad pid");
	r->pid = (pid_t)value;
	if (number_parse(start, ULLONG_MAX, &r->start_time) < 0)
		return error_set(err, "bad start time");
	if (strlen(boot) >= sizeof r->boot_id || strspn(boot, "0123456789abcdef-") != strlen(boot))
		return error_set(err, "bad boot id");
	if (strlen(token) != PIDRECORD_TOKEN_LEN ||
	    strspn(token, "0123456789abcdef") != PIDRECORD_TOKEN_LEN)
		return error_set(err, "bad token");
	strcpy(r->boot_id, boot);
	strcpy(r->token, token);
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

/* The pid a pidfd names, from its fdinfo ("Pid:"): -1 once the process has
 * exited, 0 on a kernel that does not say. */
static pid_t pidrecord_pidfd_pid(int pidfd)
{
	char path[64], text[512], *at;
	long value;

	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", pidfd);
	if (pidrecord_read_small(path, text, sizeof text) <= 0 || !(at = strstr(text, "\nPid:")))
		return 0;
	value = strtol(at + 5, NULL, 10);
	return value > 0 && value <= INT_MAX ? (pid_t)value : -1;
}

/* Its environment starts with our token: agent.c put it there. */
static int pidrecord_has_token(pid_t pid, const char *token)
{
	char path[64], want[sizeof PIDRECORD_TOKEN_VAR + PIDRECORD_TOKEN_LEN + 2], got[sizeof want];
	int n = snprintf(want, sizeof want, "%s=%s", PIDRECORD_TOKEN_VAR, token);

	snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
	/* n + 2 bytes read: the variable and its NUL, nothing from the next one */
	return pidrecord_read_small(path, got, (size_t)n + 2) == n + 1 && !memcmp(got, want, (size_t)n + 1);
}

/* The process runs: same start time and not a zombie. */
static int pidrecord_running(pid_t pid, unsigned long long start_time)
{
	struct proc_stat ps;

	return proc_stat_read(pid, &ps) == 0 && ps.start_time == start_time &&
	       ps.state != 'Z' && ps.state != 'X';
}

/* 1 when r names a running process of ours, held by *pidfd (-1 where the
 * kernel has no pidfds); 0 when it is gone or not provably ours. */
static int pidrecord_prove(const struct layout *l, const struct pidrecord *r, int *pidfd)
{
	pid_t held;

	/* Held first, checked second: the pidfd then surely names the checked process. */
	*pidfd = (int)syscall(SYS_pidfd_open, r->pid, 0);
	if (*pidfd < 0 && errno != ENOSYS)
		return 0;	/* no such process */
	held = *pidfd >= 0 ? pidrecord_pidfd_pid(*pidfd) : 0;
	if (held < 0 || (held > 0 && held != r->pid) || !pidrecord_running(r->pid, r->start_time))
		goto not_ours;
	if (pidrecord_has_token(r->pid, r->token))
		return 1;
	log_warn("%s/run/%s: pid %d is not an agent slotd started (no token in its "
		 "environment): not signalled", l->root, PIDRECORD_NAME, (int)r->pid);
not_ours:
	if (*pidfd >= 0)
		close(*pidfd);
	*pidfd = -1;
	return 0;
}

int pidrecord_claim(const struct layout *l, struct pidrecord_proc *p)
{
	const char *why = pidrecord_unusable();
	struct pidrecord r;
	char boot[64];

	*p = (struct pidrecord_proc){ .pidfd = -1 };
	if (why)	/* said once, at start: claim runs then */
		log_info("run/%s not kept: %s", PIDRECORD_NAME, why);
	if (!pidrecord_load(l, &r))
		goto discard;
	if (why) {
		log_warn("%s/run/%s: ignored: %s", l->root, PIDRECORD_NAME, why);
		goto discard;
	}
	pidrecord_boot_id(boot, sizeof boot);
	if (strcmp(boot, r.boot_id) || !pidrecord_prove(l, &r, &p->pidfd))
		goto discard;	/* from before a reboot, gone, or not ours */
	p->pid = r.pid;
	p->start_time = r.start_time;
	return 1;
discard:
	pidrecord_remove(l);
	return 0;
}

/* A pidfd is readable once its process has exited. */
int pidrecord_alive(const struct pidrecord_proc *p)
{
	struct pollfd pfd = { .fd = p->pidfd, .events = POLLIN };

	if (p->pidfd >= 0)
		return poll(&pfd, 1, 0) == 0;
	return pidrecord_running(p->pid, p->start_time);
}
