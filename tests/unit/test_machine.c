/* test_machine.c: slotd's state machine (supervisor/slotd/machine.h).
 *
 * The table test walks every state x every event: each state is reached
 * through events from machine_init (never by poking fields), the event is
 * stepped, and the next state, the kinds of the actions and the deadline are
 * compared with the table.  A FLIP is answered FLIPPED(ok) and the actions of
 * that step follow a "|".  Scenario tests then follow whole stories, checking
 * the actions' arguments too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

/* The machine is not in a library (slotd links it directly): built in here. */
#include "machine.h"

#define NOW 10000
#define NV MACHINE_NEVER
#define D(ms) (NOW + (ms))

static const struct machine_limits notify_limits = {
	.health_notify = 1, .startup_timeout_ms = 1000, .min_uptime_ms = 500,
	.stop_timeout_ms = 300, .health_timeout_ms = 200, .restart_backoff_max_ms = 800,
	.probation_ms = 2000, .probation_max_exits = 1,
};

static struct machine_output step_ms(struct machine *m, enum machine_event_kind kind, int value,
				     int64_t now, int64_t ms)
{
	struct machine_event ev = { kind, now, value, ms };
	struct machine_output out;

	machine_step(m, &ev, &out);
	return out;
}

static struct machine_output step(struct machine *m, enum machine_event_kind kind, int value,
				  int64_t now)
{
	return step_ms(m, kind, value, now, 0);
}

/* "STOP,VERDICT": the kinds of out's actions. */
static void kinds(const struct machine_output *out, char *buf, size_t len)
{
	static const char *const names[] = { "LAUNCH", "STOP", "KILL", "FORWARD", "START_CHECK",
					     "KILL_CHECK", "FLIP", "REVERT", "REPLY", "VERDICT",
					     "EXIT" };
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < out->count && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? "," : "",
					 names[out->action[i].kind]);
}

static int has(const struct machine_output *out, enum machine_action_kind kind, int arg)
{
	size_t i;

	for (i = 0; i < out->count; i++)
		if (out->action[i].kind == kind && out->action[i].arg == arg)
			return 1;
	return 0;
}

/* Reaches `state` at time NOW through events only. */
static void enter(struct machine *m, enum machine_state state)
{
	machine_init(m, &notify_limits);
	step(m, ME_START, 0, NOW - 1000);
	switch (state) {
	case MS_DOWN:
		step(m, ME_LAUNCHED, ML_NONE, NOW);
		break;
	case MS_TRIAL:	/* with an activation waiting for its verdict */
		step(m, ME_LAUNCHED, ML_GOOD, NOW - 1000);
		step(m, ME_COMMAND, MC_ACTIVATE, NOW - 2);
		step(m, ME_FLIPPED, 1, NOW - 2);
		step(m, ME_EXITED, 0, NOW - 1);
		step(m, ME_LAUNCHED, ML_TRIAL, NOW);
		break;
	case MS_STOPPING:
		step(m, ME_LAUNCHED, ML_GOOD, NOW - 1000);
		step(m, ME_COMMAND, MC_RESTART, NOW);
		break;
	case MS_KILLING:
		step(m, ME_LAUNCHED, ML_GOOD, NOW - 1000);
		step(m, ME_COMMAND, MC_RESTART, NOW - 300);
		step(m, ME_DEADLINE, 0, NOW);
		break;
	case MS_BACKOFF:
		step(m, ME_LAUNCHED, ML_GOOD, NOW - 100);
		step(m, ME_EXITED, 0, NOW);
		break;
	case MS_EXITED:
		step(m, ME_LAUNCHED, ML_GOOD, NOW - 1000);
		step(m, ME_SIGNAL, SIGTERM, NOW - 1);
		step(m, ME_EXITED, 0, NOW);
		break;
	case MS_PROBATION:	/* a good slot committed, 2 s of its window left */
		step_ms(m, ME_LAUNCHED, ML_GOOD, NOW, 2000);
		break;
	default:	/* MS_UP */
		step(m, ME_LAUNCHED, ML_GOOD, NOW);
	}
	assert_int_equal(m->state, state);
}

