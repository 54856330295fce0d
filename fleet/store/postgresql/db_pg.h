/* db_pg.h (private to this backend): what the modules of the PostgreSQL
 * backend of store/db/db.h share.  Calls go down the list:
 *   db_pg.c         the connection, transactions, db_exec, its driver
 *   db_pg_batch.c   db_exec_batch in pipeline mode
 *   db_pg_stmt.c    statements prepared once per connection
 *   db_pg_result.c  parameters, rows and errors between db.h and libpq */
#ifndef SLOTFLEET_DB_PG_H
#define SLOTFLEET_DB_PG_H

#include <libpq-fe.h>

#include "store/db/db.h"

#define PG_STMT_MAX 96		/* prepared statements kept per connection */

struct pg_stmt {
	char *sql;
	int nparams;
	Oid types[DB_PARAMS_MAX];
	char name[16];
};

struct db_pg {
	struct db base;
	PGconn *conn;
	int in_tx;
	int listening;		/* LISTEN sent on this session (pg_reset clears it) */
	struct pg_stmt stmts[PG_STMT_MAX];
	int nstmts;
};

/* A statement's parameters as libpq takes them (text format). */
struct pg_params {
	int n;
	Oid types[DB_PARAMS_MAX];
	const char *values[DB_PARAMS_MAX];
	char numbers[DB_PARAMS_MAX][24];
};

int pg_params(struct pg_params *pp, const struct db_value *params, int n, struct error *err);
int pg_fail(struct error *err, const char *what, const char *message);
int pg_result_fail(struct db_pg *pg, PGresult *res, const char *what, struct error *err);
int pg_result_ok(const PGresult *res);
/* Calls fn for each row; sets *changes (may be NULL) from the command tag. */
int pg_rows(PGresult *res, db_row_fn fn, void *ctx, int64_t *changes, struct error *err);

/* The name of sql's prepared statement on this connection, preparing it
 * (one round trip) the first time; *name NULL when it is not kept (no
 * parameters: the schema's statements and BEGIN/COMMIT run once or are
 * trivial; or PG_STMT_MAX kept already): run it unnamed.  -1 on failure,
 * *failed then holds the server's answer (may be NULL) for the caller. */
int pg_stmt_prepare(struct db_pg *pg, const char *sql, const struct pg_params *pp,
		    const char **name, PGresult **failed);
/* Forgets every prepared statement: the server did when its session ended. */
void pg_stmt_forget(struct db_pg *pg);
/* PQreset, and what the new session does not have. */
void pg_reset(struct db_pg *pg);

int pg_exec_batch(struct db *db, struct db_stmt *stmts, size_t n, struct error *err);

#endif
