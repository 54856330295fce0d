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
#define SQLITE_CACHE_MAX 48

struct db_sqlite {
	struct db base;
	sqlite3 *conn;
	char *path;
	struct {
		char *sql;
		sqlite3_stmt *stmt;
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

/* Finds or prepares the statement; *keep says whether it is cached. */
static sqlite3_stmt *sqlite_stmt(struct db_sqlite *s, const char *sql, int *keep,
				 struct error *err)
{
	sqlite3_stmt *stmt = NULL;
	int i;

	for (i = 0; i < s->cached; i++) {
		if (!strcmp(s->cache[i].sql, sql)) {
			*keep = 1;
			return s->cache[i].stmt;
		}
	}
	if (sqlite3_prepare_v3(s->conn, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL) !=
	    SQLITE_OK) {
		sqlite_fail(s, err, "prepare");
		return NULL;
	}
	*keep = 0;
	if (s->cached < SQLITE_CACHE_MAX && (s->cache[s->cached].sql = strdup(sql))) {
		s->cache[s->cached++].stmt = stmt;
		*keep = 1;
	}
	return stmt;
}

/* Binds $1..$N by name: SQLite numbers named parameters by first use. */
static int sqlite_bind(struct db_sqlite *s, sqlite3_stmt *stmt, const struct db_value *params,
		       int nparams, struct error *err)
{
	const char *name;
	int i, rc = SQLITE_OK;

	for (i = 1; i <= sqlite3_bind_parameter_count(stmt); i++) {
		name = sqlite3_bind_parameter_name(stmt, i);
		if (!name || name[0] != '$' || atoi(name + 1) < 1 || atoi(name + 1) > nparams)
			return error_set(err, "sqlite: statement parameter %s not given",
					 name ? name : "?");
	}
	for (i = 0; i < nparams && rc == SQLITE_OK; i++) {
		char name_buf[16];
		int idx;

		snprintf(name_buf, sizeof name_buf, "$%d", i + 1);
		idx = sqlite3_bind_parameter_index(stmt, name_buf);
		if (!idx)
			continue;
		if (params[i].type == DB_INT)
			rc = sqlite3_bind_int64(stmt, idx, params[i].num);
		else if (params[i].type == DB_TEXT && params[i].text)
			rc = sqlite3_bind_text(stmt, idx, params[i].text, -1, SQLITE_STATIC);
		else
			rc = sqlite3_bind_null(stmt, idx);
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
	sqlite3_stmt *stmt;
	int keep, rc;

	if (!(stmt = sqlite_stmt(s, sql, &keep, err)))
		return -1;
	rc = sqlite_bind(s, stmt, params, nparams, err);
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
