/* store_policy.c: policy rows: insert, get, list, delete, state changes,
 * and the per-policy driving lock (see store/fleet_store_policy.h).  Their
 * candidates and casts are store_policy_plan.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/fleet_store_policy.h"
#include "store/store_internal.h"

static const char *const policy_state_names[FLEET_POLICY_STATE_COUNT] = {
	[FLEET_POLICY_ACTIVE] = "ACTIVE", [FLEET_POLICY_PAUSED] = "PAUSED",
	[FLEET_POLICY_HALTED] = "HALTED",
};

const char *fleet_policy_state_name(enum fleet_policy_state state)
{
	return (unsigned)state < FLEET_POLICY_STATE_COUNT ? policy_state_names[state] : "?";
}

int fleet_policy_state_parse(const char *name, enum fleet_policy_state *state)
{
	unsigned i;

	for (i = 0; name && i < FLEET_POLICY_STATE_COUNT; i++) {
		if (!strcmp(name, policy_state_names[i])) {
			*state = (enum fleet_policy_state)i;
			return 0;
		}
	}
	return -1;
}

#define POLICY_COLS \
	"id, tenant, state, reason, to_version, strategy, location, sha256, metadata," \
	" instances, min_version, max_version, time_window, cast_interval_us, max_in_flight," \
	" probation_us, max_failures, budget_window, retry_after_us, created_us, updated_us," \
	" timeout_us"
#define POLICY_NCOLS 22
#define POLICY_TEXTS 13		/* the text columns come first */

/* The text fields in column order, for the row, the insert and the checks. */
#define POLICY_TEXT_FIELDS(p) { \
	{ (p)->id, sizeof (p)->id, "id" }, { (p)->tenant, sizeof (p)->tenant, "tenant" }, \
	{ NULL, 0, "state" }, { (p)->reason, sizeof (p)->reason, "reason" }, \
	{ (p)->to_version, sizeof (p)->to_version, "to_version" }, \
	{ (p)->strategy, sizeof (p)->strategy, "strategy" }, \
	{ (p)->location, sizeof (p)->location, "location" }, \
	{ (p)->sha256, sizeof (p)->sha256, "sha256" }, \
	{ (p)->metadata, sizeof (p)->metadata, "metadata" }, \
	{ (p)->instances, sizeof (p)->instances, "instances" }, \
	{ (p)->min_version, sizeof (p)->min_version, "min_version" }, \
	{ (p)->max_version, sizeof (p)->max_version, "max_version" }, \
	{ (p)->window, sizeof (p)->window, "window" } }

struct policy_text {
	char *text;
	size_t size;
	const char *name;
};

static int policy_row(const char *const *cols, int ncols, struct fleet_policy *p,
		      struct error *err)
{
	struct policy_text f[POLICY_TEXTS] = POLICY_TEXT_FIELDS(p);
	int64_t n[POLICY_NCOLS - POLICY_TEXTS], state;
	int i;

	if (ncols != POLICY_NCOLS)
		return error_set(err, "store: policy row has %d columns", ncols);
	memset(p, 0, sizeof *p);
	for (i = 0; i < POLICY_TEXTS; i++)
		if (f[i].text)
			db_copy_text(f[i].text, f[i].size, cols[i]);
	for (i = 0; i < POLICY_NCOLS - POLICY_TEXTS; i++)
		if (db_parse_int(cols[POLICY_TEXTS + i], "policy column", &n[i], err))
			return -1;
	if (db_parse_int(cols[2], "state", &state, err))
		return -1;
	if (state < 0 || state >= FLEET_POLICY_STATE_COUNT)
		return error_set(err, "store: stored policy state %lld", (long long)state);
	p->state = (enum fleet_policy_state)state;
	p->cast_interval_us = n[0];
	p->max_in_flight = (unsigned)n[1];
	p->probation_us = n[2];
	p->max_failures = (unsigned)n[3];
	p->budget_window = (unsigned)n[4];
	p->retry_after_us = n[5];
	p->created_us = n[6];
	p->updated_us = n[7];
	p->timeout_us = n[8];
	return 0;
}

