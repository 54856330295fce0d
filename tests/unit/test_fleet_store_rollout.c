/* test_fleet_store_rollout.c: the promises of fleet/store/fleet_store_rollout.h
 * (rollouts, their plan of targets and waves, transitions, the rollout lock),
 * one suite run against SQLite (a temp file) and, when FLEET_TEST_PG_URL is
 * set, against PostgreSQL (support_fleet_store.c: each test in a fresh
 * schema, dropped afterwards). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "store/db/db.h"
#include "store/fleet_store.h"
#include "store/fleet_store_rollout.h"
#include "support_fleet_store.h"

static void rollout_new(struct fleet_rollout *r, const char *id, int64_t created)
{
	memset(r, 0, sizeof *r);
	snprintf(r->id, sizeof r->id, "%s", id);
	snprintf(r->tenant, sizeof r->tenant, "t1");
	snprintf(r->to_version, sizeof r->to_version, "v2.0.0");
	snprintf(r->strategy, sizeof r->strategy, "http");
	snprintf(r->location, sizeof r->location, "http://h/v2.bundle");
	snprintf(r->metadata, sizeof r->metadata, "{\"k\": \"it's\"}");
	snprintf(r->selector, sizeof r->selector, "{\"instances\": 3}");
	snprintf(r->waves, sizeof r->waves, "[50, 100]");
	r->wave_count = 2;
	r->max_failure_ppm = 250000;
	r->cast_interval_us = 100000;
	r->probation_us = 5000000;
	r->timeout_us = 60000000;
	r->created_us = created;
}

static void rollout_insert3(struct support_store *f, const char *id, int64_t created)
{
	static const struct fleet_rollout_target t[] = { { "i-c", 0 }, { "i-a", 0 }, { "i-b", 1 } };
	struct fleet_rollout r;
	struct error err;

	rollout_new(&r, id, created);
	if (fleet_store_rollout_insert(f->store, &r, t, 3, &err) != 0)
		fail_msg("rollout insert %s: %s", id, err.text);
}

static void rollout_upgrade(struct fleet_upgrade *up, const char *rollout, const char *id,
			    const char *instance)
{
	memset(up, 0, sizeof *up);
	snprintf(up->id, sizeof up->id, "%s", id);
	snprintf(up->tenant, sizeof up->tenant, "t1");
	snprintf(up->kind, sizeof up->kind, "upgrade");
	snprintf(up->instance_id, sizeof up->instance_id, "%s", instance);
	snprintf(up->to_version, sizeof up->to_version, "v2.0.0");
	snprintf(up->rollout_id, sizeof up->rollout_id, "%s", rollout);
}

static int rollout_plan(struct support_store *f, const char *rollout, const char *id,
			const char *instance)
{
	struct fleet_upgrade up;
	struct error err;
	int rc;

	rollout_upgrade(&up, rollout, id, instance);
	rc = fleet_store_rollout_plan(f->store, &up, &err);
	if (rc < 0)
		fail_msg("plan %s: %s", id, err.text);
	return rc;
}

static void member_ids(struct support_store *f, enum fleet_rollout_which which, int wave,
		       int64_t before, const char *want)
{
	struct fleet_rollout_members_query q = { which, wave, before, 8 };
	struct fleet_rollout_member m[8];
	char got[256] = "";
	size_t n, i;
	struct error err;

	if (fleet_store_rollout_members(f->store, "r1", &q, m, &n, &err))
		fail_msg("members: %s", err.text);
	for (i = 0; i < n; i++)
		support_join(got, sizeof got, m[i].instance_id);
	assert_string_equal(got, want);
}

static void test_rollout_insert_get_list(void **state)
{
	static const struct fleet_rollout_target twice[] = { { "i-a", 0 }, { "i-a", 1 } };
	static const struct fleet_rollout_target beyond[] = { { "i-a", 2 } };
	struct support_store *f = *state;
	struct fleet_rollout r, list[4];
	struct fleet_rollout_filter filter = { .limit = 2 };
	char ids[4][FLEET_ID_MAX];
	size_t n;
	int more;
	struct error err;

	rollout_insert3(f, "r1", 1000);
	assert_int_equal(fleet_store_rollout_get(f->store, "r1", &r, NULL), 1);
	assert_string_equal(r.tenant, "t1");
	assert_int_equal(r.state, FLEET_ROLLOUT_RUNNING);
	assert_string_equal(r.metadata, "{\"k\": \"it's\"}");
	assert_string_equal(r.waves, "[50, 100]");
	assert_int_equal(r.wave_count, 2);
	assert_int_equal(r.current_wave, 0);
	assert_int_equal(r.max_failure_ppm, 250000);
	assert_int_equal(r.cast_interval_us, 100000);
	assert_int_equal(r.probation_us, 5000000);
	assert_int_equal(r.timeout_us, 60000000);
	assert_int_equal(r.created_us, 1000);
	assert_int_equal(fleet_store_rollout_get(f->store, "nope", &r, NULL), 0);
	/* The same id again: nothing changes. */
	rollout_new(&r, "r1", 5000);
	assert_int_equal(fleet_store_rollout_insert(f->store, &r, beyond + 0, 0, &err), -1);
	assert_int_equal(fleet_store_rollout_insert(f->store, &r, twice, 1, NULL), 1);
	/* A target twice, or a wave beyond the last: refused, nothing kept. */
	rollout_new(&r, "r2", 2000);
	errno = 0;
	assert_int_equal(fleet_store_rollout_insert(f->store, &r, twice, 2, &err), -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err.text, "i-a"));
	assert_int_equal(fleet_store_rollout_get(f->store, "r2", &r, NULL), 0);
	rollout_new(&r, "r2", 2000);
	assert_int_equal(fleet_store_rollout_insert(f->store, &r, beyond, 1, &err), -1);
	assert_int_equal(errno, EINVAL);

	rollout_insert3(f, "r2", 2000);
	rollout_insert3(f, "r3", 3000);
	assert_int_equal(fleet_store_rollout_list(f->store, &filter, list, &n, &more, NULL), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].id, "r3");
	assert_string_equal(list[1].id, "r2");
	assert_true(more);
	filter.marker = "r2";
	assert_int_equal(fleet_store_rollout_list(f->store, &filter, list, &n, &more, NULL), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].id, "r1");
	assert_false(more);
	filter.marker = "zz";
	assert_int_equal(fleet_store_rollout_list(f->store, &filter, list, &n, &more, NULL), 1);

	assert_int_equal(fleet_store_rollout_transition(f->store, "r2", FLEET_ROLLOUT_BIT(
		FLEET_ROLLOUT_RUNNING), FLEET_ROLLOUT_PAUSED, NULL, NULL, NULL), 1);
	assert_int_equal(fleet_store_rollout_running(f->store, ids, 4, &n, NULL), 0);
	assert_int_equal(n, 2);
	assert_string_equal(ids[0], "r1");
	assert_string_equal(ids[1], "r3");
	filter = (struct fleet_rollout_filter){ .has_state = 1, .state = FLEET_ROLLOUT_PAUSED,
						.limit = 4 };
	assert_int_equal(fleet_store_rollout_list(f->store, &filter, list, &n, &more, NULL), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].id, "r2");
}

