/* agent.c: the agent process for main.c: launch (fork, exec, record),
 * signals, reaping.  When to do which is the state machine's business. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "slot_exec.h"
#include "slotd.h"

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

/* The environment with PIDRECORD_TOKEN_VAR=token first (pidrecord.c reads
 * only that far of /proc/PID/environ); NULL when out of memory.  In the
 * child only: what it allocates goes with the exec. */
static char **agent_environment(const char *token)
{
	static const char var[] = PIDRECORD_TOKEN_VAR "=";
	size_t n = 0, i;
	char **env, *first;

	while (environ[n])
		n++;
	env = calloc(n + 2, sizeof *env);
	first = malloc(sizeof var + PIDRECORD_TOKEN_LEN);
	if (!env || !first)
		return NULL;
	snprintf(first, sizeof var + PIDRECORD_TOKEN_LEN, "%s%s", var, token);
	env[0] = first;
	for (i = 0; i < n; i++)
		env[i + 1] = environ[i];
	return env;
}

/* The slot's own command (include/slot_exec.h), else [agent] exec, into
 * command[CONFIG_STRING_MAX].  In the child; -1 after saying why. */
static int agent_command(const struct supervisor *s, const char *slot_path, char *command)
{
	struct error err = { "" };
	int fd = open(slot_path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), rc;

	if (fd < 0) {
		fprintf(stderr, "slotd: %s: %s\n", slot_path, strerror(errno));
		return -1;
	}
	rc = slot_exec_read(fd, command, CONFIG_STRING_MAX, &err);
	close(fd);
	if (rc < 0) {
		fprintf(stderr, "slotd: %s/%s\n", slot_path, err.text);
		return -1;
	}
	if (rc == 0)
		snprintf(command, CONFIG_STRING_MAX, "%s", s->config->agent.exec);
	return 0;
}

/* In the child: the slot is the cwd, argv[0] is relative to it, and the
 * environment says which slot and version run, and carries the launch's
 * token when run/agent.pid records it.  Never returns. */
static void agent_exec(const struct supervisor *s, const char *slot_path, pid_t parent,
		       const char *token)
{
	const struct slot_info *info = &s->slots.state.slot[s->slot];
	char storage[CONFIG_STRING_MAX], program[PATH_MAX + CONFIG_STRING_MAX], notify[PATH_MAX];
	char command[CONFIG_STRING_MAX];
	char *argv[CONFIG_ARGV_MAX], **env;
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
	if (agent_command(s, slot_path, command) < 0)
		_exit(127);
	if (config_split_words(command, argv, storage, sizeof storage, &err) < 0) {
		fprintf(stderr, "slotd: the agent's command: %s\n", err.text);
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
	unsetenv(PIDRECORD_TOKEN_VAR);	/* one inherited by slotd is not this launch's */
	env = token[0] ? agent_environment(token) : environ;	/* after setenv moved it */
	if (!env) {
		fprintf(stderr, "slotd: the agent's environment: out of memory\n");
		_exit(127);
	}
	if (chdir(slot_path) < 0) {
		fprintf(stderr, "slotd: %s: %s\n", slot_path, strerror(errno));
		_exit(127);
	}
	execve(argv[0], argv, env);
	fprintf(stderr, "slotd: exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* Prepares `current` (a trial's attempt counted on disk first), forks and
 * execs the agent, records it in run/agent.pid. */
enum machine_launch agent_launch(struct supervisor *s)
{
	struct error err = { "" };
	char slot_path[PATH_MAX], token[PIDRECORD_TOKEN_LEN + 1];
	pid_t pid, self = getpid();
	int slot;

	if (slots_prepare_launch(&s->slots, &slot, &err) < 0) {
		log_error("cannot prepare the launch: %s", err.text);
		return ML_NONE;
	}
	if (slot == SLOT_NONE) {
		log_warn("no good or trial slot: waiting for an activation");
		return ML_NONE;
	}
	s->slot = slot;
	layout_slot_path(&s->slots.layout, slot, slot_path, sizeof slot_path);
	pidrecord_new_token(token, sizeof token);	/* "": no record can be kept here */
	pid = fork();
	if (pid < 0) {
		log_error("fork: %s", strerror(errno));
		return ML_FAILED;
	}
	if (pid == 0)
		agent_exec(s, slot_path, self, token);
	/* An agent without a record would run twice after a SIGKILL of slotd. */
	if (pidrecord_save(&s->slots.layout, pid, token, &err) < 0)
		log_error("agent pid %d not recorded: %s", (int)pid, err.text);
	s->pid = pid;
	s->status_text[0] = '\0';
	log_info("agent started: pid %d, slot %s, version %s%s", (int)pid, layout_slot_name(slot),
		 s->slots.state.slot[slot].version,
		 s->slots.state.slot[slot].status == SLOT_TRIAL ? " (trial)" : "");
	if (s->slots.state.slot[slot].status != SLOT_TRIAL)
		return ML_GOOD;
	log_info("trial of slot %s (attempt %u of %u)", layout_slot_name(slot),
		 s->slots.state.slot[slot].attempts, s->config->agent.max_attempts);
	return ML_TRIAL;
}

void agent_signal(struct supervisor *s, int signo)
{
	if (s->pid <= 0)
		return;
	if (signo == SIGTERM)
		log_info("stopping agent pid %d", (int)s->pid);
	kill(s->pid, signo);
}

void agent_kill(struct supervisor *s)
{
	if (s->pid <= 0)
		return;
	log_warn("agent pid %d ignored SIGTERM for %u ms: SIGKILL", (int)s->pid,
		 s->config->agent.stop_timeout_ms);
	kill(-s->pid, SIGKILL);	/* its whole session: setsid made pgid = pid */
	kill(s->pid, SIGKILL);
}

void agent_reaped(struct supervisor *s, int status)
{
	char how[96];

	agent_describe_status(status, how, sizeof how);
	log_info("agent pid %d %s after %lld ms", (int)s->pid, how,
		 (long long)(clock_now() - s->machine.started));
	pidrecord_remove(&s->slots.layout);
	s->pid = -1;
}
