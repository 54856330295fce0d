/* agent.c: the agent process: launch, stop, exit, restart with backoff. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "slotd.h"

#define BACKOFF_FIRST_MS 100

static void agent_describe_status(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "stopped with wait status %#x", status);
}

/* In the child: the slot is the cwd, argv[0] is relative to it, and the
 * environment says which slot and version run.  Never returns. */
static void agent_exec(const struct supervisor *s, const char *slot_path, pid_t parent)
{
	const struct slot_info *info = &s->slots.state.slot[s->slot];
	char storage[CONFIG_STRING_MAX], program[PATH_MAX + CONFIG_STRING_MAX], notify[PATH_MAX];
	char *argv[CONFIG_ARGV_MAX];
	struct error err = { "" };
	sigset_t none;

	/* slotd killed: the agent gets SIGTERM rather than run unsupervised.
	 * If slotd died before this line the parent is already someone else. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent) {
		fprintf(stderr, "slotd: gone before the agent started: not starting it\n");
		_exit(127);
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setsid();	/* its own session: a terminal's signals reach it through us */
	if (config_split_words(s->config->agent.exec, argv, storage, sizeof storage, &err) < 0) {
		fprintf(stderr, "slotd: [agent] exec: %s\n", err.text);
		_exit(127);
	}
	if (argv[0][0] != '/') {
		snprintf(program, sizeof program, "%s/%s", slot_path, argv[0]);
		argv[0] = program;
	}
	layout_path(&s->slots.layout, "run/notify.sock", notify, sizeof notify);
	setenv("SLOTD_SLOT", layout_slot_name(s->slot), 1);
	setenv("SLOTD_VERSION", info->version, 1);
	setenv("NOTIFY_SOCKET", notify, 1);
	if (chdir(slot_path) < 0) {
		fprintf(stderr, "slotd: %s: %s\n", slot_path, strerror(errno));
		_exit(127);
	}
	execv(argv[0], argv);
	fprintf(stderr, "slotd: exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

void agent_launch(struct supervisor *s)
{
	struct error err = { "" };
	char slot_path[PATH_MAX];
	pid_t pid, self = getpid();
	int slot;

	s->restart_at = NEVER;
	if (s->shutting_down)
		return;
	if (slots_prepare_launch(&s->slots, &slot, &err) < 0) {
		log_error("cannot prepare the launch: %s", err.text);
		s->state = AGENT_IDLE;
		return;
	}
	if (slot == SLOT_NONE) {
		log_warn("no good or trial slot: waiting for an activation");
		s->state = AGENT_IDLE;
		return;
	}
	s->slot = slot;
	layout_slot_path(&s->slots.layout, slot, slot_path, sizeof slot_path);
	pid = fork();
	if (pid < 0) {
		log_error("fork: %s", strerror(errno));
		s->state = AGENT_BACKOFF;
		s->restart_at = supervisor_now() + 1000;
		return;
	}
	if (pid == 0)
		agent_exec(s, slot_path, self);
	/* An agent without a record would run twice after a SIGKILL of slotd. */
	if (pidrecord_save(&s->slots.layout, pid, &err) < 0)
		log_error("agent pid %d not recorded: %s", (int)pid, err.text);
	s->pid = pid;
	s->state = AGENT_RUNNING;
	s->started = supervisor_now();
	s->status_text[0] = '\0';
	s->healthy = 0;
	log_info("agent started: pid %d, slot %s, version %s%s", (int)pid, layout_slot_name(slot),
		 s->slots.state.slot[slot].version,
		 s->slots.state.slot[slot].status == SLOT_TRIAL ? " (trial)" : "");
	if (s->slots.state.slot[slot].status == SLOT_TRIAL)
		trial_begin(s);
	else
		s->healthy = 1;
	if (s->inhibit_held)
		control_release_inhibitor(s);
}

void agent_stop(struct supervisor *s, enum after_stop then)
{
	if (then > s->after_stop)
		s->after_stop = then;
	if (s->state == AGENT_RUNNING) {
		/* No verdict can come from an agent being stopped; a relaunch
		 * of a trial slot begins a new attempt. */
		if (s->trial)
			trial_end(s);
		log_info("stopping agent pid %d", (int)s->pid);
		kill(s->pid, SIGTERM);
		s->state = AGENT_STOPPING;
		s->stop_deadline = supervisor_now() + s->config->agent.stop_timeout_ms;
		return;
	}
	if (s->state == AGENT_STOPPING)
		return;
	/* Nothing runs: act now. */
	s->restart_at = NEVER;
	s->state = AGENT_IDLE;
	then = s->after_stop;
	s->after_stop = AFTER_NOTHING;
	if (then == AFTER_LAUNCH)
		agent_launch(s);
}

void agent_forward_signal(struct supervisor *s, int signo)
{
	if ((s->state == AGENT_RUNNING || s->state == AGENT_STOPPING) && s->pid > 0)
		kill(s->pid, signo);
}

/* Exponential backoff for a crashing good agent, reset by a long enough run. */
static void agent_schedule_restart(struct supervisor *s, int64_t uptime)
{
	unsigned long long delay = BACKOFF_FIRST_MS;
	unsigned i;

	if (uptime >= (int64_t)s->config->agent.min_uptime_ms)
		s->restarts = 0;
	for (i = 0; i < s->restarts && delay < s->config->agent.restart_backoff_max_ms; i++)
		delay *= 2;
	if (delay > s->config->agent.restart_backoff_max_ms)
		delay = s->config->agent.restart_backoff_max_ms;
	s->restarts++;
	s->state = AGENT_BACKOFF;
	s->restart_at = supervisor_now() + (int64_t)delay;
	log_info("restarting the agent in %llu ms", delay);
}

void agent_exited(struct supervisor *s, int status)
{
	enum after_stop then = s->after_stop;
	int64_t uptime = supervisor_now() - s->started;
	char how[96];

	agent_describe_status(status, how, sizeof how);
	log_info("agent pid %d %s after %lld ms", (int)s->pid, how, (long long)uptime);
	pidrecord_remove(&s->slots.layout);
	s->pid = -1;
	s->exit_status = status;
	s->stop_deadline = NEVER;
	s->healthy = 0;
	s->state = AGENT_IDLE;
	s->after_stop = AFTER_NOTHING;
	if (then == AFTER_EXIT) {
		s->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		return;
	}
	if (then == AFTER_LAUNCH) {
		agent_launch(s);
		return;
	}
	if (s->trial) {
		trial_agent_exited(s, status);	/* reverts and relaunches */
		return;
	}
	agent_schedule_restart(s, uptime);
}

void agent_deadlines(struct supervisor *s, int64_t now)
{
	if (s->state == AGENT_STOPPING && now >= s->stop_deadline) {
		log_warn("agent pid %d ignored SIGTERM for %u ms: SIGKILL", (int)s->pid,
			 s->config->agent.stop_timeout_ms);
		kill(-s->pid, SIGKILL);	/* its whole session: setsid made pgid = pid */
		kill(s->pid, SIGKILL);
		s->stop_deadline = NEVER;
	}
	if (s->state == AGENT_BACKOFF && now >= s->restart_at)
		agent_launch(s);
}
