/* machine.c: the supervisor's state x event table (see machine.h).
 *
 * Pure: no system call, no clock, no global.  <signal.h> and <sys/wait.h>
 * are here for their constants and macros only. */
#include <signal.h>
#include <sys/wait.h>

#include "machine.h"

static void emit(struct machine_output *out, enum machine_action_kind kind, int arg, int value)
{
	if (out->count < MACHINE_ACTIONS_MAX)
		out->action[out->count++] = (struct machine_action){ kind, arg, value };
}

void machine_init(struct machine *m, const struct machine_limits *limits)
{
	*m = (struct machine){ .limits = *limits, .state = MS_DOWN, .deadline = MACHINE_NEVER,
			       .ready_by = MACHINE_NEVER, .up_at = MACHINE_NEVER,
			       .check_by = MACHINE_NEVER, .probation_until = MACHINE_NEVER };
}

static int stopping_to_exit(const struct machine *m)
{
	return m->state == MS_EXITED ||
	       ((m->state == MS_STOPPING || m->state == MS_KILLING) && m->then == MT_EXIT);
}

int machine_agent_running(const struct machine *m)
{
	return m->state == MS_UP || m->state == MS_PROBATION || m->state == MS_TRIAL ||
	       m->state == MS_STOPPING || m->state == MS_KILLING;
}

int machine_agent_healthy(const struct machine *m)
{
	return (m->state == MS_UP || m->state == MS_PROBATION) && m->healthy;
}

/* The agent runs: UP, PROBATION or TRIAL. */
static int agent_up(const struct machine *m)
{
	return m->state == MS_UP || m->state == MS_PROBATION || m->state == MS_TRIAL;
}

/* The probation window is over (or another slot runs): an exit is a crash. */
static void probation_end(struct machine *m)
{
	m->probation_until = MACHINE_NEVER;
	m->probation_exits = 0;
}

static void probation_start(struct machine *m, int64_t now, int64_t left)
{
	m->state = MS_PROBATION;
	m->probation_until = now + left;
}

static void launch(struct machine *m, struct machine_output *out)
{
	m->state = MS_DOWN;	/* until LAUNCHED says what runs */
	emit(out, MA_LAUNCH, 0, 0);
}

static void stop(struct machine *m, struct machine_output *out, int64_t now, enum machine_then then)
{
	emit(out, MA_STOP, 0, 0);
	m->state = MS_STOPPING;
	m->then = then;
	m->healthy = 0;
	m->deadline = now + m->limits.stop_timeout_ms;
}

static void verdict(struct machine *m, struct machine_output *out, enum machine_reason why,
		    int value)
{
	if (!m->activation)
		return;
	m->activation = 0;
	emit(out, MA_VERDICT, why, value);
}

/* The trial is over, whatever the outcome: its deadlines go with it. */
static void trial_drop(struct machine *m, struct machine_output *out)
{
	if (m->checking)
		emit(out, MA_KILL_CHECK, 0, 0);
	m->ready = m->up = m->checking = 0;
	m->ready_by = m->up_at = m->check_by = MACHINE_NEVER;
}

static void trial_fail(struct machine *m, struct machine_output *out, int64_t now,
		       enum machine_reason why, int value)
{
	int running = m->state == MS_TRIAL;

	trial_drop(m, out);
	emit(out, MA_REVERT, why, value);
	verdict(m, out, why, value);
	if (running)
		stop(m, out, now, MT_LAUNCH);
	else
		launch(m, out);
}

/* Passed: trial -> good is saved by the FLIP; FLIPPED answers. */
static void trial_pass(struct machine *m, struct machine_output *out, enum machine_pass how,
		       int command)
{
	trial_drop(m, out);
	m->state = MS_UP;
	m->healthy = 0;
	m->pass = how;
	m->flip_pending = 1;
	m->flip = MF_COMMIT;
	m->flip_command = command;
	emit(out, MA_FLIP, MF_COMMIT, 0);
}

