/* store_outbox.c: the outbox of the API's casts: claim, settle, release
 * (see store/fleet_store_outbox.h).  Rows are queued by store_batch.c with
 * their record. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/fleet_store_outbox.h"
#include "store/store_internal.h"

/* PostgreSQL: rows leased by another owner are skipped until the lease
 * ends or its holder's session is gone (its advisory lock with it: live
 * holds the keys of the advisory locks held now, read once), rows another
 * claim has locked are skipped now.  $1 owner, $2 now, $3 max. */
static const char outbox_sql_claim_pg[] =
	"WITH live AS (SELECT (classid::bigint << 32) | objid::bigint AS k FROM pg_locks"
	" WHERE locktype = 'advisory' AND granted AND objsubid = 1)"
	" SELECT seq, upgrade_id, instance_id, method, version, args, attempts FROM casts"
	" WHERE state = 0 AND (lease_until_us < $2 OR lease_owner = $1"
	" OR lease_key NOT IN (SELECT k FROM live))"
	" ORDER BY seq LIMIT $3 FOR UPDATE OF casts SKIP LOCKED";
/* SQLite: one slotfleet per file (BEGIN IMMEDIATE serializes); $1 max. */
static const char outbox_sql_claim_sqlite[] =
	"SELECT seq, upgrade_id, instance_id, method, version, args, attempts FROM casts"
	" WHERE state = 0 ORDER BY seq LIMIT $1";
static const char outbox_sql_lease[] =
	"UPDATE casts SET lease_owner = $2, lease_until_us = $3, lease_key = $4,"
	" attempts = attempts + 1 WHERE seq = $1 AND state = 0";
static const char outbox_sql_settle[] =
	"UPDATE casts SET state = $2, done_us = $3, lease_until_us = 0"
	" WHERE seq = $1 AND state = 0";
/* A refused cast's record, under the report rules for a FAILED set by
 * slotfleet (fleet_store.h): applied unless the record is final. */
static const char outbox_sql_failed[] =
	"UPDATE upgrades SET state = $2, reason = $3, updated_us = $4"
	" WHERE id = $1 AND state <> $2 AND state <> $5";
static const char outbox_sql_release[] =
	"UPDATE casts SET lease_until_us = 0 WHERE seq = $1 AND lease_owner = $2 AND state = 0";

struct outbox_claim {
	const char *owner;
	char lock[FLEET_ID_MAX + 8];	/* "outbox/" owner: its session lock */
	int64_t now_us, until_us;
	size_t max, bytes_max, bytes;
	struct fleet_outbox_row *rows;
	size_t count;
	int full;			/* the byte budget is spent: later rows wait */
};

static int outbox_row(void *ctx, const char *const *cols, int ncols, struct error *err)
{
	struct outbox_claim *c = ctx;
	struct fleet_outbox_row *row = &c->rows[c->count];
	size_t len;

	if (ncols != 7 || c->count == c->max)
		return error_set(err, "store: unexpected cast row");
	len = strlen(cols[5] ? cols[5] : "");
	if (c->full || (c->count && c->bytes + len > c->bytes_max)) {
		c->full = 1;
		return 0;
	}
	memset(row, 0, sizeof *row);
	if (db_parse_int(cols[0], "casts.seq", &row->seq, err) ||
	    db_parse_int(cols[6], "casts.attempts", &row->attempts, err))
		return -1;
	db_copy_text(row->upgrade_id, sizeof row->upgrade_id, cols[1]);
	db_copy_text(row->instance_id, sizeof row->instance_id, cols[2]);
	db_copy_text(row->method, sizeof row->method, cols[3]);
	db_copy_text(row->version, sizeof row->version, cols[4]);
	if (!(row->args = strdup(cols[5] ? cols[5] : "")))
		return error_set(err, "store: out of memory for a cast");
	row->attempts++;
	c->bytes += len;
	c->count++;
	return 0;
}

static int outbox_claim_tx(struct db *db, void *ctx, struct error *err)
{
	struct outbox_claim *c = ctx;
	struct db_value p[] = { DB_T(c->owner), DB_I(c->now_us), DB_I((int64_t)c->max) };
	struct db_value *lease = NULL;
	struct db_stmt *stmts = NULL;
	int pg = db->ops->backend == DB_POSTGRESQL, rc = -1, held;
	size_t i;

	/* Taken again each time: a reset connection lost it, and until then
	 * our leases looked dead to the others (sent twice at worst, same ids). */
	if (store_lock_take(db, c->lock, &held, err))
		return -1;
	if (db_exec(db, pg ? outbox_sql_claim_pg : outbox_sql_claim_sqlite, pg ? p : p + 2,
		    pg ? 3 : 1, outbox_row, c, NULL, err))
		return -1;
	if (!c->count)
		return 0;
	lease = calloc(c->count * 4, sizeof *lease);
	stmts = calloc(c->count, sizeof *stmts);
	if (!lease || !stmts) {
		error_set(err, "store: out of memory for %zu leases", c->count);
		goto out;
	}
	for (i = 0; i < c->count; i++) {
		lease[4 * i] = DB_I(c->rows[i].seq);
		lease[4 * i + 1] = DB_T(c->owner);
		lease[4 * i + 2] = DB_I(c->until_us);
		lease[4 * i + 3] = DB_I(store_lock_key(c->lock));
		stmts[i] = (struct db_stmt){ .sql = outbox_sql_lease, .params = &lease[4 * i],
					     .nparams = 4 };
	}
	rc = db_exec_batch(db, stmts, c->count, err);
out:
	free(lease);
	free(stmts);
	return rc;
}

