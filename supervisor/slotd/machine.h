/* machine.h: the supervisor as one state machine (after s6-supervise's
 * state x event table).
 *
 * machine_step(m, event) -> m->state, the actions to perform in order, and
 * one deadline (absolute, monotonic ms; MACHINE_NEVER for none).  It makes no
 * system call and reads no clock: the time comes in the event.  main.c
 * performs the actions and arms its single timerfd for the deadline (and the
 * control clients' own read deadlines), so an idle slotd has no timer.
 *
 * States
 *   DOWN      no agent: nothing bootable, or its launch could not be prepared
 *   UP        the agent runs a good slot
 *   PROBATION the agent runs a good slot committed less than `probation` ago
 *             (measured from the commit time on disk, so a restarted slotd
 *             keeps the window): like UP, but an exit counts, and more than
 *             probation_max_exits of them revert the slot (FLIP PROBATION);
 *             UP at the window's end
 *   TRIAL     the agent runs a slot on trial; sub-steps: waiting for READY=1
 *             and min_uptime, then (health=exec|http) the check runs
 *   STOPPING  SIGTERM sent; SIGKILL at the deadline
 *   KILLING   SIGKILL sent; waiting for the exit (no deadline: it comes)
 *   BACKOFF   a good agent crashed; relaunch at the deadline
 *   EXITED    slotd exits with exit_code (terminal)
 * STOPPING and KILLING carry `then`: what follows the agent's exit (LAUNCH:
 * relaunch from whatever `current` is then; EXIT: slotd exits).
 *
 * Events
 *   START            slotd starts: launch from `current`
 *   EXITED(status)   the agent was reaped (wait status)
 *   READY            READY=1 from the agent's process tree
 *   HEALTH(status)   the health check (exec, or http's helper) ended: its
 *                    wait status, 0 for a pass; -1 when it could not start
 *   DEADLINE         the timerfd fired (a deadline not yet due is ignored)
 *   COMMAND(cmd)     activate (once the inhibitor is held), rollback,
 *                    rollback --force, mark-good, mark-bad, restart, status
 *   SIGNAL(signo)    TERM/INT: stop the agent, then exit; HUP/USR1/USR2/QUIT:
 *                    forwarded to the agent while one runs
 *   LAUNCHED(result) what the LAUNCH action did (GOOD, TRIAL, NONE, FAILED);
 *                    for GOOD, `ms` is the probation left to the slot (0: none)
 *   FLIPPED(ok)      what the FLIP action did (slot status saved and/or
 *                    `current` moved; ok 0: refused, nothing changed)
 *
 * Actions: LAUNCH, STOP (SIGTERM), KILL (SIGKILL to its session), FORWARD
 * (signal), START_CHECK, KILL_CHECK, FLIP (kind), REVERT (trial -> bad, back
 * to the other slot), REPLY (to the command's client), VERDICT (to the
 * waiting activation), EXIT.
 *
 * Invariants (checked by tests/unit/test_machine.c over every state x event)
 *  1. Every event is defined in every state: a combination with nothing to
 *     do changes nothing and emits nothing, except that every COMMAND gets
 *     exactly one REPLY (possibly after a FLIP, from the FLIPPED that
 *     follows); an activate that is accepted is answered by its VERDICT.
 *  2. A deadline is returned only in TRIAL, STOPPING, BACKOFF and PROBATION;
 *     leaving those states drops it, so no stale deadline can fire in a loop.
 *     UP, DOWN and KILLING have none: an idle slotd has no timer.
 *  3. An action whose result is an event (LAUNCH, FLIP, START_CHECK) is the
 *     last of its step; main feeds the result back before anything else.
 *  4. LAUNCH is emitted only when no agent runs (DOWN, BACKOFF, or after
 *     EXITED), never while shutting down.
 *  5. An activation waiting for its verdict gets exactly one VERDICT: when
 *     the trial passes or fails, is rolled back, no trial can be launched,
 *     or slotd stops. */
#ifndef SLOTD_MACHINE_H
#define SLOTD_MACHINE_H

#include <stddef.h>
#include <stdint.h>

#define MACHINE_NEVER INT64_MAX
#define MACHINE_ACTIONS_MAX 6
#define MACHINE_BACKOFF_FIRST_MS 100
#define MACHINE_FORK_RETRY_MS 1000

enum machine_state {
	MS_DOWN, MS_UP, MS_TRIAL, MS_STOPPING, MS_KILLING, MS_BACKOFF, MS_EXITED, MS_PROBATION,
	MS_COUNT
};

enum machine_event_kind {
	ME_START, ME_EXITED, ME_READY, ME_HEALTH, ME_DEADLINE, ME_COMMAND, ME_SIGNAL,
	ME_LAUNCHED, ME_FLIPPED, ME_COUNT
};

enum machine_command {
	MC_ACTIVATE, MC_ROLLBACK, MC_ROLLBACK_FORCE, MC_MARK_GOOD, MC_MARK_BAD, MC_RESTART,
	MC_STATUS, MC_COUNT
};

/* ME_LAUNCHED values. */
enum machine_launch { ML_GOOD, ML_TRIAL, ML_NONE, ML_FAILED };

