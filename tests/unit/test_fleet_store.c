/* test_fleet_store.c: the promises of include/fleet_store.h, one suite run
 * against SQLite (a temp file) and, when FLEET_TEST_PG_URL is set, against
 * PostgreSQL (each test in a fresh schema, dropped afterwards).
 *
 * With arguments it is a driver for tests/integration/fleet_store_pg.sh:
 *   test_fleet_store drive SPEC   opens the store, prints "ready", reads
 * commands on stdin, one a line, and answers one line each (flushed):
 *   burst N PREFIX   reports DOWNLOADING..SUCCESS for PREFIX-0..N-1  -> "applied K"
 *   tally N PREFIX   -> "events E success S" over PREFIX-0..N-1
 *   get ID           -> "state NAME" | "missing"
 *   quit             ends (as end of input does)
 * any failure -> "error: TEXT". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fleet_store.h"
#include "fleet_store_rollout.h"
#include "support.h"

struct fixture {
	char dir[256];
	char spec[1024];
	char schema[64];	/* PostgreSQL only */
	struct fleet_store *store;
};

static int setup_sqlite(void **state)
{
	static struct fixture f;

	memset(&f, 0, sizeof f);
	support_tmpdir(f.dir, sizeof f.dir);
	snprintf(f.spec, sizeof f.spec, "%s/fleet.db", f.dir);
	assert_int_equal(fleet_store_open(&f.store, f.spec, NULL), 0);
	assert_string_equal(fleet_store_backend(f.store), "sqlite");
	*state = &f;
	return 0;
}

static void pg_quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static void pg_admin(const char *sql)
{
	PGconn *conn = PQconnectdb(getenv("FLEET_TEST_PG_URL"));
	PGresult *res;

	assert_int_equal(PQstatus(conn), CONNECTION_OK);
	PQsetNoticeProcessor(conn, pg_quiet, NULL);	/* "drop cascades to ..." */
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(conn));
	PQclear(res);
	PQfinish(conn);
}

/* A schema per test: every test starts from an empty database, migrations
 * included, and leaves nothing behind. */
static int setup_pg(void **state)
{
	static struct fixture f;
	static unsigned serial;
	const char *url = getenv("FLEET_TEST_PG_URL");
	char sql[128];

	memset(&f, 0, sizeof f);
	snprintf(f.schema, sizeof f.schema, "fleet_test_%ld_%u", (long)getpid(), serial++);
	snprintf(sql, sizeof sql, "CREATE SCHEMA %s", f.schema);
	pg_admin(sql);
	snprintf(f.spec, sizeof f.spec, "%s%coptions=-csearch_path%%3D%s", url,
		 strchr(url, '?') ? '&' : '?', f.schema);
	assert_int_equal(fleet_store_open(&f.store, f.spec, NULL), 0);
	assert_string_equal(fleet_store_backend(f.store), "postgresql");
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char sql[128];

	fleet_store_close(f->store);
	if (f->schema[0]) {
		snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", f->schema);
		pg_admin(sql);
	}
	if (f->dir[0])
		support_rmtree(f->dir);
	return 0;
}

static void insert(struct fixture *f, const char *id, const char *tenant, const char *instance,
		   int64_t created)
{
	struct fleet_upgrade up;
	struct error err;

	memset(&up, 0, sizeof up);
	snprintf(up.id, sizeof up.id, "%s", id);
	snprintf(up.tenant, sizeof up.tenant, "%s", tenant);
	snprintf(up.kind, sizeof up.kind, "upgrade");
	snprintf(up.instance_id, sizeof up.instance_id, "%s", instance);
	snprintf(up.to_version, sizeof up.to_version, "2.0");
	snprintf(up.strategy, sizeof up.strategy, "restart");
	snprintf(up.location, sizeof up.location, "https://repo.example/agent-2.0.slot");
	memset(up.sha256, 'a', 64);
	up.created_us = created;
	if (fleet_store_upgrade_insert(f->store, &up, &err) != 0)
		fail_msg("insert %s: %s", id, err.text);
}

/* Returns whether the report was applied. */
static int report(struct fixture *f, const char *id, const char *instance, enum fleet_state st,
		  const char *reason, int64_t at)
{
	struct fleet_report r = { .upgrade_id = id, .instance_id = instance, .state = st,
				  .reason = reason, .at_us = at, .source = "guest" };
	struct error err;
	int applied = -1;

	if (fleet_store_report(f->store, &r, &applied, &err) != 0)
		fail_msg("report %s %s: %s", id, fleet_state_name(st), err.text);
	assert_true(applied == 0 || applied == 1);
	return applied;
}

static enum fleet_state state_of(struct fixture *f, const char *id)
{
	struct fleet_upgrade up;

	assert_int_equal(fleet_store_upgrade_get(f->store, id, &up, NULL), 1);
	return up.state;
}

static size_t events(struct fixture *f, const char *id, struct fleet_event *ev, size_t max)
{
	size_t n = 99;

	assert_int_equal(fleet_store_upgrade_events(f->store, id, ev, max, &n, NULL), 0);
	return n;
}

static void test_insert_get_duplicate(void **state)
{
	struct fixture *f = *state;
	struct fleet_upgrade up, again;
	struct fleet_event ev[4];

	insert(f, "u1", "t1", "inst-1", 1000);
	assert_int_equal(fleet_store_upgrade_get(f->store, "u1", &up, NULL), 1);
	assert_string_equal(up.id, "u1");
	assert_string_equal(up.tenant, "t1");
	assert_string_equal(up.kind, "upgrade");
	assert_string_equal(up.instance_id, "inst-1");
	assert_string_equal(up.from_version, "");
	assert_string_equal(up.to_version, "2.0");
	assert_string_equal(up.strategy, "restart");
	assert_int_equal(strlen(up.sha256), 64);
	assert_string_equal(up.rollout_id, "");
	assert_int_equal(up.state, FLEET_NEW);
	assert_int_equal(up.created_us, 1000);
	assert_int_equal(up.updated_us, 1000);
	assert_int_equal(events(f, "u1", ev, 4), 1);
	assert_int_equal(ev[0].state, FLEET_NEW);
	assert_string_equal(ev[0].source, "api");
	assert_int_equal(ev[0].at_us, 1000);

	again = up;
	snprintf(again.to_version, sizeof again.to_version, "3.0");
	again.state = FLEET_SUCCESS;
	assert_int_equal(fleet_store_upgrade_insert(f->store, &again, NULL), 1);
	assert_int_equal(fleet_store_upgrade_get(f->store, "u1", &again, NULL), 1);
	assert_string_equal(again.to_version, "2.0");
	assert_int_equal(again.state, FLEET_NEW);
	assert_int_equal(events(f, "u1", ev, 4), 1);
	assert_int_equal(fleet_store_upgrade_get(f->store, "nope", &up, NULL), 0);
	assert_int_equal(events(f, "nope", ev, 4), 0);
}