static void test_rollout_transitions(void **state)
{
	struct support_store *f = *state;
	enum fleet_rollout_state now = FLEET_ROLLOUT_RUNNING;
	unsigned live = FLEET_ROLLOUT_BIT(FLEET_ROLLOUT_RUNNING) |
			FLEET_ROLLOUT_BIT(FLEET_ROLLOUT_PAUSED);
	struct fleet_rollout r;

	rollout_insert3(f, "r1", 1000);
	assert_int_equal(fleet_store_rollout_transition(f->store, "r1", FLEET_ROLLOUT_BIT(
		FLEET_ROLLOUT_PAUSED), FLEET_ROLLOUT_RUNNING, NULL, &now, NULL), 0);
	assert_int_equal(now, FLEET_ROLLOUT_RUNNING);
	assert_int_equal(fleet_store_rollout_advance(f->store, "r1", 1, NULL), 0);
	assert_int_equal(fleet_store_rollout_advance(f->store, "r1", 0, NULL), 1);
	assert_int_equal(fleet_store_rollout_advance(f->store, "r1", 0, NULL), 0);
	assert_int_equal(fleet_store_rollout_get(f->store, "r1", &r, NULL), 1);
	assert_int_equal(r.current_wave, 1);
	assert_int_equal(r.state, FLEET_ROLLOUT_RUNNING);
	assert_int_equal(fleet_store_rollout_transition(f->store, "r1", live, FLEET_ROLLOUT_HALTED,
							"wave 2: 1 of 1 failed", &now, NULL), 1);
	assert_int_equal(now, FLEET_ROLLOUT_HALTED);
	/* A halted rollout does not advance. */
	assert_int_equal(fleet_store_rollout_advance(f->store, "r1", 1, NULL), 0);
	assert_int_equal(fleet_store_rollout_transition(f->store, "r1", live, FLEET_ROLLOUT_CANCELLED,
							"late", &now, NULL), 0);
	assert_int_equal(now, FLEET_ROLLOUT_HALTED);
	assert_int_equal(fleet_store_rollout_get(f->store, "r1", &r, NULL), 1);
	assert_string_equal(r.reason, "wave 2: 1 of 1 failed");
	assert_int_equal(fleet_store_rollout_transition(f->store, "none", live,
							FLEET_ROLLOUT_PAUSED, NULL, &now, NULL), 0);
	assert_int_equal(now, FLEET_ROLLOUT_STATE_COUNT);
	/* The last wave done: FINISHED. */
	rollout_insert3(f, "r2", 2000);
	assert_int_equal(fleet_store_rollout_advance(f->store, "r2", 0, NULL), 1);
	assert_int_equal(fleet_store_rollout_advance(f->store, "r2", 1, NULL), 1);
	assert_int_equal(fleet_store_rollout_get(f->store, "r2", &r, NULL), 1);
	assert_int_equal(r.state, FLEET_ROLLOUT_FINISHED);
	assert_int_equal(r.current_wave, 1);
}

