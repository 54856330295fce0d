/* store_write.c: the calls that change records (see include/fleet_store.h).
 *
 * The report rules live in one conditional UPDATE, so the check and the
 * change are one step on both backends: on PostgreSQL a concurrent report
 * for the same upgrade waits for the row lock and is then evaluated against
 * the committed row (READ COMMITTED re-checks the WHERE clause); on SQLite
 * BEGIN IMMEDIATE serializes writers.  An event is appended only when that
 * UPDATE (or the INSERT creating the record) changed a row.
 *
 * Inserts, reports and heartbeats go through fleet_store_batch(): a single
 * call is a batch of one, and a batch (the consumer's deliveries, the API's
 * concurrent writes) shares one commit, one fsync. */
#include <errno.h>
#include <string.h>

#include "store_internal.h"

/* seq is computed under the upgrade's row lock, taken by the statement
 * that changed the upgrade just before, so two appends never race. */
static int store_event(struct db *db, const char *id, enum fleet_state state,
		       const char *reason, int64_t at_us, const char *source, struct error *err)
{
	struct db_value p[] = { DB_T(id), DB_I(state), DB_T(reason), DB_I(at_us), DB_T(source) };

	return db_exec(db, "INSERT INTO upgrade_events (upgrade_id, seq, state, reason, at_us, source)"
			   " SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5"
			   " FROM upgrade_events WHERE upgrade_id = $1",
		       p, 5, NULL, NULL, NULL, err);
}

static int store_instance_known(struct db *db, const char *id, struct error *err)
{
	struct db_value p[] = { DB_T(id) };

	return db_exec(db, "INSERT INTO instances (id) VALUES ($1) ON CONFLICT (id) DO NOTHING", p,
		       1, NULL, NULL, NULL, err);
}

int store_insert_tx(struct db *db, void *ctx, struct error *err)
{
	struct store_insert *c = ctx;
	const struct fleet_upgrade *up = c->up;
	struct db_value p[] = {
		DB_T(up->id),	       DB_T(up->tenant),     DB_T(up->kind),
		DB_T(up->instance_id), DB_T(up->from_version), DB_T(up->to_version),
		DB_T(up->strategy),    DB_T(up->location),   DB_T(up->sha256),
		DB_T(up->rollout_id),  DB_I(FLEET_NEW),	     DB_T(c->reason),
		DB_I(c->created_us),   DB_I(c->created_us),
	};
	int64_t changes;

	if (db_exec(db, "INSERT INTO upgrades (" STORE_UPGRADE_COLS ") VALUES"
			" ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
			" ON CONFLICT (id) DO NOTHING",
		    p, 14, NULL, NULL, &changes, err))
		return -1;
	if (!changes)
		return 1;
	if (store_event(db, up->id, FLEET_NEW, c->reason, c->created_us, "api", err) ||
	    store_instance_known(db, up->instance_id, err))
		return -1;
	return 0;
}

int store_check_upgrade(const struct fleet_upgrade *up, struct error *err)
{
	const struct {
		const char *text;
		size_t size;
		const char *name;
	} f[] = {
		{ up->id, sizeof up->id, "id" },
		{ up->tenant, sizeof up->tenant, "tenant" },
		{ up->kind, sizeof up->kind, "kind" },
		{ up->instance_id, sizeof up->instance_id, "instance_id" },
		{ up->from_version, sizeof up->from_version, "from_version" },
		{ up->to_version, sizeof up->to_version, "to_version" },
		{ up->strategy, sizeof up->strategy, "strategy" },
		{ up->location, sizeof up->location, "location" },
		{ up->sha256, sizeof up->sha256, "sha256" },
		{ up->rollout_id, sizeof up->rollout_id, "rollout_id" },
	};
	size_t i;

	for (i = 0; i < sizeof f / sizeof f[0]; i++) {
		if (store_check_text(f[i].text, f[i].size, 0, f[i].name, err))
			return -1;
	}
	if (!up->id[0] || !up->instance_id[0])
		return store_invalid(err, "store: upgrade without %s",
				     up->id[0] ? "instance_id" : "id"), -1;
	return 0;
}

