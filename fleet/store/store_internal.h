/* store_internal.h (private to the store): what the fleet_store modules share.
 *   store.c         open, close, state names, the per-call lock and transaction
 *   store_schema.c  the migrations
 *   store_write.c   the writes' checks and statements, a plan's upgrade insert
 *   store_batch.c   fleet_store_batch: a batch's statements in two rounds
 *   store_coalesce.c which of a batch's heartbeats need writing
 *   store_rows.c    the consumer's batches as multi-row statements
 *   store_single.c  the single writes: batches of one
 *   store_read.c    gets and lists
 *   store_check.c   input checks (lengths, UTF-8) before anything reaches SQL
 *   store_rollout.c, store_rollout_plan.c   rollouts and their targets
 *   store_rollout_select.c  choosing them; store_rollout_fill.c taking a
 *                   selector's as the driver reaches them
 *   store_lock.c    the driving locks (PostgreSQL advisory locks) of
 *                   rollouts and policies
 *   store_policy.c, store_policy_plan.c     policies, their candidates and casts
 *   store_metrics.c the counts the metrics' gauges show
 *   store_summary.c the fleet's counts (GET .../mgmt/summary, the web UI)
 *   store_outbox.c  the outbox of the API's casts: claim, settle, release
 * Arrows go one way: store.c calls the migrations, the single writes call
 * the batch, the batch calls store_write.c's checks, store_coalesce.c
 * and store_rows.c;
 * none calls back. */
#ifndef SLOTFLEET_STORE_INTERNAL_H
#define SLOTFLEET_STORE_INTERNAL_H

#include <pthread.h>
#include <time.h>

#include "store/db/db.h"
#include "store/fleet_store.h"

#define STORE_SCHEMA_VERSION 8

struct fleet_store {
	pthread_mutex_t lock;	/* one call at a time: the connection is not shareable */
	struct db *db;
};

/* Runs fn inside one write transaction under the store's lock: commit when
 * fn returns >= 0 (its value is returned), rollback and -1 otherwise.
 * errno: EIO on any failure but EINVAL set by fn. */
typedef int (*store_tx_fn)(struct db *db, void *ctx, struct error *err);
int store_tx(struct fleet_store *store, store_tx_fn fn, void *ctx, struct error *err);
/* Same without a transaction, for reads that are one statement or that do
 * not need one snapshot. */
int store_read(struct fleet_store *store, store_tx_fn fn, void *ctx, struct error *err);

int store_migrate(struct db *db, struct error *err);
int store_schema_version(struct db *db, int *version, struct error *err);

/* Inline: the clock is read by store.c and by the modules it calls (the
 * migrations record when they ran), which must not call back into it. */
static inline int64_t store_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* -1 with errno EINVAL and err naming the field when s is NULL (unless
 * may_be_null), not NUL-terminated within size, or not UTF-8. */
int store_check_text(const char *s, size_t size, int may_be_null, const char *field,
		     struct error *err);
/* Copies a reason into buf (FLEET_REASON_MAX): invalid UTF-8 bytes become
 * '?', a long text is cut at a character boundary.  Reasons are data from
 * guests: keeping a mangled one beats refusing the report. */
