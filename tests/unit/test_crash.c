/* test_crash.c: a power cut at every durable step of the engine.
 *
 * For each scenario and each N = 1, 2, ... a forked child runs the scenario
 * with SLOTS_CRASH_AT=N, so it dies right before its N-th durable step.  The
 * parent then restarts the way slotd does (open + recover) and checks the
 * invariants of docs/slots.md (Invariants 1-4).  N grows until the scenario completes,
 * so every crash point on its path is exercised. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crash.h"
#include "history.h"
#include "support.h"
#include "support_slots.h"

typedef void (*prepare_fn)(struct slots *s);
typedef int (*scenario_fn)(struct slots *s);

static void prepare_a_good(struct slots *s)
{
	support_make_good(s, SLOT_A, "v1");
}

/* A history just over HISTORY_COMPACT_BYTES: the next append compacts it. */
static void prepare_a_good_full_history(struct slots *s)
{
	struct history_record r = { .kind = "upgrade", .state = HISTORY_SUCCESS };
	struct stat st;

	prepare_a_good(s);
	memset(r.location, 'x', 1000);
	for (int i = 0; fstatat(s->layout.root_fd, "history", &st, 0) < 0 ||
			st.st_size < HISTORY_COMPACT_BYTES; i++) {
		snprintf(r.id, sizeof r.id, "fill-%d", i);
		r.started = 0;
		assert_int_equal(history_append(&s->layout, &r, NULL), 0);
	}
}

static void prepare_b_installed(struct slots *s)
{
	prepare_a_good(s);
	support_install(s, SLOT_B, "v2");
}

static void prepare_b_trial(struct slots *s)
{
	int slot;

	prepare_b_installed(s);
	assert_int_equal(slots_activate(s, SLOT_B, NULL), 0);
	assert_int_equal(slots_prepare_launch(s, &slot, NULL), 0);
}

static void prepare_b_good(struct slots *s)
{
	prepare_b_trial(s);
	assert_int_equal(slots_commit(s, NULL), 0);
}

static int scenario_install(struct slots *s)
{
	return slots_begin_install(s, SLOT_B, NULL) ||
	       slots_finish_install(s, SLOT_B, "v2", "", NULL);
}

static int scenario_flip_and_commit(struct slots *s)
{
	int slot;

	return slots_activate(s, SLOT_B, NULL) || slots_prepare_launch(s, &slot, NULL) ||
	       slot != SLOT_B || slots_commit(s, NULL);
}

static int scenario_flip_and_revert(struct slots *s)
{
	int slot;

	return slots_activate(s, SLOT_B, NULL) || slots_prepare_launch(s, &slot, NULL) ||
	       slots_revert(s, "health check failed", NULL);
}

static int scenario_revert(struct slots *s)
{
	return slots_revert(s, "crashed", NULL);
}

static int scenario_rollback(struct slots *s)
{
	return slots_rollback(s, 0, NULL);
}

static int scenario_mark_bad(struct slots *s)
{
	return slots_mark_bad(s, "admin", NULL);
}

static int scenario_history(struct slots *s)
{
	struct history_record r = { .id = "crash", .kind = "upgrade", .state = HISTORY_SUCCESS };

	return history_append(&s->layout, &r, NULL);
}

/* Runs the scenario in a child that dies at its n-th crash point.
 * Returns 1 if it crashed, 0 if it ran to the end. */
static int run_child(const char *root, scenario_fn scenario, unsigned n)
{
	struct slots s;
	char at[16];
	int status;
	pid_t pid;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		crash_point_reset();
		snprintf(at, sizeof at, "%u", n);
		setenv("SLOTS_CRASH_AT", at, 1);
		if (slots_open(&s, root, 3, NULL) < 0 || scenario(&s) != 0)
			_exit(1);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == CRASH_EXIT_CODE)
		return 1;
	assert_int_equal(WEXITSTATUS(status), 0);
	return 0;
}

/* The restart after the crash, and the promises that must hold after it. */
static void assert_recovers(const char *root)
{
	struct history_stats stats;
	struct error err = { "" };
	struct slots s;
	int slot;

	if (slots_open(&s, root, 3, &err) < 0 || slots_recover(&s, NULL, 0, &err) < 0)
		fail_msg("restart failed: %s", err.text);
	/* 1: current points at a good or trial slot. */
	assert_true(slots_bootable(&s));
	/* 3: never at a slot being written. */
	assert_int_not_equal(s.state.slot[s.current].status, SLOT_INSTALLING);
	/* 4: the previous good slot is intact. */
	assert_int_equal(s.state.slot[SLOT_A].status, SLOT_GOOD);
	support_assert_marker(&s, SLOT_A, "v1");
	/* History stays readable, every line whole (a compaction replaces it
	 * atomically). */
	assert_int_equal(history_read(&s.layout, NULL, NULL, NULL, &stats, NULL), 0);
	assert_int_equal(stats.torn, 0);
	/* And the next launch is possible. */
	assert_int_equal(slots_prepare_launch(&s, &slot, NULL), 0);
	assert_int_not_equal(slot, SLOT_NONE);
	slots_close(&s);
}

static unsigned sweep(const char *name, prepare_fn prepare, scenario_fn scenario)
{
	char root[256];
	struct slots s;
	unsigned n;
	int crashed;

	for (n = 1;; n++) {
		support_tmpdir(root, sizeof root);
		assert_int_equal(slots_open(&s, root, 3, NULL), 0);
		prepare(&s);
		slots_close(&s);
		crashed = run_child(root, scenario, n);
		assert_recovers(root);
		support_rmtree(root);
		if (!crashed)
			break;
		assert_true(n < 100);
	}
	print_message("crash points: %-16s %u\n", name, n - 1);
	return n - 1;
}

static void test_crash_every_point(void **unused)
{
	unsigned total = 0;

	(void)unused;
	total += sweep("install", prepare_a_good, scenario_install);
	total += sweep("flip+commit", prepare_b_installed, scenario_flip_and_commit);
	total += sweep("flip+revert", prepare_b_installed, scenario_flip_and_revert);
	total += sweep("revert", prepare_b_trial, scenario_revert);
	total += sweep("rollback", prepare_b_good, scenario_rollback);
	total += sweep("mark-bad", prepare_b_good, scenario_mark_bad);
	total += sweep("history", prepare_a_good, scenario_history);
	total += sweep("history-compact", prepare_a_good_full_history, scenario_history);
	print_message("crash points: %-16s %u\n", "total", total);
	/* Each scenario writes at least once: a sweep of 0 means points vanished. */
	assert_true(total >= 8 * 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crash_every_point),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
