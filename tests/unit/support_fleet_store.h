/* support_fleet_store.h: a fresh fleet store per test, for the suites of
 * fleet/store/fleet_store.h and fleet/store/fleet_store_rollout.h, which each run
 * once on SQLite and, when FLEET_TEST_PG_URL is set, once on PostgreSQL. */
#ifndef SLOTD_TEST_SUPPORT_FLEET_STORE_H
#define SLOTD_TEST_SUPPORT_FLEET_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "store/fleet_store.h"

/* What a test gets as *state: the open store and the spec it was opened
 * with (to open a second handle on the same data). */
struct support_store {
	char dir[256];		/* SQLite: the temp dir holding the file */
	char spec[1024];
	char schema[64];	/* PostgreSQL: the test's own schema */
	struct fleet_store *store;
};

/* cmocka setups: a store in a fresh SQLite file, or in a fresh schema of
 * FLEET_TEST_PG_URL's database (an empty database: migrations included). */
int support_store_sqlite(void **state);
int support_store_pg(void **state);
/* Closes the store and removes what the setup made (file or schema). */
int support_store_teardown(void **state);
/* A test on a fresh store from SETUP (one of the two above). */
#define SUPPORT_STORE_TEST(NAME, SETUP) \
	cmocka_unit_test_setup_teardown(NAME, SETUP, support_store_teardown)
/* Whether the PostgreSQL group of suite `name` runs: FLEET_TEST_PG_URL is
 * set; if not, says so on stdout ("NAME: skipped ..."). */
int support_store_pg_wanted(const char *name);
/* A suite's main(): SUITE(SETUP) lists its tests; the SQLite group, then
 * the PostgreSQL one when wanted ("NAME sqlite", "NAME postgresql"). */
#define SUPPORT_STORE_MAIN(NAME, SUITE)                                                   \
	int main(void)                                                                     \
	{                                                                                  \
		const struct CMUnitTest sqlite_tests[] = { SUITE(support_store_sqlite) };  \
		const struct CMUnitTest pg_tests[] = { SUITE(support_store_pg) };          \
		int failed = cmocka_run_group_tests_name(NAME " sqlite", sqlite_tests,     \
							 NULL, NULL);                      \
                                                                                           \
		if (!support_store_pg_wanted(NAME " postgresql"))                          \
			return failed;                                                     \
		return failed + cmocka_run_group_tests_name(NAME " postgresql", pg_tests,  \
							    NULL, NULL);                   \
	}

/* An upgrade record (to 2.0, "restart", a fixed location and sha256),
 * failing the test if the store refuses it. */
void support_insert(struct support_store *f, const char *id, const char *tenant,
		    const char *instance, int64_t created);
/* The record's state (it must exist), and its events (at most max). */
enum fleet_state support_state(struct support_store *f, const char *id);
size_t support_events(struct support_store *f, const char *id, struct fleet_event *ev,
		      size_t max);
/* A guest's report (source "guest"), failing the test if the store refuses
 * it; returns whether it was applied. */
int support_report(struct support_store *f, const char *id, const char *instance,
		   enum fleet_state st, const char *reason, int64_t at);
/* Appends word to a space-separated list of size bytes (fails when full). */
void support_join(char *list, size_t size, const char *word);

/* The statements that take a database from schema v8 back to v7 (v8
 * only added the rollouts' fill columns), for the migration tests. */
#define SUPPORT_STORE_UNDO_V8 \
	"ALTER TABLE rollouts DROP COLUMN fill_kind", \
	"ALTER TABLE rollouts DROP COLUMN fill_version", \
	"ALTER TABLE rollouts DROP COLUMN fill_total", \
	"ALTER TABLE rollouts DROP COLUMN fill_count", \
	"ALTER TABLE rollouts DROP COLUMN fill_after", \
	"ALTER TABLE rollouts DROP COLUMN fill_done", \
	"DELETE FROM schema_version WHERE version = 8"

#endif