static void test_late_reports_change_nothing(void **state)
{
	struct fixture *f = *state;
	struct fleet_event ev[8];

	insert(f, "u1", "t1", "inst-1", 1000);
	assert_true(report(f, "u1", "inst-1", FLEET_DOWNLOADING, "", 2000));
	assert_true(report(f, "u1", "inst-1", FLEET_VERIFYING, "", 3000));
	assert_false(report(f, "u1", "inst-1", FLEET_DOWNLOADING, "", 2500));
	assert_false(report(f, "u1", "inst-1", FLEET_NEW, "", 2600));
	assert_int_equal(state_of(f, "u1"), FLEET_VERIFYING);
	assert_true(report(f, "u1", "inst-1", FLEET_SUCCESS, "", 4000));
	assert_false(report(f, "u1", "inst-1", FLEET_DOWNLOADING, "", 2000));
	assert_false(report(f, "u1", "inst-1", FLEET_ACTIVATING, "", 3900));
	assert_false(report(f, "u1", "inst-1", FLEET_DEFERRED, "busy", 5000));
	assert_false(report(f, "u1", "inst-1", FLEET_FAILED, "late", 3950));
	assert_false(report(f, "u1", "inst-1", FLEET_SUCCESS, "again", 6000));
	assert_int_equal(state_of(f, "u1"), FLEET_SUCCESS);
	assert_int_equal(events(f, "u1", ev, 8), 4);
	assert_int_equal(ev[0].state, FLEET_NEW);
	assert_int_equal(ev[1].state, FLEET_DOWNLOADING);
	assert_int_equal(ev[2].state, FLEET_VERIFYING);
	assert_int_equal(ev[3].state, FLEET_SUCCESS);
	assert_string_equal(ev[3].source, "guest");
	assert_int_equal(ev[3].at_us, 4000);
}

static void test_failed_is_final(void **state)
{
	struct fixture *f = *state;
	struct fleet_upgrade up;
	struct fleet_event ev[4];

	insert(f, "u1", "t1", "inst-1", 1000);
	assert_true(report(f, "u1", "inst-1", FLEET_FAILED, "download: 404", 2000));
	assert_false(report(f, "u1", "inst-1", FLEET_SUCCESS, "", 3000));
	assert_false(report(f, "u1", "inst-1", FLEET_DOWNLOADING, "", 3000));
	assert_false(report(f, "u1", "inst-1", FLEET_DEFERRED, "", 3000));
	assert_false(report(f, "u1", "inst-1", FLEET_FAILED, "other", 3000));
	assert_int_equal(fleet_store_upgrade_get(f->store, "u1", &up, NULL), 1);
	assert_int_equal(up.state, FLEET_FAILED);
	assert_string_equal(up.reason, "download: 404");
	assert_int_equal(up.updated_us, 2000);
	assert_int_equal(events(f, "u1", ev, 4), 2);
}

/* The guest's probation revert: a FAILED sent after the SUCCESS applies,
 * once; anything else after SUCCESS does not. */
static void test_failed_after_success_revert(void **state)
{
	struct fixture *f = *state;
	struct fleet_report r = { .upgrade_id = "u1", .instance_id = "inst-1",
				  .state = FLEET_FAILED, .reason = "timed out", .at_us = 9000,
				  .source = "fleet" };
	struct fleet_upgrade up;
	struct fleet_event ev[8];
	int applied = -1;

	insert(f, "u1", "t1", "inst-1", 1000);
	assert_true(report(f, "u1", "inst-1", FLEET_SUCCESS, "", 4000));
	/* slotfleet's own FAILED never overrides a SUCCESS. */
	assert_int_equal(fleet_store_report(f->store, &r, &applied, NULL), 0);
	assert_int_equal(applied, 0);
	/* The guest's, sent before or at the SUCCESS: a late one, ignored. */
	assert_false(report(f, "u1", "inst-1", FLEET_FAILED, "old", 3000));
	assert_false(report(f, "u1", "inst-1", FLEET_FAILED, "same time", 4000));
	assert_false(report(f, "u1", "inst-1", FLEET_ACTIVATING, "", 5000));
	assert_false(report(f, "u1", "inst-1", FLEET_DEFERRED, "", 5000));
	assert_int_equal(state_of(f, "u1"), FLEET_SUCCESS);
	/* Sent after it: the revert applies, with its reason and event. */
	assert_true(report(f, "u1", "inst-1", FLEET_FAILED, "probation: agent unhealthy", 7000));
	assert_int_equal(fleet_store_upgrade_get(f->store, "u1", &up, NULL), 1);
	assert_int_equal(up.state, FLEET_FAILED);
	assert_string_equal(up.reason, "probation: agent unhealthy");
	assert_int_equal(up.updated_us, 7000);
	/* FAILED stays final: a redelivery, a newer SUCCESS or FAILED change nothing. */
	assert_false(report(f, "u1", "inst-1", FLEET_FAILED, "probation: agent unhealthy", 7000));
	assert_false(report(f, "u1", "inst-1", FLEET_FAILED, "again", 8000));
	assert_false(report(f, "u1", "inst-1", FLEET_SUCCESS, "", 8000));
	assert_int_equal(events(f, "u1", ev, 8), 3);
	assert_int_equal(ev[1].state, FLEET_SUCCESS);
	assert_int_equal(ev[2].state, FLEET_FAILED);
	assert_string_equal(ev[2].source, "guest");
	assert_int_equal(ev[2].at_us, 7000);
	/* Another instance's FAILED is refused, as always. */
	insert(f, "u2", "t1", "inst-1", 1000);
	assert_true(report(f, "u2", "inst-1", FLEET_SUCCESS, "", 4000));
	r = (struct fleet_report){ .upgrade_id = "u2", .instance_id = "inst-2",
				   .state = FLEET_FAILED, .at_us = 9000, .source = "guest" };
	assert_int_equal(fleet_store_report(f->store, &r, &applied, NULL), -1);
	assert_int_equal(state_of(f, "u2"), FLEET_SUCCESS);
}