enum { EV_COUNT = 22 };
static const struct {
	enum machine_event_kind kind;
	int value;
	const char *name;
	int64_t ms;
} events[EV_COUNT] = {
	{ ME_START, 0, "start" },
	{ ME_EXITED, 0, "exited" },
	{ ME_READY, 0, "ready" },
	{ ME_HEALTH, 0, "health ok" },
	{ ME_HEALTH, 256, "health failed" },
	{ ME_DEADLINE, 0, "deadline" },
	{ ME_COMMAND, MC_ACTIVATE, "activate" },
	{ ME_COMMAND, MC_ROLLBACK, "rollback" },
	{ ME_COMMAND, MC_ROLLBACK_FORCE, "rollback --force" },
	{ ME_COMMAND, MC_MARK_GOOD, "mark-good" },
	{ ME_COMMAND, MC_MARK_BAD, "mark-bad" },
	{ ME_COMMAND, MC_RESTART, "restart" },
	{ ME_COMMAND, MC_STATUS, "status" },
	{ ME_SIGNAL, SIGTERM, "SIGTERM" },
	{ ME_SIGNAL, SIGINT, "SIGINT" },
	{ ME_SIGNAL, SIGHUP, "SIGHUP" },
	{ ME_LAUNCHED, ML_GOOD, "launched good" },
	{ ME_LAUNCHED, ML_TRIAL, "launched trial" },
	{ ME_LAUNCHED, ML_NONE, "launched none" },
	{ ME_LAUNCHED, ML_FAILED, "launched failed" },
	{ ME_FLIPPED, 1, "flipped" },
	{ ME_LAUNCHED, ML_GOOD, "launched good, 1.5 s of probation left", 1500 },
};

struct expect {
	enum machine_state state;
	const char *actions;
	int64_t deadline;
};

