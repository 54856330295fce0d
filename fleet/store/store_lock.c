/* store_lock.c: the driving locks (see store/fleet_store_rollout.h,
 * "Driving"): on PostgreSQL a session advisory lock per key (a rollout's
 * id, "policy/" and a policy's id), taken with pg_try_advisory_lock and
 * released with the process or its connection; a plan checks, in its own
 * transaction, that this connection still holds it.  On SQLite one process
 * per database file is assumed: every lock is held. */
#include <string.h>

#include "store/store_internal.h"

/* FNV-1a 64 of the key.  Two keys sharing a hash only share a driver. */
static int64_t lock_hash(const char *key)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *key; key++)
		h = (h ^ (unsigned char)*key) * 0x100000001b3ULL;
	return (int64_t)h;
}

int64_t store_lock_key(const char *key)
{
	return lock_hash(key);
}

/* pg_locks shows a bigint key as classid (high half), objid (low half) and
 * objsubid 1. */
#define LOCK_HELD \
	"EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted" \
	" AND pid = pg_backend_pid() AND classid::bigint = $2 AND objid::bigint = $3" \
	" AND objsubid = 1)"

static void lock_params(const char *key, struct db_value *p)
{
	uint64_t h = (uint64_t)lock_hash(key);

	p[0] = DB_I((int64_t)h);
	p[1] = DB_I((int64_t)(h >> 32));
	p[2] = DB_I((int64_t)(h & 0xffffffffu));
}

static int lock_bool_row(void *ctx, const char *const *cols, int ncols, struct error *err)
{
	if (ncols != 1 || !cols[0])
		return error_set(err, "store: unexpected lock row");
	*(int *)ctx = !strcmp(cols[0], "t") || !strcmp(cols[0], "1");
	return 0;
}

int store_lock_held(struct db *db, const char *key, struct error *err)
{
	struct db_value p[3];
	int held = 0;

	if (db->ops->backend != DB_POSTGRESQL)
		return 1;
	lock_params(key, p);
	if (db_exec(db, "SELECT " LOCK_HELD, p, 3, lock_bool_row, &held, NULL, err))
		return -1;
	return held;
}

/* Takes the lock unless this session holds it already (session locks
 * stack: taking it twice would need two unlocks). */
int store_lock_take(struct db *db, const char *key, int *held, struct error *err)
{
	struct db_value p[3];

	*held = 1;
	if (db->ops->backend != DB_POSTGRESQL)
		return 0;
	*held = 0;
	lock_params(key, p);
	return db_exec(db, "SELECT CASE WHEN " LOCK_HELD " THEN true"
			   " ELSE pg_try_advisory_lock($1) END",
		       p, 3, lock_bool_row, held, NULL, err);
}

int store_lock_tx(struct db *db, const char *key, struct error *err)
{
	struct db_value p[3];

	if (db->ops->backend != DB_POSTGRESQL)
		return 0;
	lock_params(key, p);
	return db_exec(db, "SELECT pg_advisory_xact_lock($1)", p, 1, NULL, NULL, NULL, err);
}

int store_lock_release(struct db *db, const char *key, struct error *err)
{
	struct db_value p[3];

	if (db->ops->backend != DB_POSTGRESQL)
		return 0;
	lock_params(key, p);
	return db_exec(db, "SELECT CASE WHEN " LOCK_HELD " THEN pg_advisory_unlock($1)"
			   " ELSE false END", p, 3, NULL, NULL, NULL, err);
}
