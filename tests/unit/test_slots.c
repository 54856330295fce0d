/* test_slots.c: the slot engine's status machine, reconcile and bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flip.h"
#include "support.h"
#include "support_slots.h"

struct fixture {
	char root[256];
	struct slots s;
};

static int setup(void **state)
{
	static struct fixture f;

	support_tmpdir(f.root, sizeof f.root);
	assert_int_equal(slots_open(&f.s, f.root, 3, NULL), 0);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	slots_close(&f->s);
	support_rmtree(f->root);
	return 0;
}

static enum slot_status status_of(struct slots *s, int slot)
{
	assert_int_equal(slots_reload(s, NULL), 0);
	return s->state.slot[slot].status;
}

static void test_fresh_root_boots_nothing(void **state)
{
	struct fixture *f = *state;
	int slot;

	assert_int_equal(f->s.current, SLOT_NONE);
	assert_int_equal(slots_prepare_launch(&f->s, &slot, NULL), 0);
	assert_int_equal(slot, SLOT_NONE);
	assert_int_equal(slots_inactive(&f->s, NULL), SLOT_A);
}

static void test_good_trial_commits(void **state)
{
	struct fixture *f = *state;
	int slot;

	support_make_good(&f->s, SLOT_A, "v1");
	support_install(&f->s, SLOT_B, "v2");
	assert_int_equal(status_of(&f->s, SLOT_B), SLOT_INSTALLED);
	assert_int_equal(slots_activate(&f->s, SLOT_B, NULL), 0);
	assert_int_equal(f->s.current, SLOT_B);
	assert_int_equal(status_of(&f->s, SLOT_B), SLOT_TRIAL);
	/* While B is on trial, A is the way back: nobody may write it. */
	assert_int_equal(slots_inactive(&f->s, NULL), -1);
	assert_int_equal(slots_begin_install(&f->s, SLOT_A, NULL), -1);
	assert_int_equal(slots_prepare_launch(&f->s, &slot, NULL), 0);
	assert_int_equal(slot, SLOT_B);
	assert_int_equal(f->s.state.slot[SLOT_B].attempts, 1);
	assert_int_equal(slots_commit(&f->s, NULL), 0);
	assert_int_equal(status_of(&f->s, SLOT_B), SLOT_GOOD);
	assert_int_equal(status_of(&f->s, SLOT_A), SLOT_GOOD);
	assert_int_equal(slots_inactive(&f->s, NULL), SLOT_A);
}

static void test_failed_trial_reverts(void **state)
{
	struct fixture *f = *state;
	int current;

	support_make_good(&f->s, SLOT_A, "v1");
	support_install(&f->s, SLOT_B, "v2");
	assert_int_equal(slots_activate(&f->s, SLOT_B, NULL), 0);
	assert_int_equal(slots_revert(&f->s, "health: never ready", NULL), 0);
	assert_int_equal(f->s.current, SLOT_A);
	assert_int_equal(slot_current(&f->s.layout, &current, NULL), 0);
	assert_int_equal(current, SLOT_A);
	assert_int_equal(status_of(&f->s, SLOT_B), SLOT_BAD);
	assert_string_equal(f->s.state.slot[SLOT_B].reason, "health: never ready");
	support_assert_marker(&f->s, SLOT_A, "v1");
}

static void test_attempts_are_bounded(void **state)
{
	struct fixture *f = *state;
	int slot, launches = 0;

	support_make_good(&f->s, SLOT_A, "v1");
	support_install(&f->s, SLOT_B, "v2");
	assert_int_equal(slots_activate(&f->s, SLOT_B, NULL), 0);
	/* Each call is a (re)start of slotd that dies before the trial ends. */
	for (int i = 0; i < 10; i++) {
		assert_int_equal(slots_prepare_launch(&f->s, &slot, NULL), 0);
		if (slot == SLOT_B)
			launches++;
	}
	assert_int_equal(launches, 3);
	assert_int_equal(slot, SLOT_A);
	assert_int_equal(status_of(&f->s, SLOT_B), SLOT_BAD);
	assert_non_null(strstr(f->s.state.slot[SLOT_B].reason, "3 launch attempts"));
}

