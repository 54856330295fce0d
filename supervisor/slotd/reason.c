/* reason.c: a trial's verdict in words, for people: the log, the reply to
 * `activate`, and the reason a bad slot keeps on disk (slotctl shows it).
 * Pure: the machine's reason and value in, text out; control.c and trial.c
 * both say verdicts, and neither should need the other for it. */
#include <stdio.h>
#include <sys/wait.h>

#include "slotd.h"

static void reason_status_words(int status, char *buf, size_t len)
{
	if (status < 0)
		snprintf(buf, len, "could not be started");
	else if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	else
		snprintf(buf, len, "killed by signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

void reason_text(enum machine_reason why, int value, char *buf, size_t len)
{
	static const char *const passes[] = { "up for min_uptime", "ready, and up for min_uptime",
					      "health check passed", "marked good by admin" };
	char status[64];

	switch (why) {
	case MV_GOOD:
		snprintf(buf, len, "%s", value >= 0 && value <= MP_ADMIN ? passes[value] : "passed");
		break;
	case MV_NOT_READY:
		snprintf(buf, len, "agent not ready (no READY=1) within %d ms", value);
		break;
	case MV_EXITED:
		reason_status_words(value, status, sizeof status);
		snprintf(buf, len, "agent %s during its trial", status);
		break;
	case MV_CHECK_FAILED:
		reason_status_words(value, status, sizeof status);
		snprintf(buf, len, "health check %s", status);
		break;
	case MV_CHECK_TIMEOUT:
		snprintf(buf, len, "health check took longer than %d ms", value);
		break;
	case MV_ROLLED_BACK:
		snprintf(buf, len, "rolled back by admin");
		break;
	case MV_NOT_LAUNCHED:
		snprintf(buf, len, "the new slot was not launched");
		break;
	default:
		snprintf(buf, len, "trial ended");
	}
}