enum machine_action_kind {
	MA_LAUNCH, MA_STOP, MA_KILL, MA_FORWARD, MA_START_CHECK, MA_KILL_CHECK, MA_FLIP,
	MA_REVERT, MA_REPLY, MA_VERDICT, MA_EXIT
};

/* MA_FLIP kinds: the slot change a command (or a passed trial, or a failed
 * probation) asks for.  PROBATION: the running good slot -> bad and
 * `current` back to the other slot if that is good (value: the exits); not
 * ok when there is no good slot to go back to, which keeps the slot. */
enum machine_flip {
	MF_ACTIVATE, MF_ROLLBACK, MF_ROLLBACK_FORCE, MF_MARK_GOOD, MF_MARK_BAD, MF_COMMIT,
	MF_PROBATION
};

/* MA_REPLY codes (control.c words them). */
enum machine_reply {
	MR_OK,			/* "ok" */
	MR_CURRENT,		/* "ok current=X" */
	MR_STATUS,		/* the status line */
	MR_REFUSED,		/* "error refused <why the flip was refused>" */
	MR_BUSY_STOPPING,	/* "error busy slotd is stopping" */
	MR_BUSY_TRIAL		/* "error refused an activation or trial is already running" */
};

/* MA_VERDICT and MA_REVERT reasons; `value` says the number in it. */
enum machine_reason {
	MV_GOOD,		/* passed (value: enum machine_pass) */
	MV_NOT_READY,		/* no READY=1 within startup_timeout (value: ms) */
	MV_EXITED,		/* the agent exited during its trial (value: wait status) */
	MV_CHECK_FAILED,	/* the check exited non-zero or could not run */
	MV_CHECK_TIMEOUT,	/* the check outlived health_timeout (value: ms) */
	MV_ROLLED_BACK,		/* rollback or mark-bad by the admin */
	MV_COMMIT_FAILED,	/* passed, but trial -> good could not be saved */
	MV_REFUSED,		/* the activation's flip was refused */
	MV_NOT_LAUNCHED,	/* the launch after it ran no trial */
	MV_STOPPING		/* slotd stops before a verdict */
};

enum machine_pass { MP_UPTIME, MP_READY, MP_CHECK, MP_ADMIN };

struct machine_event {
	enum machine_event_kind kind;
	int64_t now;	/* monotonic ms */
	int value;	/* EXITED, HEALTH: wait status; FLIPPED: ok; COMMAND: enum
			 * machine_command; SIGNAL: signo; LAUNCHED: enum machine_launch */
	int64_t ms;	/* LAUNCHED(GOOD): probation left to the slot, 0 for none */
};

struct machine_action {
	enum machine_action_kind kind;
	int arg;	/* FORWARD: signo; FLIP: enum machine_flip; REPLY: enum
			 * machine_reply; VERDICT, REVERT: enum machine_reason; EXIT: code */
	int value;	/* the number a reason carries; FLIP PROBATION: the exits */
};

struct machine_output {
	struct machine_action action[MACHINE_ACTIONS_MAX];
	size_t count;
	int64_t deadline;
};

/* What the machine needs of the configuration. */
struct machine_limits {
	int health_check;		/* health = exec or http: run a check process
					 * after min_uptime (trial.c says which) */
	int health_notify;		/* health = notify: READY=1 is required */
	unsigned startup_timeout_ms, min_uptime_ms, stop_timeout_ms, health_timeout_ms,
		 restart_backoff_max_ms;
	unsigned probation_ms;		/* 0: no probation */
	unsigned probation_max_exits;	/* more exits than this within it revert */
};

enum machine_then { MT_LAUNCH, MT_EXIT };

struct machine {
	struct machine_limits limits;
	enum machine_state state;
	enum machine_then then;		/* STOPPING, KILLING */
	int64_t started;		/* the agent's launch */
	int64_t deadline;		/* STOPPING: SIGKILL; BACKOFF: relaunch */
	unsigned restarts;		/* consecutive quick crashes of a good agent */
	int healthy;			/* UP, PROBATION: the slot is good on disk */
	/* PROBATION (the exits count on through BACKOFF and the relaunch) */
	int64_t probation_until;
	unsigned probation_exits;
	int probation_kept;		/* its revert found no way back: not again */
	/* TRIAL */
	int ready, up, checking;	/* READY=1 seen (or not needed), min_uptime reached */
	int64_t ready_by, up_at, check_by;
	enum machine_pass pass;		/* how the pending commit came about */
	/* A FLIP whose FLIPPED has not come back yet, and the command behind it. */
	int flip_pending;
	enum machine_flip flip;
	int flip_command;		/* a command's client waits for the REPLY */
	int activation;			/* an activation waits for its verdict */
	int exit_code;
};

void machine_init(struct machine *m, const struct machine_limits *limits);
void machine_step(struct machine *m, const struct machine_event *ev, struct machine_output *out);

/* For status and logs. */
const char *machine_state_name(enum machine_state state);
/* "stopped", "running", "stopping", "backoff": the agent as status shows it. */
const char *machine_agent_state(const struct machine *m);
int machine_agent_running(const struct machine *m);
/* The agent runs a good slot (UP or PROBATION), known good on disk. */
int machine_agent_healthy(const struct machine *m);

#endif