static void on_launched(struct machine *m, struct machine_output *out, int64_t now, int result,
			int64_t probation_left)
{
	if (m->state != MS_DOWN)
		return;
	m->started = now;
	if (result == ML_TRIAL) {
		m->state = MS_TRIAL;
		m->ready = !m->limits.health_notify;
		m->ready_by = m->ready ? MACHINE_NEVER : now + m->limits.startup_timeout_ms;
		m->up = m->checking = 0;
		m->up_at = now + m->limits.min_uptime_ms;
		m->check_by = MACHINE_NEVER;
		return;
	}
	if (result == ML_GOOD) {
		m->state = MS_UP;
		m->healthy = 1;
		if (probation_left > 0 && m->limits.probation_ms && !m->probation_kept)
			probation_start(m, now, probation_left);
		else
			probation_end(m);
	} else if (result == ML_FAILED) {
		m->state = MS_BACKOFF;
		m->deadline = now + MACHINE_FORK_RETRY_MS;
		return;	/* an activation waits for the retry */
	}
	verdict(m, out, MV_NOT_LAUNCHED, 0);	/* GOOD or NONE: no trial came of it */
}

static void backoff(struct machine *m, int64_t now)
{
	unsigned long long delay = MACHINE_BACKOFF_FIRST_MS, max = m->limits.restart_backoff_max_ms;
	unsigned i;

	if (now - m->started >= (int64_t)m->limits.min_uptime_ms)
		m->restarts = 0;
	for (i = 0; i < m->restarts && delay < max; i++)
		delay *= 2;
	if (delay > max)
		delay = max;
	m->restarts++;
	m->healthy = 0;
	m->state = MS_BACKOFF;
	m->deadline = now + (int64_t)delay;
}

/* An exit within the window counts; one too many reverts the slot (the FLIP
 * says how that went: FLIPPED relaunches or backs off). */
static void probation_exit(struct machine *m, struct machine_output *out, int64_t now)
{
	if (now >= m->probation_until) {
		probation_end(m);
		backoff(m, now);
		return;
	}
	if (++m->probation_exits <= m->limits.probation_max_exits) {
		backoff(m, now);
		return;
	}
	m->state = MS_DOWN;	/* gone already */
	m->healthy = 0;
	m->flip_pending = 1;
	m->flip = MF_PROBATION;
	m->flip_command = 0;
	emit(out, MA_FLIP, MF_PROBATION, (int)m->probation_exits);
}

static void on_exited(struct machine *m, struct machine_output *out, int64_t now, int status)
{
	switch (m->state) {
	case MS_UP:
		backoff(m, now);
		break;
	case MS_PROBATION:
		probation_exit(m, out, now);
		break;
	case MS_TRIAL:
		m->state = MS_DOWN;	/* gone already: trial_fail relaunches */
		trial_fail(m, out, now, MV_EXITED, status);
		break;
	case MS_STOPPING:
	case MS_KILLING:
		if (m->then == MT_LAUNCH) {
			launch(m, out);
			break;
		}
		m->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) :
			       WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
		m->state = MS_EXITED;
		emit(out, MA_EXIT, m->exit_code, 0);
		break;
	default:
		break;	/* no agent: a stray reap */
	}
}

static void trial_deadline(struct machine *m, struct machine_output *out, int64_t now)
{
	if (!m->ready && now >= m->ready_by) {
		trial_fail(m, out, now, MV_NOT_READY, (int)m->limits.startup_timeout_ms);
	} else if (m->checking && now >= m->check_by) {
		trial_fail(m, out, now, MV_CHECK_TIMEOUT, (int)m->limits.health_timeout_ms);
	} else if (!m->up && now >= m->up_at) {
		m->up = 1;
		m->up_at = MACHINE_NEVER;
		if (m->limits.health_check) {
			m->checking = 1;
			m->check_by = now + m->limits.health_timeout_ms;
			emit(out, MA_START_CHECK, 0, 0);
		} else if (m->ready) {
			trial_pass(m, out, MP_UPTIME, 0);
		}	/* else READY=1 is still due: ready_by decides */
	}
}

