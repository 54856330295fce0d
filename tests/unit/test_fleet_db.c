/* test_fleet_db.c: the promises of fleet/store/db/db.h that the store's batches
 * rest on (db_exec_batch, statements kept per connection), run against
 * SQLite (a temp file) and, when FLEET_TEST_PG_URL is set, PostgreSQL (a
 * temporary table per connection, gone when it closes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/db/db.h"
#include "support.h"

#define ROWS 300	/* more than two round trips' worth (DB_BATCH_CHUNK) */

struct fixture {
	char dir[256];
	struct db *db;
	struct db_stmt stmts[ROWS + 1];
	struct db_value params[ROWS + 1][2];
	char texts[ROWS + 1][24];
};

static int open_db(struct fixture *f, const char *spec)
{
	struct error err;

	if (db_open(&f->db, spec, &err))
		fail_msg("open: %s", err.text);
	if (db_exec(f->db, "CREATE TEMP TABLE t (k BIGINT NOT NULL PRIMARY KEY, v TEXT NOT NULL)",
		    NULL, 0, NULL, NULL, NULL, &err))
		fail_msg("create: %s", err.text);
	return 0;
}

static int setup_sqlite(void **state)
{
	static struct fixture f;
	char path[300];

	memset(&f, 0, sizeof f);
	support_tmpdir(f.dir, sizeof f.dir);
	snprintf(path, sizeof path, "%s/db.sqlite", f.dir);
	*state = &f;
	return open_db(&f, path);
}

static int setup_pg(void **state)
{
	static struct fixture f;

	memset(&f, 0, sizeof f);
	*state = &f;
	return open_db(&f, getenv("FLEET_TEST_PG_URL"));
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	f->db->ops->close(f->db);
	if (f->dir[0])
		support_rmtree(f->dir);
	return 0;
}

static int count_row(void *ctx, const char *const *cols, int ncols, struct error *err)
{
	if (ncols != 1)
		return error_set(err, "one column expected");
	return db_parse_int(cols[0], "count", ctx, err);
}

static int64_t count(struct fixture *f)
{
	int64_t n = -1;

	assert_int_equal(db_exec(f->db, "SELECT count(*) FROM t", NULL, 0, count_row, &n, NULL,
				 NULL), 0);
	return n;
}

/* Statement i inserts key i % keys (a repeat changes nothing); with dup,
 * statement dup inserts key 0 again without ON CONFLICT: it fails. */
static void fill(struct fixture *f, size_t n, int64_t keys, size_t dup)
{
	size_t i;

	for (i = 0; i < n; i++) {
		snprintf(f->texts[i], sizeof f->texts[i], "v%zu", i);
		f->params[i][0] = DB_I((int64_t)i % keys);
		f->params[i][1] = DB_T(f->texts[i]);
		f->stmts[i] = (struct db_stmt){
			.sql = i == dup ? "INSERT INTO t (k, v) VALUES ($1, $2)" :
			       "INSERT INTO t (k, v) VALUES ($1, $2) ON CONFLICT (k) DO NOTHING",
			.params = f->params[i], .nparams = 2, .changes = -1,
		};
		if (i == dup)
			f->params[i][0] = DB_I(0);
	}
}

/* Each statement sees the ones before it, across round trips; changes and
 * rows come back to each statement. */
static void test_batch_in_order(void **state)
{
	struct fixture *f = *state;
	struct db_value below[] = { DB_I(1000) };
	int64_t seen = -1;
	struct error err;
	size_t i;

	fill(f, ROWS, 250, ROWS);
	/* Statement 200 counts the rows inserted before it. */
	f->stmts[200] = (struct db_stmt){ .sql = "SELECT count(*) FROM t WHERE k < $1",
					  .params = below, .nparams = 1, .fn = count_row,
					  .ctx = &seen };
	assert_int_equal(f->db->ops->begin(f->db, &err), 0);
	if (db_exec_batch(f->db, f->stmts, ROWS, &err))
		fail_msg("batch: %s", err.text);
	assert_int_equal(f->db->ops->commit(f->db, &err), 0);
	assert_int_equal(seen, 200);
	for (i = 0; i < ROWS; i++) {
		if (i != 200)
			assert_int_equal(f->stmts[i].changes, i < 250 ? 1 : 0);
	}
	assert_int_equal(count(f), 249);	/* 250 keys, key 200's statement was the SELECT */
}

/* A statement that fails stops the batch, names the backend, and the
 * rollback leaves nothing of it; the connection then works as before. */
static void test_batch_failure_keeps_nothing(void **state)
{
	struct fixture *f = *state;
	const char *backend = f->db->ops->name;
	struct error err = { "" };

	fill(f, ROWS, ROWS, 260);	/* key 0 again: a unique violation */
	assert_int_equal(f->db->ops->begin(f->db, &err), 0);
	assert_int_equal(db_exec_batch(f->db, f->stmts, ROWS, &err), -1);
	assert_int_equal(strncmp(err.text, backend, strlen(backend)), 0);
	f->db->ops->rollback(f->db);
	assert_int_equal(count(f), 0);

	fill(f, 10, 10, 10);
	assert_int_equal(f->db->ops->begin(f->db, &err), 0);
	if (db_exec_batch(f->db, f->stmts, 10, &err))
		fail_msg("batch after a failed one: %s", err.text);
	assert_int_equal(f->db->ops->commit(f->db, &err), 0);
	assert_int_equal(count(f), 10);
}

