/* slotd: the supervisor.  Runs in the foreground, as PID 1 or as a service.
 *
 *   slotd [-c CONFIG]
 *
 * Startup: open the slots, reconcile (finishing or undoing whatever a crash
 * interrupted), stop an agent a killed predecessor left running (leftover.c;
 * one that survives SIGKILL delays the launch, never prevents it), launch the
 * agent from `current`.  Then one epoll loop over a signalfd, one timerfd,
 * the notify socket and the control socket, whose events go to the state
 * machine (machine.h); this file performs what it decides.  As PID 1
 * every signal we care about is blocked and read from the signalfd, so the
 * kernel's "init ignores unhandled signals" rule never applies; we are a
 * child subreaper too, so orphans of the agent come to us and are reaped. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "inhibit.h"
#include "log.h"
#include "sd_notify.h"
#include "slotd.h"

#define SLOTD_VERSION "0.1.0"

static const int supervisor_signals[] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT,
					  SIGUSR1, SIGUSR2, SIGPIPE };

static int setup_signals(struct supervisor *s, struct error *err)
{
	sigset_t set;
	size_t i;

	sigemptyset(&set);
	for (i = 0; i < sizeof supervisor_signals / sizeof supervisor_signals[0]; i++)
		sigaddset(&set, supervisor_signals[i]);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return error_errno(err, "sigprocmask");
	sigdelset(&set, SIGPIPE);	/* blocked and never read: send() errors instead */
	s->signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (s->signal_fd < 0)
		return error_errno(err, "signalfd");
	return 0;
}

static int watch(struct supervisor *s, int fd, uint64_t tag, struct error *err)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return error_errno(err, "epoll_ctl");
	return 0;
}

enum { TAG_SIGNAL = 1000, TAG_TIMER, TAG_NOTIFY, TAG_CONTROL, TAG_LEFTOVER };

static int setup(struct supervisor *s, struct error *err)
{
	char why[512] = "";

	if (getpid() == 1 || prctl(PR_SET_CHILD_SUBREAPER, 1) == 0)
		; /* PID 1 reaps orphans by definition */
	else
		log_warn("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
	if (setup_signals(s, err) < 0)
		return -1;
	s->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->epoll_fd < 0 || s->timer_fd < 0)
		return error_errno(err, "epoll/timerfd");
	if (slots_open(&s->slots, s->config->slots.root, s->config->agent.max_attempts, err) < 0 ||
	    slots_recover(&s->slots, why, sizeof why, err) < 0)
		return -1;
	if (why[0])
		log_warn("recovered: %s", why);
	/* A survivor of SIGKILL holds the launch for restart_backoff_max at most. */
	if (leftover_stop(&s->leftover, &s->slots.layout, s->config->agent.stop_timeout_ms,
			  s->config->agent.restart_backoff_max_ms) &&
	    s->leftover.proc.pidfd >= 0 && watch(s, s->leftover.proc.pidfd, TAG_LEFTOVER, err) < 0)
		return -1;
	s->inhibit_fd = inhibit_open(&s->slots.layout, err);
	if (s->inhibit_fd < 0 || notify_open(s, err) < 0 || control_open(s, err) < 0)
		return -1;
	if (watch(s, s->signal_fd, TAG_SIGNAL, err) < 0 || watch(s, s->timer_fd, TAG_TIMER, err) < 0 ||
	    watch(s, s->notify_fd, TAG_NOTIFY, err) < 0 || watch(s, s->control_fd, TAG_CONTROL, err) < 0)
		return -1;
	return 0;
}

/* Performs one action; 1 with *next set when its result is an event. */
static int perform(struct supervisor *s, const struct machine_action *a, struct machine_event *next)
{
	next->ms = 0;
	switch (a->kind) {
	case MA_LAUNCH:
		next->kind = ME_LAUNCHED;
		next->value = (int)agent_launch(s);
		if (next->value == ML_GOOD)
			next->ms = probation_left(s);
		if (s->inhibit_held)	/* held across the flip and the stop only */
			control_release_inhibitor(s);
		return 1;
	case MA_STOP: agent_signal(s, SIGTERM); break;
	case MA_KILL: agent_kill(s); break;
	case MA_FORWARD: agent_signal(s, a->arg); break;
	case MA_START_CHECK:
		if (trial_start_check(s) == 0)
			break;
		next->kind = ME_HEALTH;
		next->value = -1;
		return 1;
	case MA_KILL_CHECK: trial_kill_check(s); break;
	case MA_FLIP:
		next->kind = ME_FLIPPED;
		next->value = a->arg == MF_PROBATION ? probation_revert(s, a->value) :
			      control_flip(s, (enum machine_flip)a->arg);
		s->metrics.trials_pass += a->arg == MF_COMMIT && next->value;
		s->metrics.probation_reverts += a->arg == MF_PROBATION && next->value;
		return 1;
	case MA_REVERT:
		trial_revert(s, (enum machine_reason)a->arg, a->value);
		s->metrics.trials_fail++;
		break;
	case MA_REPLY: control_reply(s, (enum machine_reply)a->arg); break;
	case MA_VERDICT: trial_verdict(s, (enum machine_reason)a->arg, a->value); break;
	case MA_EXIT: s->exiting = 1; break;
	}
	return 0;
}