/* One insert inside the batch's transaction: 1 inserted, 0 the id exists, -1. */
static int store_insert_one(struct db *db, const struct fleet_upgrade *up, struct error *err)
{
	struct store_insert c = { .up = up };
	int rc;

	store_clean_reason(c.reason, up->reason);
	c.created_us = up->created_us ? up->created_us : store_now_us();
	rc = store_insert_tx(db, &c, err);
	return rc < 0 ? -1 : !rc;
}

struct store_report {
	const struct fleet_report *r;
	const char *instance_id, *from_version, *to_version;
	char reason[FLEET_REASON_MAX];
	int applied;
};

/* The record for an id the store has not seen: 1 created, 0 it exists. */
static int store_report_create(struct db *db, struct store_report *c, struct error *err)
{
	const struct fleet_report *r = c->r;
	struct db_value p[] = { DB_T(r->upgrade_id), DB_T(c->instance_id), DB_T(c->from_version),
				DB_T(c->to_version),   DB_I(r->state),	     DB_T(c->reason),
				DB_I(r->at_us) };
	int64_t changes;

	if (db_exec(db, "INSERT INTO upgrades (" STORE_UPGRADE_COLS ") VALUES"
			" ($1, '', 'upgrade', $2, $3, $4, '', '', '', '', $5, $6, $7, $7)"
			" ON CONFLICT (id) DO NOTHING",
		    p, 7, NULL, NULL, &changes, err))
		return -1;
	if (!changes)
		return 0;
	if (store_instance_known(db, c->instance_id, err))
		return -1;
	return 1;
}

/* The ordering rules of fleet_store.h, as one statement: 1 applied, 0 not.
 * A report naming another instance than the record's never applies.  The
 * one way out of SUCCESS is the guest's own FAILED sent after it (its
 * probation revert): $11 is 1 for a guest's FAILED. */
static int store_report_update(struct db *db, struct store_report *c, struct error *err)
{
	const struct fleet_report *r = c->r;
	int revert = r->state == FLEET_FAILED && !strcmp(r->source, "guest");
	struct db_value p[] = { DB_T(r->upgrade_id), DB_I(r->state),	   DB_T(c->reason),
				DB_I(r->at_us),	     DB_T(c->from_version), DB_T(c->to_version),
				DB_I(FLEET_SUCCESS), DB_I(FLEET_FAILED),    DB_I(FLEET_DEFERRED),
				DB_T(c->instance_id), DB_I(revert) };
	int64_t changes;

	if (db_exec(db, "UPDATE upgrades SET state = $2, reason = $3, updated_us = $4,"
			" from_version = CASE WHEN $5 = '' THEN from_version ELSE $5 END,"
			" to_version = CASE WHEN $6 = '' THEN to_version ELSE $6 END"
			" WHERE id = $1 AND state <> $8"
			" AND (state <> $7 OR ($11 = 1 AND $4 > updated_us))"
			" AND (state <> $2 OR reason <> $3)"
			" AND ($2 >= state OR $2 = $9 OR state = $9)"
			" AND ($10 = '' OR instance_id = $10)",
		    p, 11, NULL, NULL, &changes, err))
		return -1;
	return changes > 0;
}

static int store_instance_row(void *ctx, const char *const *cols, int ncols, struct error *err)
{
	char *instance = ctx;

	if (ncols != 1)
		return error_set(err, "store: unexpected instance row");
	db_copy_text(instance, FLEET_INSTANCE_MAX, cols[0]);
	return 0;
}

/* A report that changed nothing: a repeat or a late one (fine), or one the
 * store refuses: for an unknown id without an instance, or from an
 * instance the upgrade is not for. */
