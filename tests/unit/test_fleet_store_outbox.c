/* test_fleet_store_outbox.c: the promises of fleet/store/fleet_store_outbox.h
 * (a cast queued with its record, claimed in order under leases, settled
 * in order, a refusal making the record FAILED, leases handed back) and
 * the migration of a v6 database to v7, one suite run against SQLite (a
 * temp file) and, when FLEET_TEST_PG_URL is set, against PostgreSQL
 * (tests/integration/fleet_store_pg.sh). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "store/db/db.h"
#include "store/fleet_store.h"
#include "store/fleet_store_outbox.h"
#include "support_fleet_store.h"

#define NOW INT64_C(1700000000000000)
#define LEASE INT64_C(60000000)

static int is_pg(const struct support_store *f)
{
	return !strcmp(fleet_store_backend(f->store), "postgresql");
}

static void up_new(struct fleet_upgrade *up, const char *id, const char *instance)
{
	memset(up, 0, sizeof *up);
	snprintf(up->id, sizeof up->id, "%s", id);
	snprintf(up->tenant, sizeof up->tenant, "acme");
	snprintf(up->kind, sizeof up->kind, "upgrade");
	snprintf(up->instance_id, sizeof up->instance_id, "%s", instance);
	snprintf(up->to_version, sizeof up->to_version, "2.0");
	snprintf(up->strategy, sizeof up->strategy, "http");
	snprintf(up->location, sizeof up->location, "http://h/v2.bundle");
}

/* Inserts id with its cast (args naming it); returns the item's result. */
static int queue(struct support_store *f, const char *id, const char *instance)
{
	char args[128];
	struct fleet_upgrade up;
	struct fleet_outbox_cast cast = { "upgrade", NULL, args };
	struct fleet_batch_item item = { .insert = &up, .cast = &cast };
	struct error err;

	up_new(&up, id, instance);
	snprintf(args, sizeof args, "{\"upgrade_id\": \"%s\", \"note\": \"it's\"}", id);
	if (fleet_store_batch(f->store, &item, 1, &err) < 0)
		fail_msg("batch %s: %s", id, err.text);
	return item.result;
}

static enum fleet_cast_state cast_of(struct support_store *f, const char *id,
				     struct fleet_upgrade *out)
{
	struct fleet_upgrade up;

	assert_int_equal(fleet_store_upgrade_get(f->store, id, &up, NULL), 1);
	if (out)
		*out = up;
	return up.cast;
}

static size_t claim(struct fleet_store *store, const char *owner, int64_t now, size_t max,
		    struct fleet_outbox_row *rows)
{
	struct error err;
	size_t n = 99;

	if (fleet_store_outbox_claim(store, owner, now, now + LEASE, max, 1 << 20, rows, &n,
				     &err) < 0)
		fail_msg("claim: %s", err.text);
	return n;
}

static void test_outbox_queued_with_record(void **state)
{
	struct support_store *f = *state;
	struct fleet_outbox_row rows[4];
	struct fleet_upgrade up;
	struct fleet_batch_item item = { .insert = &up };
	struct fleet_outbox_cast cast = { "upgrade", NULL, "{}" }, bad = { "upgrade", NULL,
									   "\xff" };
	struct fleet_batch_item orphan = { .cast = &cast };
	uint64_t pending = 9;

	assert_int_equal(queue(f, "u1", "i-1"), 1);
	assert_int_equal(cast_of(f, "u1", NULL), FLEET_CAST_STATE_PENDING);
	assert_int_equal(queue(f, "u1", "i-1"), 0);	/* the id exists: nothing queued */
	up_new(&up, "u2", "i-2");			/* a record without a cast */
	assert_int_equal(fleet_store_batch(f->store, &item, 1, NULL), 0);
	assert_int_equal(cast_of(f, "u2", NULL), FLEET_CAST_STATE_UNKNOWN);
	assert_int_equal(fleet_store_batch(f->store, &orphan, 1, NULL), 0);
	assert_int_equal(orphan.result, -1);
	up_new(&up, "u3", "i-3");
	item = (struct fleet_batch_item){ .insert = &up, .cast = &bad };
	assert_int_equal(fleet_store_batch(f->store, &item, 1, NULL), 0);
	assert_int_equal(item.result, -1);
	assert_int_equal(fleet_store_upgrade_get(f->store, "u3", &up, NULL), 0);
	assert_int_equal(fleet_store_outbox_pending(f->store, &pending, NULL), 0);
	assert_int_equal(pending, 1);
	assert_int_equal(claim(f->store, "a", NOW, 4, rows), 1);
	assert_string_equal(rows[0].upgrade_id, "u1");
	assert_string_equal(rows[0].instance_id, "i-1");
	assert_string_equal(rows[0].method, "upgrade");
	assert_string_equal(rows[0].version, "1.0");
	assert_string_equal(rows[0].args, "{\"upgrade_id\": \"u1\", \"note\": \"it's\"}");
	assert_int_equal(rows[0].attempts, 1);
	fleet_outbox_rows_free(rows, 1);
}