static void test_deferred_both_ways(void **state)
{
	struct fixture *f = *state;
	struct fleet_event ev[8];

	insert(f, "u1", "t1", "inst-1", 1000);
	assert_true(report(f, "u1", "inst-1", FLEET_INSTALLING, "", 2000));
	assert_true(report(f, "u1", "inst-1", FLEET_DEFERRED, "agent busy", 3000));
	assert_int_equal(state_of(f, "u1"), FLEET_DEFERRED);
	assert_true(report(f, "u1", "inst-1", FLEET_DOWNLOADING, "", 4000));
	assert_false(report(f, "u1", "inst-1", FLEET_NEW, "", 4500));
	assert_true(report(f, "u1", "inst-1", FLEET_DEFERRED, "agent busy", 5000));
	assert_true(report(f, "u1", "inst-1", FLEET_NEW, "", 6000));
	assert_int_equal(events(f, "u1", ev, 8), 6);
	assert_int_equal(ev[2].state, FLEET_DEFERRED);
	assert_string_equal(ev[2].reason, "agent busy");
	assert_int_equal(ev[5].state, FLEET_NEW);
}

static void test_repeat_is_not_applied(void **state)
{
	struct fixture *f = *state;
	struct fleet_event ev[8];

	insert(f, "u1", "t1", "inst-1", 1000);
	assert_true(report(f, "u1", "inst-1", FLEET_DEFERRED, "busy", 2000));
	assert_false(report(f, "u1", "inst-1", FLEET_DEFERRED, "busy", 2000));
	assert_false(report(f, "u1", "inst-1", FLEET_DEFERRED, "busy", 2100));
	assert_int_equal(events(f, "u1", ev, 8), 2);
	/* Same state, news in the reason: an event of its own. */
	assert_true(report(f, "u1", "inst-1", FLEET_DEFERRED, "still busy", 2200));
	assert_int_equal(events(f, "u1", ev, 8), 3);
	assert_string_equal(ev[2].reason, "still busy");
	/* An applied report without an applied pointer still applies. */
	{
		struct fleet_report r = { .upgrade_id = "u1", .instance_id = "inst-1",
					  .state = FLEET_VERIFYING, .at_us = 3000,
					  .source = "guest" };
		assert_int_equal(fleet_store_report(f->store, &r, NULL, NULL), 0);
	}
	assert_int_equal(state_of(f, "u1"), FLEET_VERIFYING);
}

/* One transaction for many reports: each item follows the single call's
 * rules, in order, and a refused item changes nothing and stops nothing. */
static void test_batch_applies_in_order_refusing_alone(void **state)
{
	struct fixture *f = *state;
	struct fleet_report r[] = {
		{ .upgrade_id = "u1", .instance_id = "inst-1", .state = FLEET_DOWNLOADING,
		  .at_us = 2000, .source = "guest" },
		/* another instance's upgrade: refused */
		{ .upgrade_id = "u1", .instance_id = "inst-2", .state = FLEET_FAILED,
		  .reason = "forged", .at_us = 2100, .source = "guest" },
		{ .upgrade_id = "u1", .instance_id = "inst-1", .state = FLEET_SUCCESS,
		  .at_us = 3000, .source = "guest" },
		/* late: not applied */
		{ .upgrade_id = "u1", .instance_id = "inst-1", .state = FLEET_VERIFYING,
		  .at_us = 2500, .source = "guest" },
		/* unknown id without an instance: refused inside the transaction */
		{ .upgrade_id = "u9", .state = FLEET_DOWNLOADING, .at_us = 2000,
		  .source = "guest" },
		/* not a state: refused by the checks */
		{ .upgrade_id = "u1", .instance_id = "inst-1", .state = (enum fleet_state)42,
		  .at_us = 2000, .source = "guest" },
		/* a cast slotfleet did not send: created */
		{ .upgrade_id = "cast-1", .instance_id = "inst-3", .state = FLEET_INSTALLING,
		  .at_us = 4000, .source = "guest" },
	};
	struct fleet_heartbeat hb[] = {
		{ "inst-1", "2.0", "b", 5000 },
		{ "inst-1", "1.0", "a", 4000 },		/* older: not applied */
		{ "", "2.0", "b", 5000 },		/* no instance: refused */
	};
	struct fleet_batch_item items[10];
	const int want[10] = { 1, -1, 1, 0, -1, -1, 1, 1, 0, -1 };
	struct fleet_instance in;
	struct fleet_event ev[8];
	struct error err;
	size_t i;

	insert(f, "u1", "t1", "inst-1", 1000);
	memset(items, 0, sizeof items);
	for (i = 0; i < 7; i++)
		items[i].report = &r[i];
	for (i = 0; i < 3; i++)
		items[7 + i].heartbeat = &hb[i];
	if (fleet_store_batch(f->store, items, 10, &err) != 0)
		fail_msg("batch: %s", err.text);
	for (i = 0; i < 10; i++) {
		if (items[i].result != want[i])
			fail_msg("item %zu: result %d, not %d (%s)", i, items[i].result, want[i],
				 items[i].err.text);
		assert_true((items[i].result < 0) == (items[i].err.text[0] != '\0'));
	}
	assert_non_null(strstr(items[1].err.text, "inst-2"));
	assert_non_null(strstr(items[5].err.text, "state"));
	assert_int_equal(events(f, "u1", ev, 8), 3);
	assert_int_equal(ev[1].state, FLEET_DOWNLOADING);
	assert_int_equal(ev[2].state, FLEET_SUCCESS);
	assert_int_equal(state_of(f, "cast-1"), FLEET_INSTALLING);
	assert_int_equal(fleet_store_upgrade_get(f->store, "u9", &(struct fleet_upgrade){ 0 },
						 NULL), 0);
	assert_int_equal(fleet_store_instance_get(f->store, "inst-1", &in, NULL), 1);
	assert_string_equal(in.agent_version, "2.0");
	assert_int_equal(in.last_seen_us, 5000);

	/* An item naming both or neither kind is refused; empty batches commit. */
	memset(items, 0, sizeof items);
	items[0].report = &r[0];
	items[0].heartbeat = &hb[0];
	assert_int_equal(fleet_store_batch(f->store, items, 2, NULL), 0);
	assert_int_equal(items[0].result, -1);
	assert_int_equal(items[1].result, -1);
	assert_int_equal(fleet_store_batch(f->store, items, 0, NULL), 0);
	assert_int_equal(fleet_store_batch(f->store, items, FLEET_BATCH_MAX + 1, &err), -1);
	assert_int_equal(errno, EINVAL);
}

