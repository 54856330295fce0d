/* db_sqlite.c: the SQLite backend of db.h.
 *
 * One file in WAL mode (readers do not wait for the writer), synchronous=FULL
 * so a committed call survives a power loss, created 0600 because records
 * carry download locations.  Write transactions are BEGIN IMMEDIATE: they
 * take the write lock first, so two processes never both read and then both
 * fail to upgrade their lock; busy_timeout makes a second writer wait
 * instead of failing at once.  Prepared statements are kept per SQL text. */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/db/db.h"

#define SQLITE_BUSY_MS 10000
#define SQLITE_CACHE_MAX 64

struct db_sqlite {
	struct db base;
	sqlite3 *conn;
	char *path;
	struct {
		char *sql;
		sqlite3_stmt *stmt;
		int nslots;			/* the statement's parameter slots */
		uint16_t arg[DB_PARAMS_MAX];	/* slot i+1 binds params[arg[i]] */
	} cache[SQLITE_CACHE_MAX];
	int cached;
};

static int sqlite_fail(struct db_sqlite *s, struct error *err, const char *what)
{
	error_set(err, "sqlite: %s: %s: %s", s->path, what, sqlite3_errmsg(s->conn));
	if (err)
		db_one_line(err->text);
	errno = EIO;
	return -1;
}

/* Maps each parameter slot of stmt to the value it binds: SQLite numbers
 * named parameters by first use, the store names them $1..$N.  Worked out
 * once per prepared statement, not at every call: formatting and looking
 * up names was a tenth of the ingest's time in SQLite. */
static int sqlite_map(struct db_sqlite *s, sqlite3_stmt *stmt, uint16_t *arg, int *nslots,
		      struct error *err)
{
	const char *name;
	int i, n = sqlite3_bind_parameter_count(stmt), num;

	if (n > DB_PARAMS_MAX)
		return error_set(err, "sqlite: %d parameters, at most %d", n, DB_PARAMS_MAX);
	for (i = 1; i <= n; i++) {
		name = sqlite3_bind_parameter_name(stmt, i);
		num = name && name[0] == '$' ? atoi(name + 1) : 0;
		if (num < 1 || num > DB_PARAMS_MAX)
			return sqlite_fail(s, err, "statement parameter not $1..$N");
		arg[i - 1] = (uint16_t)(num - 1);
	}
	*nslots = n;
	return 0;
}

/* Finds or prepares the statement and its slots' map; *keep says whether
 * it is cached. */
static sqlite3_stmt *sqlite_stmt(struct db_sqlite *s, const char *sql, int *keep,
				 uint16_t *arg, int *nslots, struct error *err)
{
	sqlite3_stmt *stmt = NULL;
	int i;

	for (i = 0; i < s->cached; i++) {
		if (!strcmp(s->cache[i].sql, sql)) {
			*keep = 1;
			*nslots = s->cache[i].nslots;
			memcpy(arg, s->cache[i].arg, (size_t)*nslots * sizeof *arg);
			return s->cache[i].stmt;
		}
	}
	if (sqlite3_prepare_v3(s->conn, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL) !=
	    SQLITE_OK) {
		sqlite_fail(s, err, "prepare");
		return NULL;
	}
	if (sqlite_map(s, stmt, arg, nslots, err)) {
		sqlite3_finalize(stmt);
		return NULL;
	}
	*keep = 0;
	if (s->cached < SQLITE_CACHE_MAX && (s->cache[s->cached].sql = strdup(sql))) {
		s->cache[s->cached].stmt = stmt;
		s->cache[s->cached].nslots = *nslots;
		memcpy(s->cache[s->cached].arg, arg, (size_t)*nslots * sizeof *arg);
		s->cached++;
		*keep = 1;
	}
	return stmt;
}

/* Binds each slot its value; a slot naming a value not given is refused. */
static int sqlite_bind(struct db_sqlite *s, sqlite3_stmt *stmt, const uint16_t *arg,
		       int nslots, const struct db_value *params, int nparams, struct error *err)
{
	const struct db_value *v;
	int i, rc = SQLITE_OK;

	for (i = 0; i < nslots && rc == SQLITE_OK; i++) {
		if (arg[i] >= nparams)
			return error_set(err, "sqlite: statement parameter $%d not given",
					 arg[i] + 1);
		v = &params[arg[i]];
		if (v->type == DB_INT)
			rc = sqlite3_bind_int64(stmt, i + 1, v->num);
		else if (v->type == DB_TEXT && v->text)
			rc = sqlite3_bind_text(stmt, i + 1, v->text, -1, SQLITE_STATIC);
		else
			rc = sqlite3_bind_null(stmt, i + 1);
	}
	return rc == SQLITE_OK ? 0 : sqlite_fail(s, err, "bind");
}

static int sqlite_rows(struct db_sqlite *s, sqlite3_stmt *stmt, db_row_fn fn, void *ctx,
		       struct error *err)
{
	const char *cols[DB_COLS_MAX];
	int rc, i, n = sqlite3_column_count(stmt);

	if (n > DB_COLS_MAX)
		return error_set(err, "sqlite: statement returns %d columns, at most %d", n,
				 DB_COLS_MAX);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		for (i = 0; i < n; i++)
			cols[i] = (const char *)sqlite3_column_text(stmt, i);
		if (fn && fn(ctx, cols, n, err))
			return -1;
	}
	return rc == SQLITE_DONE ? 0 : sqlite_fail(s, err, "step");
}

