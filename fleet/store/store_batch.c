/* store_batch.c: fleet_store_batch() (store/fleet_store.h): a batch's
 * inserts, reports and heartbeats in one transaction, their statements sent
 * in two rounds through db_exec_batch() instead of one round trip each
 * (on PostgreSQL a round trip per DB_BATCH_CHUNK statements).
 *
 * Round 1 holds, in item order, the statements that decide each item: an
 * upgrade's INSERT; a report's create (when it names an instance), its
 * conditional UPDATE (the rules of fleet_store.h, one statement) and the
 * SELECT of the record's instance; a heartbeat's upsert.  Round 2 holds, in
 * item order, what follows from round 1: the event of each applied insert
 * or report, the instance of a record just created, and the outbox row of
 * an inserted record's cast (store/fleet_store_outbox.h).
 *
 * Heartbeats are coalesced first (store_coalesce.c): of one instance's
 * heartbeats in the batch only the newest by sent time is written, the
 * others are results 0 (as if each had come after the newest: the stored
 * row ends the same as when all ran in order).
 *
 * This keeps the rules of the single calls (batches of one): each statement
 * sees the ones before it, as when they ran one by one; a report's UPDATE
 * after its own create changes nothing (the record has its state and
 * reason already), so it is sent either way; the SELECT right after the
 * UPDATE sees what it saw; an event's seq is taken under the upgrade's row
 * lock, which round 1 took and the transaction holds, in item order as
 * before.  A refused report changed no row: round 1 wrote nothing for it
 * and round 2 has nothing of it.
 *
 * The report rules live in one conditional UPDATE, so the check and the
 * change are one step on both backends: on PostgreSQL a concurrent report
 * for the same upgrade waits for the row lock and is then evaluated against
 * the committed row (READ COMMITTED re-checks the WHERE clause); on SQLite
 * BEGIN IMMEDIATE serializes writers.  An event is appended only when that
 * UPDATE (or the INSERT creating the record) changed a row. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/fleet_store_outbox.h"
#include "store/store_internal.h"

static const char store_sql_report_create[] =
	"INSERT INTO upgrades (" STORE_UPGRADE_COLS ") VALUES"
	" ($1, '', 'upgrade', $2, $3, $4, '', '', '', '', $5, $6, $7, $7, '')"
	" ON CONFLICT (id) DO NOTHING";

/* The ordering rules of fleet_store.h, as one statement.  A report naming
 * another instance than the record's never applies.  The one way out of
 * SUCCESS is the guest's own FAILED sent after it (its probation revert):
 * $11 is 1 for a guest's FAILED. */
static const char store_sql_report_update[] =
	"UPDATE upgrades SET state = $2, reason = $3, updated_us = $4,"
	" from_version = CASE WHEN $5 = '' THEN from_version ELSE $5 END,"
	" to_version = CASE WHEN $6 = '' THEN to_version ELSE $6 END"
	" WHERE id = $1 AND state <> $8"
	" AND (state <> $7 OR ($11 = 1 AND $4 > updated_us))"
	" AND (state <> $2 OR reason <> $3)"
	" AND ($2 >= state OR $2 = $9 OR state = $9)"
	" AND ($10 = '' OR instance_id = $10)";

static const char store_sql_heartbeat[] =
	"INSERT INTO instances (id, agent_version, agent_slot, last_seen_us, rpc_api_version)"
	" VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET"
	" agent_version = excluded.agent_version,"
	" agent_slot = excluded.agent_slot,"
	" rpc_api_version = excluded.rpc_api_version,"
	" last_seen_us = excluded.last_seen_us"
	" WHERE instances.last_seen_us <= excluded.last_seen_us";

static const char store_sql_cast[] =
	"INSERT INTO casts (upgrade_id, instance_id, method, version, args, created_us)"
	" VALUES ($1, $2, $3, $4, $5, $6)";

static int store_instance_row(void *ctx, const char *const *cols, int ncols, struct error *err)
{
	if (ncols != 1)
		return error_set(err, "store: unexpected instance row");
	db_copy_text(ctx, FLEET_INSTANCE_MAX, cols[0]);
	return 0;
}

/* Fills dst (an array) with the values given; more than fit do not compile. */
#define STORE_PARAMS(dst, ...)                                                        \
	do {                                                                          \
		const struct db_value v_[] = { __VA_ARGS__ };                         \
		_Static_assert(sizeof v_ <= sizeof(dst), "too many parameters");      \
		memcpy((dst), v_, sizeof v_);                                         \
	} while (0)

static struct db_stmt *store_decide_insert(struct store_run *run, struct db_stmt *s)
{
	const struct fleet_upgrade *up = run->item->insert;