static void test_rollout_plan_once(void **state)
{
	struct support_store *f = *state;
	struct fleet_rollout_wave w;
	struct fleet_upgrade up;
	size_t counts[2][FLEET_STATE_COUNT + 1];
	int held = 0;

	rollout_insert3(f, "r1", 1000);
	assert_int_equal(fleet_store_rollout_lock(f->store, "r1", &held, NULL), 0);
	assert_int_equal(held, 1);
	member_ids(f, FLEET_MEMBERS_PENDING, 0, 0, "i-c i-a");	/* casting order */
	member_ids(f, FLEET_MEMBERS_PENDING, 1, 0, "i-b");
	assert_int_equal(rollout_plan(f, "r1", "u-c", "i-c"), 0);
	/* Planned once: another record for the same instance is refused. */
	assert_int_equal(rollout_plan(f, "r1", "u-c2", "i-c"), 1);
	assert_int_equal(fleet_store_upgrade_get(f->store, "u-c2", &up, NULL), 0);
	assert_int_equal(rollout_plan(f, "r1", "u-x", "i-x"), 1);	/* not a target */
	assert_int_equal(fleet_store_upgrade_get(f->store, "u-c", &up, NULL), 1);
	assert_string_equal(up.rollout_id, "r1");
	assert_int_equal(up.state, FLEET_NEW);
	member_ids(f, FLEET_MEMBERS_PENDING, 0, 0, "i-a");
	member_ids(f, FLEET_MEMBERS_UNCONFIRMED, -1, 0, "i-c");
	assert_int_equal(fleet_store_rollout_cast_done(f->store, "r1", "i-c", 10000, NULL), 0);
	member_ids(f, FLEET_MEMBERS_UNCONFIRMED, -1, 0, "");
	member_ids(f, FLEET_MEMBERS_CAST, -1, 0, "i-c");
	assert_int_equal(rollout_plan(f, "r1", "u-a", "i-a"), 0);
	assert_int_equal(fleet_store_rollout_cast_done(f->store, "r1", "i-a", 11000, NULL), 0);
	/* Overdue: cast before the cutoff and not final. */
	member_ids(f, FLEET_MEMBERS_OVERDUE, 0, 10500, "i-c");
	member_ids(f, FLEET_MEMBERS_OVERDUE, 0, 20000, "i-c i-a");
	support_report(f, "u-c", "i-c", FLEET_SUCCESS, "", 12000);
	support_report(f, "u-a", "i-a", FLEET_FAILED, "download: 404", 13000);
	member_ids(f, FLEET_MEMBERS_OVERDUE, 0, 20000, "");
	member_ids(f, FLEET_MEMBERS_FAILED, -1, 0, "i-a");
	member_ids(f, FLEET_MEMBERS_FAILED, 1, 0, "");
	assert_int_equal(fleet_store_rollout_wave(f->store, "r1", 0, 11999, &w, NULL), 0);
	assert_int_equal(w.total, 2);
	assert_int_equal(w.pending, 0);
	assert_int_equal(w.unconfirmed, 0);
	assert_int_equal(w.failed, 1);
	assert_int_equal(w.succeeded, 1);
	assert_int_equal(w.proven, 0);
	assert_int_equal(fleet_store_rollout_wave(f->store, "r1", 0, 12000, &w, NULL), 0);
	assert_int_equal(w.proven, 1);
	/* The guest's revert after SUCCESS makes it a failure of the wave. */
	support_report(f, "u-c", "i-c", FLEET_FAILED, "probation: reverted", 14000);
	assert_int_equal(fleet_store_rollout_wave(f->store, "r1", 0, 20000, &w, NULL), 0);
	assert_int_equal(w.failed, 2);
	assert_int_equal(w.proven, 0);
	assert_int_equal(fleet_store_rollout_counts(f->store, "r1", counts, 2, NULL), 0);
	assert_int_equal(counts[0][FLEET_FAILED], 2);
	assert_int_equal(counts[0][FLEET_STATE_COUNT], 0);
	assert_int_equal(counts[1][FLEET_STATE_COUNT], 1);
	/* Not RUNNING: nothing is planned. */
	assert_int_equal(fleet_store_rollout_transition(f->store, "r1", FLEET_ROLLOUT_BIT(
		FLEET_ROLLOUT_RUNNING), FLEET_ROLLOUT_PAUSED, NULL, NULL, NULL), 1);
	assert_int_equal(rollout_plan(f, "r1", "u-b", "i-b"), 1);
	assert_int_equal(fleet_store_upgrade_get(f->store, "u-b", &up, NULL), 0);
	member_ids(f, FLEET_MEMBERS_PENDING, 1, 0, "i-b");
}

/* A batch of plans in one transaction: the targets still pending get their
 * record, the others are skipped; then one transaction confirms them. */
static void test_rollout_plan_many(void **state)
{
	struct support_store *f = *state;
	struct fleet_upgrade ups[3], up;
	const char *ids[2] = { "i-c", "i-a" };
	int planned[3], held = 0;
	struct error err;

	rollout_insert3(f, "r1", 1000);
	assert_int_equal(fleet_store_rollout_lock(f->store, "r1", &held, NULL), 0);
	rollout_upgrade(&ups[0], "r1", "u-c", "i-c");
	rollout_upgrade(&ups[1], "r1", "u-x", "i-x");	/* not a target */
	rollout_upgrade(&ups[2], "r1", "u-a", "i-a");
	assert_int_equal(fleet_store_rollout_plan_many(f->store, ups, 3, planned, &err), 2);
	assert_int_equal(planned[0], 1);
	assert_int_equal(planned[1], 0);
	assert_int_equal(planned[2], 1);
	assert_int_equal(fleet_store_upgrade_get(f->store, "u-x", &up, NULL), 0);
	assert_int_equal(fleet_store_upgrade_get(f->store, "u-a", &up, NULL), 1);
	assert_string_equal(up.rollout_id, "r1");
	member_ids(f, FLEET_MEMBERS_PENDING, 0, 0, "");
	member_ids(f, FLEET_MEMBERS_UNCONFIRMED, -1, 0, "i-c i-a");
	/* Planned once: a second batch for them plans nothing. */
	rollout_upgrade(&ups[0], "r1", "u-c2", "i-c");
	assert_int_equal(fleet_store_rollout_plan_many(f->store, ups, 1, planned, &err), 0);
	assert_int_equal(planned[0], 0);
	assert_int_equal(fleet_store_rollout_cast_done_many(f->store, "r1", ids, 2, 10000, &err), 0);
	member_ids(f, FLEET_MEMBERS_UNCONFIRMED, -1, 0, "");
	member_ids(f, FLEET_MEMBERS_CAST, -1, 0, "i-c i-a");
	/* Upgrades of two rollouts in one batch: refused, nothing planned. */
	rollout_upgrade(&ups[0], "r1", "u-b", "i-b");
	rollout_upgrade(&ups[1], "r2", "u-b2", "i-b");
	assert_int_equal(fleet_store_rollout_plan_many(f->store, ups, 2, planned, &err), -1);
	assert_int_equal(fleet_store_upgrade_get(f->store, "u-b", &up, NULL), 0);
	/* Not RUNNING: nothing is planned. */
	assert_int_equal(fleet_store_rollout_transition(f->store, "r1", FLEET_ROLLOUT_BIT(
		FLEET_ROLLOUT_RUNNING), FLEET_ROLLOUT_PAUSED, NULL, NULL, NULL), 1);
	assert_int_equal(fleet_store_rollout_plan_many(f->store, ups, 1, planned, &err), 0);
	assert_int_equal(planned[0], 0);
	member_ids(f, FLEET_MEMBERS_PENDING, 1, 0, "i-b");
}

/* A batch as large as the driver's (ROLLOUT_CAST_BATCH, 128): its
 * statements span several of PostgreSQL's pipeline chunks
 * (DB_BATCH_CHUNK); each pending target gets its record and its NEW event,
 * the one planned before is skipped; one transaction confirms them all. */
