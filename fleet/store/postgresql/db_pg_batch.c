/* db_pg_batch.c: db_exec_batch on PostgreSQL, in libpq's pipeline mode.
 *
 * A chunk of up to DB_BATCH_CHUNK statements is sent at once, followed by
 * one sync, and the answers are read after: one round trip per chunk
 * instead of one per statement.  The batch runs inside the caller's
 * transaction (the sync ends no transaction block), so the first statement
 * that fails aborts the transaction, the server skips the rest of the
 * chunk, and the caller rolls back.
 *
 * The connection stays blocking: while a chunk is written the server
 * answers the statements it has read, and those answers must fit in the
 * socket buffers until the chunk is read back.  DB_BATCH_CHUNK statements
 * of a few rows each answer a few dozen KiB, well within them.
 *
 * Statements are prepared (db_pg_stmt.c) before the pipeline starts: the
 * first batch of a connection prepares each text once, the later ones only
 * bind and execute. */
#include <string.h>

#include "store/postgresql/db_pg.h"

/* Reads each statement's answer, then the sync.  Only the first failure
 * is reported; the answers after it are read all the same, so that the
 * connection leaves pipeline mode in step with the server. */
static int pg_batch_read(struct db_pg *pg, struct db_stmt *stmts, size_t n, struct error *err)
{
	PGresult *res;
	size_t i;
	int rc = 0;

	for (i = 0; i < n; i++) {
		if (!(res = PQgetResult(pg->conn)))
			return pg_fail(err, "batch", PQerrorMessage(pg->conn));
		if (!rc && !pg_result_ok(res))
			rc = pg_result_fail(pg, res, "query failed", err);
		else if (!rc)
			rc = pg_rows(res, stmts[i].fn, stmts[i].ctx, &stmts[i].changes, err);
		PQclear(res);
		while ((res = PQgetResult(pg->conn)))	/* NULL ends each statement's answer */
			PQclear(res);
	}
	res = PQgetResult(pg->conn);
	if (PQresultStatus(res) != PGRES_PIPELINE_SYNC && !rc)
		rc = pg_fail(err, "batch", "no sync at the end of the pipeline");
	PQclear(res);
	return rc;
}

/* Sends the chunk: -1 (err set) when the connection would not take it. */
static int pg_batch_send(struct db_pg *pg, struct db_stmt *stmts, size_t n,
			 const char *const *names, struct error *err)
{
	struct pg_params pp;
	size_t i;
	int sent;

	for (i = 0; i < n; i++) {
		if (pg_params(&pp, stmts[i].params, stmts[i].nparams, err))
			return -1;
		sent = names[i] ?
		       PQsendQueryPrepared(pg->conn, names[i], pp.n, pp.values, NULL, NULL, 0) :
		       PQsendQueryParams(pg->conn, stmts[i].sql, pp.n, pp.types, pp.values, NULL,
					 NULL, 0);
		if (!sent)
			return pg_fail(err, "batch", PQerrorMessage(pg->conn));
	}
	if (!PQpipelineSync(pg->conn))
		return pg_fail(err, "batch", PQerrorMessage(pg->conn));
	return 0;
}

static int pg_batch_chunk(struct db_pg *pg, struct db_stmt *stmts, size_t n, struct error *err)
{
	const char *names[DB_BATCH_CHUNK];
	struct pg_params pp;
	PGresult *res;
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		names[i] = NULL;
		if (stmts[i].replan)
			continue;	/* sent unnamed: planned with this run's values */
		if (pg_params(&pp, stmts[i].params, stmts[i].nparams, err))
			return -1;
		if (pg_stmt_prepare(pg, stmts[i].sql, &pp, &names[i], &res)) {
			pg_result_fail(pg, res, "prepare failed", err);
			PQclear(res);
			return -1;
		}
	}
	if (!PQenterPipelineMode(pg->conn))
		return pg_fail(err, "batch", PQerrorMessage(pg->conn));
	rc = pg_batch_send(pg, stmts, n, names, err);
	if (!rc)
		rc = pg_batch_read(pg, stmts, n, err);
	/* A pipeline left unread (the connection failed under it) cannot be
	 * left: the connection is useless, start a new one for the next call. */
	if (!PQexitPipelineMode(pg->conn))
		pg_reset(pg);
	return rc;
}

int pg_exec_batch(struct db *db, struct db_stmt *stmts, size_t n, struct error *err)
{
	struct db_pg *pg = (struct db_pg *)db;
	size_t i, k;

	if (!pg->in_tx)
		return error_set(err, "postgresql: a batch of statements outside a transaction");
	for (i = 0; i < n; i += k) {
		k = n - i < DB_BATCH_CHUNK ? n - i : DB_BATCH_CHUNK;
		if (pg_batch_chunk(pg, stmts + i, k, err))
			return -1;
	}
	return 0;
}
