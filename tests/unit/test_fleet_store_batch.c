/* test_fleet_store_batch.c: fleet_store_batch() (store/fleet_store.h,
 * store_batch.c, store_rows.c, store_coalesce.c): many inserts, reports and
 * heartbeats in one transaction, each item under the single call's rules;
 * run against SQLite and, when FLEET_TEST_PG_URL is set, PostgreSQL
 * (tests/integration/fleet_store_pg.sh). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/fleet_store.h"
#include "support_fleet_store.h"

/* A guest's outcomes of one upgrade, in the order it sends them. */
static const enum fleet_state steps[] = { FLEET_DOWNLOADING, FLEET_VERIFYING, FLEET_INSTALLING,
					  FLEET_ACTIVATING, FLEET_SUCCESS };

/* One transaction for many reports: each item follows the single call's
 * rules, in order, and a refused item changes nothing and stops nothing. */
static void test_batch_applies_in_order_refusing_alone(void **state)
{
	struct support_store *f = *state;
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
		{ "inst-1", "2.0", "b", 5000, "1.1" },
		{ "inst-1", "1.0", "a", 4000, "1.0" },	/* older: not applied */
		{ "", "2.0", "b", 5000, "1.1" },		/* no instance: refused */
	};
	struct fleet_batch_item items[10];
	const int want[10] = { 1, -1, 1, 0, -1, -1, 1, 1, 0, -1 };
	struct fleet_instance in;
	struct fleet_event ev[8];
	struct error err;
	size_t i;

	support_insert(f, "u1", "t1", "inst-1", 1000);
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
	assert_int_equal(support_events(f, "u1", ev, 8), 3);
	assert_int_equal(ev[1].state, FLEET_DOWNLOADING);
	assert_int_equal(ev[2].state, FLEET_SUCCESS);
	assert_int_equal(support_state(f, "cast-1"), FLEET_INSTALLING);
	assert_int_equal(fleet_store_upgrade_get(f->store, "u9", &(struct fleet_upgrade){ 0 },
						 NULL), 0);
	assert_int_equal(fleet_store_instance_get(f->store, "inst-1", &in, NULL), 1);
	assert_string_equal(in.agent_version, "2.0");
	assert_string_equal(in.rpc_api_version, "1.1");
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

/* Heartbeats coalesced in a batch: only an instance's newest (the last of
 * equally new ones) is written; the row ends as if all ran in order, and
 * the others are results 0.  Refused items and other kinds are untouched. */
static void test_batch_heartbeats_coalesced(void **state)
{
	struct support_store *f = *state;
	struct fleet_heartbeat hb[] = {
		{ "inst-c", "2.0", "a", 6000, "1.1" },
		{ "inst-c", "3.0", "b", 7000, "1.1" },
		{ "inst-c", "x", "a", 6500, "1.0" },	/* older than the one before */
		{ "inst-d", "1.0", "a", 100, "1.0" },
		{ "inst-c", "3.1", "b", 7000, "1.2" },	/* as new, later: it wins */
		{ "inst-e", "1.0", "a", 10, "1.0" },
		{ "inst-e", "0.9", "a", 5, "1.0" },	/* older */
		{ "", "1.0", "a", 9999, "1.0" },		/* refused */
	};
	struct fleet_report r = { .upgrade_id = "cast-c", .instance_id = "inst-c",
				  .state = FLEET_DOWNLOADING, .at_us = 6600, .source = "guest" };
	const int want[9] = { 0, 0, 0, 1, 1, 1, 0, -1, 1 };
	struct fleet_batch_item items[9];
	struct fleet_instance in;
	struct error err;
	size_t i;

	assert_int_equal(fleet_store_heartbeat(f->store, "inst-c", "1.0", "a", "1.0", 5000, NULL), 0);
	memset(items, 0, sizeof items);
	for (i = 0; i < 8; i++)
		items[i].heartbeat = &hb[i];
	items[8].report = &r;
	if (fleet_store_batch(f->store, items, 9, &err) != 0)
		fail_msg("batch: %s", err.text);
	for (i = 0; i < 9; i++) {
		if (items[i].result != want[i])
			fail_msg("item %zu: result %d, not %d (%s)", i, items[i].result, want[i],
				 items[i].err.text);
	}
	assert_int_equal(fleet_store_instance_get(f->store, "inst-c", &in, NULL), 1);
	assert_string_equal(in.agent_version, "3.1");
	assert_string_equal(in.rpc_api_version, "1.2");
	assert_int_equal(in.last_seen_us, 7000);
	assert_int_equal(fleet_store_instance_get(f->store, "inst-e", &in, NULL), 1);
	assert_string_equal(in.agent_version, "1.0");
	assert_int_equal(in.last_seen_us, 10);
	assert_int_equal(support_state(f, "cast-c"), FLEET_DOWNLOADING);

	/* All older than the stored one: nothing applies; one as new as the
	 * stored one applies, as its single call would. */
	memset(items, 0, sizeof items);
	hb[0].sent_us = 200;
	hb[2].sent_us = 100;
	items[0].heartbeat = &hb[0];
	items[1].heartbeat = &hb[2];
	assert_int_equal(fleet_store_batch(f->store, items, 2, NULL), 0);
	assert_int_equal(items[0].result, 0);
	assert_int_equal(items[1].result, 0);
	hb[0].sent_us = 7000;
	items[2].heartbeat = &hb[0];
	assert_int_equal(fleet_store_batch(f->store, items, 3, NULL), 0);
	assert_int_equal(items[2].result, 1);
	assert_int_equal(fleet_store_instance_get(f->store, "inst-c", &in, NULL), 1);
	assert_string_equal(in.agent_version, "2.0");
	assert_int_equal(in.last_seen_us, 7000);
}