static void test_outbox_order_and_settle(void **state)
{
	struct support_store *f = *state;
	struct fleet_outbox_row rows[4];
	struct fleet_event ev[4];
	struct fleet_upgrade up;
	size_t n, i;
	uint64_t pending;

	assert_int_equal(queue(f, "c", "i-1"), 1);	/* ids out of order: seq rules */
	assert_int_equal(queue(f, "a", "i-2"), 1);
	assert_int_equal(queue(f, "b", "i-1"), 1);
	n = claim(f->store, "a", NOW, 2, rows);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].upgrade_id, "c");
	assert_string_equal(rows[1].upgrade_id, "a");
	assert_true(rows[0].seq < rows[1].seq);
	rows[0].result = FLEET_CAST_STATE_QUEUED;
	rows[1].result = FLEET_CAST_STATE_REFUSED;
	snprintf(rows[1].why, sizeof rows[1].why, "guestagent.i-2: no queue is bound");
	for (i = 0; i < 2; i++) {
		assert_int_equal(fleet_store_outbox_settle(f->store, rows, 2, NOW + 5, NULL), 0);
		assert_int_equal(cast_of(f, "c", NULL), FLEET_CAST_STATE_QUEUED);
		assert_int_equal(cast_of(f, "a", &up), FLEET_CAST_STATE_REFUSED);
		assert_int_equal(up.state, FLEET_FAILED);
		assert_string_equal(up.reason, "cast not queued: guestagent.i-2: no queue is bound");
		n = 0;
		assert_int_equal(fleet_store_upgrade_events(f->store, "a", ev, 4, &n, NULL), 0);
		assert_int_equal(n, 2);		/* settled twice: one FAILED event */
		assert_int_equal(ev[1].state, FLEET_FAILED);
		assert_string_equal(ev[1].source, "fleet");
	}
	fleet_outbox_rows_free(rows, 2);
	assert_int_equal(fleet_store_outbox_pending(f->store, &pending, NULL), 0);
	assert_int_equal(pending, 1);
	assert_int_equal(claim(f->store, "a", NOW, 4, rows), 1);
	assert_string_equal(rows[0].upgrade_id, "b");
	fleet_outbox_rows_free(rows, 1);
	/* Settled as neither: refused before anything is written. */
	rows[0].result = FLEET_CAST_STATE_PENDING;
	assert_int_equal(fleet_store_outbox_settle(f->store, rows, 1, NOW, NULL), -1);
}

/* A refused cast of a record the guest already finished leaves it as it is. */
static void test_outbox_refused_after_final(void **state)
{
	struct support_store *f = *state;
	struct fleet_outbox_row rows[1];
	struct fleet_upgrade up;

	assert_int_equal(queue(f, "u1", "i-1"), 1);
	support_report(f, "u1", "i-1", FLEET_SUCCESS, "", NOW);
	assert_int_equal(claim(f->store, "a", NOW, 1, rows), 1);
	rows[0].result = FLEET_CAST_STATE_REFUSED;
	snprintf(rows[0].why, sizeof rows[0].why, "nack");
	assert_int_equal(fleet_store_outbox_settle(f->store, rows, 1, NOW + 1, NULL), 0);
	fleet_outbox_rows_free(rows, 1);
	cast_of(f, "u1", &up);
	assert_int_equal(up.state, FLEET_SUCCESS);
}

/* Leases: on PostgreSQL another owner skips a leased cast until the lease
 * ends or is handed back; on SQLite (one process) leases are not looked at. */
static void test_outbox_leases(void **state)
{
	struct support_store *f = *state;
	struct fleet_outbox_row rows[4], other_rows[4];
	struct fleet_store *other;
	size_t n;

	assert_int_equal(fleet_store_open(&other, f->spec, NULL), 0);
	assert_int_equal(queue(f, "u1", "i-1"), 1);
	assert_int_equal(queue(f, "u2", "i-2"), 1);
	assert_int_equal(claim(f->store, "a", NOW, 1, rows), 1);
	n = claim(other, "b", NOW + 1, 4, other_rows);
	assert_int_equal(n, is_pg(f) ? 1 : 2);
	assert_string_equal(other_rows[0].upgrade_id, is_pg(f) ? "u2" : "u1");
	fleet_outbox_rows_free(other_rows, n);
	n = claim(f->store, "a", NOW + 2, 4, other_rows);	/* its own, again */
	assert_int_equal(n, is_pg(f) ? 1 : 2);
	assert_string_equal(other_rows[0].upgrade_id, "u1");
	assert_int_equal(other_rows[0].attempts, is_pg(f) ? 2 : 3);	/* SQLite: b took it too */
	fleet_outbox_rows_free(other_rows, n);
	if (is_pg(f)) {
		/* b holds u2 until NOW + 1 + LEASE: a takes it only after that. */
		assert_int_equal(claim(f->store, "a", NOW + LEASE, 4, other_rows), 1);
		fleet_outbox_rows_free(other_rows, 1);
		n = claim(f->store, "a", NOW + LEASE + 2, 4, other_rows);
		assert_int_equal(n, 2);
		fleet_outbox_rows_free(other_rows, n);
	}
	/* Handed back: anyone takes it at once. */
	assert_int_equal(fleet_store_outbox_release(f->store, "a", rows, 1, NULL), 0);
	n = claim(other, "b", NOW + 3, 1, other_rows);
	assert_int_equal(n, 1);
	assert_string_equal(other_rows[0].upgrade_id, "u1");
	fleet_outbox_rows_free(other_rows, n);
	fleet_outbox_rows_free(rows, 1);
	fleet_store_close(other);
}