static int store_report_unapplied(struct db *db, struct store_report *c, struct error *err)
{
	const struct fleet_report *r = c->r;
	struct db_value p[] = { DB_T(r->upgrade_id) };
	char stored[FLEET_INSTANCE_MAX] = "";	/* a record always names one */

	if (db_exec(db, "SELECT instance_id FROM upgrades WHERE id = $1", p, 1, store_instance_row,
		    stored, NULL, err))
		return -1;
	if (!stored[0])
		return store_invalid(err, "store: report for unknown upgrade %s names no instance",
				     r->upgrade_id);
	if (c->instance_id[0] && strcmp(stored, c->instance_id))
		return store_invalid(err, "store: report from instance %s for upgrade %s, which is"
					  " for instance %s", c->instance_id, r->upgrade_id, stored);
	return 0;
}

static int store_report_tx(struct db *db, void *ctx, struct error *err)
{
	struct store_report *c = ctx;
	const struct fleet_report *r = c->r;
	int rc = 0;

	/* Create first: a concurrent creator makes this wait, and the UPDATE
	 * below then sees its row instead of losing this report. */
	if (c->instance_id[0])
		rc = store_report_create(db, c, err);
	if (!rc)
		rc = store_report_update(db, c, err);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return store_report_unapplied(db, c, err);
	c->applied = 1;
	return store_event(db, r->upgrade_id, r->state, c->reason, r->at_us, r->source, err);
}

static int store_check_report(const struct fleet_report *r, struct error *err)
{
	if (store_check_text(r->upgrade_id, FLEET_ID_MAX, 0, "upgrade_id", err) ||
	    store_check_text(r->instance_id, FLEET_INSTANCE_MAX, 1, "instance_id", err) ||
	    store_check_text(r->from_version, FLEET_VERSION_MAX, 1, "from_version", err) ||
	    store_check_text(r->to_version, FLEET_VERSION_MAX, 1, "to_version", err) ||
	    store_check_text(r->source, sizeof ((struct fleet_event *)0)->source, 0, "source",
			     err) ||
	    store_check_state(r->state, err))
		return -1;
	if (!r->upgrade_id[0])
		return store_invalid(err, "store: report without upgrade_id"), -1;
	return 0;
}

/* One report inside the batch's transaction: 1 applied, 0 not, -2 refused,
 * -1 backend failure. */
static int store_report_one(struct db *db, const struct fleet_report *report, struct error *err)
{
	struct store_report c = { .r = report };
	int rc;

	c.instance_id = report->instance_id ? report->instance_id : "";
	c.from_version = report->from_version ? report->from_version : "";
	c.to_version = report->to_version ? report->to_version : "";
	store_clean_reason(c.reason, report->reason);
	rc = store_report_tx(db, &c, err);
	return rc < 0 ? rc : c.applied;
}

static int store_check_heartbeat(const struct fleet_heartbeat *h, struct error *err)
{
	if (store_check_text(h->instance_id, FLEET_INSTANCE_MAX, 0, "instance_id", err) ||
	    store_check_text(h->agent_version, FLEET_VERSION_MAX, 1, "agent_version", err) ||
	    store_check_text(h->agent_slot, sizeof ((struct fleet_instance *)0)->agent_slot, 1,
			     "agent_slot", err))
		return -1;
	if (!h->instance_id[0])
		return store_invalid(err, "store: heartbeat without instance_id"), -1;
	return 0;
}

/* One heartbeat: 1 stored (the newest), 0 older than the one stored, -1. */
static int store_heartbeat_one(struct db *db, const struct fleet_heartbeat *h, struct error *err)
{
	struct db_value p[] = { DB_T(h->instance_id),
				DB_T(h->agent_version ? h->agent_version : ""),
				DB_T(h->agent_slot ? h->agent_slot : ""), DB_I(h->sent_us) };
	int64_t changes;

	if (db_exec(db, "INSERT INTO instances (id, agent_version, agent_slot, last_seen_us)"
			" VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET"
			" agent_version = excluded.agent_version,"
			" agent_slot = excluded.agent_slot,"
			" last_seen_us = excluded.last_seen_us"
			" WHERE instances.last_seen_us <= excluded.last_seen_us",
		    p, 4, NULL, NULL, &changes, err))
		return -1;
	return changes > 0;
}