#define PLAN_BIG 128
static void test_rollout_plan_big(void **state)
{
	struct support_store *f = *state;
	static struct fleet_rollout_target t[PLAN_BIG];
	static struct fleet_upgrade ups[PLAN_BIG];
	static const char *ids[PLAN_BIG];
	struct fleet_rollout_members_query q = { FLEET_MEMBERS_PENDING, -1, 0, PLAN_BIG };
	struct fleet_rollout_member m[PLAN_BIG];
	struct fleet_event ev[2];
	struct fleet_upgrade up;
	struct fleet_rollout r;
	int planned[PLAN_BIG], held = 0;
	char id[32];
	size_t i, n;
	struct error err;

	for (i = 0; i < PLAN_BIG; i++) {
		snprintf(t[i].instance_id, sizeof t[i].instance_id, "i-%03zu", i);
		ids[i] = t[i].instance_id;
		snprintf(id, sizeof id, "u-%03zu", i);
		rollout_upgrade(&ups[i], "r1", id, t[i].instance_id);
	}
	rollout_new(&r, "r1", 1000);
	assert_int_equal(fleet_store_rollout_insert(f->store, &r, t, PLAN_BIG, &err), 0);
	assert_int_equal(fleet_store_rollout_lock(f->store, "r1", &held, NULL), 0);
	assert_int_equal(rollout_plan(f, "r1", "u-first", "i-000"), 0);
	assert_int_equal(fleet_store_rollout_plan_many(f->store, ups, PLAN_BIG, planned, &err),
			 PLAN_BIG - 1);
	assert_int_equal(planned[0], 0);
	assert_int_equal(fleet_store_upgrade_get(f->store, "u-000", &up, NULL), 0);
	assert_int_equal(fleet_store_rollout_members(f->store, "r1", &q, m, &n, &err), 0);
	assert_int_equal(n, 0);
	for (i = 1; i < PLAN_BIG; i++) {
		assert_int_equal(planned[i], 1);
		assert_int_equal(fleet_store_upgrade_get(f->store, ups[i].id, &up, NULL), 1);
		assert_string_equal(up.instance_id, ups[i].instance_id);
		assert_string_equal(up.rollout_id, "r1");
		assert_int_equal(fleet_store_upgrade_events(f->store, ups[i].id, ev, 2, &n, NULL), 0);
		assert_int_equal(n, 1);
		assert_int_equal(ev[0].state, FLEET_NEW);
	}
	assert_int_equal(fleet_store_rollout_cast_done_many(f->store, "r1", ids, PLAN_BIG, 10000,
							    &err), 0);
	q.which = FLEET_MEMBERS_UNCONFIRMED;
	assert_int_equal(fleet_store_rollout_members(f->store, "r1", &q, m, &n, &err), 0);
	assert_int_equal(n, 0);
	q.which = FLEET_MEMBERS_CAST;
	assert_int_equal(fleet_store_rollout_members(f->store, "r1", &q, m, &n, &err), 0);
	assert_int_equal(n, PLAN_BIG);
}

/* A batch whose record id exists already: refused whole, its targets
 * pending as before. */
static void test_rollout_plan_taken(void **state)
{
	struct support_store *f = *state;
	struct fleet_upgrade ups[2], up;
	int planned[2] = { 1, 1 }, held = 0;
	struct error err;

	rollout_insert3(f, "r1", 1000);
	assert_int_equal(fleet_store_rollout_lock(f->store, "r1", &held, NULL), 0);
	assert_int_equal(rollout_plan(f, "r1", "u-taken", "i-b"), 0);
	rollout_upgrade(&ups[0], "r1", "u-c", "i-c");
	rollout_upgrade(&ups[1], "r1", "u-taken", "i-a");
	assert_int_equal(fleet_store_rollout_plan_many(f->store, ups, 2, planned, &err), -1);
	assert_non_null(strstr(err.text, "u-taken exists already"));
	assert_int_equal(planned[0], 0);
	assert_int_equal(planned[1], 0);
	assert_int_equal(fleet_store_upgrade_get(f->store, "u-c", &up, NULL), 0);
	member_ids(f, FLEET_MEMBERS_PENDING, 0, 0, "i-c i-a");
}

/* Two store handles, as two slotfleet processes: on PostgreSQL one holds
 * the lock and only it plans; the other gets it once the first is gone. */
static void test_rollout_lock(void **state)
{
	struct support_store *f = *state;
	struct fleet_store *other;
	struct fleet_upgrade up;
	int held = -1, tries, pg = !strcmp(fleet_store_backend(f->store), "postgresql");

	rollout_insert3(f, "r1", 1000);
	assert_int_equal(fleet_store_open(&other, f->spec, NULL), 0);
	assert_int_equal(fleet_store_rollout_lock(f->store, "r1", &held, NULL), 0);
	assert_int_equal(held, 1);
	assert_int_equal(fleet_store_rollout_lock(f->store, "r1", &held, NULL), 0);
	assert_int_equal(held, 1);	/* again: still held, not stacked */
	assert_int_equal(fleet_store_rollout_lock(other, "r1", &held, NULL), 0);
	assert_int_equal(held, !pg);
	rollout_upgrade(&up, "r1", "u-o", "i-c");
	assert_int_equal(fleet_store_rollout_plan(other, &up, NULL), pg ? 1 : 0);
	if (pg) {
		/* One unlock releases it (not stacked); then the other takes it. */
		assert_int_equal(fleet_store_rollout_unlock(f->store, "r1", NULL), 0);
		assert_int_equal(fleet_store_rollout_lock(other, "r1", &held, NULL), 0);
		assert_int_equal(held, 1);
		assert_int_equal(fleet_store_rollout_plan(f->store, &up, NULL), 1);
		assert_int_equal(fleet_store_rollout_plan(other, &up, NULL), 0);
		/* Its connection closed (process gone): free for the first, once
		 * the server has ended that session (asynchronously: poll). */
		fleet_store_close(other);
		other = NULL;
		for (tries = 0; tries < 500; tries++) {
			assert_int_equal(fleet_store_rollout_lock(f->store, "r1", &held, NULL), 0);
			if (held)
				break;
			usleep(20000);
		}
		assert_int_equal(held, 1);
	}
	fleet_store_close(other);
	member_ids(f, FLEET_MEMBERS_UNCONFIRMED, -1, 0, "i-c");
}

