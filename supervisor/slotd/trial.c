/* trial.c: what main.c does for the state machine's trial actions.
 *
 * The startup health check of a slot on trial (machine.h decides when):
 *   notify  READY=1 from the agent's process tree within startup_timeout
 *   exec    health_exec, run once the agent has been up for min_uptime,
 *           exits 0 within health_timeout (argv split on blanks, no shell)
 *   uptime  nothing but staying up for min_uptime
 * Here: the check process, the words of a verdict, the revert (slot bad,
 * `current` back) and the answer to the activation waiting for the verdict.
 * slotd itself dying during a trial is covered by the on-disk attempt
 * counter (slots.h). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "slotd.h"

/* health=exec: the configured check, relative to the slot, no shell. */
int trial_start_check(struct supervisor *s)
{
	char storage[CONFIG_STRING_MAX], slot_path[PATH_MAX];
	char *argv[CONFIG_ARGV_MAX];
	struct error err = { "" };
	sigset_t none;
	pid_t pid;

	if (config_split_words(s->config->agent.health_exec, argv, storage, sizeof storage,
			       &err) < 0) {
		log_error("health_exec is not a command line: %s", err.text);
		return -1;
	}
	layout_slot_path(&s->slots.layout, s->slot, slot_path, sizeof slot_path);
	pid = fork();
	if (pid < 0) {
		log_error("cannot fork the health check: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);	/* a check outliving slotd is useless */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (chdir(slot_path) < 0)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	s->check_pid = pid;
	return 0;
}

/* Its exit is reaped by the SIGCHLD loop and ignored. */
void trial_kill_check(struct supervisor *s)
{
	if (s->check_pid > 0)
		kill(s->check_pid, SIGKILL);
	s->check_pid = -1;
}

static void trial_status_words(int status, char *buf, size_t len)
{
	if (status < 0)
		snprintf(buf, len, "could not be started");
	else if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	else
		snprintf(buf, len, "killed by signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

void trial_reason(enum machine_reason why, int value, char *buf, size_t len)
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
		trial_status_words(value, status, sizeof status);
		snprintf(buf, len, "agent %s during its trial", status);
		break;
	case MV_CHECK_FAILED:
		trial_status_words(value, status, sizeof status);
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

void trial_revert(struct supervisor *s, enum machine_reason why, int value)
{
	struct error err = { "" };
	char reason[200];

	trial_reason(why, value, reason, sizeof reason);
	log_error("slot %s failed its trial: %s; reverting", layout_slot_name(s->slot), reason);
	if (slots_revert(&s->slots, reason, &err) < 0)
		log_error("revert: %s", err.text);
}

/* The activation's one answer (control.h): ok good, error health|busy|refused. */
void trial_verdict(struct supervisor *s, enum machine_reason why, int value)
{
	char reason[200];

	if (s->activate_fd < 0)
		return;
	trial_reason(why, value, reason, sizeof reason);
	if (why == MV_GOOD) {
		control_send_reply(s->activate_fd, CONTROL_OK, "good %s",
				   s->slots.state.slot[s->slot].version);
	} else if (why == MV_COMMIT_FAILED) {
		control_send_reply(s->activate_fd, CONTROL_REFUSED, "commit failed");
	} else if (why == MV_REFUSED) {
		control_send_reply(s->activate_fd, CONTROL_REFUSED, "%s", s->refusal);
	} else if (why == MV_STOPPING) {
		control_send_reply(s->activate_fd, CONTROL_BUSY, "slotd is stopping");
	} else {
		control_send_reply(s->activate_fd, CONTROL_HEALTH, "%s", reason);
	}
	close(s->activate_fd);
	s->activate_fd = -1;
	if (s->inhibit_held)
		control_release_inhibitor(s);
}