/* PostgreSQL: a lease whose holder's session is gone (the process died)
 * ends at once, however long it had to run. */
static void test_outbox_dead_holder(void **state)
{
	struct support_store *f = *state;
	struct fleet_outbox_row rows[2];
	struct fleet_store *dying;
	size_t n;
	int tries;

	assert_int_equal(queue(f, "u1", "i-1"), 1);
	assert_int_equal(fleet_store_open(&dying, f->spec, NULL), 0);
	assert_int_equal(claim(dying, "dead", NOW, 2, rows), 1);
	fleet_outbox_rows_free(rows, 1);
	if (is_pg(f))	/* alive: its lease holds */
		assert_int_equal(claim(f->store, "a", NOW + 1, 2, rows), 0);
	fleet_store_close(dying);
	/* The server ends the session (and its lock) after the client has
	 * gone: a few milliseconds later, not at once. */
	for (tries = 0; (n = claim(f->store, "a", NOW + 2, 2, rows)) == 0 && tries < 200; tries++)
		usleep(25000);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].upgrade_id, "u1");
	assert_int_equal(rows[0].attempts, 2);
	fleet_outbox_rows_free(rows, 1);
}

/* The byte budget: the first cast always, later ones while they fit. */
static void test_outbox_bytes(void **state)
{
	struct support_store *f = *state;
	struct fleet_outbox_row rows[4];
	size_t n = 0;

	assert_int_equal(queue(f, "u1", "i-1"), 1);
	assert_int_equal(queue(f, "u2", "i-1"), 1);
	assert_int_equal(fleet_store_outbox_claim(f->store, "a", NOW, NOW + LEASE, 4, 10, rows, &n,
						  NULL), 0);
	assert_int_equal(n, 1);
	fleet_outbox_rows_free(rows, n);
	assert_int_equal(fleet_store_outbox_claim(f->store, "a", NOW, NOW + LEASE, 4, 1 << 20, rows,
						  &n, NULL), 0);
	assert_int_equal(n, 2);
	fleet_outbox_rows_free(rows, n);
}

/* A v6 database (no outbox) opens at v8 with its records, whose casts are
 * unknown (confirmed before the API answered, then); new ones queue. */
static void test_migration_v6_to_v7(void **state)
{
	struct support_store *f = *state;
	static const char *const steps[] = {
		SUPPORT_STORE_UNDO_V8,
		"DROP TABLE casts", "DELETE FROM schema_version WHERE version = 7",
	};
	struct fleet_upgrade up;
	struct db *db;
	struct error err;
	int version = 0;
	size_t i;

	up_new(&up, "old", "i-1");
	assert_int_equal(fleet_store_upgrade_insert(f->store, &up, NULL), 0);
	fleet_store_close(f->store);
	f->store = NULL;
	if (db_open(&db, f->spec, &err))
		fail_msg("open: %s", err.text);
	for (i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		if (db_exec(db, steps[i], NULL, 0, NULL, NULL, NULL, &err))
			fail_msg("%s: %s", steps[i], err.text);
	}
	db->ops->close(db);
	assert_int_equal(fleet_store_open(&f->store, f->spec, NULL), 0);
	assert_int_equal(fleet_store_schema_version(f->store, &version, NULL), 0);
	assert_int_equal(version, 8);
	assert_int_equal(cast_of(f, "old", &up), FLEET_CAST_STATE_UNKNOWN);
	assert_int_equal(up.state, FLEET_NEW);
	assert_int_equal(queue(f, "new", "i-1"), 1);
	assert_int_equal(cast_of(f, "new", NULL), FLEET_CAST_STATE_PENDING);
}

#define OUTBOX_SUITE(SETUP) \
	SUPPORT_STORE_TEST(test_outbox_queued_with_record, SETUP), \
	SUPPORT_STORE_TEST(test_outbox_order_and_settle, SETUP), \
	SUPPORT_STORE_TEST(test_outbox_refused_after_final, SETUP), \
	SUPPORT_STORE_TEST(test_outbox_leases, SETUP), \
	SUPPORT_STORE_TEST(test_outbox_dead_holder, SETUP), \
	SUPPORT_STORE_TEST(test_outbox_bytes, SETUP), \
	SUPPORT_STORE_TEST(test_migration_v6_to_v7, SETUP)

SUPPORT_STORE_MAIN("fleet_store_outbox", OUTBOX_SUITE)