void store_clean_reason(char *buf, const char *reason);
int store_check_state(enum fleet_state state, struct error *err);
int store_invalid(struct error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The columns of an upgrade, in the order store_row_upgrade() reads them. */
#define STORE_UPGRADE_COLS \
	"id, tenant, kind, instance_id, from_version, to_version, strategy, location, " \
	"sha256, rollout_id, state, reason, created_us, updated_us, policy_id"
/* The same and where its cast is (enum fleet_cast_state, before the
 * refusal is told from the record): the outbox's row (state + 1), else a
 * rollout's or a policy's planned cast (1 pending, 2 settled), else 0.
 * For SELECTs FROM upgrades; store_row_upgrade() takes both. */
#define STORE_UPGRADE_READ STORE_UPGRADE_COLS ", COALESCE(" \
	"(SELECT c.state + 1 FROM casts c WHERE c.upgrade_id = upgrades.id), " \
	"(SELECT CASE WHEN t.cast_us > 0 THEN 2 ELSE 1 END FROM rollout_targets t" \
	" WHERE t.rollout_id = upgrades.rollout_id AND t.instance_id = upgrades.instance_id" \
	" AND t.upgrade_id = upgrades.id), " \
	"(SELECT CASE WHEN p.cast_us > 0 THEN 2 ELSE 1 END FROM policy_casts p" \
	" WHERE p.upgrade_id = upgrades.id), 0)"
int store_row_upgrade(const char *const *cols, int ncols, struct fleet_upgrade *up,
		      struct error *err);
int store_parse_state(const char *text, enum fleet_state *state, struct error *err);

/* An upgrade's insert inside a caller's transaction (store_write.c): checked
 * first with store_check_upgrade(); 0 inserted, 1 the id exists, -1. */
struct store_insert {
	const struct fleet_upgrade *up;
	char reason[FLEET_REASON_MAX];
	int64_t created_us;
};
int store_check_upgrade(const struct fleet_upgrade *up, struct error *err);
int store_insert_tx(struct db *db, void *ctx, struct error *err);
/* The other checks of fleet_store_batch()'s items: -1 (EINVAL, err set). */
int store_check_report(const struct fleet_report *r, struct error *err);
int store_check_heartbeat(const struct fleet_heartbeat *h, struct error *err);
struct fleet_outbox_cast;
int store_check_cast(const struct fleet_outbox_cast *c, struct error *err);

/* Fills *s with one statement of a db_exec_batch() round; the next slot. */
static inline struct db_stmt *store_stmt(struct db_stmt *s, const char *sql,
					 const struct db_value *p, int n)
{
	*s = (struct db_stmt){ .sql = sql, .params = p, .nparams = n };
	return s + 1;
}

/* Statements the single insert and the batch share (store_write.c):
 * upgrade insert ($1..$15: STORE_UPGRADE_COLS, ON CONFLICT DO NOTHING),
 * event append ($1 upgrade, $2 state, $3 reason, $4 at_us, $5 source; seq
 * the next one: run it under the upgrade's row lock), instance known ($1). */
extern const char store_sql_upgrade_insert[];
#define STORE_UPGRADE_PARAMS 15
/* store_sql_upgrade_insert's values for up, a NEW record created at created_us. */
void store_upgrade_params(const struct fleet_upgrade *up, const char *reason, int64_t created_us,
			  struct db_value p[STORE_UPGRADE_PARAMS]);
extern const char store_sql_event[];
extern const char store_sql_instance_known[];

/* Marks superseded[i] (count of them) for each heartbeat item that a newer
 * one of the same instance in the batch, or an equally new later one,
 * makes invisible: writing it could change nothing that stays.  Items
 * refused already (result -1) are skipped.  0, or -1 out of memory. */
int store_coalesce(const struct fleet_batch_item *items, size_t count, unsigned char *superseded);

/* One item of fleet_store_batch() while its statements run (store_batch.c,
 * store_rows.c). */
struct store_run {
	struct fleet_batch_item *item;
	char reason[FLEET_REASON_MAX];		/* cleaned */
	const char *instance_id, *from_version, *to_version;	/* reports: "" for NULL */
	int64_t at_us;				/* inserts: created; reports: sent */
	struct db_value first[STORE_UPGRADE_PARAMS];	/* insert, create or heartbeat upsert */
	struct db_value update[11];		/* a report's UPDATE */
	struct db_value id[1];			/* the upgrade's id: SELECT */
	struct db_value event[5];
	struct db_value instance[1];		/* a created record's instance */
	struct db_value cast[6];		/* an inserted record's cast (the outbox) */
	struct db_stmt *decide;			/* its round 1 statements (NULL: none) */
	int creates;				/* round 1 began with a create */
	char stored[FLEET_INSTANCE_MAX];	/* the record's instance, "" if none */
	int created, updated;			/* store_rows.c: what its rows did */
	int superseded;				/* a heartbeat store_coalesce() hides */
};

/* The batch's reports and heartbeats (no inserts: those go one by one)
 * as multi-row statements, in two rounds (store_rows.c); runs' report
 * fields set and superseded heartbeats marked by the caller.  Sets each
 * item's result as the per-item statements would.  0; 1 when the batch
 * does not suit them (nothing ran: run it per item); -1 the backend
 * failed. */
int store_rows_tx(struct db *db, struct store_run *runs, size_t count, struct error *err);
/* A report that changed nothing: a repeat or a late one (0), or one the
 * store refuses (-1, the item's err set). */
int store_report_unapplied(struct store_run *run);

/* The driving lock named by key (store_lock.c): 1 when this connection
 * holds it (always on SQLite), 0 not, -1; take: take it if free. */
int store_lock_held(struct db *db, const char *key, struct error *err);
int store_lock_take(struct db *db, const char *key, int *held, struct error *err);
/* The bigint a lock key is taken as (what pg_locks shows of it). */
int64_t store_lock_key(const char *key);
int store_lock_release(struct db *db, const char *key, struct error *err);
/* Takes key's lock until the transaction ends (PostgreSQL; SQLite's
 * BEGIN IMMEDIATE serializes writers already).  0, -1. */
int store_lock_tx(struct db *db, const char *key, struct error *err);
/* The policy's lock (its key made from its id: store_policy.c). */
int store_policy_lock_held(struct db *db, const char *id, struct error *err);

#endif
