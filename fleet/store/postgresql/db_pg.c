/* db_pg.c: the PostgreSQL backend of db.h, through libpq.
 *
 * One connection, READ COMMITTED.  The URL is the operator's; settings it
 * does not give default to bounded waits (connect, keepalives, lock and
 * statement timeouts), and the client encoding is always UTF-8 (the store
 * checks texts are UTF-8).  A connection found broken (server restarted,
 * idle connection cut) is reset at the next call; a statement that breaks
 * outside a transaction is run once more on the new connection, which is
 * safe because only reads and idempotent statements run outside one.
 * Statements are prepared once per connection (db_pg_stmt.c); a batch of
 * them goes in pipeline mode (db_pg_batch.c); parameters, rows and errors
 * are translated by db_pg_result.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/postgresql/db_pg.h"

#define PG_SCHEMA_LOCK INT64_C(0x736c6f74666c6565)	/* "slotflee": advisory lock key */

static int pg_connected(struct db_pg *pg, struct error *err)
{
	if (PQstatus(pg->conn) == CONNECTION_OK)
		return 0;
	pg_reset(pg);
	if (PQstatus(pg->conn) == CONNECTION_OK)
		return 0;
	return pg_fail(err, "connection lost, reconnecting failed", PQerrorMessage(pg->conn));
}

/* Runs sql, prepared unless it has no parameters; once more on a new
 * connection when the old one broke outside a transaction. */
static PGresult *pg_run(struct db_pg *pg, const char *sql, const struct pg_params *pp,
			struct error *err)
{
	PGresult *res = NULL;
	const char *name;
	int attempt;

	for (attempt = 0; attempt < 2; attempt++) {
		PQclear(res);
		if (!pg->in_tx && pg_connected(pg, err))
			return NULL;
		if (!pg_stmt_prepare(pg, sql, pp, &name, &res))
			res = name ? PQexecPrepared(pg->conn, name, pp->n, pp->values, NULL, NULL, 0)
				   : PQexecParams(pg->conn, sql, pp->n, pp->types, pp->values, NULL,
						  NULL, 0);
		if (pg_result_ok(res))
			return res;
		if (pg->in_tx || PQstatus(pg->conn) != CONNECTION_BAD)
			break;
	}
	pg_result_fail(pg, res, "query failed", err);
	PQclear(res);
	return NULL;
}

static int pg_exec(struct db *db, const char *sql, const struct db_value *params, int nparams,
		   db_row_fn fn, void *ctx, int64_t *changes, struct error *err)
{
	struct db_pg *pg = (struct db_pg *)db;
	struct pg_params pp;
	PGresult *res;
	int rc;

	if (pg_params(&pp, params, nparams, err))
		return -1;
	if (!(res = pg_run(pg, sql, &pp, err)))
		return -1;
	rc = pg_rows(res, fn, ctx, changes, err);
	PQclear(res);
	return rc;
}

static int pg_simple(struct db_pg *pg, const char *sql, const char *tag, struct error *err)
{
	struct pg_params none = { .n = 0 };
	PGresult *res = pg_run(pg, sql, &none, err);
	int rc = 0;

	if (!res)
		return -1;
	/* COMMIT of a transaction that failed answers ROLLBACK, not an error. */
	if (tag && strcmp(PQcmdStatus(res), tag))
		rc = pg_fail(err, sql, "transaction was rolled back");
	PQclear(res);
	return rc;
}

static int pg_begin(struct db *db, struct error *err)
{
	struct db_pg *pg = (struct db_pg *)db;

	if (pg_simple(pg, "BEGIN", NULL, err))
		return -1;
	pg->in_tx = 1;
	return 0;
}

static int pg_commit(struct db *db, struct error *err)
{
	struct db_pg *pg = (struct db_pg *)db;
	int rc = pg_simple(pg, "COMMIT", "COMMIT", err);

	pg->in_tx = 0;
	return rc;
}

