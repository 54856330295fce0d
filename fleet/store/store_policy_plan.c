/* store_policy_plan.c: what a policy's driver asks of the store (see
 * store/fleet_store_policy.h): a page of candidates, the in-flight and
 * budget counts, the plan-then-confirm steps of its casts.  Every rule
 * about what counts is one SQL fragment below, shared by the queries. */
#include <stdio.h>
#include <string.h>

#include "store/fleet_store_policy.h"
#include "store/store_internal.h"

/* A FAILED of the policy that is a refusal (not counted in the budget). */
#define PLAN_REFUSAL \
	" (reason LIKE '" FLEET_POLICY_REFUSED_GUEST "'" \
	" OR reason LIKE '" FLEET_POLICY_REFUSED_CAP "')"

/* The candidates, ORDER BY id after $1.  $2 target, $3 SUCCESS, $4 the
 * policy, $5 FAILED, $6 cap_fixed_low, $7 retry_after, $8 now - retry_after,
 * $9 limit + 1.  A guest's refusal is never retried; a cap refusal while
 * the instance still reports 1.0 or nothing (or the configured cap is too
 * low); any other FAILED for retry_after (for ever with 0); a SUCCESS of
 * the policy until a heartbeat after it (the version stored is the old
 * one until then: without this, a second cast). */
static const char plan_sql_candidates[] =
	"SELECT i.id, i.agent_version, i.rpc_api_version FROM instances i"
	" WHERE i.id > $1 AND i.agent_version <> '' AND i.agent_version <> $2"
	" AND NOT EXISTS (SELECT 1 FROM upgrades u WHERE u.instance_id = i.id AND u.state < $3)"
	" AND NOT EXISTS (SELECT 1 FROM upgrades u WHERE u.instance_id = i.id"
	"  AND u.policy_id = $4 AND u.state = $5"
	"  AND (u.reason LIKE '" FLEET_POLICY_REFUSED_GUEST "'"
	"   OR (u.reason LIKE '" FLEET_POLICY_REFUSED_CAP "'"
	"    AND ($6 = 1 OR i.rpc_api_version IN ('', '1.0')))"
	"   OR (u.reason NOT LIKE '" FLEET_POLICY_REFUSED_CAP "'"
	"    AND ($7 = 0 OR u.updated_us > $8))))"
	" AND NOT EXISTS (SELECT 1 FROM upgrades u WHERE u.instance_id = i.id"
	"  AND u.policy_id = $4 AND u.state = $3 AND u.updated_us >= i.last_seen_us)"
	" ORDER BY i.id LIMIT $9";

/* In flight: $1 policy, $2 SUCCESS, $3 now - probation. */
static const char plan_sql_in_flight[] =
	"SELECT COUNT(*) FROM upgrades WHERE policy_id = $1"
	" AND (state < $2 OR (state = $2 AND updated_us > $3))";

/* The budget: $1 policy, $2 SUCCESS, $3 now - probation, $4 FAILED,
 * $5 budget_window. */
static const char plan_sql_budget[] =
	"SELECT COUNT(*), COALESCE(SUM(CASE WHEN state = $4 THEN 1 ELSE 0 END), 0) FROM"
	" (SELECT state FROM upgrades WHERE policy_id = $1"
	"  AND ((state = $4 AND NOT" PLAN_REFUSAL ") OR (state = $2 AND updated_us <= $3))"
	"  ORDER BY updated_us DESC, id DESC LIMIT $5) last";

struct plan_page {
	struct fleet_policy_candidate *out;
	size_t max, count;
	int more;
};

static int plan_candidate_row(void *ctx, const char *const *cols, int ncols, struct error *err)
{
	struct plan_page *p = ctx;
	struct fleet_policy_candidate *c;

	if (ncols != 3)
		return error_set(err, "store: unexpected candidate row");
	if (p->count == p->max) {
		p->more = 1;
		return 0;
	}
	c = &p->out[p->count++];
	db_copy_text(c->id, sizeof c->id, cols[0]);
	db_copy_text(c->agent_version, sizeof c->agent_version, cols[1]);
	db_copy_text(c->rpc_api_version, sizeof c->rpc_api_version, cols[2]);
	return 0;
}