/* A FAILED told across processes: on PostgreSQL another connection hears
 * the signal (its first call listens, and says heard: one may have been
 * missed before); on SQLite, one process per file, nothing is heard. */
static void test_rollout_failed_signal(void **state)
{
	struct support_store *f = *state;
	struct fleet_store *other;
	int heard = -1, tries, pg = !strcmp(fleet_store_backend(f->store), "postgresql");

	assert_int_equal(fleet_store_open(&other, f->spec, NULL), 0);
	assert_int_equal(fleet_store_failed_heard(other, &heard, NULL), 0);
	assert_int_equal(heard, pg);
	assert_int_equal(fleet_store_failed_heard(other, &heard, NULL), 0);
	assert_int_equal(heard, 0);
	assert_int_equal(fleet_store_failed_signal(f->store, NULL), 0);
	/* Delivered by the server once the signal committed: poll for it. */
	for (tries = 0; tries < 500; tries++) {
		assert_int_equal(fleet_store_failed_heard(other, &heard, NULL), 0);
		if (heard || !pg)
			break;
		usleep(10000);
	}
	assert_int_equal(heard, pg);
	assert_int_equal(fleet_store_failed_heard(other, &heard, NULL), 0);
	assert_int_equal(heard, 0);	/* once */
	fleet_store_close(other);
}

/* n instances straight into the table, in one transaction: ids i-0000..,
 * the version of each from versions[i % nv] ("" never reported). */
static void instances_insert(struct support_store *f, size_t n, const char *const *versions,
			     size_t nv)
{
	struct db *db;
	struct error err;
	char id[32];
	size_t i;

	if (db_open(&db, f->spec, &err) || db->ops->begin(db, &err))
		fail_msg("open: %s", err.text);
	for (i = 0; i < n; i++) {
		struct db_value p[] = { DB_T(id), DB_T(versions[i % nv]) };

		snprintf(id, sizeof id, "i-%04zu", i);
		if (db_exec(db, "INSERT INTO instances (id, agent_version, agent_slot, last_seen_us)"
				" VALUES ($1, $2, 'a', 1)", p, 2, NULL, NULL, NULL, &err))
			fail_msg("insert: %s", err.text);
	}
	if (db->ops->commit(db, &err))
		fail_msg("commit: %s", err.text);
	db->ops->close(db);
}

static void selection_new(struct fleet_rollout *r, struct fleet_rollout_selection *sel,
			  const char *id, enum fleet_rollout_select kind, const char *version,
			  const unsigned *percents, size_t np)
{
	rollout_new(r, id, 0);
	memset(sel, 0, sizeof *sel);
	sel->kind = kind;
	sel->version = version;
	memcpy(sel->percents, percents, np * sizeof *percents);
	sel->percent_count = np;
}

/* Every target of rollout id, paged in casting order: seq dense from 0,
 * waves never going back, each instance once; sizes[w] per wave; the
 * instances' ids joined in order into order (if not NULL). */
static size_t targets_walk(struct support_store *f, const char *id, size_t *sizes,
			   char *order, size_t order_size)
{
	struct fleet_rollout_members_query q = { FLEET_MEMBERS_PENDING, 0, 0, 7 };
	struct fleet_rollout_member m[7];
	struct fleet_rollout r;
	char last[FLEET_INSTANCE_MAX] = "";
	size_t n, i, total = 0;
	unsigned w;
	struct error err;

	assert_int_equal(fleet_store_rollout_get(f->store, id, &r, NULL), 1);
	for (w = 0; w < r.wave_count; w++) {
		q.wave = (int)w;
		q.from_seq = 0;
		sizes[w] = 0;
		do {
			if (fleet_store_rollout_members(f->store, id, &q, m, &n, &err))
				fail_msg("members: %s", err.text);
			for (i = 0; i < n; i++) {
				assert_int_equal(m[i].seq, (int64_t)total);
				assert_int_equal(m[i].wave, w);
				/* by id: the selectors' order, so none twice */
				if (!order)
					assert_true(strcmp(m[i].instance_id, last) > 0);
				snprintf(last, sizeof last, "%s", m[i].instance_id);
				if (order)
					support_join(order, order_size, m[i].instance_id);
				total++;
				sizes[w]++;
			}
			q.from_seq = n ? m[n - 1].seq + 1 : q.from_seq;
		} while (n == q.limit);
	}
	return total;
}

/* Takes every target of a selector rollout as the driver would: each wave
 * in pages of 7 while it is current, then the next wave.  The targets
 * taken in all. */
static size_t fill_all(struct support_store *f, const char *id)
{
	struct fleet_rollout r;
	size_t added, total = 0;
	unsigned w;
	struct error err;

	assert_int_equal(fleet_store_rollout_get(f->store, id, &r, NULL), 1);
	for (w = 0; w < r.wave_count; w++) {
		do {
			if (fleet_store_rollout_fill(f->store, id, w, 7, &added, &err))
				fail_msg("fill: %s", err.text);
			total += added;
		} while (added);
		assert_int_equal(fleet_store_rollout_advance(f->store, id, w, NULL), 1);
	}
	return total;
}

/* "Below" is version.h's order (v1.10.0 is above v1.9.0, though not as
 * text); waves from the count: [1, 10, 50, 100] of 300 ends at 3, 30,
 * 150, 300; the counts the view shows (GROUP BY) agree. */
