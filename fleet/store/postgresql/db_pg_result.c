/* db_pg_result.c: between db.h's values and libpq's (see db_pg.h): a
 * statement's parameters in libpq's text format, its rows for a db_row_fn,
 * its failure as a one-line error.  The lowest module of the backend: the
 * connection (db_pg.c), the prepared statements (db_pg_stmt.c) and the
 * pipeline (db_pg_batch.c) call it, it calls none of them. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "store/postgresql/db_pg.h"

#define PG_TYPE_INT8 20		/* pg_type OIDs, fixed by PostgreSQL */
#define PG_TYPE_TEXT 25

int pg_fail(struct error *err, const char *what, const char *message)
{
	error_set(err, "postgresql: %s: %s", what, message && *message ? message : "unknown error");
	if (err)
		db_one_line(err->text);
	errno = EIO;
	return -1;
}

int pg_result_fail(struct db_pg *pg, PGresult *res, const char *what, struct error *err)
{
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	char text[400];

	if (!primary)
		return pg_fail(err, what, PQerrorMessage(pg->conn));
	snprintf(text, sizeof text, "%s (SQLSTATE %s)", primary, state ? state : "?");
	return pg_fail(err, what, text);
}

int pg_result_ok(const PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);

	return res && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK);
}

int pg_rows(PGresult *res, db_row_fn fn, void *ctx, int64_t *changes, struct error *err)
{
	const char *cols[DB_COLS_MAX];
	int rows = PQntuples(res), n = PQnfields(res), r, c;

	if (n > DB_COLS_MAX)
		return error_set(err, "postgresql: statement returns %d columns, at most %d", n,
				 DB_COLS_MAX);
	for (r = 0; fn && r < rows; r++) {
		for (c = 0; c < n; c++)
			cols[c] = PQgetisnull(res, r, c) ? NULL : PQgetvalue(res, r, c);
		if (fn(ctx, cols, n, err))
			return -1;
	}
	if (changes)
		*changes = strtoll(PQcmdTuples(res), NULL, 10);
	return 0;
}

int pg_params(struct pg_params *pp, const struct db_value *params, int n, struct error *err)
{
	int i;

	if (n > DB_PARAMS_MAX)
		return error_set(err, "postgresql: %d parameters, at most %d", n, DB_PARAMS_MAX);
	pp->n = n;
	for (i = 0; i < n; i++) {
		pp->types[i] = params[i].type == DB_INT ? PG_TYPE_INT8 : PG_TYPE_TEXT;
		pp->values[i] = params[i].type == DB_TEXT ? params[i].text : NULL;
		if (params[i].type == DB_INT) {
			snprintf(pp->numbers[i], sizeof pp->numbers[i], "%" PRId64, params[i].num);
			pp->values[i] = pp->numbers[i];
		}
	}
	return 0;
}