static int policy_check(const struct fleet_policy *p, struct error *err)
{
	struct policy_text f[POLICY_TEXTS] = POLICY_TEXT_FIELDS((struct fleet_policy *)p);
	int i;

	for (i = 0; i < POLICY_TEXTS; i++)
		if (f[i].text && store_check_text(f[i].text, f[i].size, 0, f[i].name, err))
			return -1;
	if (!p->id[0] || !p->to_version[0] || (unsigned)p->state >= FLEET_POLICY_STATE_COUNT ||
	    p->cast_interval_us <= 0 || !p->max_in_flight || !p->budget_window ||
	    p->max_failures > p->budget_window || p->probation_us < 0 || p->retry_after_us < 0 ||
	    p->timeout_us <= 0)
		return store_invalid(err, "store: policy %s: bad id, target, state or numbers",
				     p->id), -1;
	return 0;
}

struct policy_insert {
	const struct fleet_policy *p;
	fleet_policy_conflict_fn conflicts;
	struct fleet_policy row;	/* a live policy of the tenant, while checked */
	struct fleet_policy *other;	/* the first conflict, may be NULL */
	int conflict;
};

static int policy_conflict_row(void *ctx, const char *const *cols, int ncols, struct error *err)
{
	struct policy_insert *ins = ctx;

	if (ins->conflict)
		return 0;
	if (policy_row(cols, ncols, &ins->row, err))
		return -1;
	if (!strcmp(ins->row.id, ins->p->id) || !ins->conflicts(ins->p, &ins->row))
		return 0;
	ins->conflict = 1;
	if (ins->other)
		*ins->other = ins->row;
	return 0;
}

/* The tenant's live policies, one row at a time, under the tenant's lock. */
static int policy_conflicts(struct db *db, struct policy_insert *ins, struct error *err)
{
	struct db_value p[] = { DB_T(ins->p->tenant), DB_I(FLEET_POLICY_ACTIVE),
				DB_I(FLEET_POLICY_PAUSED) };
	char key[FLEET_ID_MAX + 16];

	snprintf(key, sizeof key, "policies/%s", ins->p->tenant);
	if (store_lock_tx(db, key, err))
		return -1;
	return db_exec(db, "SELECT " POLICY_COLS " FROM policies WHERE tenant = $1"
			   " AND state IN ($2, $3) ORDER BY id", p, 3, policy_conflict_row, ins,
		       NULL, err);
}

static int policy_insert_tx(struct db *db, void *ctx, struct error *err)
{
	struct policy_insert *ins = ctx;
	const struct fleet_policy *p = ins->p;
	struct db_value v[POLICY_NCOLS] = {
		DB_T(p->id), DB_T(p->tenant), DB_I(p->state), DB_T(p->reason),
		DB_T(p->to_version), DB_T(p->strategy), DB_T(p->location), DB_T(p->sha256),
		DB_T(p->metadata), DB_T(p->instances), DB_T(p->min_version), DB_T(p->max_version),
		DB_T(p->window), DB_I(p->cast_interval_us), DB_I(p->max_in_flight),
		DB_I(p->probation_us), DB_I(p->max_failures), DB_I(p->budget_window),
		DB_I(p->retry_after_us), DB_I(p->created_us), DB_I(p->created_us),
		DB_I(p->timeout_us),
	};
	int64_t changes;

	if (ins->conflicts && policy_conflicts(db, ins, err))
		return -1;
	if (ins->conflict)
		return 2;
	if (db_exec(db, "INSERT INTO policies (" POLICY_COLS ") VALUES ($1, $2, $3, $4, $5, $6,"
			" $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)"
			" ON CONFLICT (id) DO NOTHING",
		    v, POLICY_NCOLS, NULL, NULL, &changes, err))
		return -1;
	return changes ? 0 : 1;
}

