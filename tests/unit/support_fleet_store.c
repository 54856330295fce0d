/* support_fleet_store.c: fresh fleet stores for the unit tests
 * (support_fleet_store.h).  On PostgreSQL each test gets a schema of its
 * own, named after the process and a counter, and drops it afterwards: the
 * suites leave nothing behind in the shared database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"
#include "support_fleet_store.h"

int support_store_sqlite(void **state)
{
	/* cmocka runs one test at a time: one fixture serves them all. */
	static struct support_store f;

	memset(&f, 0, sizeof f);
	support_tmpdir(f.dir, sizeof f.dir);
	snprintf(f.spec, sizeof f.spec, "%s/fleet.db", f.dir);
	assert_int_equal(fleet_store_open(&f.store, f.spec, NULL), 0);
	assert_string_equal(fleet_store_backend(f.store), "sqlite");
	*state = &f;
	return 0;
}

static void store_pg_quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static void store_pg_admin(const char *sql)
{
	PGconn *conn = PQconnectdb(getenv("FLEET_TEST_PG_URL"));
	PGresult *res;

	assert_int_equal(PQstatus(conn), CONNECTION_OK);
	PQsetNoticeProcessor(conn, store_pg_quiet, NULL);	/* "drop cascades to ..." */
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(conn));
	PQclear(res);
	PQfinish(conn);
}

int support_store_pg(void **state)
{
	static struct support_store f;
	static unsigned serial;
	const char *url = getenv("FLEET_TEST_PG_URL");
	char sql[128];

	memset(&f, 0, sizeof f);
	snprintf(f.schema, sizeof f.schema, "fleet_test_%ld_%u", (long)getpid(), serial++);
	snprintf(sql, sizeof sql, "CREATE SCHEMA %s", f.schema);
	store_pg_admin(sql);
	snprintf(f.spec, sizeof f.spec, "%s%coptions=-csearch_path%%3D%s", url,
		 strchr(url, '?') ? '&' : '?', f.schema);
	assert_int_equal(fleet_store_open(&f.store, f.spec, NULL), 0);
	assert_string_equal(fleet_store_backend(f.store), "postgresql");
	*state = &f;
	return 0;
}

int support_store_teardown(void **state)
{
	struct support_store *f = *state;
	char sql[128];

	fleet_store_close(f->store);
	if (f->schema[0]) {
		snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", f->schema);
		store_pg_admin(sql);
	}
	if (f->dir[0])
		support_rmtree(f->dir);
	return 0;
}

int support_store_pg_wanted(const char *name)
{
	if (getenv("FLEET_TEST_PG_URL"))
		return 1;
	printf("%s: skipped (FLEET_TEST_PG_URL not set)\n", name);
	return 0;
}

void support_insert(struct support_store *f, const char *id, const char *tenant,
		    const char *instance, int64_t created)
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

enum fleet_state support_state(struct support_store *f, const char *id)
{
	struct fleet_upgrade up;

	assert_int_equal(fleet_store_upgrade_get(f->store, id, &up, NULL), 1);
	return up.state;
}

size_t support_events(struct support_store *f, const char *id, struct fleet_event *ev,
		      size_t max)
{
	size_t n = 99;

	assert_int_equal(fleet_store_upgrade_events(f->store, id, ev, max, &n, NULL), 0);
	return n;
}

int support_report(struct support_store *f, const char *id, const char *instance,
		   enum fleet_state st, const char *reason, int64_t at)
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

void support_join(char *list, size_t size, const char *word)
{
	size_t used = strlen(list), len = strlen(word);

	assert_true(used + len + 2 <= size);
	if (used)
		list[used++] = ' ';
	memcpy(list + used, word, len + 1);
}