/* Rows in the order of events[]. */
static const struct expect table[MS_COUNT][EV_COUNT] = {
	[MS_DOWN] = {
		{ MS_DOWN, "LAUNCH", NV },
		{ MS_DOWN, "", NV },
		{ MS_DOWN, "", NV },
		{ MS_DOWN, "", NV },
		{ MS_DOWN, "", NV },
		{ MS_DOWN, "", NV },
		{ MS_DOWN, "FLIP|LAUNCH", NV },
		{ MS_DOWN, "FLIP|REPLY,LAUNCH", NV },
		{ MS_DOWN, "FLIP|REPLY,LAUNCH", NV },
		{ MS_DOWN, "FLIP|REPLY", NV },
		{ MS_DOWN, "FLIP|REPLY,LAUNCH", NV },
		{ MS_DOWN, "REPLY,LAUNCH", NV },
		{ MS_DOWN, "REPLY", NV },
		{ MS_EXITED, "EXIT", NV },
		{ MS_EXITED, "EXIT", NV },
		{ MS_DOWN, "", NV },
		{ MS_UP, "", NV },
		{ MS_TRIAL, "", D(500) },
		{ MS_DOWN, "", NV },
		{ MS_BACKOFF, "", D(1000) },
		{ MS_DOWN, "", NV },
		{ MS_PROBATION, "", D(1500) },
	},
	[MS_UP] = {
		{ MS_UP, "", NV },
		{ MS_BACKOFF, "", D(100) },
		{ MS_UP, "", NV },
		{ MS_UP, "", NV },
		{ MS_UP, "", NV },
		{ MS_UP, "", NV },
		{ MS_STOPPING, "FLIP|STOP", D(300) },
		{ MS_STOPPING, "FLIP|REPLY,STOP", D(300) },
		{ MS_STOPPING, "FLIP|REPLY,STOP", D(300) },
		{ MS_UP, "FLIP|REPLY", NV },
		{ MS_STOPPING, "FLIP|REPLY,STOP", D(300) },
		{ MS_STOPPING, "REPLY,STOP", D(300) },
		{ MS_UP, "REPLY", NV },
		{ MS_STOPPING, "STOP", D(300) },
		{ MS_STOPPING, "FORWARD,STOP", D(300) },
		{ MS_UP, "FORWARD", NV },
		{ MS_UP, "", NV },
		{ MS_UP, "", NV },
		{ MS_UP, "", NV },
		{ MS_UP, "", NV },
		{ MS_UP, "", NV },
		{ MS_UP, "", NV },
	},
	[MS_TRIAL] = {	/* READY=1 due at D(1000), min_uptime at D(500) */
		{ MS_TRIAL, "", D(500) },
		{ MS_DOWN, "REVERT,VERDICT,LAUNCH", NV },
		{ MS_TRIAL, "", D(500) },
		{ MS_TRIAL, "", D(500) },
		{ MS_TRIAL, "", D(500) },
		{ MS_TRIAL, "", D(1000) },	/* up for min_uptime; READY=1 still due */
		{ MS_TRIAL, "REPLY", D(500) },
		{ MS_STOPPING, "FLIP|VERDICT,REPLY,STOP", D(300) },
		{ MS_STOPPING, "FLIP|VERDICT,REPLY,STOP", D(300) },
		{ MS_PROBATION, "FLIP|VERDICT,REPLY", D(2000) },	/* committed */
		{ MS_STOPPING, "FLIP|VERDICT,REPLY,STOP", D(300) },
		{ MS_STOPPING, "REPLY,STOP", D(300) },
		{ MS_TRIAL, "REPLY", D(500) },
		{ MS_STOPPING, "VERDICT,STOP", D(300) },
		{ MS_STOPPING, "FORWARD,VERDICT,STOP", D(300) },
		{ MS_TRIAL, "FORWARD", D(500) },
		{ MS_TRIAL, "", D(500) },
		{ MS_TRIAL, "", D(500) },
		{ MS_TRIAL, "", D(500) },
		{ MS_TRIAL, "", D(500) },
		{ MS_TRIAL, "", D(500) },
		{ MS_TRIAL, "", D(500) },
	},
	[MS_STOPPING] = {	/* then relaunch */
		{ MS_STOPPING, "", D(300) },
		{ MS_DOWN, "LAUNCH", NV },
		{ MS_STOPPING, "", D(300) },
		{ MS_STOPPING, "", D(300) },
		{ MS_STOPPING, "", D(300) },
		{ MS_KILLING, "KILL", NV },
		{ MS_STOPPING, "FLIP|", D(300) },
		{ MS_STOPPING, "FLIP|REPLY", D(300) },
		{ MS_STOPPING, "FLIP|REPLY", D(300) },
		{ MS_STOPPING, "FLIP|REPLY", D(300) },
		{ MS_STOPPING, "FLIP|REPLY", D(300) },
		{ MS_STOPPING, "REPLY", D(300) },
		{ MS_STOPPING, "REPLY", D(300) },
		{ MS_STOPPING, "", D(300) },
		{ MS_STOPPING, "FORWARD", D(300) },
		{ MS_STOPPING, "FORWARD", D(300) },
		{ MS_STOPPING, "", D(300) },
		{ MS_STOPPING, "", D(300) },
		{ MS_STOPPING, "", D(300) },
		{ MS_STOPPING, "", D(300) },
		{ MS_STOPPING, "", D(300) },
		{ MS_STOPPING, "", D(300) },
	},
	[MS_KILLING] = {	/* then relaunch */
		{ MS_KILLING, "", NV },
		{ MS_DOWN, "LAUNCH", NV },
		{ MS_KILLING, "", NV },
		{ MS_KILLING, "", NV },
		{ MS_KILLING, "", NV },
		{ MS_KILLING, "", NV },
		{ MS_KILLING, "FLIP|", NV },
		{ MS_KILLING, "FLIP|REPLY", NV },
		{ MS_KILLING, "FLIP|REPLY", NV },
		{ MS_KILLING, "FLIP|REPLY", NV },
		{ MS_KILLING, "FLIP|REPLY", NV },
		{ MS_KILLING, "REPLY", NV },
		{ MS_KILLING, "REPLY", NV },
		{ MS_KILLING, "", NV },
		{ MS_KILLING, "FORWARD", NV },
		{ MS_KILLING, "FORWARD", NV },
		{ MS_KILLING, "", NV },
		{ MS_KILLING, "", NV },
		{ MS_KILLING, "", NV },
		{ MS_KILLING, "", NV },
		{ MS_KILLING, "", NV },
		{ MS_KILLING, "", NV },
	},
	[MS_BACKOFF] = {	/* relaunch at D(100) */
		{ MS_BACKOFF, "", D(100) },
		{ MS_BACKOFF, "", D(100) },
		{ MS_BACKOFF, "", D(100) },
		{ MS_BACKOFF, "", D(100) },
		{ MS_BACKOFF, "", D(100) },
		{ MS_DOWN, "LAUNCH", NV },
		{ MS_DOWN, "FLIP|LAUNCH", NV },
		{ MS_DOWN, "FLIP|REPLY,LAUNCH", NV },
		{ MS_DOWN, "FLIP|REPLY,LAUNCH", NV },
		{ MS_BACKOFF, "FLIP|REPLY", D(100) },
		{ MS_DOWN, "FLIP|REPLY,LAUNCH", NV },
		{ MS_DOWN, "REPLY,LAUNCH", NV },
		{ MS_BACKOFF, "REPLY", D(100) },
		{ MS_EXITED, "EXIT", NV },
		{ MS_EXITED, "EXIT", NV },
		{ MS_BACKOFF, "", D(100) },
		{ MS_BACKOFF, "", D(100) },
		{ MS_BACKOFF, "", D(100) },
		{ MS_BACKOFF, "", D(100) },
		{ MS_BACKOFF, "", D(100) },
		{ MS_BACKOFF, "", D(100) },
		{ MS_BACKOFF, "", D(100) },
	},
	[MS_EXITED] = {
		{ MS_EXITED, "", NV }, { MS_EXITED, "", NV }, { MS_EXITED, "", NV },
		{ MS_EXITED, "", NV }, { MS_EXITED, "", NV }, { MS_EXITED, "", NV },
		{ MS_EXITED, "REPLY", NV }, { MS_EXITED, "REPLY", NV }, { MS_EXITED, "REPLY", NV },
		{ MS_EXITED, "REPLY", NV }, { MS_EXITED, "REPLY", NV }, { MS_EXITED, "REPLY", NV },
		{ MS_EXITED, "REPLY", NV }, { MS_EXITED, "", NV }, { MS_EXITED, "", NV },
		{ MS_EXITED, "", NV }, { MS_EXITED, "", NV }, { MS_EXITED, "", NV },
		{ MS_EXITED, "", NV }, { MS_EXITED, "", NV }, { MS_EXITED, "", NV },
		{ MS_EXITED, "", NV },
	},
	[MS_PROBATION] = {	/* until D(2000); one exit allowed, the second reverts */
		{ MS_PROBATION, "", D(2000) },
		{ MS_BACKOFF, "", D(100) },	/* the first exit: restarted as ever */
		{ MS_PROBATION, "", D(2000) },
		{ MS_PROBATION, "", D(2000) },
		{ MS_PROBATION, "", D(2000) },
		{ MS_UP, "", NV },		/* the window is over: simply good */
		{ MS_STOPPING, "FLIP|STOP", D(300) },
		{ MS_STOPPING, "FLIP|REPLY,STOP", D(300) },
		{ MS_STOPPING, "FLIP|REPLY,STOP", D(300) },
		{ MS_PROBATION, "FLIP|REPLY", D(2000) },
		{ MS_STOPPING, "FLIP|REPLY,STOP", D(300) },
		{ MS_STOPPING, "REPLY,STOP", D(300) },
		{ MS_PROBATION, "REPLY", D(2000) },
		{ MS_STOPPING, "STOP", D(300) },
		{ MS_STOPPING, "FORWARD,STOP", D(300) },
		{ MS_PROBATION, "FORWARD", D(2000) },
		{ MS_PROBATION, "", D(2000) },
		{ MS_PROBATION, "", D(2000) },
		{ MS_PROBATION, "", D(2000) },
		{ MS_PROBATION, "", D(2000) },
		{ MS_PROBATION, "", D(2000) },
		{ MS_PROBATION, "", D(2000) },
	},
};