int fleet_store_policy_insert(struct fleet_store *store, const struct fleet_policy *policy,
			      fleet_policy_conflict_fn conflicts, struct fleet_policy *other,
			      struct error *err)
{
	struct policy_insert *ins;
	struct fleet_policy p;
	int rc;

	if (policy_check(policy, err))
		return -1;
	p = *policy;
	store_clean_reason(p.reason, policy->reason);
	if (!p.created_us)
		p.created_us = store_now_us();
	if (!(ins = calloc(1, sizeof *ins)))	/* two policies: not on the stack */
		return error_set(err, "store: out of memory");
	*ins = (struct policy_insert){ .p = &p, .conflicts = conflicts, .other = other };
	rc = store_tx(store, policy_insert_tx, ins, err);
	free(ins);
	return rc;
}

struct policy_rows {
	struct fleet_policy *out;
	size_t max, count;
	int more;
	const char *id;
	const struct fleet_policy_filter *filter;
};

static int policy_row_fn(void *ctx, const char *const *cols, int ncols, struct error *err)
{
	struct policy_rows *r = ctx;

	if (r->count == r->max) {
		r->more = 1;
		return 0;
	}
	return policy_row(cols, ncols, &r->out[r->count++], err);
}

static int policy_get_read(struct db *db, void *ctx, struct error *err)
{
	struct policy_rows *r = ctx;
	struct db_value p[] = { DB_T(r->id) };

	if (db_exec(db, "SELECT " POLICY_COLS " FROM policies WHERE id = $1", p, 1,
		    policy_row_fn, r, NULL, err))
		return -1;
	return r->count > 0;
}

int fleet_store_policy_get(struct fleet_store *store, const char *id,
			   struct fleet_policy *policy, struct error *err)
{
	struct policy_rows r = { .out = policy, .max = 1, .id = id };

	if (store_check_text(id, FLEET_ID_MAX, 0, "policy id", err))
		return -1;
	return store_read(store, policy_get_read, &r, err);
}

static int policy_created_row(void *ctx, const char *const *cols, int ncols, struct error *err)
{
	if (ncols != 1)
		return error_set(err, "store: unexpected marker row");
	return db_parse_int(cols[0], "created_us", ctx, err);
}

/* The filter's fixed fragments; values stay parameters.  The state mask
 * is FLEET_POLICY_STATE_COUNT parameters, -1 for the states left out. */
static int policy_list_read(struct db *db, void *ctx, struct error *err)
{
	struct policy_rows *r = ctx;
	const struct fleet_policy_filter *f = r->filter;
	struct db_value p[6 + FLEET_POLICY_STATE_COUNT];
	char sql[640];
	size_t used;
	int64_t created = -1;
	int n = 0;
	unsigned s;

	if (f->marker) {
		p[0] = DB_T(f->marker);
		if (db_exec(db, "SELECT created_us FROM policies WHERE id = $1", p, 1,
			    policy_created_row, &created, NULL, err))
			return -1;
		if (created < 0)
			return 1;
	}
	used = (size_t)snprintf(sql, sizeof sql, "SELECT " POLICY_COLS " FROM policies WHERE TRUE");
#define LIST_APPEND(...) (used += (size_t)snprintf(sql + used, sizeof sql - used, __VA_ARGS__))
	if (f->tenant) {
		p[n++] = DB_T(f->tenant);
		LIST_APPEND(" AND tenant = $%d", n);
	}
	if (f->state_mask) {
		for (s = 0; s < FLEET_POLICY_STATE_COUNT; s++)
			p[n++] = DB_I(f->state_mask & FLEET_POLICY_BIT(s) ? (int64_t)s : -1);
		LIST_APPEND(" AND state IN ($%d, $%d, $%d)", n - 2, n - 1, n);
	}
	if (f->marker) {
		p[n++] = DB_I(created);
		p[n++] = DB_T(f->marker);
		LIST_APPEND(" AND (created_us < $%d OR (created_us = $%d AND id < $%d))",
			    n - 1, n - 1, n);
	}
	p[n++] = DB_I((int64_t)f->limit + 1);
	LIST_APPEND(" ORDER BY created_us DESC, id DESC LIMIT $%d", n);
#undef LIST_APPEND
	return db_exec(db, sql, p, n, policy_row_fn, r, NULL, err);
}