static int text_row(void *ctx, const char *const *cols, int ncols, struct error *err)
{
	(void)err;
	snprintf(ctx, 16, "%s", ncols == 1 && cols[0] ? cols[0] : "?");
	return 0;
}

/* One SQL text given other parameter types is another statement, and a
 * statement kept from earlier gives its answer with new parameters. */
static void test_statement_kept_per_types(void **state)
{
	struct fixture *f = *state;
	static const char *const words[] = { "seven", "eight" };
	char out[16], want[16];
	int round;

	for (round = 0; round < 2; round++) {
		struct db_value num[] = { DB_I(7 + round) }, text[] = { DB_T(words[round]) };

		snprintf(want, sizeof want, "%d", 7 + round);
		assert_int_equal(db_exec(f->db, "SELECT $1", num, 1, text_row, out, NULL, NULL), 0);
		assert_string_equal(out, want);
		assert_int_equal(db_exec(f->db, "SELECT $1", text, 1, text_row, out, NULL, NULL), 0);
		assert_string_equal(out, words[round]);
	}
}

/* PostgreSQL sends a batch as one pipeline inside a transaction block; it
 * refuses one outside (each statement would commit on its own). */
static void test_pg_batch_needs_transaction(void **state)
{
	struct fixture *f = *state;
	struct error err = { "" };

	fill(f, 2, 2, 2);
	assert_int_equal(db_exec_batch(f->db, f->stmts, 2, &err), -1);
	assert_non_null(strstr(err.text, "outside a transaction"));
	assert_int_equal(count(f), 0);
}

/* One value from an admin connection of its own. */
static long long pg_admin_value(PGconn *admin, const char *sql)
{
	PGresult *res = PQexec(admin, sql);
	long long v;

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		fail_msg("%s: %s", sql, PQerrorMessage(admin));
	v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return v;
}

/* The server ends the session inside a transaction (a restart, an admin's
 * pg_terminate_backend): the batch fails naming postgresql and keeps
 * nothing; the next calls run on a new connection, the batch's statements
 * prepared again there. */
static void test_pg_batch_survives_lost_connection(void **state)
{
	struct fixture *f = *state;
	PGconn *admin = PQconnectdb(getenv("FLEET_TEST_PG_URL"));
	const struct timespec tick = { 0, 10 * 1000 * 1000 };
	char sql[128];
	struct error err = { "" };
	int64_t pid = 0;
	int i;

	assert_int_equal(PQstatus(admin), CONNECTION_OK);
	fill(f, ROWS, ROWS, ROWS);
	assert_int_equal(f->db->ops->begin(f->db, &err), 0);
	assert_int_equal(db_exec_batch(f->db, f->stmts, 10, &err), 0);	/* prepared now */
	assert_int_equal(db_exec(f->db, "SELECT pg_backend_pid()", NULL, 0, count_row, &pid, NULL,
				 &err), 0);
	snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%lld)::int", (long long)pid);
	assert_int_equal(pg_admin_value(admin, sql), 1);
	snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_stat_activity WHERE pid = %lld",
		 (long long)pid);
	for (i = 0; i < 1000 && pg_admin_value(admin, sql); i++)	/* 10 s at most */
		nanosleep(&tick, NULL);
	PQfinish(admin);
	assert_int_equal(db_exec_batch(f->db, f->stmts, ROWS, &err), -1);
	assert_int_equal(strncmp(err.text, "postgresql: ", 12), 0);
	f->db->ops->rollback(f->db);

	/* A new session: its temporary table is new too. */
	assert_int_equal(db_exec(f->db, "CREATE TEMP TABLE t (k BIGINT NOT NULL PRIMARY KEY,"
				 " v TEXT NOT NULL)", NULL, 0, NULL, NULL, NULL, &err), 0);
	assert_int_equal(f->db->ops->begin(f->db, &err), 0);
	if (db_exec_batch(f->db, f->stmts, ROWS, &err))
		fail_msg("batch on the new connection: %s", err.text);
	assert_int_equal(f->db->ops->commit(f->db, &err), 0);
	assert_int_equal(count(f), ROWS);
}

#define DB_SUITE(setup) \
	cmocka_unit_test_setup_teardown(test_batch_in_order, setup, teardown), \
	cmocka_unit_test_setup_teardown(test_batch_failure_keeps_nothing, setup, teardown), \
	cmocka_unit_test_setup_teardown(test_statement_kept_per_types, setup, teardown)

int main(void)
{
	const struct CMUnitTest sqlite_tests[] = { DB_SUITE(setup_sqlite) };
	const struct CMUnitTest pg_tests[] = {
		DB_SUITE(setup_pg),
		cmocka_unit_test_setup_teardown(test_pg_batch_needs_transaction, setup_pg, teardown),
		cmocka_unit_test_setup_teardown(test_pg_batch_survives_lost_connection, setup_pg,
						teardown),
	};
	int failed;

	failed = cmocka_run_group_tests_name("fleet_db sqlite", sqlite_tests, NULL, NULL);
	if (!getenv("FLEET_TEST_PG_URL")) {
		printf("fleet_db postgresql: skipped (FLEET_TEST_PG_URL not set)\n");
		return failed;
	}
	return failed + cmocka_run_group_tests_name("fleet_db postgresql", pg_tests, NULL, NULL);
}