/* Steps one event in a state; FLIP is answered FLIPPED(ok).  Writes the
 * kinds ("A,B|C") into buf and returns the last step's output. */
static struct machine_output run_row(struct machine *m, enum machine_state state, int e,
				     char *buf, size_t len)
{
	struct machine_output out;
	int64_t at = NOW;
	size_t used;

	enter(m, state);
	if (events[e].kind == ME_DEADLINE && m->state != MS_EXITED)
		at = step(m, ME_COMMAND, MC_STATUS, NOW).deadline;	/* changes nothing */
	if (at == NV)
		at = NOW;
	out = step_ms(m, events[e].kind, events[e].value, at, events[e].ms);
	kinds(&out, buf, len);
	if (out.count && out.action[out.count - 1].kind == MA_FLIP) {
		used = strlen(buf);
		snprintf(buf + used, len - used, "|");
		out = step(m, ME_FLIPPED, 1, at);
		used = strlen(buf);
		kinds(&out, buf + used, len - used);
	}
	return out;
}

static void test_machine_table(void **unused)
{
	struct machine_output out;
	struct machine m;
	char got[160], where[80];
	int state, e;

	(void)unused;
	for (state = 0; state < MS_COUNT; state++) {
		for (e = 0; e < EV_COUNT; e++) {
			const struct expect *want = &table[state][e];

			snprintf(where, sizeof where, "%s x %s", machine_state_name(state),
				 events[e].name);
			out = run_row(&m, (enum machine_state)state, e, got, sizeof got);
			if (strcmp(got, want->actions) || m.state != want->state ||
			    out.deadline != want->deadline)
				fail_msg("%s: got %s [%s] deadline %lld, want %s [%s] deadline %lld",
					 where, machine_state_name(m.state), got,
					 (long long)(out.deadline == NV ? -1 : out.deadline - NOW),
					 machine_state_name(want->state), want->actions,
					 (long long)(want->deadline == NV ? -1 : want->deadline - NOW));
		}
	}
}

