/* trial.c: what main.c does for the state machine's trial actions.
 *
 * The startup health check of a slot on trial (machine.h decides when):
 *   notify  READY=1 from the agent's process tree within startup_timeout
 *   exec    health_exec, run once the agent has been up for min_uptime,
 *           exits 0 within health_timeout (argv split on blanks, no shell)
 *   http    the same with slotd-httpcheck (supervisor/httpcheck/) asking
 *           health_url for a 2xx: network code runs in that child, never in
 *           slotd (PID 1); what it saw is the reason of a failure
 *   uptime  nothing but staying up for min_uptime
 * Here: the check process, the words of a verdict, the revert (slot bad,
 * `current` back) and the answer to the activation waiting for the verdict.
 * slotd itself dying during a trial is covered by the on-disk attempt
 * counter (slots.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "slotd.h"
#include "text.h"

/* health=http: [agent] health_http_helper, or the slotd-httpcheck installed
 * with this slotd (<its directory>/../lib/slotd/, the same in the build
 * tree).  Resolved and checked once, at startup: a missing helper stops
 * slotd with a clear error instead of failing every trial. */
int trial_http_helper(struct supervisor *s, struct error *err)
{
	const char *configured = s->config->agent.health_http_helper;
	char self[PATH_MAX], *slash;
	ssize_t n;

	if (configured[0]) {
		snprintf(s->http_helper, sizeof s->http_helper, "%s", configured);
	} else {
		n = readlink("/proc/self/exe", self, sizeof self - 1);
		if (n < 0)
			return error_errno(err, "cannot find slotd-httpcheck through /proc/self/exe "
					   "(set [agent] health_http_helper)");
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash)
			*slash = '\0';
		if (snprintf(s->http_helper, sizeof s->http_helper, "%s/../lib/slotd/slotd-httpcheck",
			     self) >= (int)sizeof s->http_helper)
			return error_set(err, "%s: path too long", self);
	}
	if (s->http_helper[0] != '/')
		return error_set(err, "%s: [agent] health_http_helper: must be an absolute path",
				 s->config->path);
	if (access(s->http_helper, X_OK) < 0)
		return error_errno(err, "%s: health = http needs its helper %s", s->config->path,
				   s->http_helper);
	return 0;
}

/* The check's command line: health_exec split on blanks, or the http helper
 * with the URL.  The helper gives up a quarter (at most 2 s) before
 * health_timeout, so its own account of the failure is what gets recorded
 * (the margin covers its startup on a loaded machine); the machine still
 * kills it at health_timeout whatever happens. */
static int trial_check_argv(struct supervisor *s, char **argv, char *storage, size_t len,
			    struct error *err)
{
	unsigned timeout = s->config->agent.health_timeout_ms, margin = timeout / 4;

	if (s->config->agent.health != HEALTH_HTTP)
		return config_split_words(s->config->agent.health_exec, argv, storage, len, err);
	if (margin > 2000)
		margin = 2000;
	snprintf(storage, len, "%u", timeout - margin > 0 ? timeout - margin : 1);
	argv[0] = s->http_helper;
	argv[1] = (char *)"--timeout";
	argv[2] = storage;
	argv[3] = (char *)s->config->agent.health_url;
	argv[4] = NULL;
	return 0;
}

/* health=exec|http: the check, in the slot's directory, no shell.  The http
 * helper's stdout is a pipe: its one line is the reason of a failure. */
int trial_start_check(struct supervisor *s)
{
	char storage[CONFIG_STRING_MAX], slot_path[PATH_MAX];
	char *argv[CONFIG_ARGV_MAX];
	struct error err = { "" };
	int out[2] = { -1, -1 };
	sigset_t none;
	pid_t pid;

	s->check_said[0] = '\0';
	if (trial_check_argv(s, argv, storage, sizeof storage, &err) < 0) {
		log_error("health_exec is not a command line: %s", err.text);
		return -1;
	}
	if (s->config->agent.health == HEALTH_HTTP && pipe2(out, O_CLOEXEC) < 0) {
		log_error("cannot make a pipe for the health check: %s", strerror(errno));
		return -1;
	}
	layout_slot_path(&s->slots.layout, s->slot, slot_path, sizeof slot_path);
	pid = fork();
	if (pid < 0) {
		log_error("cannot fork the health check: %s", strerror(errno));
		if (out[0] >= 0) {
			close(out[0]);
			close(out[1]);
		}
		return -1;
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);	/* a check outliving slotd is useless */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if ((out[1] >= 0 && dup2(out[1], STDOUT_FILENO) < 0) || chdir(slot_path) < 0)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	if (out[1] >= 0) {
		close(out[1]);
		fcntl(out[0], F_SETFL, O_NONBLOCK);
	}
	s->check_out_fd = out[0];
	s->check_pid = pid;
	return 0;
}

/* Reaped: what the http helper said is in its pipe (one short line, written
 * before it exited, so never more than the pipe holds). */
void trial_check_ended(struct supervisor *s)
{
	char said[sizeof s->check_said];
	ssize_t n;

	s->check_pid = -1;
	if (s->check_out_fd < 0)
		return;
	n = read(s->check_out_fd, said, sizeof said - 1);
	said[n > 0 ? n : 0] = '\0';
	said[strcspn(said, "\n")] = '\0';
	text_sanitize(said, s->check_said, sizeof s->check_said);
	close(s->check_out_fd);
	s->check_out_fd = -1;
}

/* Its exit is reaped by the SIGCHLD loop and ignored. */
void trial_kill_check(struct supervisor *s)
{
	if (s->check_pid > 0)
		kill(s->check_pid, SIGKILL);
	s->check_pid = -1;
	if (s->check_out_fd >= 0)
		close(s->check_out_fd);
	s->check_out_fd = -1;
}

/* reason_text(), with what the http helper said about a failed check. */
static void trial_words(const struct supervisor *s, enum machine_reason why, int value,
			char *buf, size_t len)
{
	size_t used;

	reason_text(why, value, buf, len);
	used = strlen(buf);
	if (why == MV_CHECK_FAILED && s->check_said[0])
		snprintf(buf + used, len - used, ": %s", s->check_said);
}

void trial_revert(struct supervisor *s, enum machine_reason why, int value)
{
	struct error err = { "" };
	char reason[STATE_REASON_MAX];

	trial_words(s, why, value, reason, sizeof reason);
	log_error("slot %s failed its trial: %s; reverting", layout_slot_name(s->slot), reason);
	if (slots_revert(&s->slots, reason, &err) < 0)
		log_error("revert: %s", err.text);
}

/* The activation's one answer (control.h): ok good, error health|busy|refused. */
void trial_verdict(struct supervisor *s, enum machine_reason why, int value)
{
	char reason[STATE_REASON_MAX];

	if (s->activate_fd < 0)
		return;
	trial_words(s, why, value, reason, sizeof reason);
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