/* The machine's state changes that are worth a line of their own. */
static void supervisor_note(struct supervisor *s, enum machine_state before)
{
	const struct machine *m = &s->machine;

	if (m->state == before)
		return;
	if (m->state == MS_PROBATION)
		log_info("slot %s on probation for %lld ms more", layout_slot_name(s->slot),
			 (long long)(m->probation_until - clock_now()));
	else if (before == MS_PROBATION && m->state == MS_UP)
		log_info("slot %s passed its probation", layout_slot_name(s->slot));
}

/* The only place where the machine's decisions become system calls.  An
 * action with a result is the last of its step (machine.h): its result is
 * the next event. */
static void supervisor_feed(struct supervisor *s, enum machine_event_kind kind, int value)
{
	struct machine_event ev = { kind, 0, value, 0 }, next = ev;
	struct machine_output out;
	enum machine_state before;
	int more;
	size_t i;

	do {
		ev.now = clock_now();
		before = s->machine.state;
		machine_step(&s->machine, &ev, &out);
		s->deadline = out.deadline;
		supervisor_note(s, before);
		more = 0;
		for (i = 0; i < out.count; i++)
			more = perform(s, &out.action[i], &next);
		ev = next;
	} while (more);
	metrics_update(s);
}

static void reap_children(struct supervisor *s)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == s->pid) {
			s->metrics.restarts += s->machine.state == MS_UP ||
					       s->machine.state == MS_PROBATION;
			agent_reaped(s, status);
			supervisor_feed(s, ME_EXITED, status);
		} else if (pid == s->check_pid) {
			trial_check_ended(s);
			supervisor_feed(s, ME_HEALTH, status);
		} else if (pid == s->waiter_pid) {
			control_waiter_exited(s, status);
		}
		/* anything else: an orphan the agent left, or a killed check */
	}
}

static void handle_signals(struct supervisor *s)
{
	struct signalfd_siginfo info;

	while (read(s->signal_fd, &info, sizeof info) == sizeof info) {
		if (info.ssi_signo == SIGCHLD) {
			reap_children(s);
			continue;
		}
		if ((info.ssi_signo == SIGTERM || info.ssi_signo == SIGINT) &&
		    machine_agent_running(&s->machine) && s->machine.state != MS_STOPPING &&
		    s->machine.state != MS_KILLING)
			log_info("signal %d: stopping the agent, then exiting", info.ssi_signo);
		if ((info.ssi_signo == SIGTERM || info.ssi_signo == SIGINT) && !s->told_stopping) {
			/* systemd shows the unit deactivating while the agent stops */
			sd_notify_send(&s->manager, "STOPPING=1");
			s->told_stopping = 1;
		}
		supervisor_feed(s, ME_SIGNAL, (int)info.ssi_signo);
	}
}

/* On its deadline or its pidfd: a held launch goes once the survivor is
 * gone or the hold is over (closing the pidfd takes it out of epoll). */
static void check_leftover(struct supervisor *s)
{
	if (leftover_check(&s->leftover, &s->slots.layout, clock_now()))
		supervisor_feed(s, ME_START, 0);
}

/* One timerfd for the earliest deadline; none armed when nothing waits. */
static void arm_timer(struct supervisor *s)
{
	struct itimerspec when = { 0 };
	int64_t next = s->deadline, clients = control_next_deadline(s),
		leftover = leftover_deadline(&s->leftover);

	if (clients < next)
		next = clients;
	if (leftover < next)
		next = leftover;
	if (next != NEVER) {
		if (next < 1)
			next = 1;
		when.it_value.tv_sec = next / 1000;
		when.it_value.tv_nsec = (long)(next % 1000) * 1000000L;
	}
	if (timerfd_settime(s->timer_fd, TFD_TIMER_ABSTIME, &when, NULL) < 0)
		log_error("timerfd_settime: %s", strerror(errno));
}