/* The invariants of machine.h, over the same walk. */
static void test_machine_invariants(void **unused)
{
	struct machine_output out;
	struct machine m;
	char got[160];
	int state, e, replies;
	size_t i;

	(void)unused;
	for (state = 0; state < MS_COUNT; state++) {
		for (e = 0; e < EV_COUNT; e++) {
			out = run_row(&m, (enum machine_state)state, e, got, sizeof got);
			/* 2: a deadline only where one is waited for */
			if (m.state != MS_TRIAL && m.state != MS_STOPPING && m.state != MS_BACKOFF &&
			    m.state != MS_PROBATION)
				assert_true(out.deadline == NV);
			/* 3: an action with a result is the last one */
			for (i = 0; i + 1 < out.count; i++)
				assert_true(out.action[i].kind != MA_LAUNCH &&
					    out.action[i].kind != MA_FLIP &&
					    out.action[i].kind != MA_START_CHECK);
			/* 1: one REPLY per command, but for an accepted activate */
			if (events[e].kind != ME_COMMAND)
				continue;
			for (replies = 0, i = 0; got[i]; i++)
				replies += !strncmp(got + i, "REPLY", 5);
			if (events[e].value == MC_ACTIVATE && strstr(got, "FLIP"))
				assert_int_equal(replies, 0);
			else
				assert_int_equal(replies, 1);
		}
	}
}

static void test_machine_rollback_during_trial(void **unused)
{
	struct machine_output out;
	struct machine m;

	(void)unused;
	enter(&m, MS_TRIAL);
	out = step(&m, ME_COMMAND, MC_ROLLBACK, NOW + 10);
	assert_true(has(&out, MA_FLIP, MF_ROLLBACK));
	out = step(&m, ME_FLIPPED, 1, NOW + 10);
	assert_true(has(&out, MA_VERDICT, MV_ROLLED_BACK));
	assert_true(has(&out, MA_REPLY, MR_CURRENT));
	assert_true(has(&out, MA_STOP, 0));
	assert_int_equal(m.activation, 0);
	out = step(&m, ME_EXITED, 0, NOW + 20);
	assert_true(has(&out, MA_LAUNCH, 0));
	out = step(&m, ME_LAUNCHED, ML_GOOD, NOW + 20);
	assert_int_equal(m.state, MS_UP);
	/* The trial's deadlines went with it: nothing left to fire, ever. */
	assert_true(out.deadline == NV);
	out = step(&m, ME_DEADLINE, 0, NOW + 1000);
	assert_int_equal(out.count, 0);
	assert_true(out.deadline == NV);
}

static void test_machine_mark_bad_during_trial(void **unused)
{
	struct machine_output out;
	struct machine m;

	(void)unused;
	enter(&m, MS_TRIAL);
	/* Refused (nothing good to go back to): the trial goes on untouched. */
	out = step(&m, ME_COMMAND, MC_MARK_BAD, NOW + 10);
	assert_true(has(&out, MA_FLIP, MF_MARK_BAD));
	out = step(&m, ME_FLIPPED, 0, NOW + 10);
	assert_int_equal(out.count, 1);
	assert_true(has(&out, MA_REPLY, MR_REFUSED));
	assert_int_equal(m.state, MS_TRIAL);
	assert_true(out.deadline == D(500));
	assert_int_equal(m.activation, 1);
	/* Done: the activation hears it, the agent is stopped and relaunched. */
	step(&m, ME_COMMAND, MC_MARK_BAD, NOW + 20);
	out = step(&m, ME_FLIPPED, 1, NOW + 20);
	assert_true(has(&out, MA_VERDICT, MV_ROLLED_BACK));
	assert_true(has(&out, MA_STOP, 0));
	assert_false(has(&out, MA_REVERT, MV_ROLLED_BACK));	/* the flip did it */
	assert_int_equal(m.state, MS_STOPPING);
	assert_true(out.deadline == D(320));
	out = step(&m, ME_EXITED, 0, NOW + 30);
	assert_true(has(&out, MA_LAUNCH, 0));
	out = step(&m, ME_LAUNCHED, ML_GOOD, NOW + 30);
	assert_true(out.deadline == NV);
}