/* A batch far larger than a round trip's worth of statements (db.h's
 * DB_BATCH_CHUNK), an upgrade's reports spread over it and mixed with the
 * API's inserts: each report sees the ones before it, the events come out
 * in order, and the same batch again (a redelivery) applies nothing. */
#define BIG_N 300
static void test_batch_large_in_order_and_idempotent(void **state)
{
	static const enum fleet_state steps[] = { FLEET_DOWNLOADING, FLEET_VERIFYING,
						  FLEET_INSTALLING, FLEET_ACTIVATING,
						  FLEET_SUCCESS };
	struct fixture *f = *state;
	const size_t nsteps = sizeof steps / sizeof steps[0], count = BIG_N * (nsteps + 1);
	struct fleet_report *r = calloc(BIG_N * nsteps, sizeof *r);
	struct fleet_upgrade *up = calloc(BIG_N, sizeof *up);
	struct fleet_batch_item *items = calloc(count, sizeof *items);
	char (*ids)[FLEET_ID_MAX] = calloc(BIG_N, sizeof *ids);
	char (*inst)[FLEET_INSTANCE_MAX] = calloc(BIG_N, sizeof *inst);
	struct fleet_event ev[8];
	struct error err;
	size_t i, s, k, round;

	assert_true(r && up && items && ids && inst);
	for (i = 0; i < BIG_N; i++) {
		snprintf(ids[i], sizeof ids[i], "big-%zu", i);
		snprintf(inst[i], sizeof inst[i], "inst-big-%zu", i);
	}
	for (round = 0; round < 2; round++) {
		memset(items, 0, count * sizeof *items);
		k = 0;
		/* Odd upgrades come from the API first; even ones are created
		 * by their first report.  Step by step over all upgrades. */
		for (i = 1; i < BIG_N; i += 2) {
			memset(&up[i], 0, sizeof up[i]);
			snprintf(up[i].id, sizeof up[i].id, "%s", ids[i]);
			snprintf(up[i].kind, sizeof up[i].kind, "upgrade");
			snprintf(up[i].instance_id, sizeof up[i].instance_id, "%s", inst[i]);
			up[i].created_us = 500;
			items[k++].insert = &up[i];
		}
		for (s = 0; s < nsteps; s++) {
			for (i = 0; i < BIG_N; i++) {
				struct fleet_report *one = &r[s * BIG_N + i];

				*one = (struct fleet_report){ .upgrade_id = ids[i],
							      .instance_id = inst[i],
							      .state = steps[s],
							      .at_us = 1000 + (int64_t)s,
							      .source = "guest" };
				items[k++].report = one;
			}
		}
		if (fleet_store_batch(f->store, items, k, &err) != 0)
			fail_msg("batch: %s", err.text);
		for (i = 0; i < k; i++) {
			if (items[i].result != (round == 0))
				fail_msg("round %zu item %zu: result %d (%s)", round, i,
					 items[i].result, items[i].err.text);
		}
	}
	for (i = 0; i < BIG_N; i++) {
		size_t first = i % 2;	/* the API's NEW comes first */

		assert_int_equal(events(f, ids[i], ev, 8), nsteps + first);
		if (first)
			assert_int_equal(ev[0].state, FLEET_NEW);
		for (s = 0; s < nsteps; s++)	/* oldest first: in the order applied */
			assert_int_equal(ev[first + s].state, steps[s]);
		assert_int_equal(state_of(f, ids[i]), FLEET_SUCCESS);
	}
	free(r);
	free(up);
	free(items);
	free(ids);
	free(inst);
}

static void test_report_for_unknown_id_creates(void **state)
{
	struct fixture *f = *state;
	struct fleet_report r = { .upgrade_id = "cast-1", .instance_id = "inst-9",
				  .from_version = "1.0", .to_version = "1.1",
				  .state = FLEET_DOWNLOADING, .at_us = 7000, .source = "guest" };
	struct fleet_upgrade up;
	struct fleet_instance in;
	struct fleet_event ev[4];
	struct error err;
	int applied = 0;

	assert_int_equal(fleet_store_report(f->store, &r, &applied, NULL), 0);
	assert_int_equal(applied, 1);
	assert_int_equal(fleet_store_upgrade_get(f->store, "cast-1", &up, NULL), 1);
	assert_string_equal(up.tenant, "");
	assert_string_equal(up.kind, "upgrade");
	assert_string_equal(up.instance_id, "inst-9");
	assert_string_equal(up.from_version, "1.0");
	assert_string_equal(up.to_version, "1.1");
	assert_string_equal(up.reason, "");
	assert_int_equal(up.state, FLEET_DOWNLOADING);
	assert_int_equal(up.created_us, 7000);
	assert_int_equal(events(f, "cast-1", ev, 4), 1);
	assert_int_equal(ev[0].state, FLEET_DOWNLOADING);
	assert_string_equal(ev[0].source, "guest");
	assert_int_equal(fleet_store_instance_get(f->store, "inst-9", &in, NULL), 1);
	assert_string_equal(in.last_upgrade_id, "cast-1");
	assert_int_equal(in.last_seen_us, 0);

	/* Redelivered: nothing new. */
	assert_int_equal(fleet_store_report(f->store, &r, &applied, NULL), 0);
	assert_int_equal(applied, 0);
	assert_int_equal(events(f, "cast-1", ev, 4), 1);

	/* Versions: NULL or "" keeps, a value replaces. */
	r.from_version = NULL;
	r.to_version = "";
	r.state = FLEET_VERIFYING;
	assert_int_equal(fleet_store_report(f->store, &r, &applied, NULL), 0);
	assert_int_equal(fleet_store_upgrade_get(f->store, "cast-1", &up, NULL), 1);
	assert_string_equal(up.from_version, "1.0");
	assert_string_equal(up.to_version, "1.1");

	/* Unknown and no instance: refused, nothing created. */
	r.upgrade_id = "cast-2";
	r.instance_id = NULL;
	errno = 0;
	assert_int_equal(fleet_store_report(f->store, &r, &applied, &err), -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err.text, "cast-2"));
	assert_int_equal(fleet_store_upgrade_get(f->store, "cast-2", &up, NULL), 0);
	/* Another instance's report: refused, nothing changes. */
	r.upgrade_id = "cast-1";
	r.instance_id = "inst-8";
	r.state = FLEET_ACTIVATING;
	errno = 0;
	assert_int_equal(fleet_store_report(f->store, &r, &applied, &err), -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err.text, "inst-8"));
	assert_int_equal(applied, 0);
	assert_int_equal(state_of(f, "cast-1"), FLEET_VERIFYING);
	r.state = FLEET_VERIFYING;	/* even a repeat */
	assert_int_equal(fleet_store_report(f->store, &r, &applied, &err), -1);
	assert_int_equal(events(f, "cast-1", ev, 4), 2);
	/* Known and no instance: fine (slotfleet's own FAILED). */
	r.instance_id = NULL;
	r.upgrade_id = "cast-1";
	r.state = FLEET_FAILED;
	r.source = "fleet";
	assert_int_equal(fleet_store_report(f->store, &r, &applied, NULL), 0);
	assert_int_equal(applied, 1);
	assert_int_equal(events(f, "cast-1", ev, 4), 3);
	assert_string_equal(ev[2].source, "fleet");
}