static void on_deadline(struct machine *m, struct machine_output *out, int64_t now)
{
	if (m->state == MS_TRIAL) {
		trial_deadline(m, out, now);
	} else if (m->state == MS_STOPPING && now >= m->deadline) {
		m->state = MS_KILLING;
		emit(out, MA_KILL, 0, 0);
	} else if (m->state == MS_BACKOFF && now >= m->deadline) {
		launch(m, out);
	} else if (m->state == MS_PROBATION && now >= m->probation_until) {
		m->state = MS_UP;	/* the window is over: simply good */
		probation_end(m);
	}
}

static void on_signal(struct machine *m, struct machine_output *out, int64_t now, int signo)
{
	if (signo != SIGTERM && signo != SIGINT) {
		if (machine_agent_running(m))
			emit(out, MA_FORWARD, signo, 0);
		return;
	}
	if (signo == SIGINT && machine_agent_running(m))
		emit(out, MA_FORWARD, signo, 0);	/* then SIGTERM, as ever */
	switch (m->state) {
	case MS_TRIAL:
		trial_drop(m, out);
		/* fall through */
	case MS_UP:
	case MS_PROBATION:
		verdict(m, out, MV_STOPPING, 0);
		stop(m, out, now, MT_EXIT);
		break;
	case MS_STOPPING:
	case MS_KILLING:
		verdict(m, out, MV_STOPPING, 0);
		m->then = MT_EXIT;
		break;
	case MS_DOWN:
	case MS_BACKOFF:
		verdict(m, out, MV_STOPPING, 0);
		m->state = MS_EXITED;
		m->exit_code = 0;
		emit(out, MA_EXIT, 0, 0);
		break;
	default:
		break;
	}
}

static void flip(struct machine *m, struct machine_output *out, enum machine_flip kind)
{
	m->flip_pending = 1;
	m->flip = kind;
	m->flip_command = 1;
	emit(out, MA_FLIP, kind, 0);
}

static void on_command(struct machine *m, struct machine_output *out, int64_t now, int command)
{
	if (command == MC_STATUS) {
		emit(out, MA_REPLY, MR_STATUS, 0);
		return;
	}
	if (stopping_to_exit(m)) {
		emit(out, MA_REPLY, MR_BUSY_STOPPING, 0);
		return;
	}
	switch (command) {
	case MC_RESTART:
		emit(out, MA_REPLY, MR_OK, 0);
		if (agent_up(m)) {
			trial_drop(m, out);	/* the relaunch is a new attempt */
			stop(m, out, now, MT_LAUNCH);
		} else if (m->state == MS_DOWN || m->state == MS_BACKOFF) {
			launch(m, out);
		}
		break;
	case MC_ACTIVATE:
		if (m->state == MS_TRIAL || m->activation) {
			emit(out, MA_REPLY, MR_BUSY_TRIAL, 0);
			break;
		}
		m->activation = 1;	/* answered by VERDICT from now on */
		flip(m, out, MF_ACTIVATE);
		m->flip_command = 0;
		break;
	case MC_MARK_GOOD:
		if (m->state == MS_TRIAL)
			trial_pass(m, out, MP_ADMIN, 1);
		else
			flip(m, out, MF_MARK_GOOD);
		break;
	case MC_ROLLBACK:
		flip(m, out, MF_ROLLBACK);
		break;
	case MC_ROLLBACK_FORCE:
		flip(m, out, MF_ROLLBACK_FORCE);
		break;
	case MC_MARK_BAD:
		flip(m, out, MF_MARK_BAD);
		break;
	default:
		break;
	}
}

/* `current` moved: run what it points at now (a probation was the old slot's). */
static void run_current(struct machine *m, struct machine_output *out, int64_t now)
{
	probation_end(m);
	m->probation_kept = 0;
	if (agent_up(m)) {
		trial_drop(m, out);
		stop(m, out, now, MT_LAUNCH);
	} else if (m->state == MS_DOWN || m->state == MS_BACKOFF) {
		launch(m, out);
	}	/* STOPPING or KILLING to LAUNCH: the launch follows anyway */
}