static void test_machine_sigterm_during_trial(void **unused)
{
	struct machine_output out;
	struct machine m;

	(void)unused;
	enter(&m, MS_TRIAL);
	out = step(&m, ME_SIGNAL, SIGTERM, NOW + 10);
	assert_true(has(&out, MA_VERDICT, MV_STOPPING));
	assert_true(has(&out, MA_STOP, 0));
	assert_false(has(&out, MA_REVERT, MV_STOPPING));	/* the attempt counter decides later */
	assert_true(out.deadline == D(310));
	/* Commands other than status are refused from now on. */
	out = step(&m, ME_COMMAND, MC_RESTART, NOW + 20);
	assert_true(has(&out, MA_REPLY, MR_BUSY_STOPPING));
	out = step(&m, ME_COMMAND, MC_STATUS, NOW + 20);
	assert_true(has(&out, MA_REPLY, MR_STATUS));
	/* It ignores SIGTERM: SIGKILL at the deadline, then slotd exits 137. */
	out = step(&m, ME_DEADLINE, 0, D(310));
	assert_true(has(&out, MA_KILL, 0));
	out = step(&m, ME_EXITED, SIGKILL, D(320));	/* wait status of a SIGKILL */
	assert_true(has(&out, MA_EXIT, 128 + SIGKILL));
	assert_int_equal(m.state, MS_EXITED);
	assert_int_equal(m.exit_code, 137);
}

static void test_machine_exit_during_stop(void **unused)
{
	struct machine_output out;
	struct machine m;

	(void)unused;
	/* A restart's stop: the exit relaunches, whatever its status. */
	enter(&m, MS_STOPPING);
	out = step(&m, ME_EXITED, 3 << 8, NOW + 10);
	assert_true(has(&out, MA_LAUNCH, 0));
	assert_int_equal(out.count, 1);
	/* A SIGTERM arriving during that stop turns it into an exit. */
	enter(&m, MS_STOPPING);
	step(&m, ME_SIGNAL, SIGTERM, NOW + 5);
	out = step(&m, ME_EXITED, 3 << 8, NOW + 10);
	assert_true(has(&out, MA_EXIT, 3));
	assert_false(has(&out, MA_LAUNCH, 0));
	/* A good agent crashing: backoff doubles, capped; a long run resets it. */
	enter(&m, MS_UP);
	out = step(&m, ME_EXITED, 0, NOW);
	assert_true(out.deadline == D(100));
	step(&m, ME_DEADLINE, 0, D(100));
	step(&m, ME_LAUNCHED, ML_GOOD, D(100));
	out = step(&m, ME_EXITED, 0, D(110));
	assert_true(out.deadline == D(110 + 200));
	step(&m, ME_DEADLINE, 0, D(310));
	step(&m, ME_LAUNCHED, ML_GOOD, D(310));
	out = step(&m, ME_EXITED, 0, D(310 + 600));	/* up longer than min_uptime */
	assert_true(out.deadline == D(910 + 100));
}

static void test_machine_ready_after_deadline(void **unused)
{
	struct machine_output out;
	struct machine m;

	(void)unused;
	enter(&m, MS_TRIAL);
	out = step(&m, ME_DEADLINE, 0, D(500));	/* min_uptime: READY=1 still due */
	assert_int_equal(out.count, 0);
	assert_true(out.deadline == D(1000));
	out = step(&m, ME_DEADLINE, 0, D(999));	/* early wakeup: nothing yet */
	assert_int_equal(out.count, 0);
	out = step(&m, ME_DEADLINE, 0, D(1000));
	assert_true(has(&out, MA_REVERT, MV_NOT_READY));
	assert_true(has(&out, MA_VERDICT, MV_NOT_READY));
	assert_int_equal(out.action[0].value, 1000);
	assert_int_equal(m.state, MS_STOPPING);
	out = step(&m, ME_READY, 0, D(1001));	/* too late: no effect */
	assert_int_equal(out.count, 0);
	assert_int_equal(m.state, MS_STOPPING);
	assert_true(out.deadline == D(1300));
}

static void test_machine_trial_passes(void **unused)
{
	struct machine_output out;
	struct machine m;

	(void)unused;
	enter(&m, MS_TRIAL);
	step(&m, ME_READY, 0, D(100));
	out = step(&m, ME_DEADLINE, 0, D(500));
	assert_true(has(&out, MA_FLIP, MF_COMMIT));
	out = step(&m, ME_FLIPPED, 1, D(500));
	assert_true(has(&out, MA_VERDICT, MV_GOOD));
	assert_int_equal(out.count, 1);	/* no command: no reply */
	assert_int_equal(m.state, MS_PROBATION);	/* for 2 s from the commit */
	assert_int_equal(m.healthy, 1);
	assert_true(out.deadline == D(2500));
	/* A commit that cannot be saved: the activation hears it, the agent stays. */
	enter(&m, MS_TRIAL);
	step(&m, ME_DEADLINE, 0, D(500));
	out = step(&m, ME_READY, 0, D(600));
	assert_true(has(&out, MA_FLIP, MF_COMMIT));
	out = step(&m, ME_FLIPPED, 0, D(600));
	assert_true(has(&out, MA_VERDICT, MV_COMMIT_FAILED));
	assert_int_equal(m.state, MS_UP);
	assert_int_equal(m.healthy, 0);
}