/* Appends word to a space-separated list. */
static void join(char *list, size_t size, const char *word)
{
	size_t used = strlen(list), len = strlen(word);

	assert_true(used + len + 2 <= size);
	if (used)
		list[used++] = ' ';
	memcpy(list + used, word, len + 1);
}

static void list_ids(struct fixture *f, struct fleet_upgrade_filter *filter, const char *want,
		     int want_more)
{
	struct fleet_upgrade up[8];
	char got[256] = "";
	size_t n, i;
	int more = -1;
	struct error err;

	if (fleet_store_upgrade_list(f->store, filter, up, &n, &more, &err) != 0)
		fail_msg("list: %s", err.text);
	for (i = 0; i < n; i++)
		join(got, sizeof got, up[i].id);
	assert_string_equal(got, want);
	assert_int_equal(more, want_more);
}

static void test_list_filters_and_pages(void **state)
{
	struct fixture *f = *state;
	struct fleet_upgrade_filter filter = { .limit = 3 };
	struct fleet_upgrade up[2];
	size_t n = 9;
	int more = 9;

	insert(f, "a1", "t1", "inst-1", 100);
	insert(f, "a2", "t1", "inst-2", 200);
	insert(f, "a3", "t2", "inst-1", 300);
	insert(f, "a4", "t1", "inst-1", 400);
	insert(f, "b4", "t1", "inst-2", 400);	/* same time: id breaks the tie */
	insert(f, "a5", "t1", "inst-1", 500);
	report(f, "a2", "inst-2", FLEET_SUCCESS, "", 600);
	report(f, "a4", "inst-1", FLEET_SUCCESS, "", 600);

	list_ids(f, &filter, "a5 b4 a4", 1);
	filter.marker = "a4";
	list_ids(f, &filter, "a3 a2 a1", 0);
	filter.marker = "b4";
	list_ids(f, &filter, "a4 a3 a2", 1);
	filter.marker = NULL;
	filter.tenant = "t1";
	list_ids(f, &filter, "a5 b4 a4", 1);
	filter.marker = "a4";
	list_ids(f, &filter, "a2 a1", 0);
	filter.marker = NULL;
	filter.instance_id = "inst-1";
	list_ids(f, &filter, "a5 a4 a1", 0);
	filter.tenant = NULL;
	filter.limit = 4;
	list_ids(f, &filter, "a5 a4 a3 a1", 0);
	filter.has_state = 1;
	filter.state = FLEET_SUCCESS;
	list_ids(f, &filter, "a4", 0);
	filter.instance_id = NULL;
	filter.limit = 1;
	list_ids(f, &filter, "a4", 1);
	filter.marker = "a4";
	list_ids(f, &filter, "a2", 0);
	filter.state = FLEET_FAILED;
	filter.marker = NULL;
	list_ids(f, &filter, "", 0);

	filter = (struct fleet_upgrade_filter){ .limit = 2, .marker = "gone" };
	assert_int_equal(fleet_store_upgrade_list(f->store, &filter, up, &n, &more, NULL), 1);
	assert_int_equal(n, 0);
	assert_int_equal(more, 0);
	filter.marker = NULL;
	filter.limit = 0;
	errno = 0;
	assert_int_equal(fleet_store_upgrade_list(f->store, &filter, up, &n, &more, NULL), -1);
	assert_int_equal(errno, EINVAL);
	filter.limit = FLEET_PAGE_MAX + 1;
	assert_int_equal(fleet_store_upgrade_list(f->store, &filter, up, &n, &more, NULL), -1);
}

static void test_events_oldest_first_bounded(void **state)
{
	struct fixture *f = *state;
	struct fleet_event ev[3];

	insert(f, "u1", "t1", "inst-1", 1000);
	report(f, "u1", "inst-1", FLEET_DOWNLOADING, "", 2000);
	report(f, "u1", "inst-1", FLEET_VERIFYING, "", 3000);
	report(f, "u1", "inst-1", FLEET_INSTALLING, "", 4000);
	report(f, "u1", "inst-1", FLEET_ACTIVATING, "", 5000);
	assert_int_equal(events(f, "u1", ev, 3), 3);
	assert_int_equal(ev[0].state, FLEET_NEW);
	assert_int_equal(ev[1].state, FLEET_DOWNLOADING);
	assert_int_equal(ev[2].state, FLEET_VERIFYING);
	assert_int_equal(ev[2].at_us, 3000);
	assert_int_equal(events(f, "u1", ev, 0), 0);
}

static void test_heartbeat_newer_wins(void **state)
{
	struct fixture *f = *state;
	struct fleet_instance in;

	assert_int_equal(fleet_store_instance_get(f->store, "inst-1", &in, NULL), 0);
	assert_int_equal(fleet_store_heartbeat(f->store, "inst-1", "1.0", "a", 5000, NULL), 0);
	assert_int_equal(fleet_store_heartbeat(f->store, "inst-1", "2.0", "b", 6000, NULL), 0);
	assert_int_equal(fleet_store_heartbeat(f->store, "inst-1", "0.9", "a", 5500, NULL), 0);
	assert_int_equal(fleet_store_instance_get(f->store, "inst-1", &in, NULL), 1);
	assert_string_equal(in.id, "inst-1");
	assert_string_equal(in.agent_version, "2.0");
	assert_string_equal(in.agent_slot, "b");
	assert_int_equal(in.last_seen_us, 6000);
	assert_string_equal(in.last_upgrade_id, "");
	assert_int_equal(in.last_upgrade_state, FLEET_NEW);
}