int fleet_store_outbox_claim(struct fleet_store *store, const char *owner, int64_t now_us,
			     int64_t lease_until_us, size_t max, size_t bytes_max,
			     struct fleet_outbox_row *rows, size_t *count, struct error *err)
{
	struct outbox_claim c = { owner, "", now_us, lease_until_us, max, bytes_max, 0, rows, 0,
				  0 };

	*count = 0;
	if (store_check_text(owner, FLEET_ID_MAX, 0, "outbox owner", err))
		return -1;
	snprintf(c.lock, sizeof c.lock, "outbox/%s", owner);
	if (!max)
		return 0;
	if (store_tx(store, outbox_claim_tx, &c, err) < 0) {
		fleet_outbox_rows_free(rows, c.count);
		return -1;
	}
	*count = c.count;
	return 0;
}

struct outbox_settle {
	const struct fleet_outbox_row *rows;
	size_t n;
	int64_t at_us;
};

/* A refused cast's record FAILED, with its event if that applied. */
static int outbox_refused(struct db *db, const struct fleet_outbox_row *row, int64_t at_us,
			  struct error *err)
{
	char reason[FLEET_REASON_MAX], text[FLEET_REASON_MAX];
	struct db_value p[] = { DB_T(row->upgrade_id), DB_I(FLEET_FAILED), DB_T(reason),
				DB_I(at_us), DB_I(FLEET_SUCCESS) };
	struct db_value e[] = { DB_T(row->upgrade_id), DB_I(FLEET_FAILED), DB_T(reason),
				DB_I(at_us), DB_T("fleet") };
	int64_t changes = 0;

	snprintf(text, sizeof text, "cast not queued: %.400s", row->why);
	store_clean_reason(reason, text);
	if (db_exec(db, outbox_sql_failed, p, 5, NULL, NULL, &changes, err))
		return -1;
	return changes ? db_exec(db, store_sql_event, e, 5, NULL, NULL, NULL, err) : 0;
}

/* In the order given; a row settled already (another slotfleet's lease
 * ran out while it sent it too) changes nothing, its record included. */
static int outbox_settle_tx(struct db *db, void *ctx, struct error *err)
{
	const struct outbox_settle *s = ctx;
	size_t i;

	for (i = 0; i < s->n; i++) {
		const struct fleet_outbox_row *row = &s->rows[i];
		int refused = row->result == FLEET_CAST_STATE_REFUSED;
		struct db_value p[] = { DB_I(row->seq), DB_I(refused ? 2 : 1), DB_I(s->at_us) };
		int64_t changes = 0;

		if (db_exec(db, outbox_sql_settle, p, 3, NULL, NULL, &changes, err))
			return -1;
		if (changes && refused && outbox_refused(db, row, s->at_us, err) < 0)
			return -1;
	}
	return 0;
}

int fleet_store_outbox_settle(struct fleet_store *store, const struct fleet_outbox_row *rows,
			      size_t n, int64_t at_us, struct error *err)
{
	struct outbox_settle s = { rows, n, at_us };
	size_t i;

	for (i = 0; i < n; i++) {
		if (rows[i].result != FLEET_CAST_STATE_QUEUED && rows[i].result != FLEET_CAST_STATE_REFUSED) {
			store_invalid(err, "store: cast %s settled as neither queued nor refused",
				      rows[i].upgrade_id);
			errno = EINVAL;
			return -1;
		}
	}
	return n ? (store_tx(store, outbox_settle_tx, &s, err) < 0 ? -1 : 0) : 0;
}

struct outbox_release {
	const char *owner;
	const struct fleet_outbox_row *rows;
	size_t n;
};

static int outbox_release_tx(struct db *db, void *ctx, struct error *err)
{
	const struct outbox_release *r = ctx;
	size_t i;

	for (i = 0; i < r->n; i++) {
		struct db_value p[] = { DB_I(r->rows[i].seq), DB_T(r->owner) };

		if (db_exec(db, outbox_sql_release, p, 2, NULL, NULL, NULL, err))
			return -1;
	}
	return 0;
}

int fleet_store_outbox_release(struct fleet_store *store, const char *owner,
			       const struct fleet_outbox_row *rows, size_t n, struct error *err)
{
	struct outbox_release r = { owner, rows, n };

	if (store_check_text(owner, FLEET_ID_MAX, 0, "outbox owner", err))
		return -1;
	return n ? (store_tx(store, outbox_release_tx, &r, err) < 0 ? -1 : 0) : 0;
}

static int outbox_count_row(void *ctx, const char *const *cols, int ncols, struct error *err)
{
	int64_t v;

	if (ncols != 1 || db_parse_int(cols[0], "count", &v, err))
		return error_set(err, "store: unexpected count row");
	*(uint64_t *)ctx = (uint64_t)v;
	return 0;
}

static int outbox_pending_read(struct db *db, void *ctx, struct error *err)
{
	return db_exec(db, "SELECT COUNT(*) FROM casts WHERE state = 0", NULL, 0,
		       outbox_count_row, ctx, NULL, err);
}

int fleet_store_outbox_pending(struct fleet_store *store, uint64_t *count, struct error *err)
{
	*count = 0;
	return store_read(store, outbox_pending_read, count, err);
}

void fleet_outbox_rows_free(struct fleet_outbox_row *rows, size_t n)
{
	size_t i;

	for (i = 0; rows && i < n; i++) {
		free(rows[i].args);
		rows[i].args = NULL;
	}
}