static void test_rollout_select_below(void **state)
{
	static const char *const versions[] = { "v1.0.0", "v1.9.0", "v1.10.0", "v2.0.0", "",
						 "not a version" };
	static const unsigned percents[] = { 1, 10, 50, 100 };
	struct support_store *f = *state;
	struct fleet_rollout_selection sel;
	struct fleet_rollout r;
	size_t counts[FLEET_ROLLOUT_WAVES_MAX][FLEET_STATE_COUNT + 1];
	size_t sizes[FLEET_ROLLOUT_WAVES_MAX], count, dup;
	struct error err;

	instances_insert(f, 900, versions, 6);	/* 150 of each */
	selection_new(&r, &sel, "r1", FLEET_SELECT_VERSION_BELOW, "v1.10.0", percents, 4);
	assert_int_equal(fleet_store_rollout_create(f->store, &r, &sel, &count, &dup, &err),
			 FLEET_ROLLOUT_CREATED);
	assert_int_equal(count, 300);		/* v1.0.0 and v1.9.0 */
	assert_int_equal(fleet_store_rollout_get(f->store, "r1", &r, NULL), 1);
	assert_int_equal(r.wave_count, 4);
	assert_string_equal(r.waves, "[1,10,50,100]");
	assert_int_equal(r.state, FLEET_ROLLOUT_RUNNING);
	/* counted, none taken yet; the view counts them as not sent */
	assert_int_equal(targets_walk(f, "r1", sizes, NULL, 0), 0);
	assert_int_equal(fleet_store_rollout_counts(f->store, "r1", counts,
						    FLEET_ROLLOUT_WAVES_MAX, NULL), 0);
	assert_int_equal(counts[0][FLEET_STATE_COUNT], 3);
	assert_int_equal(counts[3][FLEET_STATE_COUNT], 150);
	assert_int_equal(fill_all(f, "r1"), 300);
	assert_int_equal(targets_walk(f, "r1", sizes, NULL, 0), 300);
	assert_int_equal(sizes[0], 3);
	assert_int_equal(sizes[1], 27);
	assert_int_equal(sizes[2], 120);
	assert_int_equal(sizes[3], 150);
	assert_int_equal(fleet_store_rollout_counts(f->store, "r1", counts,
						    FLEET_ROLLOUT_WAVES_MAX, NULL), 0);
	assert_int_equal(counts[0][FLEET_STATE_COUNT], 3);
	assert_int_equal(counts[3][FLEET_STATE_COUNT], 150);
	/* The same selection again makes the same plan. */
	selection_new(&r, &sel, "r2", FLEET_SELECT_VERSION_BELOW, "v1.10.0", percents, 4);
	assert_int_equal(fleet_store_rollout_create(f->store, &r, &sel, &count, &dup, &err), 0);
	assert_int_equal(fill_all(f, "r2"), 300);
	{
		char a[8192] = "", b[8192] = "";

		targets_walk(f, "r1", sizes, a, sizeof a);
		targets_walk(f, "r2", sizes, b, sizeof b);
		assert_string_equal(a, b);
		assert_non_null(strstr(a, "i-0000 i-0001 i-0006 i-0007 i-0012"));
	}
	/* The id taken: nothing changes. */
	assert_int_equal(fleet_store_rollout_create(f->store, &r, &sel, &count, &dup, &err),
			 FLEET_ROLLOUT_CREATE_EXISTS);
}

/* Equal; none matching: nothing recorded; waves that would be empty are
 * dropped (3 targets, [10, 20, 100]: ends 1, 1, 3). */
static void test_rollout_select_equal(void **state)
{
	static const char *const versions[] = { "v1.0.0", "v2.0.0" };
	static const unsigned drop[] = { 10, 20, 100 }, one[] = { 100 };
	struct support_store *f = *state;
	struct fleet_rollout_selection sel;
	struct fleet_rollout r;
	size_t sizes[FLEET_ROLLOUT_WAVES_MAX], count, dup;
	struct error err;

	instances_insert(f, 6, versions, 2);
	selection_new(&r, &sel, "r1", FLEET_SELECT_VERSION_EQUAL, "v2.0.0", drop, 3);
	assert_int_equal(fleet_store_rollout_create(f->store, &r, &sel, &count, &dup, &err), 0);
	assert_int_equal(count, 3);
	assert_int_equal(fleet_store_rollout_get(f->store, "r1", &r, NULL), 1);
	assert_int_equal(r.wave_count, 2);
	assert_string_equal(r.waves, "[10,100]");
	assert_int_equal(fill_all(f, "r1"), 3);
	assert_int_equal(targets_walk(f, "r1", sizes, NULL, 0), 3);
	assert_int_equal(sizes[0], 1);
	assert_int_equal(sizes[1], 2);
	selection_new(&r, &sel, "r2", FLEET_SELECT_VERSION_EQUAL, "v3", one, 1);
	assert_int_equal(fleet_store_rollout_create(f->store, &r, &sel, &count, &dup, &err),
			 FLEET_ROLLOUT_CREATE_EMPTY);
	assert_int_equal(fleet_store_rollout_get(f->store, "r2", &r, NULL), 0);
	selection_new(&r, &sel, "r2", FLEET_SELECT_VERSION_BELOW, "v1.0.0", one, 1);
	assert_int_equal(fleet_store_rollout_create(f->store, &r, &sel, &count, &dup, &err),
			 FLEET_ROLLOUT_CREATE_EMPTY);
	/* bad percents, no version: refused before SQL */
	selection_new(&r, &sel, "r3", FLEET_SELECT_VERSION_EQUAL, NULL, one, 1);
	assert_int_equal(fleet_store_rollout_create(f->store, &r, &sel, &count, &dup, &err), -1);
	selection_new(&r, &sel, "r3", FLEET_SELECT_VERSION_EQUAL, "v2.0.0", drop, 2);
	assert_int_equal(fleet_store_rollout_create(f->store, &r, &sel, &count, &dup, &err), -1);
}

/* A selector's targets are taken while their wave is current and the
 * rollout RUNNING, at most the wave's size counted at creation, in id
 * order after the last taken: an instance that reached another version
 * before its turn is not taken, one that appeared since is taken only in
 * the place of one that left; once none is left, later waves are empty
 * and the wave counts say nothing is untaken. */