struct plan_query {
	const struct fleet_policy *policy;
	const char *marker;
	int cap_fixed_low;
	int64_t now_us;
	struct plan_page page;
	struct fleet_policy_counts *counts;
};

static int plan_candidates_read(struct db *db, void *ctx, struct error *err)
{
	struct plan_query *q = ctx;
	const struct fleet_policy *p = q->policy;
	struct db_value v[] = { DB_T(q->marker), DB_T(p->to_version), DB_I(FLEET_SUCCESS),
				DB_T(p->id), DB_I(FLEET_FAILED), DB_I(q->cap_fixed_low != 0),
				DB_I(p->retry_after_us), DB_I(q->now_us - p->retry_after_us),
				DB_I((int64_t)q->page.max + 1) };

	return db_exec(db, plan_sql_candidates, v, 9, plan_candidate_row, &q->page, NULL, err);
}

int fleet_store_policy_candidates(struct fleet_store *store, const struct fleet_policy *policy,
				  const char *marker, int cap_fixed_low, int64_t now_us,
				  struct fleet_policy_candidate *out, size_t limit, size_t *count,
				  int *more, struct error *err)
{
	struct plan_query q = { policy, marker ? marker : "", cap_fixed_low, now_us,
				{ out, limit, 0, 0 }, NULL };

	*count = 0;
	*more = 0;
	if (store_check_text(q.marker, FLEET_INSTANCE_MAX, 0, "marker", err) ||
	    store_check_text(policy->id, FLEET_ID_MAX, 0, "policy id", err) ||
	    store_check_text(policy->to_version, FLEET_VERSION_MAX, 0, "to_version", err))
		return -1;
	if (limit < 1 || limit > FLEET_PAGE_MAX)
		return store_invalid(err, "store: bad candidate limit"), -1;
	if (store_read(store, plan_candidates_read, &q, err))
		return -1;
	*count = q.page.count;
	*more = q.page.more;
	return 0;
}

static int plan_count_row(void *ctx, const char *const *cols, int ncols, struct error *err)
{
	size_t *out = ctx;
	int64_t v;
	int i;

	for (i = 0; i < ncols; i++) {
		if (db_parse_int(cols[i], "count", &v, err))
			return -1;
		out[i] = (size_t)v;
	}
	return 0;
}

static int plan_in_flight(struct db *db, const struct fleet_policy *p, int64_t now_us,
			  size_t *in_flight, struct error *err)
{
	struct db_value v[] = { DB_T(p->id), DB_I(FLEET_SUCCESS), DB_I(now_us - p->probation_us) };

	*in_flight = 0;
	return db_exec(db, plan_sql_in_flight, v, 3, plan_count_row, in_flight, NULL, err);
}

static int plan_counts_read(struct db *db, void *ctx, struct error *err)
{
	struct plan_query *q = ctx;
	const struct fleet_policy *p = q->policy;
	struct db_value v[] = { DB_T(p->id), DB_I(FLEET_SUCCESS), DB_I(q->now_us - p->probation_us),
				DB_I(FLEET_FAILED), DB_I(p->budget_window) };
	size_t budget[2] = { 0, 0 };

	if (plan_in_flight(db, p, q->now_us, &q->counts->in_flight, err) ||
	    db_exec(db, plan_sql_budget, v, 5, plan_count_row, budget, NULL, err))
		return -1;
	q->counts->finished = budget[0];
	q->counts->failed = budget[1];
	return 0;
}

int fleet_store_policy_counts(struct fleet_store *store, const struct fleet_policy *policy,
			      int64_t now_us, struct fleet_policy_counts *counts,
			      struct error *err)
{
	struct plan_query q = { .policy = policy, .now_us = now_us ? now_us : store_now_us(),
				.counts = counts };

	memset(counts, 0, sizeof *counts);
	if (store_check_text(policy->id, FLEET_ID_MAX, 0, "policy id", err))
		return -1;
	return store_read(store, plan_counts_read, &q, err);
}

struct plan_cast {
	const struct fleet_upgrade *ups;
	size_t n;
	int *planned;
	int64_t now_us;
	struct fleet_policy policy;	/* max_in_flight, probation: read in the tx */
	const char *const *upgrade_ids;	/* cast_done */
};

