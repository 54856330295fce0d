/* test_fleet_store_open.c: opening a store (store/fleet_store.h,
 * store_schema.c): a database reopened keeps its rows and schema, an old
 * one is migrated in order, SQLite's file is private and keeps its WAL
 * when more stores open it, a bad spec is a clear error; run against
 * SQLite and, when FLEET_TEST_PG_URL is set, PostgreSQL
 * (tests/integration/fleet_store_pg.sh). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/db/db.h"
#include "store/fleet_store.h"
#include "support_fleet_store.h"

static void test_reopen_keeps_data_and_schema(void **state)
{
	struct support_store *f = *state;
	int version = 0, again = 0;

	support_insert(f, "u1", "t1", "inst-1", 1000);
	assert_int_equal(fleet_store_schema_version(f->store, &version, NULL), 0);
	assert_true(version >= 1);
	fleet_store_close(f->store);
	f->store = NULL;
	assert_int_equal(fleet_store_open(&f->store, f->spec, NULL), 0);
	assert_int_equal(fleet_store_schema_version(f->store, &again, NULL), 0);
	assert_int_equal(again, version);
	assert_int_equal(support_state(f, "u1"), FLEET_NEW);
	fleet_store_close(f->store);
	assert_int_equal(fleet_store_open(&f->store, f->spec, NULL), 0);
	assert_int_equal(support_state(f, "u1"), FLEET_NEW);
}

/* Takes a store's database back to schema v2 as v2 left it: v8 only added
 * the rollouts' fill columns, v7 only added
 * the outbox (casts), v6 only policies.timeout_us (gone with the
 * table), v5 only added indexes of the rollouts' targets, v4 only added
 * the policies' tables and upgrades.policy_id, v3 only added
 * instances.rpc_api_version, so this is a database a v2 slotfleet made. */
static void downgrade_to_v2(const char *spec)
{
	static const char *const steps[] = {
		SUPPORT_STORE_UNDO_V8,
		"DROP TABLE casts",
		"DELETE FROM schema_version WHERE version = 7",
		"DELETE FROM schema_version WHERE version = 6",
		"DROP INDEX upgrades_by_rollout",
		"DROP INDEX rollout_targets_unconfirmed",
		"DROP INDEX rollout_targets_by_wave",
		"DELETE FROM schema_version WHERE version = 5",
		"DROP INDEX upgrades_by_policy",
		"ALTER TABLE upgrades DROP COLUMN policy_id",
		"DROP TABLE policy_casts",
		"DROP TABLE policies",
		"DELETE FROM schema_version WHERE version = 4",
		"ALTER TABLE instances DROP COLUMN rpc_api_version",
		"DELETE FROM schema_version WHERE version = 3",
	};
	struct db *db;
	struct error err;
	size_t i;

	if (db_open(&db, spec, &err))
		fail_msg("open: %s", err.text);
	for (i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		if (db_exec(db, steps[i], NULL, 0, NULL, NULL, NULL, &err))
			fail_msg("%s: %s", steps[i], err.text);
	}
	db->ops->close(db);
}

/* A v2 database opens at v8 (v3 to v8 in order) with its rows; the API version of a heartbeat
 * stored before is unknown ("") until the instance's next one. */
static void test_migration_v2_to_v3(void **state)
{
	struct support_store *f = *state;
	struct fleet_instance in;
	int version = 0;

	support_insert(f, "u1", "t1", "inst-1", 1000);
	assert_int_equal(fleet_store_heartbeat(f->store, "inst-2", "2.0", "b", "1.1", 5000, NULL), 0);
	fleet_store_close(f->store);
	f->store = NULL;
	downgrade_to_v2(f->spec);
	assert_int_equal(fleet_store_open(&f->store, f->spec, NULL), 0);
	assert_int_equal(fleet_store_schema_version(f->store, &version, NULL), 0);
	assert_int_equal(version, 8);
	assert_int_equal(support_state(f, "u1"), FLEET_NEW);
	assert_int_equal(fleet_store_instance_get(f->store, "inst-1", &in, NULL), 1);
	assert_string_equal(in.last_upgrade_id, "u1");
	assert_string_equal(in.rpc_api_version, "");
	assert_int_equal(fleet_store_instance_get(f->store, "inst-2", &in, NULL), 1);
	assert_string_equal(in.agent_version, "2.0");
	assert_string_equal(in.agent_slot, "b");
	assert_int_equal(in.last_seen_us, 5000);
	assert_string_equal(in.rpc_api_version, "");
	assert_int_equal(fleet_store_heartbeat(f->store, "inst-2", "2.0", "b", "1.1", 6000, NULL), 0);
	assert_int_equal(fleet_store_instance_get(f->store, "inst-2", &in, NULL), 1);
	assert_string_equal(in.rpc_api_version, "1.1");
}

/* SQLite: opening one more store on the file must not drop the locks of
 * those open already.  Were they dropped, a sqlite3 run on the live file
 * would take itself for the last connection and delete the WAL: a record
 * committed afterwards would never reach the file. */
static void test_sqlite_second_open_keeps_wal(void **state)
{
	struct support_store *f = *state;
	struct fleet_store *second, *third;
	struct fleet_upgrade up;
	char cmd[1400];

	if (strcmp(fleet_store_backend(f->store), "sqlite"))
		skip();
	support_insert(f, "u1", "t1", "inst-1", 1000);
	assert_int_equal(fleet_store_open(&second, f->spec, NULL), 0);
	snprintf(cmd, sizeof cmd, "sqlite3 '%s' 'SELECT count(*) FROM upgrades' > /dev/null 2>&1",
		 f->spec);
	if (system(cmd) != 0)
		skip();			/* no sqlite3 (packaging/deps.sh installs it) */
	support_insert(f, "u2", "t1", "inst-1", 2000);
	assert_int_equal(fleet_store_open(&third, f->spec, NULL), 0);
	assert_int_equal(fleet_store_upgrade_get(third, "u2", &up, NULL), 1);
	fleet_store_close(third);
	fleet_store_close(second);
}

static void test_sqlite_file_is_private(void **state)
{
	struct support_store *f = *state;
	struct stat st;
	char wal[1100];

	support_insert(f, "u1", "t1", "inst-1", 1000);
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

#define OPEN_SUITE(SETUP) \
	SUPPORT_STORE_TEST(test_reopen_keeps_data_and_schema, SETUP), \
	SUPPORT_STORE_TEST(test_migration_v2_to_v3, SETUP), \
	SUPPORT_STORE_TEST(test_sqlite_second_open_keeps_wal, SETUP)

int main(void)
{
	const struct CMUnitTest sqlite_tests[] = {
		OPEN_SUITE(support_store_sqlite),
		SUPPORT_STORE_TEST(test_sqlite_file_is_private, support_store_sqlite),
		cmocka_unit_test(test_open_errors),
	};
	const struct CMUnitTest pg_tests[] = { OPEN_SUITE(support_store_pg) };
	int failed;

	failed = cmocka_run_group_tests_name("fleet_store_open sqlite", sqlite_tests, NULL, NULL);
	if (!support_store_pg_wanted("fleet_store_open postgresql"))
		return failed;
	return failed + cmocka_run_group_tests_name("fleet_store_open postgresql", pg_tests, NULL,
						    NULL);
}