	store_clean_reason(run->reason, up->reason);
	run->at_us = up->created_us ? up->created_us : store_now_us();
	store_upgrade_params(up, run->reason, run->at_us, run->first);
	return store_stmt(s, store_sql_upgrade_insert, run->first, STORE_UPGRADE_PARAMS);
}

/* What both ways of running a report use: its texts, "" for NULL. */
static void store_report_fields(struct store_run *run)
{
	const struct fleet_report *r = run->item->report;

	run->instance_id = r->instance_id ? r->instance_id : "";
	run->from_version = r->from_version ? r->from_version : "";
	run->to_version = r->to_version ? r->to_version : "";
	run->at_us = r->at_us;
	run->stored[0] = '\0';
	run->created = run->updated = 0;
	store_clean_reason(run->reason, r->reason);
}

static struct db_stmt *store_decide_report(struct store_run *run, struct db_stmt *s)
{
	const struct fleet_report *r = run->item->report;
	int revert = r->state == FLEET_FAILED && !strcmp(r->source, "guest");

	store_report_fields(run);
	STORE_PARAMS(run->first, DB_T(r->upgrade_id), DB_T(run->instance_id),
		     DB_T(run->from_version), DB_T(run->to_version), DB_I(r->state),
		     DB_T(run->reason), DB_I(r->at_us));
	STORE_PARAMS(run->update, DB_T(r->upgrade_id), DB_I(r->state), DB_T(run->reason),
		     DB_I(r->at_us), DB_T(run->from_version), DB_T(run->to_version),
		     DB_I(FLEET_SUCCESS), DB_I(FLEET_FAILED), DB_I(FLEET_DEFERRED),
		     DB_T(run->instance_id), DB_I(revert));
	STORE_PARAMS(run->id, DB_T(r->upgrade_id));
	/* Create first: a concurrent creator makes this wait, and the UPDATE
	 * then sees its row instead of losing this report. */
	run->creates = run->instance_id[0] != '\0';
	if (run->creates)
		s = store_stmt(s, store_sql_report_create, run->first, 7);
	s = store_stmt(s, store_sql_report_update, run->update, 11);
	s = store_stmt(s, "SELECT instance_id FROM upgrades WHERE id = $1", run->id, 1);
	s[-1].fn = store_instance_row;
	s[-1].ctx = run->stored;
	return s;
}

static struct db_stmt *store_decide_heartbeat(struct store_run *run, struct db_stmt *s)
{
	const struct fleet_heartbeat *h = run->item->heartbeat;

	STORE_PARAMS(run->first, DB_T(h->instance_id),
		     DB_T(h->agent_version ? h->agent_version : ""),
		     DB_T(h->agent_slot ? h->agent_slot : ""), DB_I(h->sent_us),
		     DB_T(h->rpc_api_version ? h->rpc_api_version : ""));
	return store_stmt(s, store_sql_heartbeat, run->first, 5);
}

/* Round 2 for an applied insert or report: its event, and the instance of
 * a record it created. */
static struct db_stmt *store_follow(struct store_run *run, const char *upgrade_id,
				    enum fleet_state state, const char *source,
				    const char *created_for, struct db_stmt *s)
{
	STORE_PARAMS(run->event, DB_T(upgrade_id), DB_I(state), DB_T(run->reason),
		     DB_I(run->at_us), DB_T(source));
	s = store_stmt(s, store_sql_event, run->event, 5);
	if (created_for) {
		STORE_PARAMS(run->instance, DB_T(created_for));
		s = store_stmt(s, store_sql_instance_known, run->instance, 1);
	}
	return s;
}

/* Sets the item's result from its round 1 answers; adds its round 2. */
static struct db_stmt *store_settle(struct store_run *run, struct db_stmt *s)
{
	struct fleet_batch_item *item = run->item;
	const struct db_stmt *d = run->decide;
	int created;

	if (item->insert) {
		item->result = d[0].changes > 0;
		if (item->result)
			s = store_follow(run, item->insert->id, FLEET_NEW, "api",
					 item->insert->instance_id, s);
		if (item->result && item->cast) {
			const struct fleet_outbox_cast *c = item->cast;

			STORE_PARAMS(run->cast, DB_T(item->insert->id),
				     DB_T(item->insert->instance_id), DB_T(c->method),
				     DB_T(c->version ? c->version : "1.0"), DB_T(c->args),
				     DB_I(run->at_us));
			s = store_stmt(s, store_sql_cast, run->cast, 6);
		}
	} else if (item->report) {
		created = run->creates && d[0].changes > 0;
		item->result = created || d[run->creates].changes > 0;
		if (item->result)
			s = store_follow(run, item->report->upgrade_id, item->report->state,
					 item->report->source, created ? run->instance_id : NULL, s);
		else if (store_report_unapplied(run) < 0)
			item->result = -1;
	} else {
		item->result = d[0].changes > 0;
	}
	return s;
}