int fleet_store_policy_list(struct fleet_store *store, const struct fleet_policy_filter *filter,
			    struct fleet_policy *policies, size_t *count, int *more,
			    struct error *err)
{
	struct policy_rows r = { .out = policies, .max = filter->limit, .filter = filter };
	int rc;

	*count = 0;
	*more = 0;
	if (store_check_text(filter->marker, FLEET_ID_MAX, 1, "marker", err) ||
	    store_check_text(filter->tenant, FLEET_ID_MAX, 1, "tenant", err))
		return -1;
	if (filter->limit < 1 || filter->limit > FLEET_PAGE_MAX ||
	    filter->state_mask >= FLEET_POLICY_BIT(FLEET_POLICY_STATE_COUNT))
		return store_invalid(err, "store: bad policy list limit or states"), -1;
	rc = store_read(store, policy_list_read, &r, err);
	if (rc == 0) {
		*count = r.count;
		*more = r.more;
	}
	return rc;
}

static int policy_delete_tx(struct db *db, void *ctx, struct error *err)
{
	struct db_value p[] = { DB_T(ctx) };
	int64_t changes;

	if (db_exec(db, "DELETE FROM policy_casts WHERE policy_id = $1", p, 1, NULL, NULL, NULL,
		    err) ||
	    db_exec(db, "DELETE FROM policies WHERE id = $1", p, 1, NULL, NULL, &changes, err))
		return -1;
	return changes > 0;
}

int fleet_store_policy_delete(struct fleet_store *store, const char *id, struct error *err)
{
	if (store_check_text(id, FLEET_ID_MAX, 0, "policy id", err))
		return -1;
	return store_tx(store, policy_delete_tx, (void *)id, err);
}

struct policy_move {
	const char *id;
	unsigned from_mask;
	enum fleet_policy_state to, current;
	const char *reason;		/* NULL: keep */
	char clean[FLEET_REASON_MAX];
};

static int policy_state_row(void *ctx, const char *const *cols, int ncols, struct error *err)
{
	int64_t v;

	if (ncols != 1 || db_parse_int(cols[0], "state", &v, err))
		return error_set(err, "store: unexpected policy state row");
	*(enum fleet_policy_state *)ctx = v >= 0 && v < FLEET_POLICY_STATE_COUNT ?
		(enum fleet_policy_state)v : FLEET_POLICY_STATE_COUNT;
	return 0;
}

static int policy_transition_tx(struct db *db, void *ctx, struct error *err)
{
	struct policy_move *m = ctx;
	struct db_value p[5 + FLEET_POLICY_STATE_COUNT] = {
		DB_T(m->id), DB_I(m->to), DB_T(m->clean), DB_I(m->reason != NULL),
		DB_I(store_now_us()),
	};
	struct db_value q[] = { DB_T(m->id) };
	int64_t changes;
	unsigned s;

	for (s = 0; s < FLEET_POLICY_STATE_COUNT; s++)
		p[5 + s] = DB_I(m->from_mask & FLEET_POLICY_BIT(s) ? (int64_t)s : -1);
	if (db_exec(db, "UPDATE policies SET state = $2, updated_us = $5,"
			" reason = CASE WHEN $4 = 1 THEN $3 ELSE reason END"
			" WHERE id = $1 AND state IN ($6, $7, $8)",
		    p, 5 + FLEET_POLICY_STATE_COUNT, NULL, NULL, &changes, err))
		return -1;
	if (changes)
		return 1;
	m->current = FLEET_POLICY_STATE_COUNT;
	return db_exec(db, "SELECT state FROM policies WHERE id = $1", q, 1, policy_state_row,
		       &m->current, NULL, err) ? -1 : 0;
}