static void test_instance_known_from_upgrade_and_last_upgrade(void **state)
{
	struct fixture *f = *state;
	struct fleet_instance in;

	insert(f, "u1", "t1", "inst-1", 1000);
	assert_int_equal(fleet_store_instance_get(f->store, "inst-1", &in, NULL), 1);
	assert_string_equal(in.agent_version, "");
	assert_int_equal(in.last_seen_us, 0);
	assert_string_equal(in.last_upgrade_id, "u1");
	assert_int_equal(in.last_upgrade_state, FLEET_NEW);

	insert(f, "u0", "t1", "inst-1", 500);	/* older: not the last one */
	report(f, "u1", "inst-1", FLEET_FAILED, "no space", 2000);
	assert_int_equal(fleet_store_instance_get(f->store, "inst-1", &in, NULL), 1);
	assert_string_equal(in.last_upgrade_id, "u1");
	assert_int_equal(in.last_upgrade_state, FLEET_FAILED);
	insert(f, "u2", "t1", "inst-1", 3000);
	assert_int_equal(fleet_store_instance_get(f->store, "inst-1", &in, NULL), 1);
	assert_string_equal(in.last_upgrade_id, "u2");
	assert_int_equal(in.last_upgrade_state, FLEET_NEW);
	/* A heartbeat keeps what the upgrades said. */
	assert_int_equal(fleet_store_heartbeat(f->store, "inst-1", "2.0", "b", 9000, NULL), 0);
	assert_int_equal(fleet_store_instance_get(f->store, "inst-1", &in, NULL), 1);
	assert_string_equal(in.last_upgrade_id, "u2");
	assert_string_equal(in.agent_version, "2.0");
}

static void instance_ids(struct fixture *f, const char *version, const char *marker, size_t limit,
			 const char *want, int want_more)
{
	struct fleet_instance in[8];
	char got[256] = "";
	size_t n, i;
	int more = -1;
	struct error err;

	if (fleet_store_instance_list(f->store, version, marker, limit, in, &n, &more, &err))
		fail_msg("instance list: %s", err.text);
	for (i = 0; i < n; i++)
		join(got, sizeof got, in[i].id);
	assert_string_equal(got, want);
	assert_int_equal(more, want_more);
}

static void test_instance_list(void **state)
{
	struct fixture *f = *state;
	struct fleet_instance in[2];
	size_t n;
	int more;

	assert_int_equal(fleet_store_heartbeat(f->store, "i-c", "2.0", "a", 1, NULL), 0);
	assert_int_equal(fleet_store_heartbeat(f->store, "i-a", "1.0", "a", 1, NULL), 0);
	assert_int_equal(fleet_store_heartbeat(f->store, "i-B", "2.0", "b", 1, NULL), 0);
	assert_int_equal(fleet_store_heartbeat(f->store, "i-d", "2.0", "a", 1, NULL), 0);
	insert(f, "u1", "t1", "i-b", 1000);	/* known from its upgrade only */

	instance_ids(f, NULL, NULL, 8, "i-B i-a i-b i-c i-d", 0);	/* bytewise */
	instance_ids(f, NULL, NULL, 2, "i-B i-a", 1);
	instance_ids(f, NULL, "i-a", 2, "i-b i-c", 1);
	instance_ids(f, NULL, "i-c", 2, "i-d", 0);
	instance_ids(f, "2.0", NULL, 2, "i-B i-c", 1);
	instance_ids(f, "2.0", "i-c", 2, "i-d", 0);
	instance_ids(f, "2.0", "i-bb", 8, "i-c i-d", 0);	/* a marker need not exist */
	instance_ids(f, "", NULL, 8, "i-b", 0);
	instance_ids(f, "9.9", NULL, 8, "", 0);
	errno = 0;
	assert_int_equal(fleet_store_instance_list(f->store, NULL, NULL, 0, in, &n, &more, NULL), -1);
	assert_int_equal(errno, EINVAL);
}

static void test_reopen_keeps_data_and_schema(void **state)
{
	struct fixture *f = *state;
	int version = 0, again = 0;

	insert(f, "u1", "t1", "inst-1", 1000);
	assert_int_equal(fleet_store_schema_version(f->store, &version, NULL), 0);
	assert_true(version >= 1);
	fleet_store_close(f->store);
	f->store = NULL;
	assert_int_equal(fleet_store_open(&f->store, f->spec, NULL), 0);
	assert_int_equal(fleet_store_schema_version(f->store, &again, NULL), 0);
	assert_int_equal(again, version);
	assert_int_equal(state_of(f, "u1"), FLEET_NEW);
	fleet_store_close(f->store);
	assert_int_equal(fleet_store_open(&f->store, f->spec, NULL), 0);
	assert_int_equal(state_of(f, "u1"), FLEET_NEW);
}

static void test_text_is_data(void **state)
{
	struct fixture *f = *state;
	const char *reason = "it's \"quoted\"; DROP TABLE upgrades; -- $1 ? %s\n\ttab\x01\x7f é✓😀";
	const char *id = "x'); DELETE FROM upgrades; --";
	struct fleet_upgrade up;
	struct fleet_event ev[4];
	struct error err;
	char bad[8] = { 'b', (char)0xC3, '(', 'z', (char)0xff, 0 };
	char id_bad[8] = { 'i', (char)0xC0, (char)0xAF, 0 };
	char longer[FLEET_INSTANCE_MAX + 1];
	struct fleet_instance in;

	insert(f, "u1", "t1", "inst-1", 1000);
	assert_true(report(f, id, "inst-'\"", FLEET_DEFERRED, reason, 2000));
	assert_int_equal(fleet_store_upgrade_get(f->store, id, &up, NULL), 1);
	assert_string_equal(up.id, id);
	assert_string_equal(up.instance_id, "inst-'\"");
	assert_string_equal(up.reason, reason);
	assert_int_equal(events(f, id, ev, 4), 1);
	assert_string_equal(ev[0].reason, reason);
	assert_int_equal(state_of(f, "u1"), FLEET_NEW);

	/* A reason that is not UTF-8 is kept, mangled; an id is refused. */
	assert_true(report(f, "u1", "inst-1", FLEET_DEFERRED, bad, 3000));
	assert_int_equal(fleet_store_upgrade_get(f->store, "u1", &up, NULL), 1);
	assert_string_equal(up.reason, "b?(z?");
	errno = 0;
	{
		struct fleet_report r = { .upgrade_id = id_bad, .instance_id = "i",
					  .state = FLEET_DEFERRED, .source = "guest" };
		assert_int_equal(fleet_store_report(f->store, &r, NULL, &err), -1);
		assert_int_equal(errno, EINVAL);
		assert_non_null(strstr(err.text, "upgrade_id"));
	}
	memset(longer, 'x', sizeof longer - 1);
	longer[sizeof longer - 1] = '\0';
	assert_int_equal(fleet_store_heartbeat(f->store, longer, "1", "a", 1, &err), -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err.text, "instance_id"));
	assert_int_equal(fleet_store_instance_get(f->store, longer, &in, &err), -1);
}