static int plan_policy_row(void *ctx, const char *const *cols, int ncols, struct error *err)
{
	struct fleet_policy *p = ctx;
	int64_t m;

	if (ncols != 2 || db_parse_int(cols[0], "max_in_flight", &m, err) ||
	    db_parse_int(cols[1], "probation_us", &p->probation_us, err))
		return error_set(err, "store: unexpected policy row");
	p->max_in_flight = (unsigned)m;
	return 0;
}

/* Lock (PostgreSQL), ACTIVE (its row locked until commit, so a pause
 * waits for this plan or is seen by it), its limits: 1 when this
 * transaction may plan, 0 not, -1. */
static int plan_may(struct db *db, struct plan_cast *c, struct error *err)
{
	struct db_value r[] = { DB_T(c->policy.id), DB_I(FLEET_POLICY_ACTIVE) };
	int64_t changes;
	int rc = store_policy_lock_held(db, c->policy.id, err);

	if (rc <= 0)
		return rc;
	if (db_exec(db, "UPDATE policies SET updated_us = updated_us WHERE id = $1 AND state = $2",
		    r, 2, NULL, NULL, &changes, err))
		return -1;
	if (!changes)
		return 0;
	return db_exec(db, "SELECT max_in_flight, probation_us FROM policies WHERE id = $1", r, 1,
		       plan_policy_row, &c->policy, NULL, err) ? -1 : 1;
}

/* One upgrade: 1 planned, 0 the instance has an unfinished upgrade, -1. */
static int plan_one(struct db *db, struct plan_cast *c, const struct fleet_upgrade *up,
		    struct error *err)
{
	struct db_value i[] = { DB_T(up->instance_id), DB_I(FLEET_SUCCESS) };
	struct db_value k[] = { DB_T(up->id), DB_T(up->policy_id), DB_T(up->instance_id) };
	struct store_insert insert = { .up = up, .created_us = c->now_us };
	size_t busy = 0;
	int rc;

	if (db_exec(db, "SELECT COUNT(*) FROM upgrades WHERE instance_id = $1 AND state < $2",
		    i, 2, plan_count_row, &busy, NULL, err))
		return -1;
	if (busy)
		return 0;
	store_clean_reason(insert.reason, up->reason);
	rc = store_insert_tx(db, &insert, err);
	if (rc == 1)
		return error_set(err, "store: upgrade id %s exists already", up->id);
	if (rc < 0 || db_exec(db, "INSERT INTO policy_casts (upgrade_id, policy_id, instance_id,"
				  " cast_us) VALUES ($1, $2, $3, 0)", k, 3, NULL, NULL, NULL, err))
		return -1;
	return 1;
}

static int plan_cast_tx(struct db *db, void *ctx, struct error *err)
{
	struct plan_cast *c = ctx;
	size_t in_flight, i;
	int rc = plan_may(db, c, err);

	if (rc <= 0)
		return rc;
	if (plan_in_flight(db, &c->policy, c->now_us, &in_flight, err))
		return -1;
	for (i = 0; i < c->n && in_flight < c->policy.max_in_flight; i++) {
		rc = plan_one(db, c, &c->ups[i], err);
		if (rc < 0)
			return -1;
		c->planned[i] = rc;
		in_flight += (size_t)rc;
	}
	return 0;
}

int fleet_store_policy_plan_many(struct fleet_store *store, const struct fleet_upgrade *ups,
				 size_t n, int *planned, struct error *err)
{
	struct plan_cast c = { .ups = ups, .n = n, .planned = planned, .now_us = store_now_us() };
	size_t i, count = 0;

	for (i = 0; i < n; i++) {
		planned[i] = 0;
		if (store_check_upgrade(&ups[i], err))
			return -1;
		if (!ups[i].policy_id[0] || strcmp(ups[i].policy_id, ups[0].policy_id))
			return store_invalid(err, "store: a policy's upgrade without its policy_id"),
			       -1;
	}
	if (!n)
		return 0;
	memcpy(c.policy.id, ups[0].policy_id, sizeof c.policy.id);
	if (store_tx(store, plan_cast_tx, &c, err) < 0) {
		for (i = 0; i < n; i++)
			planned[i] = 0;	/* rolled back */
		return -1;
	}
	for (i = 0; i < n; i++)
		count += (size_t)planned[i];
	return (int)count;
}