struct store_batch {
	struct fleet_batch_item *items;
	size_t count;
	struct store_run *runs;
	unsigned char *superseded;	/* per item: a heartbeat a later one hides */
	struct db_stmt *round1;		/* 3 per item: a report's at most */
	struct db_stmt *round2;		/* 3 per item */
};

/* A batch without inserts (the report consumer's) as multi-row statements
 * (store_rows.c): 0 done, 1 not (too many reports of one upgrade: nothing
 * ran), -1 failed. */
static int store_batch_rows(struct db *db, struct store_batch *b, struct error *err)
{
	size_t i;

	for (i = 0; i < b->count; i++) {
		struct store_run *run = &b->runs[i];

		run->item = &b->items[i];
		if (run->item->insert)
			return 1;
		run->superseded = b->superseded[i];
		if (run->item->result >= 0 && run->superseded)
			run->item->result = 0;	/* as if it came after its newer one */
		else if (run->item->result >= 0 && run->item->report)
			store_report_fields(run);
	}
	return store_rows_tx(db, b->runs, b->count, err);
}

/* Refusals stay with their item; only a backend failure ends the
 * transaction (rolled back by store_tx: nothing of the batch is kept). */
static int store_batch_tx(struct db *db, void *ctx, struct error *err)
{
	struct store_batch *b = ctx;
	struct db_stmt *s = b->round1;
	size_t i;
	int rc = store_batch_rows(db, b, err);

	if (rc != 1)
		return rc;
	for (i = 0; i < b->count; i++) {
		struct store_run *run = &b->runs[i];

		run->item = &b->items[i];
		run->decide = NULL;
		if (run->item->result < 0)
			continue;	/* refused by the checks already */
		if (b->superseded[i]) {
			run->item->result = 0;	/* as if it came after its newer one */
			continue;
		}
		run->decide = s;
		if (run->item->insert)
			s = store_decide_insert(run, s);
		else if (run->item->report)
			s = store_decide_report(run, s);
		else
			s = store_decide_heartbeat(run, s);
	}
	if (db_exec_batch(db, b->round1, (size_t)(s - b->round1), err))
		return -1;
	s = b->round2;
	for (i = 0; i < b->count; i++) {
		if (b->runs[i].decide)
			s = store_settle(&b->runs[i], s);
	}
	return db_exec_batch(db, b->round2, (size_t)(s - b->round2), err);
}

/* The checks need no database: refusals before the transaction. */
static void store_batch_check(struct fleet_batch_item *items, size_t count)
{
	struct fleet_batch_item *item;
	size_t i;

	for (i = 0; i < count; i++) {
		item = &items[i];
		item->err.text[0] = '\0';
		if (!!item->insert + !!item->report + !!item->heartbeat != 1)
			item->result = store_invalid(&item->err, "store: batch item %zu is not one"
							       " insert, report or heartbeat", i);
		else if (item->cast && !item->insert)
			item->result = store_invalid(&item->err, "store: batch item %zu: a cast"
							       " without its record", i);
		else if (item->insert)
			item->result = store_check_upgrade(item->insert, &item->err) < 0 ||
				       (item->cast && store_check_cast(item->cast, &item->err) < 0) ?
				       -1 : 0;
		else if (item->report)
			item->result = store_check_report(item->report, &item->err);
		else
			item->result = store_check_heartbeat(item->heartbeat, &item->err);
		if (item->result < 0)
			item->result = -1;
	}
}

int fleet_store_batch(struct fleet_store *store, struct fleet_batch_item *items, size_t count,
		      struct error *err)
{
	struct store_batch b = { items, count, NULL, NULL, NULL, NULL };
	int rc = -1;

	if (count > FLEET_BATCH_MAX) {
		errno = EINVAL;
		return error_set(err, "store: a batch of %zu items, at most %d", count,
				 FLEET_BATCH_MAX);
	}
	store_batch_check(items, count);
	b.runs = calloc(count ? count : 1, sizeof *b.runs);
	b.round1 = calloc(count ? 6 * count : 1, sizeof *b.round1);
	b.superseded = malloc(count ? count : 1);
	if (!b.runs || !b.round1 || !b.superseded ||
	    store_coalesce(items, count, b.superseded) < 0) {
		errno = ENOMEM;
		error_set(err, "store: out of memory for a batch of %zu", count);
	} else {
		b.round2 = b.round1 + 3 * count;
		rc = store_tx(store, store_batch_tx, &b, err) < 0 ? -1 : 0;
	}
	free(b.runs);
	free(b.round1);
	free(b.superseded);
	return rc;
}