int fleet_store_policy_transition(struct fleet_store *store, const char *id,
				  unsigned from_mask, enum fleet_policy_state to,
				  const char *reason, enum fleet_policy_state *current,
				  struct error *err)
{
	struct policy_move m = { .id = id, .from_mask = from_mask, .to = to, .reason = reason };
	int rc;

	if (store_check_text(id, FLEET_ID_MAX, 0, "policy id", err))
		return -1;
	if ((unsigned)to >= FLEET_POLICY_STATE_COUNT)
		return store_invalid(err, "store: policy state %d is not a state", (int)to), -1;
	store_clean_reason(m.clean, reason);
	rc = store_tx(store, policy_transition_tx, &m, err);
	if (current)
		*current = rc == 1 ? to : m.current;
	return rc;
}

struct policy_ids {
	char (*ids)[FLEET_ID_MAX];
	size_t max, count;
};

static int policy_id_row(void *ctx, const char *const *cols, int ncols, struct error *err)
{
	struct policy_ids *r = ctx;

	if (ncols != 1)
		return error_set(err, "store: unexpected policy id row");
	if (r->count < r->max)
		db_copy_text(r->ids[r->count++], FLEET_ID_MAX, cols[0]);
	return 0;
}

static int policy_active_read(struct db *db, void *ctx, struct error *err)
{
	struct policy_ids *r = ctx;
	struct db_value p[] = { DB_I(FLEET_POLICY_ACTIVE), DB_I((int64_t)r->max) };

	return db_exec(db, "SELECT id FROM policies WHERE state = $1"
			   " ORDER BY created_us, id LIMIT $2",
		       p, 2, policy_id_row, r, NULL, err);
}

int fleet_store_policy_active(struct fleet_store *store, char (*ids)[FLEET_ID_MAX], size_t max,
			      size_t *count, struct error *err)
{
	struct policy_ids r = { .ids = ids, .max = max };

	*count = 0;
	if (max == 0)
		return 0;
	if (store_read(store, policy_active_read, &r, err))
		return -1;
	*count = r.count;
	return 0;
}

/* Policies and rollouts share the lock space: a prefix keeps them apart. */
static void policy_lock_key(char *key, size_t size, const char *id)
{
	snprintf(key, size, "policy/%s", id);
}

struct policy_lock {
	char key[FLEET_ID_MAX + 8];
	int held;
};

static int policy_lock_read(struct db *db, void *ctx, struct error *err)
{
	struct policy_lock *l = ctx;

	return store_lock_take(db, l->key, &l->held, err);
}

int fleet_store_policy_lock(struct fleet_store *store, const char *id, int *held,
			    struct error *err)
{
	struct policy_lock l = { "", 0 };

	*held = 0;
	if (store_check_text(id, FLEET_ID_MAX, 0, "policy id", err))
		return -1;
	policy_lock_key(l.key, sizeof l.key, id);
	if (store_read(store, policy_lock_read, &l, err))
		return -1;
	*held = l.held;
	return 0;
}

static int policy_unlock_read(struct db *db, void *ctx, struct error *err)
{
	return store_lock_release(db, ((struct policy_lock *)ctx)->key, err);
}

int fleet_store_policy_unlock(struct fleet_store *store, const char *id, struct error *err)
{
	struct policy_lock l = { "", 0 };

	if (store_check_text(id, FLEET_ID_MAX, 0, "policy id", err))
		return -1;
	policy_lock_key(l.key, sizeof l.key, id);
	return store_read(store, policy_unlock_read, &l, err);
}

/* For store_policy_plan.c: 1 when this connection may plan for the policy. */
int store_policy_lock_held(struct db *db, const char *id, struct error *err)
{
	char key[FLEET_ID_MAX + 8];

	policy_lock_key(key, sizeof key, id);
	return store_lock_held(db, key, err);
}