static void test_rollout_fill(void **state)
{
	static const char *const old[] = { "v1.0.0" };
	static const unsigned percents[] = { 10, 50, 100 };
	struct support_store *f = *state;
	struct fleet_rollout_selection sel;
	struct fleet_rollout r;
	struct fleet_rollout_wave w;
	size_t sizes[FLEET_ROLLOUT_WAVES_MAX], count, dup, added;
	char order[4096] = "";
	struct error err;

	instances_insert(f, 40, old, 1);	/* i-0000 .. i-0039 */
	selection_new(&r, &sel, "r1", FLEET_SELECT_VERSION_BELOW, "v2.0.0", percents, 3);
	assert_int_equal(fleet_store_rollout_create(f->store, &r, &sel, &count, &dup, &err), 0);
	assert_int_equal(count, 40);		/* waves of 4, 16 and 20 */
	assert_int_equal(fleet_store_rollout_wave(f->store, "r1", 0, 0, &w, NULL), 0);
	assert_int_equal(w.total, 0);
	assert_int_equal(w.untaken, 4);
	/* not the current wave, or paused: nothing */
	assert_int_equal(fleet_store_rollout_fill(f->store, "r1", 1, 7, &added, NULL), 0);
	assert_int_equal(added, 0);
	assert_int_equal(fleet_store_rollout_transition(f->store, "r1",
				FLEET_ROLLOUT_BIT(FLEET_ROLLOUT_RUNNING), FLEET_ROLLOUT_PAUSED,
				"test", NULL, NULL), 1);
	assert_int_equal(fleet_store_rollout_fill(f->store, "r1", 0, 7, &added, NULL), 0);
	assert_int_equal(added, 0);
	assert_int_equal(fleet_store_rollout_transition(f->store, "r1",
				FLEET_ROLLOUT_BIT(FLEET_ROLLOUT_PAUSED), FLEET_ROLLOUT_RUNNING,
				"test", NULL, NULL), 1);
	/* a page of 3, then the wave's last 1 though 7 were asked */
	assert_int_equal(fleet_store_rollout_fill(f->store, "r1", 0, 3, &added, NULL), 0);
	assert_int_equal(added, 3);
	assert_int_equal(fleet_store_rollout_fill(f->store, "r1", 0, 7, &added, NULL), 0);
	assert_int_equal(added, 1);
	assert_int_equal(fleet_store_rollout_fill(f->store, "r1", 0, 7, &added, NULL), 0);
	assert_int_equal(added, 0);
	assert_int_equal(fleet_store_rollout_wave(f->store, "r1", 0, 0, &w, NULL), 0);
	assert_int_equal(w.total, 4);
	assert_int_equal(w.untaken, 0);
	assert_int_equal(w.pending, 4);
	assert_int_equal(fleet_store_rollout_advance(f->store, "r1", 0, NULL), 1);
	/* i-0005 upgraded meanwhile; i-0100 appeared after creation */
	assert_int_equal(fleet_store_heartbeat(f->store, "i-0005", "v2.0.0", "b", "1.1", 10, NULL), 0);
	assert_int_equal(fleet_store_heartbeat(f->store, "i-0100", "v1.0.0", "a", "1.1", 10, NULL), 0);
	assert_int_equal(fleet_store_rollout_fill(f->store, "r1", 1, 1000, &added, NULL), 0);
	assert_int_equal(added, 16);		/* the wave's size, i-0005 skipped */
	assert_int_equal(fleet_store_rollout_advance(f->store, "r1", 1, NULL), 1);
	assert_int_equal(fleet_store_rollout_fill(f->store, "r1", 2, 1000, &added, NULL), 0);
	assert_int_equal(added, 20);		/* i-0021 .. i-0039 and i-0100 */
	assert_int_equal(targets_walk(f, "r1", sizes, order, sizeof order), 40);
	assert_null(strstr(order, "i-0005"));
	assert_non_null(strstr(order, "i-0039 i-0100"));
	assert_int_equal(sizes[2], 20);
	/* two gone, none new: the last wave ends short, nothing untaken */
	selection_new(&r, &sel, "r2", FLEET_SELECT_VERSION_EQUAL, "v1.0.0", percents, 3);
	assert_int_equal(fleet_store_rollout_create(f->store, &r, &sel, &count, &dup, &err), 0);
	assert_int_equal(count, 40);		/* 39 of i-00xx and i-0100 */
	assert_int_equal(fleet_store_heartbeat(f->store, "i-0038", "v2.0.0", "b", "1.1", 11, NULL), 0);
	assert_int_equal(fleet_store_heartbeat(f->store, "i-0100", "v2.0.0", "b", "1.1", 11, NULL), 0);
	assert_int_equal(fill_all(f, "r2"), 38);
	assert_int_equal(fleet_store_rollout_get(f->store, "r2", &r, NULL), 1);
	assert_int_equal(r.state, FLEET_ROLLOUT_FINISHED);
	assert_int_equal(fleet_store_rollout_wave(f->store, "r2", 2, 0, &w, NULL), 0);
	assert_int_equal(w.total, 18);
	assert_int_equal(w.untaken, 0);
}

/* A list in its order; a draft takes pages until it starts, then its
 * waves come from its count; an id given twice, in a page or across
 * pages, leaves nothing of that page. */