static void test_long_reason_cut_at_character(void **state)
{
	struct fixture *f = *state;
	char reason[FLEET_REASON_MAX * 2];
	struct fleet_upgrade up;
	size_t i;

	/* 'x' then 3-byte characters: the cut would fall inside one. */
	reason[0] = 'x';
	for (i = 1; i + 3 < sizeof reason; i += 3)
		memcpy(reason + i, "\xe2\x9c\x93", 3);
	reason[i] = '\0';
	insert(f, "u1", "t1", "inst-1", 1000);
	assert_true(report(f, "u1", "inst-1", FLEET_FAILED, reason, 2000));
	assert_int_equal(fleet_store_upgrade_get(f->store, "u1", &up, NULL), 1);
	assert_int_equal(strlen(up.reason), 1 + 3 * ((FLEET_REASON_MAX - 2) / 3));
	assert_memory_equal(up.reason, reason, strlen(up.reason));
}

struct reporter {
	struct fleet_store *store;
	unsigned applied;
	int failed;
};

/* Every state of 20 upgrades, in order: what a guest and its redelivery send. */
static void *reporter_main(void *arg)
{
	struct reporter *r = arg;
	char id[16];
	unsigned i;
	int s, applied;

	for (i = 0; i < 20; i++) {
		snprintf(id, sizeof id, "t-%u", i);
		for (s = FLEET_DOWNLOADING; s <= FLEET_SUCCESS; s++) {
			struct fleet_report rep = { .upgrade_id = id, .instance_id = "inst-1",
						    .state = (enum fleet_state)s, .at_us = s,
						    .source = "guest" };
			if (fleet_store_report(r->store, &rep, &applied, NULL))
				r->failed = 1;
			else
				r->applied += (unsigned)applied;
		}
	}
	return NULL;
}

static void test_threads_share_a_store(void **state)
{
	struct fixture *f = *state;
	struct reporter r[3];
	pthread_t t[3];
	struct fleet_event ev[8];
	char id[16];
	unsigned i, applied = 0;
	size_t total = 0;

	for (i = 0; i < 3; i++) {
		r[i] = (struct reporter){ .store = f->store };
		assert_int_equal(pthread_create(&t[i], NULL, reporter_main, &r[i]), 0);
	}
	for (i = 0; i < 3; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_false(r[i].failed);
		applied += r[i].applied;
	}
	for (i = 0; i < 20; i++) {
		snprintf(id, sizeof id, "t-%u", i);
		total += events(f, id, ev, 8);
		assert_int_equal(state_of(f, id), FLEET_SUCCESS);
	}
	assert_int_equal(applied, 20 * 5);
	assert_int_equal(total, 20 * 5);
}

static void test_sqlite_file_is_private(void **state)
{
	struct fixture *f = *state;
	struct stat st;
	char wal[1100];

	insert(f, "u1", "t1", "inst-1", 1000);
	assert_int_equal(stat(f->spec, &st), 0);
	assert_int_equal(st.st_mode & 077, 0);
	snprintf(wal, sizeof wal, "%s-wal", f->spec);
	assert_int_equal(stat(wal, &st), 0);	/* WAL mode */
	assert_int_equal(st.st_mode & 077, 0);
}

static void test_open_errors(void **state)
{
	struct fleet_store *store = NULL;
	struct error err;

	(void)state;
	assert_int_equal(fleet_store_open(&store, "/nonexistent-dir/x/fleet.db", &err), -1);
	assert_non_null(strstr(err.text, "sqlite"));
	assert_int_equal(fleet_store_open(&store, "", &err), -1);
	assert_int_equal(fleet_store_open(&store, "postgresql://nobody@127.0.0.1:1/none", &err),
			 -1);
	assert_non_null(strstr(err.text, "postgresql"));
	assert_null(store);
}

static void test_state_names(void **state)
{
	enum fleet_state st;
	int i;

	(void)state;
	for (i = 0; i < FLEET_STATE_COUNT; i++) {
		assert_int_equal(fleet_state_parse(fleet_state_name((enum fleet_state)i), &st), 0);
		assert_int_equal(st, i);
		assert_int_equal(fleet_state_final(st), st == FLEET_SUCCESS || st == FLEET_FAILED);
	}
	assert_string_equal(fleet_state_name(FLEET_DEFERRED), "DEFERRED");
	assert_int_equal(fleet_state_parse("success", &st), -1);
	assert_int_equal(fleet_state_parse("", &st), -1);
	assert_string_equal(fleet_state_name((enum fleet_state)99), "?");
}

/* Rollouts (fleet_store_rollout.h). */
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

static void rollout_insert3(struct fixture *f, const char *id, int64_t created)
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