static void on_flipped(struct machine *m, struct machine_output *out, int64_t now, int ok)
{
	int command = m->flip_command;

	if (!m->flip_pending)
		return;
	m->flip_pending = m->flip_command = 0;
	switch (m->flip) {
	case MF_COMMIT:
		m->healthy = ok;
		m->probation_kept = 0;
		if (ok && m->state == MS_UP && m->limits.probation_ms) {
			m->probation_exits = 0;
			probation_start(m, now, m->limits.probation_ms);
		}
		verdict(m, out, ok ? MV_GOOD : MV_COMMIT_FAILED, (int)m->pass);
		if (command)
			emit(out, MA_REPLY, ok ? MR_CURRENT : MR_REFUSED, 0);
		break;
	case MF_ACTIVATE:
		if (!ok) {
			verdict(m, out, MV_REFUSED, 0);
			break;
		}
		run_current(m, out, now);
		break;
	case MF_MARK_GOOD:
		if (ok && (m->state == MS_UP || m->state == MS_PROBATION))
			m->healthy = 1;
		emit(out, MA_REPLY, ok ? MR_CURRENT : MR_REFUSED, 0);
		break;
	case MF_PROBATION:	/* the agent is gone: the way back, or the same slot again */
		probation_end(m);
		if (ok) {
			launch(m, out);
		} else {
			m->probation_kept = 1;
			backoff(m, now);
		}
		break;
	default:	/* rollback, rollback --force, mark-bad */
		if (!ok) {
			emit(out, MA_REPLY, MR_REFUSED, 0);
			break;
		}
		if (m->state == MS_TRIAL)
			verdict(m, out, MV_ROLLED_BACK, 0);
		emit(out, MA_REPLY, MR_CURRENT, 0);	/* before a LAUNCH, which is last */
		run_current(m, out, now);
		break;
	}
}

static int64_t machine_deadline(const struct machine *m)
{
	int64_t next = MACHINE_NEVER;

	if (m->state == MS_STOPPING || m->state == MS_BACKOFF)
		return m->deadline;
	if (m->state == MS_PROBATION)
		return m->probation_until;
	if (m->state != MS_TRIAL)
		return MACHINE_NEVER;
	if (!m->ready)
		next = m->ready_by;
	if (!m->up && m->up_at < next)
		next = m->up_at;
	if (m->checking && m->check_by < next)
		next = m->check_by;
	return next;
}

void machine_step(struct machine *m, const struct machine_event *ev, struct machine_output *out)
{
	out->count = 0;
	switch (ev->kind) {
	case ME_START:
		if (m->state == MS_DOWN)
			launch(m, out);
		break;
	case ME_EXITED: on_exited(m, out, ev->now, ev->value); break;
	case ME_READY:
		if (m->state == MS_TRIAL && !m->ready) {
			m->ready = 1;
			m->ready_by = MACHINE_NEVER;
			if (m->up && !m->limits.health_check)
				trial_pass(m, out, MP_READY, 0);
		}
		break;
	case ME_HEALTH:
		if (m->state != MS_TRIAL || !m->checking)
			break;
		m->checking = 0;
		if (ev->value == 0)
			trial_pass(m, out, MP_CHECK, 0);
		else
			trial_fail(m, out, ev->now, MV_CHECK_FAILED, ev->value);
		break;
	case ME_DEADLINE: on_deadline(m, out, ev->now); break;
	case ME_COMMAND: on_command(m, out, ev->now, ev->value); break;
	case ME_SIGNAL: on_signal(m, out, ev->now, ev->value); break;
	case ME_LAUNCHED: on_launched(m, out, ev->now, ev->value, ev->ms); break;
	case ME_FLIPPED: on_flipped(m, out, ev->now, ev->value); break;
	default: break;
	}
	out->deadline = machine_deadline(m);
}

const char *machine_state_name(enum machine_state state)
{
	static const char *const names[MS_COUNT] = { "down", "up", "trial", "stopping", "killing",
						     "backoff", "exited", "probation" };

	return state >= 0 && state < MS_COUNT ? names[state] : "?";
}

const char *machine_agent_state(const struct machine *m)
{
	switch (m->state) {
	case MS_UP:
	case MS_PROBATION:
	case MS_TRIAL: return "running";
	case MS_STOPPING:
	case MS_KILLING: return "stopping";
	case MS_BACKOFF: return "backoff";
	default: return "stopped";
	}
}
