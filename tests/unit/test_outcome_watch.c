/* test_outcome_watch.c: slotupd serve's watch of an upgrade on probation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "amqp/outcome_watch.h"
#include "support.h"

struct fixture {
	struct config config;
	struct layout layout;
};

static int setup(void **state)
{
	static struct fixture f;

	config_defaults(&f.config);
	support_tmpdir(f.config.slots.root, sizeof f.config.slots.root);
	f.config.agent.probation_ms = 600000;
	assert_int_equal(layout_open(&f.layout, f.config.slots.root, 1, NULL), 0);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	layout_close(&f->layout);
	support_rmtree(f->config.slots.root);
	return 0;
}

static void append(struct fixture *f, const char *id, const char *kind, enum history_state st,
		   const char *error)
{
	struct history_record r = { .state = st };

	snprintf(r.id, sizeof r.id, "%s", id);
	snprintf(r.kind, sizeof r.kind, "%s", kind);
	snprintf(r.to_version, sizeof r.to_version, "v2.0.0");
	snprintf(r.error, sizeof r.error, "%s", error);
	assert_int_equal(history_append(&f->layout, &r, NULL), 0);
}

static void test_watch_sees_probation_failure(void **state)
{
	struct fixture *f = *state;
	struct outcome_watch w;
	struct history_record r;

	append(f, "u1", "upgrade", HISTORY_SUCCESS, "");
	outcome_watch_start(&w, &f->config, "u1", (int64_t)time(NULL));
	assert_true(outcome_watch_due(&w) == 0);
	assert_int_equal(outcome_watch_poll(&w, &f->config, 1000, &r), 0);
	assert_true(outcome_watch_due(&w) == 1000 + OUTCOME_WATCH_POLL_MS);
	/* Not due yet: the history is not read again. */
	append(f, "u1", "upgrade", HISTORY_FAILED, "probation: agent exited 4 times within 10m");
	assert_int_equal(outcome_watch_poll(&w, &f->config, 1500, &r), 0);
	assert_int_equal(outcome_watch_poll(&w, &f->config, 2000, &r), 1);
	assert_string_equal(r.id, "u1");
	assert_string_equal(r.error, "probation: agent exited 4 times within 10m");
	assert_true(outcome_watch_due(&w) == LLONG_MAX);	/* cast once */
	assert_int_equal(outcome_watch_poll(&w, &f->config, 9000, &r), 0);
}

static void test_watch_bounds(void **state)
{
	struct fixture *f = *state;
	struct outcome_watch w;
	struct history_record r;

	/* A SUCCESS older than the window and its margin: nothing to watch. */
	outcome_watch_start(&w, &f->config, "old", (int64_t)time(NULL) - 600 - 61);
	assert_true(outcome_watch_due(&w) == LLONG_MAX);
	/* Probation off: nothing either. */
	f->config.agent.probation_ms = 0;
	outcome_watch_start(&w, &f->config, "u1", (int64_t)time(NULL));
	assert_true(outcome_watch_due(&w) == LLONG_MAX);
	f->config.agent.probation_ms = 600000;
	/* The window passes with the upgrade still SUCCESS: the watch ends. */
	append(f, "u2", "upgrade", HISTORY_SUCCESS, "");
	outcome_watch_start(&w, &f->config, "u2", (int64_t)time(NULL));
	w.until = (int64_t)time(NULL) - 1;
	assert_int_equal(outcome_watch_poll(&w, &f->config, 0, &r), 0);
	assert_true(outcome_watch_due(&w) == LLONG_MAX);
}

/* A FAILED whose cast was not published is returned again at the next
 * poll, even past the window: it must reach the control plane. */
static void test_watch_again_after_lost_cast(void **state)
{
	struct fixture *f = *state;
	struct outcome_watch w;
	struct history_record r;

	append(f, "u1", "upgrade", HISTORY_SUCCESS, "");
	outcome_watch_start(&w, &f->config, "u1", (int64_t)time(NULL));
	append(f, "u1", "upgrade", HISTORY_FAILED, "probation: agent exited 1 times within 10m");
	assert_int_equal(outcome_watch_poll(&w, &f->config, 1000, &r), 1);
	assert_true(outcome_watch_due(&w) == LLONG_MAX);
	w.until = 0;	/* the window and its margin are over */
	outcome_watch_again(&w, "u1", 5000);
	assert_true(outcome_watch_due(&w) == 5000 + OUTCOME_WATCH_POLL_MS);
	assert_int_equal(outcome_watch_poll(&w, &f->config, 5500, &r), 0);
	assert_int_equal(outcome_watch_poll(&w, &f->config, 5000 + OUTCOME_WATCH_POLL_MS, &r), 1);
	assert_string_equal(r.id, "u1");
	assert_string_equal(r.error, "probation: agent exited 1 times within 10m");
	assert_true(outcome_watch_due(&w) == LLONG_MAX);	/* cast: the watch ends */
}

static void test_watch_resumes_from_history(void **state)
{
	struct fixture *f = *state;
	struct outcome_watch w;

	append(f, "u1", "upgrade", HISTORY_SUCCESS, "");
	append(f, "u2", "upgrade", HISTORY_SUCCESS, "");
	append(f, "r1", "rollback", HISTORY_SUCCESS, "");
	append(f, "u3", "upgrade", HISTORY_FAILED, "health check exited with status 1");
	outcome_watch_resume(&w, &f->config);
	assert_string_equal(w.id, "u2");	/* the latest upgrade that succeeded */
	f->config.agent.probation_ms = 0;
	outcome_watch_resume(&w, &f->config);
	assert_true(outcome_watch_due(&w) == LLONG_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_watch_sees_probation_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_again_after_lost_cast, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_resumes_from_history, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
