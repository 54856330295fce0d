/* trial.c: the startup health check of a slot on trial, and its verdict.
 *
 * Pass = the check passed AND the agent stayed up for min_uptime:
 *   notify  READY=1 from the agent's process tree within startup_timeout
 *   exec    health_exec, run once the agent has been up for min_uptime,
 *           exits 0 within health_timeout (argv split on blanks, no shell)
 *   uptime  nothing but staying up for min_uptime
 * Fail = startup_timeout without READY=1, the agent exiting during the trial,
 * the check failing or timing out.  A failure marks the slot bad, flips back
 * (slots_revert) and relaunches the previous slot; slotd itself dying during
 * a trial is covered by the on-disk attempt counter (slots.h). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "slotd.h"

/* Every way out of a trial comes here (pass, fail, the agent stopped by a
 * command or a signal): a deadline left armed would make the timerfd fire
 * again and again once it passed, with nothing to clear it. */
void trial_end(struct supervisor *s)
{
	s->trial = 0;
	s->ready_deadline = NEVER;
	s->pass_at = NEVER;
	s->check_deadline = NEVER;
	if (s->check_pid > 0)
		kill(s->check_pid, SIGKILL);	/* reaped by the SIGCHLD loop */
	s->check_pid = -1;
}

void activation_finish(struct supervisor *s, const char *reply)
{
	if (s->activate_fd < 0)
		return;
	supervisor_reply(s->activate_fd, "%s", reply);
	close(s->activate_fd);
	s->activate_fd = -1;
}

void trial_begin(struct supervisor *s)
{
	const struct config *c = s->config;
	int64_t now = supervisor_now();

	s->trial = 1;
	s->ready = c->agent.health != HEALTH_NOTIFY;
	s->ready_deadline = s->ready ? NEVER : now + c->agent.startup_timeout_ms;
	s->pass_at = now + c->agent.min_uptime_ms;
	s->check_pid = -1;
	s->check_deadline = NEVER;
	log_info("trial of slot %s (attempt %u of %u)", layout_slot_name(s->slot),
		 s->slots.state.slot[s->slot].attempts, c->agent.max_attempts);
}

void trial_ready(struct supervisor *s)
{
	if (!s->trial || s->ready)
		return;
	s->ready = 1;
	s->ready_deadline = NEVER;
	log_info("agent is ready after %lld ms", (long long)(supervisor_now() - s->started));
	if (s->pass_at == NEVER)	/* min_uptime already behind us */
		trial_pass(s, "ready, and up for min_uptime");
}

void trial_pass(struct supervisor *s, const char *how)
{
	struct error err = { "" };
	char reply[160];

	trial_end(s);
	if (slots_commit(&s->slots, &err) < 0) {
		log_error("commit: %s", err.text);
		activation_finish(s, "error refused commit failed");
		return;
	}
	s->healthy = 1;
	log_info("slot %s is good (%s)", layout_slot_name(s->slot), how);
	snprintf(reply, sizeof reply, "ok good %s", s->slots.state.slot[s->slot].version);
	activation_finish(s, reply);
}

void trial_fail(struct supervisor *s, const char *reason)
{
	struct error err = { "" };
	char reply[400];

	trial_end(s);
	log_error("slot %s failed its trial: %s; reverting", layout_slot_name(s->slot), reason);
	if (slots_revert(&s->slots, reason, &err) < 0)
		log_error("revert: %s", err.text);
	snprintf(reply, sizeof reply, "error health %s", reason);
	activation_finish(s, reply);
	agent_stop(s, AFTER_LAUNCH);
}

void trial_agent_exited(struct supervisor *s, int status)
{
	char reason[160];

	if (WIFEXITED(status))
		snprintf(reason, sizeof reason, "agent exited with status %d during its trial",
			 WEXITSTATUS(status));
	else
		snprintf(reason, sizeof reason, "agent killed by signal %d during its trial",
			 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	trial_fail(s, reason);
}

/* health=exec: the configured check, relative to the slot, no shell. */
static void trial_start_check(struct supervisor *s)
{
	char storage[CONFIG_STRING_MAX], slot_path[PATH_MAX];
	char *argv[CONFIG_ARGV_MAX];
	struct error err = { "" };
	sigset_t none;
	pid_t pid;

	if (config_split_words(s->config->agent.health_exec, argv, storage, sizeof storage,
			       &err) < 0) {
		trial_fail(s, "health_exec is not a command line");
		return;
	}
	layout_slot_path(&s->slots.layout, s->slot, slot_path, sizeof slot_path);
	pid = fork();
	if (pid < 0) {
		trial_fail(s, "cannot fork the health check");
		return;
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
	s->check_deadline = supervisor_now() + s->config->agent.health_timeout_ms;
	s->pass_at = NEVER;
}

void trial_check_exited(struct supervisor *s, int status)
{
	char reason[160];

	s->check_pid = -1;
	s->check_deadline = NEVER;
	if (!s->trial)
		return;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		trial_pass(s, "health check passed");
		return;
	}
	snprintf(reason, sizeof reason, "health check %s %d",
		 WIFEXITED(status) ? "exited with status" : "killed by signal",
		 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	trial_fail(s, reason);
}

void trial_deadlines(struct supervisor *s, int64_t now)
{
	char reason[160];

	if (!s->trial || s->state != AGENT_RUNNING)
		return;
	if (!s->ready && now >= s->ready_deadline) {
		snprintf(reason, sizeof reason, "agent not ready (no READY=1) within %u ms",
			 s->config->agent.startup_timeout_ms);
		trial_fail(s, reason);
		return;
	}
	if (s->check_pid > 0 && now >= s->check_deadline) {
		kill(s->check_pid, SIGKILL);
		s->check_pid = -1;
		snprintf(reason, sizeof reason, "health check took longer than %u ms",
			 s->config->agent.health_timeout_ms);
		trial_fail(s, reason);
		return;
	}
	if (now < s->pass_at)
		return;
	if (s->config->agent.health == HEALTH_EXEC)
		trial_start_check(s);
	else if (s->ready)
		trial_pass(s, "up for min_uptime");
	else
		s->pass_at = NEVER;	/* READY=1 still outstanding: its deadline decides */
}