static void test_machine_health_exec(void **unused)
{
	struct machine_limits limits = notify_limits;
	struct machine_output out;
	struct machine m;

	(void)unused;
	limits.health_notify = 0;
	limits.health_check = 1;
	machine_init(&m, &limits);
	step(&m, ME_START, 0, NOW);
	out = step(&m, ME_LAUNCHED, ML_TRIAL, NOW);
	assert_true(out.deadline == D(500));	/* no READY=1 needed */
	out = step(&m, ME_DEADLINE, 0, D(500));
	assert_true(has(&out, MA_START_CHECK, 0));
	assert_true(out.deadline == D(700));
	out = step(&m, ME_HEALTH, 0, D(600));
	assert_true(has(&out, MA_FLIP, MF_COMMIT));
	/* A check that hangs is killed at health_timeout and fails the trial. */
	machine_init(&m, &limits);
	step(&m, ME_START, 0, NOW);
	step(&m, ME_LAUNCHED, ML_TRIAL, NOW);
	step(&m, ME_DEADLINE, 0, D(500));
	out = step(&m, ME_DEADLINE, 0, D(700));
	assert_true(has(&out, MA_KILL_CHECK, 0));
	assert_true(has(&out, MA_REVERT, MV_CHECK_TIMEOUT));
	assert_true(has(&out, MA_STOP, 0));
	/* A check that could not start is a failed check. */
	machine_init(&m, &limits);
	step(&m, ME_START, 0, NOW);
	step(&m, ME_LAUNCHED, ML_TRIAL, NOW);
	step(&m, ME_DEADLINE, 0, D(500));
	out = step(&m, ME_HEALTH, -1, D(500));
	assert_true(has(&out, MA_REVERT, MV_CHECK_FAILED));
	assert_int_equal(out.action[0].value, -1);
}

static void test_machine_activation_verdicts(void **unused)
{
	struct machine_output out;
	struct machine m;

	(void)unused;
	/* The flip refused: the activation hears it at once. */
	enter(&m, MS_UP);
	step(&m, ME_COMMAND, MC_ACTIVATE, NOW);
	out = step(&m, ME_FLIPPED, 0, NOW);
	assert_true(has(&out, MA_VERDICT, MV_REFUSED));
	assert_int_equal(m.state, MS_UP);
	/* No trial came of the launch (attempts used up): it hears that too. */
	enter(&m, MS_UP);
	step(&m, ME_COMMAND, MC_ACTIVATE, NOW);
	step(&m, ME_FLIPPED, 1, NOW);
	step(&m, ME_EXITED, 0, NOW + 10);
	out = step(&m, ME_LAUNCHED, ML_GOOD, NOW + 10);
	assert_true(has(&out, MA_VERDICT, MV_NOT_LAUNCHED));
	/* A second activation while one waits is refused. */
	enter(&m, MS_UP);
	step(&m, ME_COMMAND, MC_ACTIVATE, NOW);
	step(&m, ME_FLIPPED, 1, NOW);
	out = step(&m, ME_COMMAND, MC_ACTIVATE, NOW + 1);
	assert_true(has(&out, MA_REPLY, MR_BUSY_TRIAL));
	/* An agent crashing on trial: reverted and relaunched at once. */
	enter(&m, MS_TRIAL);
	out = step(&m, ME_EXITED, 4 << 8, NOW + 10);
	assert_true(has(&out, MA_REVERT, MV_EXITED));
	assert_true(has(&out, MA_VERDICT, MV_EXITED));
	assert_int_equal(out.action[out.count - 1].kind, MA_LAUNCH);
}

/* A committed slot whose agent crash-loops within its window is reverted; one
 * that survives it is simply good; a revert with no way back keeps it. */