struct store_batch {
	struct fleet_batch_item *items;
	size_t count;
};

/* Refusals stay with their item; only a backend failure ends the
 * transaction (rolled back by store_tx: nothing of the batch is kept).  A
 * refused report wrote nothing before it was refused (store_report_tx
 * refuses only after statements that changed no row). */
static int store_batch_tx(struct db *db, void *ctx, struct error *err)
{
	struct store_batch *b = ctx;
	struct fleet_batch_item *item;
	size_t i;
	int rc;

	for (i = 0; i < b->count; i++) {
		item = &b->items[i];
		if (item->result < 0)
			continue;	/* refused by the checks already */
		if (item->insert)
			rc = store_insert_one(db, item->insert, &item->err);
		else if (item->report)
			rc = store_report_one(db, item->report, &item->err);
		else
			rc = store_heartbeat_one(db, item->heartbeat, &item->err);
		if (rc == -1) {
			*err = item->err;
			return -1;
		}
		item->result = rc == -2 ? -1 : rc;
	}
	return 0;
}

int fleet_store_batch(struct fleet_store *store, struct fleet_batch_item *items, size_t count,
		      struct error *err)
{
	struct store_batch b = { items, count };
	struct fleet_batch_item *item;
	size_t i;

	if (count > FLEET_BATCH_MAX) {
		errno = EINVAL;
		return error_set(err, "store: a batch of %zu items, at most %d", count,
				 FLEET_BATCH_MAX);
	}
	/* The checks need no database: refuse before the transaction. */
	for (i = 0; i < count; i++) {
		item = &items[i];
		item->err.text[0] = '\0';
		if (!!item->insert + !!item->report + !!item->heartbeat != 1)
			item->result = store_invalid(&item->err, "store: batch item %zu is not one"
							       " insert, report or heartbeat", i);
		else if (item->insert)
			item->result = store_check_upgrade(item->insert, &item->err);
		else if (item->report)
			item->result = store_check_report(item->report, &item->err);
		else
			item->result = store_check_heartbeat(item->heartbeat, &item->err);
		if (item->result < 0)
			item->result = -1;
	}
	return store_tx(store, store_batch_tx, &b, err) < 0 ? -1 : 0;
}

/* The single calls are batches of one, so both paths run the same rules. */
static int store_single(struct fleet_store *store, struct fleet_batch_item *item,
			struct error *err)
{
	if (fleet_store_batch(store, item, 1, err) < 0)
		return -1;
	if (item->result < 0) {
		if (err)
			*err = item->err;
		errno = EINVAL;
		return -1;
	}
	return 0;
}

int fleet_store_upgrade_insert(struct fleet_store *store, const struct fleet_upgrade *up,
			       struct error *err)
{
	struct fleet_batch_item item = { .insert = up };

	if (store_single(store, &item, err) < 0)
		return -1;
	return item.result == 1 ? 0 : 1;
}

int fleet_store_report(struct fleet_store *store, const struct fleet_report *report,
		       int *applied, struct error *err)
{
	struct fleet_batch_item item = { .report = report };
	int rc = store_single(store, &item, err);

	if (applied)
		*applied = rc == 0 && item.result == 1;
	return rc;
}

int fleet_store_heartbeat(struct fleet_store *store, const char *instance_id,
			  const char *agent_version, const char *agent_slot, int64_t sent_us,
			  struct error *err)
{
	struct fleet_heartbeat h = { instance_id, agent_version, agent_slot, sent_us };
	struct fleet_batch_item item = { .heartbeat = &h };

	return store_single(store, &item, err);
}