static void test_first_install_failure_leaves_nothing_bootable(void **state)
{
	struct fixture *f = *state;
	int slot;

	support_install(&f->s, SLOT_A, "v1");
	assert_int_equal(slots_activate(&f->s, SLOT_A, NULL), 0);
	assert_int_equal(slots_revert(&f->s, "crashed", NULL), 0);
	assert_int_equal(slots_prepare_launch(&f->s, &slot, NULL), 0);
	assert_int_equal(slot, SLOT_NONE);
	assert_int_equal(slots_bootable(&f->s), 0);
	/* The way forward is still open: install again into slot B. */
	assert_int_equal(slots_inactive(&f->s, NULL), SLOT_B);
}

static void test_admin_rollback(void **state)
{
	struct fixture *f = *state;
	struct error err = { "" };

	support_make_good(&f->s, SLOT_A, "v1");
	assert_int_equal(slots_rollback(&f->s, 0, &err), -1);
	assert_non_null(strstr(err.text, "slot b is empty"));
	support_install(&f->s, SLOT_B, "v2");
	assert_int_equal(slots_rollback(&f->s, 0, &err), -1);
	assert_non_null(strstr(err.text, "--force"));
	assert_int_equal(slots_rollback(&f->s, 1, NULL), 0);
	assert_int_equal(f->s.current, SLOT_B);
	assert_int_equal(status_of(&f->s, SLOT_B), SLOT_TRIAL);
	/* Rolling back during the trial reverts it. */
	assert_int_equal(slots_rollback(&f->s, 0, NULL), 0);
	assert_int_equal(f->s.current, SLOT_A);
	assert_int_equal(status_of(&f->s, SLOT_B), SLOT_BAD);
}

static void test_rollback_between_good_slots_and_mark_bad(void **state)
{
	struct fixture *f = *state;
	struct error err = { "" };

	support_make_good(&f->s, SLOT_A, "v1");
	support_make_good(&f->s, SLOT_B, "v2");
	assert_int_equal(slots_rollback(&f->s, 0, NULL), 0);
	assert_int_equal(f->s.current, SLOT_A);
	assert_int_equal(status_of(&f->s, SLOT_B), SLOT_GOOD);
	assert_int_equal(slots_mark_bad(&f->s, "admin says so", NULL), 0);
	assert_int_equal(f->s.current, SLOT_B);
	assert_int_equal(status_of(&f->s, SLOT_A), SLOT_BAD);
	/* Nothing good to fall back to: refused, nothing changes. */
	assert_int_equal(slots_mark_bad(&f->s, "again", &err), -1);
	assert_non_null(strstr(err.text, "no good slot"));
	assert_int_equal(status_of(&f->s, SLOT_B), SLOT_GOOD);
}

static void reconcile(const struct slot_state *in, int current, int *out_current,
		      struct slot_state *out)
{
	assert_int_equal(slots_reconcile(in, current, 3, out, out_current, NULL, 0, NULL), 0);
}

static void test_reconcile_table(void **unused)
{
	struct slot_state in, out;
	int cur;

	(void)unused;
	state_init_fresh(&in);
	reconcile(&in, SLOT_NONE, &cur, &out);
	assert_int_equal(cur, SLOT_NONE);

	/* Activation recorded, flip not done: finish it. */
	in.slot[SLOT_A].status = SLOT_GOOD;
	in.slot[SLOT_B].status = SLOT_TRIAL;
	in.slot[SLOT_B].attempts = 1;
	reconcile(&in, SLOT_A, &cur, &out);
	assert_int_equal(cur, SLOT_B);
	assert_int_equal(out.slot[SLOT_B].status, SLOT_TRIAL);

	/* Attempts used up: bad, back to A. */
	in.slot[SLOT_B].attempts = 3;
	reconcile(&in, SLOT_B, &cur, &out);
	assert_int_equal(cur, SLOT_A);
	assert_int_equal(out.slot[SLOT_B].status, SLOT_BAD);

	/* Revert saved, flip not done: go back. */
	in.slot[SLOT_B].status = SLOT_BAD;
	reconcile(&in, SLOT_B, &cur, &out);
	assert_int_equal(cur, SLOT_A);

	/* current on an installing slot (invariant 3): away from it. */
	in.slot[SLOT_B].status = SLOT_INSTALLING;
	reconcile(&in, SLOT_B, &cur, &out);
	assert_int_equal(cur, SLOT_A);
	assert_int_equal(out.slot[SLOT_B].status, SLOT_INSTALLING);

	/* Lost `current`, two good slots: the more recent one. */
	in.slot[SLOT_B].status = SLOT_GOOD;
	in.slot[SLOT_A].updated = 10;
	in.slot[SLOT_B].updated = 20;
	reconcile(&in, SLOT_NONE, &cur, &out);
	assert_int_equal(cur, SLOT_B);

	/* Contradiction: refused, not guessed. */
	in.slot[SLOT_A].status = SLOT_TRIAL;
	in.slot[SLOT_B].status = SLOT_TRIAL;
	assert_int_equal(slots_reconcile(&in, SLOT_A, 3, &out, &cur, NULL, 0, NULL), -1);
}