static void test_machine_probation(void **unused)
{
	struct machine_output out;
	struct machine m;

	(void)unused;
	enter(&m, MS_PROBATION);	/* until D(2000), one exit allowed */
	out = step(&m, ME_EXITED, 5 << 8, D(100));
	assert_int_equal(m.state, MS_BACKOFF);
	assert_int_equal(m.probation_exits, 1);
	step(&m, ME_DEADLINE, 0, out.deadline);
	out = step_ms(&m, ME_LAUNCHED, ML_GOOD, D(300), 1700);	/* what is left on disk */
	assert_int_equal(m.state, MS_PROBATION);
	assert_true(out.deadline == D(2000));
	out = step(&m, ME_EXITED, 5 << 8, D(400));	/* the second: one too many */
	assert_int_equal(out.count, 1);
	assert_true(has(&out, MA_FLIP, MF_PROBATION));
	assert_int_equal(out.action[0].value, 2);
	assert_true(out.deadline == NV);
	out = step(&m, ME_FLIPPED, 1, D(400));
	assert_true(has(&out, MA_LAUNCH, 0));	/* the way back, at once */
	out = step(&m, ME_LAUNCHED, ML_GOOD, D(400));
	assert_int_equal(m.state, MS_UP);
	assert_true(out.deadline == NV);
	assert_int_equal(m.probation_exits, 0);

	/* The window passes: UP, and a crash then is only restarted. */
	enter(&m, MS_PROBATION);
	out = step(&m, ME_DEADLINE, 0, D(1999));	/* early wakeup: nothing */
	assert_int_equal(m.state, MS_PROBATION);
	out = step(&m, ME_DEADLINE, 0, D(2000));
	assert_int_equal(m.state, MS_UP);
	assert_true(out.deadline == NV);
	step(&m, ME_EXITED, 0, D(2100));
	out = step(&m, ME_DEADLINE, 0, D(2200));
	assert_true(has(&out, MA_LAUNCH, 0));
	step(&m, ME_LAUNCHED, ML_GOOD, D(2200));
	out = step(&m, ME_EXITED, 0, D(2300));
	assert_int_equal(m.state, MS_BACKOFF);
	assert_false(has(&out, MA_FLIP, MF_PROBATION));

	/* No good slot to go back to: kept, backed off, and not tried again. */
	enter(&m, MS_PROBATION);
	step(&m, ME_EXITED, 0, D(10));
	step(&m, ME_DEADLINE, 0, D(110));
	step_ms(&m, ME_LAUNCHED, ML_GOOD, D(110), 1890);
	out = step(&m, ME_EXITED, 0, D(120));
	assert_true(has(&out, MA_FLIP, MF_PROBATION));
	out = step(&m, ME_FLIPPED, 0, D(120));
	assert_int_equal(m.state, MS_BACKOFF);
	assert_false(has(&out, MA_LAUNCH, 0));
	step(&m, ME_DEADLINE, 0, out.deadline);
	step_ms(&m, ME_LAUNCHED, ML_GOOD, D(1000), 1000);
	assert_int_equal(m.state, MS_UP);

	/* A relaunch after slotd's restart: the window left comes from disk. */
	machine_init(&m, &notify_limits);
	step(&m, ME_START, 0, NOW);
	out = step_ms(&m, ME_LAUNCHED, ML_GOOD, NOW, 700);
	assert_int_equal(m.state, MS_PROBATION);
	assert_true(out.deadline == D(700));
	/* Probation off: a good launch is UP whatever the disk says. */
	struct machine_limits off = notify_limits;
	off.probation_ms = 0;
	machine_init(&m, &off);
	step(&m, ME_START, 0, NOW);
	out = step_ms(&m, ME_LAUNCHED, ML_GOOD, NOW, 700);
	assert_int_equal(m.state, MS_UP);
	assert_true(out.deadline == NV);
}

/* A restart or an admin's stop is not an exit of the agent's own. */
static void test_machine_probation_restart(void **unused)
{
	struct machine_output out;
	struct machine m;

	(void)unused;
	enter(&m, MS_PROBATION);
	step(&m, ME_COMMAND, MC_RESTART, D(10));
	out = step(&m, ME_EXITED, 0, D(20));
	assert_true(has(&out, MA_LAUNCH, 0));
	assert_int_equal(m.probation_exits, 0);
	/* A rollback moves `current`: the old slot's probation goes with it. */
	enter(&m, MS_PROBATION);
	step(&m, ME_EXITED, 0, D(10));
	step(&m, ME_COMMAND, MC_ROLLBACK, D(20));
	step(&m, ME_FLIPPED, 1, D(20));
	assert_int_equal(m.probation_exits, 0);
	assert_true(m.probation_until == NV);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_machine_table),
		cmocka_unit_test(test_machine_invariants),
		cmocka_unit_test(test_machine_rollback_during_trial),
		cmocka_unit_test(test_machine_mark_bad_during_trial),
		cmocka_unit_test(test_machine_sigterm_during_trial),
		cmocka_unit_test(test_machine_exit_during_stop),
		cmocka_unit_test(test_machine_ready_after_deadline),
		cmocka_unit_test(test_machine_trial_passes),
		cmocka_unit_test(test_machine_health_exec),
		cmocka_unit_test(test_machine_activation_verdicts),
		cmocka_unit_test(test_machine_probation),
		cmocka_unit_test(test_machine_probation_restart),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