/* A batch far larger than a round trip's worth of statements (db.h's
 * DB_BATCH_CHUNK), an upgrade's reports spread over it and mixed with the
 * API's inserts: each report sees the ones before it, the events come out
 * in order, and the same batch again (a redelivery) applies nothing. */
#define BIG_N 300
static void test_batch_large_in_order_and_idempotent(void **state)
{
	struct support_store *f = *state;
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

		assert_int_equal(support_events(f, ids[i], ev, 8), nsteps + first);
		if (first)
			assert_int_equal(ev[0].state, FLEET_NEW);
		for (s = 0; s < nsteps; s++)	/* oldest first: in the order applied */
			assert_int_equal(ev[first + s].state, steps[s]);
		assert_int_equal(support_state(f, ids[i]), FLEET_SUCCESS);
	}
	free(r);
	free(up);
	free(items);
	free(ids);
	free(inst);
}

/* The consumer's batches (no inserts) run as multi-row statements: each
 * upgrade's reports spread over several statements' worth of rows and
 * layers (one per report of the same upgrade), heartbeats coalesced, a
 * repeat, a late report and another instance's report among them: the
 * same results and events as one by one; again (a redelivery), nothing.
 * More reports of one upgrade than the layers allow take the per-item
 * statements, with the same rules. */
