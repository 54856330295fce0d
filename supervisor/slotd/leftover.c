/* leftover.c: an agent that outlived a killed slotd (it cleared its
 * pdeathsig, or runs setuid), stopped before this slotd launches its own.
 *
 * At start, once the slots are reconciled: the process pidrecord.c proves to
 * be ours gets SIGTERM, stop_timeout later SIGKILL (its session too, as
 * agent_kill does), and a second to go.  What survives even that (a process
 * in uninterruptible sleep: a hung disk or NFS server) is never a reason to
 * stay down: SIGKILL is sent again with back-off (1 s doubling to 30 s), the
 * launch waits for it at most restart_backoff_max (the longest slotd waits
 * before restarting a crashing agent anyway), then goes ahead beside it; the
 * event loop watches its pidfd to say when it is finally gone, and `slotctl
 * status` shows it meanwhile.  Only a process pidrecord.c proved to be ours
 * is ever signalled. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "slotd.h"

#define LEFTOVER_KILL_WAIT_MS 1000	/* for the kernel to finish a SIGKILL */
#define LEFTOVER_BACKOFF_FIRST_MS 1000
#define LEFTOVER_BACKOFF_MAX_MS 30000
#define LEFTOVER_POLL_MS 20		/* without pidfd only */

static void leftover_signal(const struct leftover *left, int signo)
{
#ifdef SLOTS_TEST_BUILD
	/* Tests stand in for a process in uninterruptible sleep with this. */
	if (getenv("SLOTD_TEST_UNKILLABLE_LEFTOVER"))
		return;
#endif
	if (signo == SIGKILL)
		kill(-left->proc.pid, SIGKILL);	/* its session: setsid made sid = pid */
	if (left->proc.pidfd >= 0)
		syscall(SYS_pidfd_send_signal, left->proc.pidfd, signo, NULL, 0);
	else
		kill(left->proc.pid, signo);
}

/* 0 once the process has exited, -1 after ms. */
static int leftover_wait_gone(const struct leftover *left, unsigned ms)
{
	struct timespec tick = { 0, LEFTOVER_POLL_MS * 1000000L };
	struct pollfd p = { .fd = left->proc.pidfd, .events = POLLIN };
	int64_t end = clock_now() + ms, wait;

	while ((wait = end - clock_now()) > 0) {
		if (!pidrecord_alive(&left->proc))
			return 0;
		if (left->proc.pidfd >= 0)	/* readable once it has exited */
			poll(&p, 1, (int)wait);
		else
			nanosleep(&tick, NULL);
	}
	return pidrecord_alive(&left->proc) ? -1 : 0;
}

static void leftover_forget(struct leftover *left)
{
	if (left->proc.pidfd >= 0)
		close(left->proc.pidfd);
	*left = (struct leftover){ .proc = { .pidfd = -1 }, .next_kill = NEVER,
				   .hold_until = NEVER };
}

int leftover_stop(struct leftover *left, const struct layout *l, unsigned stop_timeout_ms,
		  unsigned hold_ms)
{
	int64_t now;

	*left = (struct leftover){ .proc = { .pidfd = -1 }, .next_kill = NEVER, .hold_until = NEVER };
	if (!pidrecord_claim(l, &left->proc))
		return 0;
	log_warn("agent pid %d of a previous slotd is still running: stopping it", (int)left->proc.pid);
	leftover_signal(left, SIGTERM);
	if (leftover_wait_gone(left, stop_timeout_ms) == 0)
		goto gone;
	log_warn("agent pid %d ignored SIGTERM for %u ms: SIGKILL", (int)left->proc.pid,
		 stop_timeout_ms);
	leftover_signal(left, SIGKILL);
	if (leftover_wait_gone(left, LEFTOVER_KILL_WAIT_MS) == 0)
		goto gone;
	now = clock_now();
	left->kills = 1;
	left->next_kill = now + LEFTOVER_BACKOFF_FIRST_MS;
	left->hold_until = now + hold_ms;
	log_error("agent pid %d of a previous slotd survived SIGKILL for %d ms: retrying with "
		  "back-off; the agent starts when it is gone, or in %u ms beside it",
		  (int)left->proc.pid, LEFTOVER_KILL_WAIT_MS, hold_ms);
	return 1;
gone:
	leftover_forget(left);
	pidrecord_remove(l);
	return 0;
}

int leftover_holds(const struct leftover *left)
{
	return left->proc.pid > 0 && left->hold_until != NEVER;
}

int64_t leftover_deadline(const struct leftover *left)
{
	if (left->proc.pid <= 0)
		return NEVER;
	return left->hold_until < left->next_kill ? left->hold_until : left->next_kill;
}

int leftover_check(struct leftover *left, const struct layout *l, int64_t now)
{
	int64_t backoff;
	int held = leftover_holds(left);

	if (left->proc.pid <= 0)
		return 0;
	if (!pidrecord_alive(&left->proc)) {
		log_info("agent pid %d of a previous slotd is gone", (int)left->proc.pid);
		leftover_forget(left);
		if (held)	/* else the record names our own agent now */
			pidrecord_remove(l);
		return held;
	}
	if (now >= left->next_kill) {
		leftover_signal(left, SIGKILL);
		left->kills++;
		backoff = (int64_t)LEFTOVER_BACKOFF_FIRST_MS << (left->kills < 6 ? left->kills : 6);
		left->next_kill = now + (backoff < LEFTOVER_BACKOFF_MAX_MS ? backoff :
					 LEFTOVER_BACKOFF_MAX_MS);
	}
	if (held && now >= left->hold_until) {
		log_warn("agent pid %d of a previous slotd still survives SIGKILL: starting the "
			 "agent beside it", (int)left->proc.pid);
		left->hold_until = NEVER;
		return 1;
	}
	return 0;
}

void leftover_describe(const struct leftover *left, int64_t now, char *buf, size_t len)
{
	int n;

	buf[0] = '\0';
	if (left->proc.pid <= 0)
		return;
	n = snprintf(buf, len, "pid %d of a previous slotd survived %u SIGKILLs, next in %lld ms",
		     (int)left->proc.pid, left->kills, (long long)(left->next_kill - now));
	if (leftover_holds(left) && n > 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, "; the agent starts in %lld ms at the latest",
			 (long long)(left->hold_until - now));
}