static void handle_timer(struct supervisor *s)
{
	uint64_t expirations;

	if (read(s->timer_fd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
		log_warn("timerfd: %s", strerror(errno));
	if (clock_now() >= s->deadline)
		supervisor_feed(s, ME_DEADLINE, 0);
	control_deadlines(s, clock_now());
	if (clock_now() >= leftover_deadline(&s->leftover))
		check_leftover(s);
}

static void dispatch(struct supervisor *s, uint64_t tag)
{
	if (tag == TAG_SIGNAL)
		handle_signals(s);
	else if (tag == TAG_TIMER)
		handle_timer(s);
	else if (tag == TAG_NOTIFY)
		notify_receive(s);
	else if (tag == TAG_CONTROL)
		control_accept(s);
	else if (tag == TAG_LEFTOVER)
		check_leftover(s);
	else if (tag < CLIENT_MAX)
		control_readable(s, (int)tag);
}

static int run(struct supervisor *s)
{
	struct epoll_event events[16];
	int n, i;

	if (!leftover_holds(&s->leftover))
		supervisor_feed(s, ME_START, 0);
	while (!s->exiting) {
		arm_timer(s);
		n = epoll_wait(s->epoll_fd, events, 16, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_error("epoll_wait: %s", strerror(errno));
			return 1;
		}
		for (i = 0; i < n && !s->exiting; i++)
			dispatch(s, events[i].data.u64);
	}
	/* A socket file without a listener only makes clients say "refused". */
	unlink(s->config->supervisor.control_socket);
	return s->machine.exit_code;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: slotd [-c CONFIG]\n       slotd --help | --version\n");
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	struct supervisor s = { .signal_fd = -1, .pid = -1, .check_pid = -1, .check_out_fd = -1,
				.waiter_pid = -1,
				.activate_fd = -1, .command_fd = -1, .deadline = NEVER,
				.leftover = { .proc = { .pidfd = -1 }, .next_kill = NEVER,
					      .hold_until = NEVER } };
	const char *config_path = NULL;
	struct config config;
	struct error err = { "" };
	int opt, i;

	s.manager = sd_notify_take();	/* before anything can fork */

	log_init("slotd");
	while ((opt = getopt_long(argc, argv, "c:", options, NULL)) != -1) {
		switch (opt) {
		case 'c': config_path = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'v': printf("slotd %s\n", SLOTD_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (config_load(&config, config_path, &err) < 0) {
		fprintf(stderr, "slotd: %s\n", err.text);
		return 2;
	}
	if (!config.agent.exec[0]) {
		fprintf(stderr, "slotd: %s: [agent] exec: missing\n", config.path);
		return 2;
	}
	s.config = &config;
	s.feed = supervisor_feed;
	if (config.agent.health == HEALTH_HTTP && trial_http_helper(&s, &err) < 0) {
		fprintf(stderr, "slotd: %s\n", err.text);
		return 2;
	}
	machine_init(&s.machine, &(struct machine_limits){
		.health_check = config.agent.health == HEALTH_EXEC ||
				config.agent.health == HEALTH_HTTP,
		.health_notify = config.agent.health == HEALTH_NOTIFY,
		.startup_timeout_ms = config.agent.startup_timeout_ms,
		.min_uptime_ms = config.agent.min_uptime_ms,
		.stop_timeout_ms = config.agent.stop_timeout_ms,
		.health_timeout_ms = config.agent.health_timeout_ms,
		.restart_backoff_max_ms = config.agent.restart_backoff_max_ms,
		.probation_ms = config.agent.probation_ms,
		.probation_max_exits = config.agent.probation_max_exits });
	for (i = 0; i < CLIENT_MAX; i++)
		s.clients[i].fd = -1;
	metrics_init(&s);
	if (setup(&s, &err) < 0) {
		log_error("%s", err.text);
		return 1;
	}
	sd_notify_send(&s.manager, "READY=1");	/* control socket listening */
	log_info("supervising %s (current: %s)", config.slots.root,
		 s.slots.current == SLOT_NONE ? "none" : layout_slot_name(s.slots.current));
	return run(&s);
}