static void pg_rollback(struct db *db)
{
	struct db_pg *pg = (struct db_pg *)db;

	if (PQstatus(pg->conn) == CONNECTION_OK)
		PQclear(PQexec(pg->conn, "ROLLBACK"));
	pg->in_tx = 0;
}

static int pg_lock_schema(struct db *db, struct error *err)
{
	struct db_value key = DB_I(PG_SCHEMA_LOCK);

	return pg_exec(db, "SELECT pg_advisory_xact_lock($1)", &key, 1, NULL, NULL, NULL, err);
}

/* LISTEN once per session; what the server queued for us since is read
 * without blocking.  A new LISTEN counts as heard: a signal sent while
 * this session was not listening is lost. */
static int pg_heard(struct db *db, const char *channel, int *heard, struct error *err)
{
	struct db_pg *pg = (struct db_pg *)db;
	PGnotify *note;
	char sql[96];

	*heard = 0;
	if (strspn(channel, "abcdefghijklmnopqrstuvwxyz_") != strlen(channel) || !channel[0] ||
	    strlen(channel) > 63)
		return pg_fail(err, "listen", "not a channel name");
	if (pg_connected(pg, err))
		return -1;
	if (!pg->listening) {
		snprintf(sql, sizeof sql, "LISTEN %s", channel);
		if (pg_simple(pg, sql, NULL, err))
			return -1;
		pg->listening = 1;
		*heard = 1;
	}
	if (!PQconsumeInput(pg->conn))
		return pg_fail(err, "reading notifications", PQerrorMessage(pg->conn));
	while ((note = PQnotifies(pg->conn))) {
		if (!strcmp(note->relname, channel))
			*heard = 1;
		PQfreemem(note);
	}
	return 0;
}

static void pg_close(struct db *db)
{
	struct db_pg *pg = (struct db_pg *)db;

	PQfinish(pg->conn);
	pg_stmt_forget(pg);
	free(pg);
}

static const struct db_ops pg_ops = {
	.name = "postgresql",
	.backend = DB_POSTGRESQL,
	.close = pg_close,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.lock_schema = pg_lock_schema,
	.exec = pg_exec,
	.exec_batch = pg_exec_batch,
	.heard = pg_heard,
};

/* NOTICEs ("relation already exists, skipping") are not errors, and a
 * daemon's stderr is no place for them. */
static void pg_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static int pg_open(struct db **db, const char *url, struct error *err)
{
	/* Keywords before dbname are defaults the URL may override; those
	 * after it are not (libpq applies them in order). */
	static const char *const keys[] = {
		"connect_timeout", "keepalives_idle", "keepalives_interval", "keepalives_count",
		"application_name", "options", "dbname", "client_encoding", NULL,
	};
	const char *values[] = {
		"10", "30", "10", "3", "slotfleet",
		"-c lock_timeout=10s -c statement_timeout=60s", url, "UTF8", NULL,
	};
	struct db_pg *pg;

	if (!(pg = calloc(1, sizeof *pg)))
		return error_set(err, "postgresql: out of memory");
	pg->base.ops = &pg_ops;
	pg->conn = PQconnectdbParams(keys, values, 1);
	if (!pg->conn || PQstatus(pg->conn) != CONNECTION_OK) {
		pg_fail(err, "connect", pg->conn ? PQerrorMessage(pg->conn) : "out of memory");
		pg_close(&pg->base);
		return -1;
	}
	if (PQserverVersion(pg->conn) < 90500) {
		pg_close(&pg->base);
		return error_set(err, "postgresql: server older than 9.5 (no ON CONFLICT)");
	}
	PQsetNoticeProcessor(pg->conn, pg_notice, NULL);
	*db = &pg->base;
	return 0;
}

static int pg_claims(const char *spec)
{
	return !strncmp(spec, "postgresql://", 13) || !strncmp(spec, "postgres://", 11);
}

const struct db_driver db_pg_driver = { pg_claims, pg_open };