static void test_rollout_draft_append(void **state)
{
	static const unsigned percents[] = { 50, 100 };
	static const char *const first[] = { "i-c", "i-a" }, *const page[] = { "i-d", "i-b" },
		*const again[] = { "i-e", "i-a" }, *const twice[] = { "i-x", "i-x" };
	struct support_store *f = *state;
	struct fleet_rollout_selection sel;
	struct fleet_rollout r;
	enum fleet_rollout_state st;
	size_t sizes[FLEET_ROLLOUT_WAVES_MAX], count, dup, total;
	char order[256] = "";
	struct error err;

	selection_new(&r, &sel, "r1", FLEET_SELECT_LIST, NULL, percents, 2);
	sel.ids = twice;
	sel.count = 2;
	assert_int_equal(fleet_store_rollout_create(f->store, &r, &sel, &count, &dup, &err),
			 FLEET_ROLLOUT_CREATE_TWICE);
	assert_int_equal(dup, 1);
	assert_int_equal(fleet_store_rollout_get(f->store, "r1", &r, NULL), 0);
	selection_new(&r, &sel, "r1", FLEET_SELECT_LIST, NULL, percents, 2);
	sel.ids = first;
	sel.count = 2;
	sel.draft = 1;
	r.state = FLEET_ROLLOUT_PAUSED;
	assert_int_equal(fleet_store_rollout_create(f->store, &r, &sel, &count, &dup, &err), 0);
	assert_int_equal(fleet_store_rollout_get(f->store, "r1", &r, NULL), 1);
	assert_int_equal(r.wave_count, 0);
	assert_int_equal(r.state, FLEET_ROLLOUT_PAUSED);
	assert_int_equal(fleet_store_rollout_append(f->store, "r1", page, 2, &total, &dup, &st,
						    &err), FLEET_ROLLOUT_APPENDED);
	assert_int_equal(total, 4);
	assert_int_equal(fleet_store_rollout_append(f->store, "r1", again, 2, &total, &dup, &st,
						    &err), FLEET_ROLLOUT_APPEND_TWICE);
	assert_int_equal(dup, 1);
	assert_int_equal(fleet_store_rollout_append(f->store, "nope", page, 2, &total, &dup, &st,
						    &err), FLEET_ROLLOUT_APPEND_NOT_DRAFT);
	assert_int_equal(st, FLEET_ROLLOUT_STATE_COUNT);
	assert_int_equal(fleet_store_rollout_start(f->store, "r1", &total, &st, &err), 1);
	assert_int_equal(total, 4);
	assert_int_equal(fleet_store_rollout_get(f->store, "r1", &r, NULL), 1);
	assert_int_equal(r.state, FLEET_ROLLOUT_RUNNING);
	assert_int_equal(r.wave_count, 2);
	assert_string_equal(r.selector, "{\"instances\": 4}");
	assert_int_equal(targets_walk(f, "r1", sizes, order, sizeof order), 4);
	assert_string_equal(order, "i-c i-a i-d i-b");	/* i-e was not kept */
	assert_int_equal(sizes[0], 2);
	assert_int_equal(sizes[1], 2);
	/* started: fixed */
	assert_int_equal(fleet_store_rollout_start(f->store, "r1", &total, &st, &err), 0);
	assert_int_equal(st, FLEET_ROLLOUT_RUNNING);
	assert_int_equal(fleet_store_rollout_append(f->store, "r1", again, 1, &total, &dup, &st,
						    &err), FLEET_ROLLOUT_APPEND_NOT_DRAFT);
	assert_int_equal(st, FLEET_ROLLOUT_RUNNING);
}

/* A rollback action pages: a target this rollout sent a rollback since its
 * FAILED is skipped by the next one, unless that rollback FAILED too. */
static void test_rollout_unrolled(void **state)
{
	struct fleet_rollout_members_query q = { FLEET_MEMBERS_FAILED, -1, 0, 8, 0, 1 };
	struct fleet_rollout_member m[8];
	struct support_store *f = *state;
	struct fleet_upgrade up;
	size_t n;
	int held;
	struct error err;

	rollout_insert3(f, "r1", 1000);
	assert_int_equal(fleet_store_rollout_lock(f->store, "r1", &held, NULL), 0);
	assert_int_equal(held, 1);
	assert_int_equal(rollout_plan(f, "r1", "u-c", "i-c"), 0);
	assert_int_equal(rollout_plan(f, "r1", "u-a", "i-a"), 0);
	support_report(f, "u-c", "i-c", FLEET_FAILED, "x", 2000);
	support_report(f, "u-a", "i-a", FLEET_FAILED, "x", 2000);
	assert_int_equal(fleet_store_rollout_members(f->store, "r1", &q, m, &n, &err), 0);
	assert_int_equal(n, 2);
	rollout_upgrade(&up, "r1", "b-c", "i-c");
	snprintf(up.kind, sizeof up.kind, "rollback");
	assert_int_equal(fleet_store_upgrade_insert(f->store, &up, &err), 0);
	rollout_upgrade(&up, "r1", "b-a", "i-a");
	snprintf(up.kind, sizeof up.kind, "rollback");
	assert_int_equal(fleet_store_upgrade_insert(f->store, &up, &err), 0);
	support_report(f, "b-a", "i-a", FLEET_FAILED, "cast not queued", 3000);
	assert_int_equal(fleet_store_rollout_members(f->store, "r1", &q, m, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(m[0].instance_id, "i-a");
	q.from_seq = m[0].seq + 1;
	assert_int_equal(fleet_store_rollout_members(f->store, "r1", &q, m, &n, &err), 0);
	assert_int_equal(n, 0);
}

#define ROLLOUT_SUITE(SETUP) \
	SUPPORT_STORE_TEST(test_rollout_select_below, SETUP), \
	SUPPORT_STORE_TEST(test_rollout_select_equal, SETUP), \
	SUPPORT_STORE_TEST(test_rollout_fill, SETUP), \
	SUPPORT_STORE_TEST(test_rollout_draft_append, SETUP), \
	SUPPORT_STORE_TEST(test_rollout_unrolled, SETUP), \
	SUPPORT_STORE_TEST(test_rollout_insert_get_list, SETUP), \
	SUPPORT_STORE_TEST(test_rollout_transitions, SETUP), \
	SUPPORT_STORE_TEST(test_rollout_plan_once, SETUP), \
	SUPPORT_STORE_TEST(test_rollout_plan_many, SETUP), \
	SUPPORT_STORE_TEST(test_rollout_plan_big, SETUP), \
	SUPPORT_STORE_TEST(test_rollout_plan_taken, SETUP), \
	SUPPORT_STORE_TEST(test_rollout_failed_signal, SETUP), \
	SUPPORT_STORE_TEST(test_rollout_lock, SETUP)

SUPPORT_STORE_MAIN("fleet_store_rollout", ROLLOUT_SUITE)