struct plan_rows {
	const char *id;
	struct fleet_upgrade *out;
	size_t max, count;
};

static int plan_upgrade_row(void *ctx, const char *const *cols, int ncols, struct error *err)
{
	struct plan_rows *r = ctx;

	if (r->count == r->max)
		return error_set(err, "store: unexpected upgrade row");
	return store_row_upgrade(cols, ncols, &r->out[r->count++], err);
}

static int plan_unconfirmed_read(struct db *db, void *ctx, struct error *err)
{
	struct plan_rows *r = ctx;
	struct db_value p[] = { DB_T(r->id), DB_I((int64_t)r->max) };

	return db_exec(db, "SELECT " STORE_UPGRADE_COLS " FROM upgrades WHERE id IN"
			   " (SELECT upgrade_id FROM policy_casts WHERE policy_id = $1"
			   " AND cast_us = 0) ORDER BY created_us, id LIMIT $2",
		       p, 2, plan_upgrade_row, r, NULL, err);
}

int fleet_store_policy_unconfirmed(struct fleet_store *store, const char *id,
				   struct fleet_upgrade *ups, size_t max, size_t *count,
				   struct error *err)
{
	struct plan_rows r = { id, ups, max, 0 };

	*count = 0;
	if (store_check_text(id, FLEET_ID_MAX, 0, "policy id", err))
		return -1;
	if (max < 1 || max > FLEET_PAGE_MAX)
		return store_invalid(err, "store: bad unconfirmed limit"), -1;
	if (store_read(store, plan_unconfirmed_read, &r, err))
		return -1;
	*count = r.count;
	return 0;
}

struct plan_overdue {
	struct plan_rows rows;
	int64_t before_us;
};

static int plan_overdue_read(struct db *db, void *ctx, struct error *err)
{
	struct plan_overdue *o = ctx;
	struct db_value p[] = { DB_T(o->rows.id), DB_I((int64_t)o->rows.max), DB_I(o->before_us),
				DB_I(FLEET_SUCCESS), DB_I(FLEET_FAILED) };

	return db_exec(db, "SELECT " STORE_UPGRADE_COLS " FROM upgrades WHERE id IN"
			   " (SELECT upgrade_id FROM policy_casts WHERE policy_id = $1"
			   " AND cast_us > 0 AND cast_us < $3) AND state <> $4 AND state <> $5"
			   " ORDER BY created_us, id LIMIT $2",
		       p, 5, plan_upgrade_row, &o->rows, NULL, err);
}

int fleet_store_policy_overdue(struct fleet_store *store, const char *id, int64_t cast_before_us,
			       struct fleet_upgrade *ups, size_t max, size_t *count,
			       struct error *err)
{
	struct plan_overdue o = { { id, ups, max, 0 }, cast_before_us };

	*count = 0;
	if (store_check_text(id, FLEET_ID_MAX, 0, "policy id", err))
		return -1;
	if (max < 1 || max > FLEET_PAGE_MAX)
		return store_invalid(err, "store: bad overdue limit"), -1;
	if (store_read(store, plan_overdue_read, &o, err))
		return -1;
	*count = o.rows.count;
	return 0;
}

static int plan_done_tx(struct db *db, void *ctx, struct error *err)
{
	struct plan_cast *c = ctx;
	size_t i;

	for (i = 0; i < c->n; i++) {
		struct db_value p[] = { DB_T(c->upgrade_ids[i]), DB_I(c->now_us) };

		if (db_exec(db, "UPDATE policy_casts SET cast_us = $2"
				" WHERE upgrade_id = $1 AND cast_us = 0",
			    p, 2, NULL, NULL, NULL, err))
			return -1;
	}
	return 0;
}

int fleet_store_policy_cast_done_many(struct fleet_store *store, const char *const *upgrade_ids,
				      size_t n, int64_t cast_us, struct error *err)
{
	struct plan_cast c = { .n = n, .upgrade_ids = upgrade_ids,
			       .now_us = cast_us > 0 ? cast_us : store_now_us() };
	size_t i;

	for (i = 0; i < n; i++)
		if (store_check_text(upgrade_ids[i], FLEET_ID_MAX, 0, "upgrade id", err))
			return -1;
	return n ? store_tx(store, plan_done_tx, &c, err) : 0;
}