#define ROWS_N 100
static void test_batch_rows_layers(void **state)
{
	struct support_store *f = *state;
	const size_t nsteps = 5, count = ROWS_N * (nsteps + 1) + 3 + ROWS_N / 10;
	struct fleet_report *r = calloc(ROWS_N * nsteps + 3, sizeof *r);
	struct fleet_heartbeat *hb = calloc(ROWS_N, sizeof *hb);
	struct fleet_batch_item *items = calloc(count, sizeof *items);
	char (*ids)[FLEET_ID_MAX] = calloc(ROWS_N, sizeof *ids);
	char (*inst)[FLEET_INSTANCE_MAX] = calloc(ROWS_N, sizeof *inst);
	struct fleet_event ev[16];
	struct fleet_instance in;
	size_t i, s, k, round;
	struct error err;
	int want;

	assert_true(r && hb && items && ids && inst);
	for (i = 0; i < ROWS_N; i++) {
		snprintf(ids[i], sizeof ids[i], "rows-%zu", i);
		snprintf(inst[i], sizeof inst[i], "inst-rows-%zu", i);
		hb[i] = (struct fleet_heartbeat){ inst[i], "2.0", "b", 9000 + (int64_t)i, "1.1" };
		for (s = 0; s < nsteps; s++)
			r[s * ROWS_N + i] = (struct fleet_report){ .upgrade_id = ids[i],
				.instance_id = inst[i], .state = steps[s],
				.at_us = 1000 + (int64_t)s, .source = "guest" };
	}
	/* A repeat of rows-1's SUCCESS, a late VERIFYING of rows-2, and
	 * rows-3's FAILED from another instance. */
	r[ROWS_N * nsteps] = r[(nsteps - 1) * ROWS_N + 1];
	r[ROWS_N * nsteps + 1] = r[1 * ROWS_N + 2];
	r[ROWS_N * nsteps + 2] = (struct fleet_report){ .upgrade_id = ids[3],
		.instance_id = "inst-other", .state = FLEET_FAILED, .at_us = 5000,
		.source = "guest" };
	for (round = 0; round < 2; round++) {
		memset(items, 0, count * sizeof *items);
		for (k = 0, s = 0; s < nsteps; s++) {
			for (i = 0; i < ROWS_N; i++) {
				items[k++].report = &r[s * ROWS_N + i];
				if (s == 2 && i % 10 == 0)	/* two heartbeats of one */
					items[k++].heartbeat = &hb[(i + 5) % ROWS_N];
			}
		}
		for (i = 0; i < 3; i++)
			items[k++].report = &r[ROWS_N * nsteps + i];
		for (i = 0; i < ROWS_N; i++)
			items[k++].heartbeat = &hb[i];
		assert_true(k <= count);
		if (fleet_store_batch(f->store, items, k, &err) != 0)
			fail_msg("batch: %s", err.text);
		for (i = 0; i < k; i++) {
			const struct fleet_report *one = items[i].report;

			if (one && one == &r[ROWS_N * nsteps + 2])
				want = -1;
			else if (one && one >= &r[ROWS_N * nsteps])
				want = 0;
			else if (items[i].heartbeat)	/* the last of each is the newest; */
				want = i >= k - ROWS_N;	/* as new as the stored: applies */
			else
				want = round == 0;
			if (items[i].result != want)
				fail_msg("round %zu item %zu: result %d, not %d (%s)", round, i,
					 items[i].result, want, items[i].err.text);
		}
	}
	for (i = 0; i < ROWS_N; i++) {
		assert_int_equal(support_events(f, ids[i], ev, 16), nsteps);
		for (s = 0; s < nsteps; s++)
			assert_int_equal(ev[s].state, steps[s]);
		assert_int_equal(support_state(f, ids[i]), FLEET_SUCCESS);
		assert_int_equal(fleet_store_instance_get(f->store, inst[i], &in, NULL), 1);
		assert_int_equal(in.last_seen_us, 9000 + (int64_t)i);
	}
	/* Ten reports of one upgrade: more layers than the rows take. */
	memset(items, 0, count * sizeof *items);
	for (s = 0; s < nsteps; s++) {
		r[s] = (struct fleet_report){ .upgrade_id = "rows-many", .instance_id = "inst-many",
					      .state = steps[s], .at_us = 1000 + (int64_t)s,
					      .source = "guest" };
		r[nsteps + s] = r[s];	/* each again: repeats */
		items[2 * s].report = &r[s];
		items[2 * s + 1].report = &r[nsteps + s];
	}
	if (fleet_store_batch(f->store, items, 2 * nsteps, &err) != 0)
		fail_msg("batch: %s", err.text);
	for (i = 0; i < 2 * nsteps; i++)
		assert_int_equal(items[i].result, i % 2 == 0);
	assert_int_equal(support_events(f, "rows-many", ev, 16), nsteps);
	assert_int_equal(ev[nsteps - 1].state, FLEET_SUCCESS);
	/* A report naming no instance for an unknown id is refused even when
	 * a later report of the batch creates the record, as one by one. */
	memset(items, 0, 2 * sizeof *items);
	r[0] = (struct fleet_report){ .upgrade_id = "rows-made", .state = FLEET_DOWNLOADING,
				      .at_us = 1000, .source = "fleet" };
	r[1] = (struct fleet_report){ .upgrade_id = "rows-made", .instance_id = "inst-made",
				      .state = FLEET_DOWNLOADING, .at_us = 1000,
				      .source = "guest" };
	items[0].report = &r[0];
	items[1].report = &r[1];
	assert_int_equal(fleet_store_batch(f->store, items, 2, NULL), 0);
	assert_int_equal(items[0].result, -1);
	assert_int_equal(items[1].result, 1);
	free(r);
	free(hb);
	free(items);
	free(ids);
	free(inst);
}

#define BATCH_SUITE(SETUP) \
	SUPPORT_STORE_TEST(test_batch_large_in_order_and_idempotent, SETUP), \
	SUPPORT_STORE_TEST(test_batch_applies_in_order_refusing_alone, SETUP), \
	SUPPORT_STORE_TEST(test_batch_heartbeats_coalesced, SETUP), \
	SUPPORT_STORE_TEST(test_batch_rows_layers, SETUP)

SUPPORT_STORE_MAIN("fleet_store_batch", BATCH_SUITE)