static int rollout_plan(struct fixture *f, const char *rollout, const char *id,
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

static void member_ids(struct fixture *f, enum fleet_rollout_which which, int wave,
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
		join(got, sizeof got, m[i].instance_id);
	assert_string_equal(got, want);
}

static void test_rollout_insert_get_list(void **state)
{
	static const struct fleet_rollout_target twice[] = { { "i-a", 0 }, { "i-a", 1 } };
	static const struct fleet_rollout_target beyond[] = { { "i-a", 2 } };
	struct fixture *f = *state;
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
	struct fixture *f = *state;
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
	struct fixture *f = *state;
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
	report(f, "u-c", "i-c", FLEET_SUCCESS, "", 12000);
	report(f, "u-a", "i-a", FLEET_FAILED, "download: 404", 13000);
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
	report(f, "u-c", "i-c", FLEET_FAILED, "probation: reverted", 14000);
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
	struct fixture *f = *state;
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

/* Two store handles, as two slotfleet processes: on PostgreSQL one holds
 * the lock and only it plans; the other gets it once the first is gone. */
static void test_rollout_lock(void **state)
{
	struct fixture *f = *state;
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

#define FLEET_SUITE(SETUP) \
	cmocka_unit_test_setup_teardown(test_insert_get_duplicate, SETUP, teardown), \
	cmocka_unit_test_setup_teardown(test_late_reports_change_nothing, SETUP, teardown), \
	cmocka_unit_test_setup_teardown(test_failed_is_final, SETUP, teardown), \
	cmocka_unit_test_setup_teardown(test_failed_after_success_revert, SETUP, teardown), \
	cmocka_unit_test_setup_teardown(test_deferred_both_ways, SETUP, teardown), \
	cmocka_unit_test_setup_teardown(test_repeat_is_not_applied, SETUP, teardown), \
	cmocka_unit_test_setup_teardown(test_report_for_unknown_id_creates, SETUP, teardown), \
	cmocka_unit_test_setup_teardown(test_batch_large_in_order_and_idempotent, SETUP, \
					teardown), \
	cmocka_unit_test_setup_teardown(test_batch_applies_in_order_refusing_alone, SETUP, \
					teardown), \
	cmocka_unit_test_setup_teardown(test_list_filters_and_pages, SETUP, teardown), \
	cmocka_unit_test_setup_teardown(test_events_oldest_first_bounded, SETUP, teardown), \
	cmocka_unit_test_setup_teardown(test_heartbeat_newer_wins, SETUP, teardown), \
	cmocka_unit_test_setup_teardown(test_instance_known_from_upgrade_and_last_upgrade, \
					SETUP, teardown), \
	cmocka_unit_test_setup_teardown(test_instance_list, SETUP, teardown), \
	cmocka_unit_test_setup_teardown(test_reopen_keeps_data_and_schema, SETUP, teardown), \
	cmocka_unit_test_setup_teardown(test_text_is_data, SETUP, teardown), \
	cmocka_unit_test_setup_teardown(test_long_reason_cut_at_character, SETUP, teardown), \
	cmocka_unit_test_setup_teardown(test_threads_share_a_store, SETUP, teardown), \
	cmocka_unit_test_setup_teardown(test_rollout_insert_get_list, SETUP, teardown), \
	cmocka_unit_test_setup_teardown(test_rollout_transitions, SETUP, teardown), \
	cmocka_unit_test_setup_teardown(test_rollout_plan_once, SETUP, teardown), \
	cmocka_unit_test_setup_teardown(test_rollout_plan_many, SETUP, teardown), \
	cmocka_unit_test_setup_teardown(test_rollout_lock, SETUP, teardown)

/* The driver (see the top of this file). */
static void drive_burst(struct fleet_store *store, unsigned n, const char *prefix)
{
	static const enum fleet_state steps[] = { FLEET_DOWNLOADING, FLEET_VERIFYING,
						  FLEET_INSTALLING, FLEET_ACTIVATING,
						  FLEET_SUCCESS };
	char id[FLEET_ID_MAX], instance[FLEET_INSTANCE_MAX];
	struct error err;
	unsigned i, s, total = 0;
	int applied;

	for (i = 0; i < n; i++) {
		snprintf(id, sizeof id, "%s-%u", prefix, i);
		snprintf(instance, sizeof instance, "inst-%s-%u", prefix, i % 7);
		for (s = 0; s < sizeof steps / sizeof steps[0]; s++) {
			struct fleet_report r = { .upgrade_id = id, .instance_id = instance,
						  .state = steps[s], .at_us = 1000 + s,
						  .source = "guest" };
			if (fleet_store_report(store, &r, &applied, &err)) {
				printf("error: %s\n", err.text);
				return;
			}
			total += (unsigned)applied;
		}
	}
	printf("applied %u\n", total);
}

static void drive_tally(struct fleet_store *store, unsigned n, const char *prefix)
{
	struct fleet_event ev[16];
	struct fleet_upgrade up;
	char id[FLEET_ID_MAX];
	struct error err;
	unsigned i, success = 0;
	size_t count, total = 0;

	for (i = 0; i < n; i++) {
		snprintf(id, sizeof id, "%s-%u", prefix, i);
		if (fleet_store_upgrade_events(store, id, ev, 16, &count, &err) ||
		    fleet_store_upgrade_get(store, id, &up, &err) < 0) {
			printf("error: %s\n", err.text);
			return;
		}
		total += count;
		success += up.state == FLEET_SUCCESS;
	}
	printf("events %zu success %u\n", total, success);
}

static void drive_get(struct fleet_store *store, const char *id)
{
	struct fleet_upgrade up;
	struct error err;

	switch (fleet_store_upgrade_get(store, id, &up, &err)) {
	case 1:
		printf("state %s\n", fleet_state_name(up.state));
		break;
	case 0:
		printf("missing\n");
		break;
	default:
		printf("error: %s\n", err.text);
	}
}

static int drive(const char *spec)
{
	struct fleet_store *store;
	struct error err;
	char line[256], word[32];
	unsigned n;

	if (fleet_store_open(&store, spec, &err)) {
		fprintf(stderr, "drive: %s\n", err.text);
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	while (fgets(line, sizeof line, stdin) && strcmp(line, "quit\n")) {
		if (sscanf(line, "burst %u %31s", &n, word) == 2)
			drive_burst(store, n, word);
		else if (sscanf(line, "tally %u %31s", &n, word) == 2)
			drive_tally(store, n, word);
		else if (sscanf(line, "get %31s", word) == 1)
			drive_get(store, word);
		else
			printf("error: unknown command\n");
		fflush(stdout);
	}
	fleet_store_close(store);
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest sqlite_tests[] = {
		FLEET_SUITE(setup_sqlite),
		cmocka_unit_test_setup_teardown(test_sqlite_file_is_private, setup_sqlite, teardown),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_state_names),
	};
	const struct CMUnitTest pg_tests[] = { FLEET_SUITE(setup_pg) };
	int failed;

	if (argc == 3 && !strcmp(argv[1], "drive"))
		return drive(argv[2]);
	failed = cmocka_run_group_tests_name("fleet_store sqlite", sqlite_tests, NULL, NULL);
	if (!getenv("FLEET_TEST_PG_URL")) {
		printf("fleet_store postgresql: skipped (FLEET_TEST_PG_URL not set)\n");
		return failed;
	}
	return failed + cmocka_run_group_tests_name("fleet_store postgresql", pg_tests, NULL, NULL);
}
