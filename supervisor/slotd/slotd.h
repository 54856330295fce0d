/* slotd.h: the supervisor's state, shared by its modules.
 *
 * One struct, owned by main(), passed to every function: no globals.  What
 * the supervisor does is decided by the state machine (machine.h); the
 * modules here turn the outside world into its events (signals, the notify
 * and control sockets, reaped children) and perform its actions for main.c.
 * The event loop arms one timerfd for the machine's deadline and the control
 * clients' read deadlines, and none when there is none: an idle slotd sleeps
 * in epoll_wait with no timer at all. */
#ifndef SLOTD_SUPERVISOR_H
#define SLOTD_SUPERVISOR_H

#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "control.h"
#include "machine.h"
#include "sd_notify.h"
#include "slots.h"

#define CLIENT_MAX 8
#define NEVER MACHINE_NEVER

struct client {
	int fd;			/* -1: free */
	int64_t deadline;	/* to finish sending its request */
	size_t used;
	char line[CONTROL_LINE_MAX];	/* the request and its newline */
};

/* metrics.c: the counters, and the text last written. */
struct slotd_metrics {
	unsigned long long restarts, trials_pass, trials_fail, probation_reverts;
	int64_t started;		/* UNIX time */
	size_t len;
	char last[4096];
};

/* pidrecord.c, leftover.c (below) */
#define PIDRECORD_TOKEN_VAR "SLOTD_AGENT_TOKEN"	/* first in the agent's environment */
#define PIDRECORD_TOKEN_LEN 32
struct pidrecord_proc {
	pid_t pid;			/* 0: none */
	int pidfd;			/* -1: a kernel without pidfds */
	unsigned long long start_time;
};

struct leftover {
	struct pidrecord_proc proc;	/* pid 0: none */
	unsigned kills;			/* SIGKILLs sent so far */
	int64_t next_kill, hold_until;	/* NEVER: none / the launch is not held */
};

struct supervisor {
	const struct config *config;
	/* The event sink: steps the machine with an event and performs its
	 * actions (main.c sets it).  The modules that turn the world into events
	 * call it; passed here, it keeps them from calling back into main.c. */
	void (*feed)(struct supervisor *s, enum machine_event_kind kind, int value);
	struct sd_notify manager;	/* systemd's NOTIFY_SOCKET, taken at start */
	int told_stopping;		/* STOPPING=1 sent */
	struct slots slots;
	int epoll_fd, signal_fd, timer_fd, notify_fd, control_fd, inhibit_fd;

	struct machine machine;
	int64_t deadline;		/* the machine's, from its last step */

	/* The agent process (while the machine says it runs). */
	pid_t pid;
	int slot;			/* slot it runs from */
	char status_text[128];		/* from STATUS= */
	pid_t check_pid;		/* health=exec|http child */
	int check_out_fd;		/* http: the helper's stdout (its verdict) */
	char check_said[200];		/* http: that verdict, read when it ended */
	char http_helper[PATH_MAX];	/* health=http: slotd-httpcheck, resolved */

	/* The command being stepped: its client gets the REPLY. */
	int command_fd;
	char refusal[sizeof ((struct error *)0)->text];	/* why the last flip was refused */

	/* An activation: the updater's connection waits for the verdict. */
	int activate_fd;
	int activate_slot;
	pid_t waiter_pid;		/* inhibitor waiter */
	int inhibit_held;

	struct leftover leftover;	/* a previous slotd's agent that survived SIGKILL */
	struct client clients[CLIENT_MAX];
	struct slotd_metrics metrics;
	int exiting;
};

/* clock.c: milliseconds of CLOCK_MONOTONIC. */
int64_t clock_now(void);

/* reason.c: a verdict (machine_reason and its value) in words. */
void reason_text(enum machine_reason why, int value, char *buf, size_t len);

/* agent.c */
enum machine_launch agent_launch(struct supervisor *s);
void agent_signal(struct supervisor *s, int signo);
void agent_kill(struct supervisor *s);
void agent_reaped(struct supervisor *s, int status);

/* trial.c: the machine's trial actions. */
int trial_http_helper(struct supervisor *s, struct error *err);
int trial_start_check(struct supervisor *s);
void trial_check_ended(struct supervisor *s);
void trial_kill_check(struct supervisor *s);
void trial_revert(struct supervisor *s, enum machine_reason why, int value);
void trial_verdict(struct supervisor *s, enum machine_reason why, int value);

/* probation.c: the machine's PROBATION.  probation_left() is the window left
 * to s->slot (0: none); probation_revert() performs FLIP PROBATION. */
int64_t probation_left(const struct supervisor *s);
int probation_revert(struct supervisor *s, int exits);

/* metrics.c: [supervisor] metrics_file, rewritten when its text changes. */
void metrics_init(struct supervisor *s);
void metrics_update(struct supervisor *s);

/* pidrecord.c: run/agent.pid, the agent this slotd launched and the proof
 * that a process is it.  new_token gives the launch's token ("" and -1 where
 * no record can be kept: as PID 1, or under a /proc of another PID
 * namespace); save records the agent (none for an empty token); claim gives
 * the process a previous slotd recorded, 1 and *p (held by a pidfd) only when
 * it is proven to be that agent, else 0 with the record discarded. */
int pidrecord_new_token(char *token, size_t len);
int pidrecord_save(const struct layout *l, pid_t pid, const char *token, struct error *err);
void pidrecord_remove(const struct layout *l);
int pidrecord_claim(const struct layout *l, struct pidrecord_proc *p);
int pidrecord_alive(const struct pidrecord_proc *p);

/* leftover.c: stopping an agent a killed predecessor left running.  stop: 0
 * when nothing is left, 1 when a survivor of SIGKILL holds the launch (for
 * hold_ms at most).  check, on its deadline or its pidfd: 1 when the launch
 * should go now (the survivor is gone, or the hold is over). */
int leftover_stop(struct leftover *left, const struct layout *l, unsigned stop_timeout_ms,
		  unsigned hold_ms);
int leftover_holds(const struct leftover *left);
int64_t leftover_deadline(const struct leftover *left);
int leftover_check(struct leftover *left, const struct layout *l, int64_t now);
void leftover_describe(const struct leftover *left, int64_t now, char *buf, size_t len);

/* proc.c */
struct proc_stat {
	char state;			/* R, S, D, Z, ... */
	pid_t ppid;
	unsigned long long start_time;	/* clock ticks after boot */
};
int proc_stat_read(pid_t pid, struct proc_stat *out);
/* 1 when /proc is this PID namespace's (readlink("/proc/self") is getpid()). */
int proc_is_own(void);

/* notify.c */
int notify_open(struct supervisor *s, struct error *err);
void notify_receive(struct supervisor *s);

/* control.c: the control socket.  control_send_reply() is the one way a
 * reply leaves slotd: the text (cut at CONTROL_TEXT_MAX - 1 bytes) is
 * formatted by the protocol's module (control.h). */
int control_open(struct supervisor *s, struct error *err);
void control_send_reply(int fd, enum control_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void control_accept(struct supervisor *s);
void control_readable(struct supervisor *s, int index);
void control_deadlines(struct supervisor *s, int64_t now);
void control_waiter_exited(struct supervisor *s, int status);
int64_t control_next_deadline(const struct supervisor *s);
void control_release_inhibitor(struct supervisor *s);
void control_reply(struct supervisor *s, enum machine_reply code);
int control_flip(struct supervisor *s, enum machine_flip kind);

#endif