static int sqlite_exec(struct db *db, const char *sql, const struct db_value *params,
		       int nparams, db_row_fn fn, void *ctx, int64_t *changes,
		       struct error *err)
{
	struct db_sqlite *s = (struct db_sqlite *)db;
	uint16_t arg[DB_PARAMS_MAX];
	sqlite3_stmt *stmt;
	int keep, rc, nslots = 0;

	if (!(stmt = sqlite_stmt(s, sql, &keep, arg, &nslots, err)))
		return -1;
	rc = sqlite_bind(s, stmt, arg, nslots, params, nparams, err);
	if (!rc)
		rc = sqlite_rows(s, stmt, fn, ctx, err);
	if (!rc && changes)
		*changes = sqlite3_changes64(s->conn);
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	if (!keep)
		sqlite3_finalize(stmt);
	return rc;
}

static int sqlite_simple(struct db *db, const char *sql, struct error *err)
{
	return sqlite_exec(db, sql, NULL, 0, NULL, NULL, NULL, err);
}

static int sqlite_begin(struct db *db, struct error *err)
{
	return sqlite_simple(db, "BEGIN IMMEDIATE", err);
}

static void sqlite_rollback(struct db *db)
{
	struct db_sqlite *s = (struct db_sqlite *)db;

	if (!sqlite3_get_autocommit(s->conn))
		sqlite_simple(db, "ROLLBACK", NULL);
}

static int sqlite_commit(struct db *db, struct error *err)
{
	if (sqlite_simple(db, "COMMIT", err)) {
		sqlite_rollback(db);
		return -1;
	}
	return 0;
}

static int sqlite_lock_schema(struct db *db, struct error *err)
{
	(void)db;
	(void)err;
	return 0;	/* BEGIN IMMEDIATE holds the only write lock already */
}

static void sqlite_close(struct db *db)
{
	struct db_sqlite *s = (struct db_sqlite *)db;
	int i;

	for (i = 0; i < s->cached; i++) {
		sqlite3_finalize(s->cache[i].stmt);
		free(s->cache[i].sql);
	}
	sqlite3_close(s->conn);
	free(s->path);
	free(s);
}

static int sqlite_heard(struct db *db, const char *channel, int *heard, struct error *err)
{
	(void)db;
	(void)channel;
	(void)err;
	*heard = 0;
	return 0;
}

static const struct db_ops sqlite_ops = {
	.name = "sqlite",
	.backend = DB_SQLITE,
	.close = sqlite_close,
	.begin = sqlite_begin,
	.commit = sqlite_commit,
	.rollback = sqlite_rollback,
	.lock_schema = sqlite_lock_schema,
	.exec = sqlite_exec,
	.exec_batch = db_exec_each,
	.heard = sqlite_heard,
};

static int sqlite_check_wal(void *ctx, const char *const *cols, int ncols, struct error *err)
{
	(void)ctx;
	if (ncols < 1 || !cols[0] || strcmp(cols[0], "wal"))
		return error_set(err, "sqlite: journal_mode is %s, not wal",
				 ncols > 0 && cols[0] ? cols[0] : "?");
	return 0;
}

static int sqlite_setup(struct db_sqlite *s, struct error *err)
{
	if (sqlite3_open_v2(s->path, &s->conn, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK)
		return s->conn ? sqlite_fail(s, err, "open")
			       : error_set(err, "sqlite: %s: out of memory", s->path);
	sqlite3_extended_result_codes(s->conn, 1);
	sqlite3_busy_timeout(s->conn, SQLITE_BUSY_MS);
	if (sqlite_exec(&s->base, "PRAGMA journal_mode=WAL", NULL, 0, sqlite_check_wal, NULL,
			NULL, err) ||
	    sqlite_simple(&s->base, "PRAGMA synchronous=FULL", err) ||
	    sqlite_simple(&s->base, "PRAGMA foreign_keys=ON", err))
		return -1;
	return 0;
}

static int sqlite_open(struct db **db, const char *path, struct error *err)
{
	struct db_sqlite *s;
	int fd;

	if (!*path)
		return error_set(err, "sqlite: empty database path");
	/* SQLite would create the file 0644; the -wal and -shm files copy its
	 * mode.  O_EXCL: only a file this call creates is opened here.  Closing
	 * a descriptor of a file the process has SQLite connections on drops
	 * every POSIX lock they hold on it (fcntl semantics), and then another
	 * process's `sqlite3` closing last checkpoints and unlinks the WAL our
	 * connections still write to: commits vanish from readers and, at a
	 * crash, from the disk. */
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno != EEXIST)
		return error_errno(err, "sqlite: %s", path);
	if (fd >= 0)
		close(fd);
	if (!(s = calloc(1, sizeof *s)) || !(s->path = strdup(path))) {
		free(s);
		return error_set(err, "sqlite: out of memory");
	}
	s->base.ops = &sqlite_ops;
	if (sqlite_setup(s, err)) {
		sqlite_close(&s->base);
		return -1;
	}
	*db = &s->base;
	return 0;
}

/* Any spec no other backend claims is a file path. */
static int sqlite_claims(const char *spec)
{
	(void)spec;
	return 1;
}

const struct db_driver db_sqlite_driver = { sqlite_claims, sqlite_open };
