/* slotd.h: the supervisor's state, shared by its modules.
 *
 * One struct, owned by main(), passed to every function: no globals.  Every
 * wait is a deadline in `struct supervisor`; the event loop arms one timerfd
 * for the earliest, and disarms it when there is none, so an idle slotd
 * sleeps in epoll_wait with no timer at all. */
#ifndef SLOTD_SUPERVISOR_H
#define SLOTD_SUPERVISOR_H

#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "slots.h"

#define CLIENT_MAX 8
#define NEVER INT64_MAX

enum agent_state { AGENT_IDLE, AGENT_RUNNING, AGENT_STOPPING, AGENT_BACKOFF };

/* What to do once the running agent has stopped. */
enum after_stop { AFTER_NOTHING, AFTER_LAUNCH, AFTER_EXIT };

struct client {
	int fd;			/* -1: free */
	int64_t deadline;	/* to finish sending its request */
	size_t used;
	char line[512];
};

struct supervisor {
	const struct config *config;
	struct slots slots;
	int epoll_fd, signal_fd, timer_fd, notify_fd, control_fd, inhibit_fd;

	/* The agent. */
	enum agent_state state;
	pid_t pid;
	int slot;			/* slot it runs from */
	int64_t started;		/* monotonic ms */
	int64_t stop_deadline;		/* SIGKILL after this */
	int64_t restart_at;		/* backoff end */
	unsigned restarts;		/* consecutive quick crashes */
	enum after_stop after_stop;
	int exit_status;		/* last wait status of the agent */
	char status_text[128];		/* from STATUS= */

	/* The trial of a new slot, while current is `trial`.  Only while the
	 * agent runs: stopping it ends the trial (trial_end disarms these). */
	int trial;			/* a trial runs on the current agent */
	int ready;			/* READY=1 seen, or not needed */
	int64_t ready_deadline;		/* startup_timeout */
	int64_t pass_at;		/* min_uptime reached */
	pid_t check_pid;		/* health=exec child */
	int64_t check_deadline;
	int healthy;

	/* An activation in progress: the updater's connection waits for the verdict. */
	int activate_fd;
	int activate_slot;
	pid_t waiter_pid;		/* inhibitor waiter */
	int inhibit_held;

	struct client clients[CLIENT_MAX];
	int shutting_down;
	int exit_code;
};

int64_t supervisor_now(void);
void supervisor_reply(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* agent.c */
void agent_launch(struct supervisor *s);
void agent_stop(struct supervisor *s, enum after_stop then);
void agent_exited(struct supervisor *s, int status);
void agent_deadlines(struct supervisor *s, int64_t now);
void agent_forward_signal(struct supervisor *s, int signo);

/* trial.c */
void trial_begin(struct supervisor *s);
void trial_end(struct supervisor *s);
void trial_ready(struct supervisor *s);
void trial_deadlines(struct supervisor *s, int64_t now);
void trial_check_exited(struct supervisor *s, int status);
void trial_agent_exited(struct supervisor *s, int status);
void trial_pass(struct supervisor *s, const char *how);
void trial_fail(struct supervisor *s, const char *reason);
void activation_finish(struct supervisor *s, const char *reply);

/* pidrecord.c: run/agent.pid, so a restarted slotd stops an agent that outlived
 * its killed predecessor (SIGTERM, stop_timeout, SIGKILL) before launching. */
int pidrecord_save(const struct layout *l, pid_t pid, struct error *err);
void pidrecord_remove(const struct layout *l);
int pidrecord_stop_leftover(const struct layout *l, unsigned stop_timeout_ms, struct error *err);

/* proc.c */
struct proc_stat {
	char state;			/* R, S, D, Z, ... */
	pid_t ppid;
	unsigned long long start_time;	/* clock ticks after boot */
};
int proc_stat_read(pid_t pid, struct proc_stat *out);

/* notify.c */
int notify_open(struct supervisor *s, struct error *err);
void notify_receive(struct supervisor *s);

/* control.c */
int control_open(struct supervisor *s, struct error *err);
void control_accept(struct supervisor *s);
void control_readable(struct supervisor *s, int index);
void control_deadlines(struct supervisor *s, int64_t now);
void control_waiter_exited(struct supervisor *s, int status);
int64_t control_next_deadline(const struct supervisor *s);
void control_release_inhibitor(struct supervisor *s);

#endif
