/* db.h (private to the store): the little SQL layer under fleet_store: the
 * interface every backend implements (store/sqlite/, store/postgresql/) and
 * the helpers they and the store share (db_util.c, beside it).  Their
 * registry is store/db.c, above the backends as the store is; this folder
 * is below both and calls neither.
 *
 * Promises:
 * - SQL is written once for both backends: parameters are spelled $1..$N
 *   (SQLite binds them by name), values are always bound, never formatted
 *   into SQL text.  A DB_INT parameter is a 64-bit integer on both sides.
 * - Result columns arrive as text (NULL for SQL NULL), integers in decimal.
 * - db_begin() opens a write transaction that holds the locks it needs for
 *   its whole life (SQLite: BEGIN IMMEDIATE; PostgreSQL: row locks taken by
 *   the statements themselves, READ COMMITTED).  Outside a transaction each
 *   statement commits on its own.
 * - A broken PostgreSQL connection is reopened at the next call; a statement
 *   that finds it broken outside a transaction is run once more on the new
 *   connection, so only reads and idempotent statements run outside one.
 * - Error texts start with the backend's name ("sqlite: ", "postgresql: ")
 *   and are one line.
 * - db_exec_batch() runs statements as db_exec would, one after the other,
 *   inside the caller's transaction; PostgreSQL sends them together (libpq
 *   pipeline mode), so a batch costs a round trip per DB_BATCH_CHUNK
 *   statements instead of one each.  Its statements return a few rows at
 *   most (their answers wait in socket buffers until the chunk is sent).
 * - Statements are prepared once per connection and kept (SQLite: per SQL
 *   text; PostgreSQL: those with parameters, per text and parameter types,
 *   prepared again on the new connection after a reset).
 * - A struct db is used by one thread at a time (fleet_store serializes). */
#ifndef SLOTFLEET_DB_H
#define SLOTFLEET_DB_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define DB_COLS_MAX 24		/* result columns a statement may return */
#define DB_PARAMS_MAX 256
#define DB_BATCH_CHUNK 128	/* statements per round trip in db_exec_batch() */

enum db_type { DB_NULL, DB_TEXT, DB_INT };

struct db_value {
	enum db_type type;
	const char *text;
	int64_t num;
};
#define DB_T(s) ((struct db_value){ .type = DB_TEXT, .text = (s) })
#define DB_I(n) ((struct db_value){ .type = DB_INT, .num = (n) })

/* Called once per result row; returns 0 to go on, -1 (err set) to stop. */
typedef int (*db_row_fn)(void *ctx, const char *const *cols, int ncols, struct error *err);

enum db_backend { DB_SQLITE = 1, DB_POSTGRESQL = 2 };

/* One statement of db_exec_batch(): what db_exec takes, and its changes. */
struct db_stmt {
	const char *sql;
	const struct db_value *params;
	int nparams;
	db_row_fn fn;		/* may be NULL */
	void *ctx;
	int64_t changes;	/* out: rows an INSERT/UPDATE/DELETE changed */
	int replan;		/* PostgreSQL: planned at every run, never prepared: its
				 * best plan depends on the tables' size (a join over many
				 * rows), and a generic plan made on a young, small table
				 * would scan it whole ever after */
};

struct db;
struct db_ops {
	const char *name;
	enum db_backend backend;
	void (*close)(struct db *db);
	int (*begin)(struct db *db, struct error *err);
	int (*commit)(struct db *db, struct error *err);
	void (*rollback)(struct db *db);
	/* Serializes schema migrations across processes, until the transaction ends. */
	int (*lock_schema)(struct db *db, struct error *err);
	/* Runs one statement; fn (may be NULL) sees each row; *changes (may
	 * be NULL) gets the rows an INSERT/UPDATE/DELETE changed. */
	int (*exec)(struct db *db, const char *sql, const struct db_value *params, int nparams,
		    db_row_fn fn, void *ctx, int64_t *changes, struct error *err);
	/* Runs stmts in order inside the open transaction; stops at the
	 * first failure (-1, err set: the caller rolls back). */
	int (*exec_batch)(struct db *db, struct db_stmt *stmts, size_t n, struct error *err);
	/* Signals between the processes on one database: listens on channel
	 * (a fixed [a-z_] name; again on a new connection) and sets *heard when
	 * a signal came since the last call, or when listening (re)started and
	 * one may have been missed.  Outside a transaction; one channel per
	 * connection.  SQLite, one process per file: never heard. */
	int (*heard)(struct db *db, const char *channel, int *heard, struct error *err);
};

struct db {
	const struct db_ops *ops;
};

/* spec: "postgresql://..." or "postgres://..." (libpq URL), else a SQLite
 * path (store/db.c, the registry). */
int db_open(struct db **db, const char *spec, struct error *err);

/* A backend as the registry sees it, its driver: a table of function pointers
 * that the backend defines (store/sqlite/, store/postgresql/) and store/db.c
 * lists. */
struct db_driver {
	int (*claims)(const char *spec);	/* 1: spec names one of its databases */
	int (*open)(struct db **db, const char *spec, struct error *err);
};
extern const struct db_driver db_sqlite_driver;	/* claims every spec */
extern const struct db_driver db_pg_driver;

static inline int db_exec(struct db *db, const char *sql, const struct db_value *params,
			  int nparams, db_row_fn fn, void *ctx, int64_t *changes,
			  struct error *err)
{
	return db->ops->exec(db, sql, params, nparams, fn, ctx, changes, err);
}

static inline int db_heard(struct db *db, const char *channel, int *heard, struct error *err)
{
	return db->ops->heard(db, channel, heard, err);
}

static inline int db_exec_batch(struct db *db, struct db_stmt *stmts, size_t n,
				struct error *err)
{
	return db->ops->exec_batch(db, stmts, n, err);
}

/* db_util.c.  exec_batch for a backend without round trips to save: exec,
 * one by one. */
int db_exec_each(struct db *db, struct db_stmt *stmts, size_t n, struct error *err);

/* Copies a column into a fixed buffer, truncating at a character boundary. */
void db_copy_text(char *dst, size_t size, const char *src);
/* Parses an integer column; -1 (err names the column) if it is not one. */
int db_parse_int(const char *text, const char *column, int64_t *value, struct error *err);
/* Makes a server's (multi-line) message one line of printable text. */
void db_one_line(char *text);

#endif