static void test_bad_roots_are_reported(void **state)
{
	struct fixture *f = *state;
	struct slots other;
	struct error err = { "" };
	char path[512];

	/* A foreign current symlink. */
	snprintf(path, sizeof path, "%s/current", f->root);
	assert_int_equal(symlink("/etc", path), 0);
	assert_int_equal(slots_open(&other, f->root, 3, &err), -1);
	assert_non_null(strstr(err.text, "points at '/etc'"));
	unlink(path);
	/* Dangling. */
	support_make_good(&f->s, SLOT_A, "v1");
	snprintf(path, sizeof path, "%s/slots/b", f->root);
	assert_int_equal(rmdir(path), 0);
	snprintf(path, sizeof path, "%s/current", f->root);
	unlink(path);
	assert_int_equal(symlink("slots/b", path), 0);
	int current;
	assert_int_equal(slot_current(&f->s.layout, &current, &err), -1);
	assert_non_null(strstr(err.text, "dangling"));
	/* A slot directory replaced by a file: named, and slot A left alone. */
	snprintf(path, sizeof path, "%s/slots/b", f->root);
	support_write_file(path, "oops");
	assert_int_equal(slots_open(&other, f->root, 3, &err), -1);
	assert_non_null(strstr(err.text, "slots/b: not a directory"));
	support_assert_marker(&f->s, SLOT_A, "v1");
	/* State lost while current exists: refuse to reset. */
	unlink(path);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof path, "%s/current", f->root);
	unlink(path);
	assert_int_equal(symlink("slots/a", path), 0);
	snprintf(path, sizeof path, "%s/state", f->root);
	unlink(path);
	assert_int_equal(slots_open(&other, f->root, 3, &err), -1);
	assert_non_null(strstr(err.text, "refusing to reset"));
	support_assert_marker(&f->s, SLOT_A, "v1");
	/* Relative root. */
	assert_int_equal(slots_open(&other, "relative/root", 3, &err), -1);
	assert_non_null(strstr(err.text, "absolute"));
}

static void test_install_refuses_active_slot(void **state)
{
	struct fixture *f = *state;
	struct error err = { "" };

	support_make_good(&f->s, SLOT_A, "v1");
	assert_int_equal(slots_begin_install(&f->s, SLOT_A, &err), -1);
	assert_non_null(strstr(err.text, "slot a is active"));
	assert_int_equal(slots_activate(&f->s, SLOT_B, &err), -1);
	assert_non_null(strstr(err.text, "slot b is empty, not installed"));
	assert_int_equal(slots_begin_install(&f->s, SLOT_B, NULL), 0);
	assert_int_equal(slots_abort_install(&f->s, SLOT_B, NULL), 0);
	assert_int_equal(status_of(&f->s, SLOT_B), SLOT_EMPTY);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_fresh_root_boots_nothing),
		T(test_good_trial_commits),
		T(test_failed_trial_reverts),
		T(test_attempts_are_bounded),
		T(test_first_install_failure_leaves_nothing_bootable),
		T(test_admin_rollback),
		T(test_rollback_between_good_slots_and_mark_bad),
		cmocka_unit_test(test_reconcile_table),
		T(test_bad_roots_are_reported),
		T(test_install_refuses_active_slot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
