/* store_rollout.c: rollout rows: insert (with the plan), get, list, state
 * changes, and the per-rollout driving lock (see
 * store/fleet_store_rollout.h).  The targets' side is store_rollout_plan.c. */
#include <stdio.h>
#include <string.h>

#include "store/fleet_store_rollout.h"
#include "store/store_internal.h"

static const char *const rollout_state_names[FLEET_ROLLOUT_STATE_COUNT] = {
	[FLEET_ROLLOUT_RUNNING] = "RUNNING",	 [FLEET_ROLLOUT_PAUSED] = "PAUSED",
	[FLEET_ROLLOUT_HALTED] = "HALTED",	 [FLEET_ROLLOUT_CANCELLED] = "CANCELLED",
	[FLEET_ROLLOUT_FINISHED] = "FINISHED",
};

const char *fleet_rollout_state_name(enum fleet_rollout_state state)
{
	if ((unsigned)state >= FLEET_ROLLOUT_STATE_COUNT)
		return "?";
	return rollout_state_names[state];
}

int fleet_rollout_state_parse(const char *name, enum fleet_rollout_state *state)
{
	unsigned i;

	for (i = 0; name && i < FLEET_ROLLOUT_STATE_COUNT; i++) {
		if (!strcmp(name, rollout_state_names[i])) {
			*state = (enum fleet_rollout_state)i;
			return 0;
		}
	}
	return -1;
}

#define ROLLOUT_COLS \
	"id, tenant, state, reason, to_version, strategy, location, sha256, metadata," \
	" selector, waves, wave_count, current_wave, max_failure_ppm, cast_interval_us," \
	" probation_us, timeout_us, created_us, updated_us"
#define ROLLOUT_NCOLS 19

static int rollout_parse_state(const char *text, enum fleet_rollout_state *state,
			       struct error *err)
{
	int64_t v;

	if (db_parse_int(text, "state", &v, err))
		return -1;
	if (v < 0 || v >= FLEET_ROLLOUT_STATE_COUNT)
		return error_set(err, "store: stored rollout state %lld is not a state", (long long)v);
	*state = (enum fleet_rollout_state)v;
	return 0;
}

static int rollout_row(const char *const *cols, int ncols, struct fleet_rollout *r,
		       struct error *err)
{
	int64_t n[8];
	static const char *const names[8] = { "wave_count", "current_wave", "max_failure_ppm",
		"cast_interval_us", "probation_us", "timeout_us", "created_us", "updated_us" };
	int i;

	if (ncols != ROLLOUT_NCOLS)
		return error_set(err, "store: rollout row has %d columns", ncols);
	memset(r, 0, sizeof *r);
	db_copy_text(r->id, sizeof r->id, cols[0]);
	db_copy_text(r->tenant, sizeof r->tenant, cols[1]);
	db_copy_text(r->reason, sizeof r->reason, cols[3]);
	db_copy_text(r->to_version, sizeof r->to_version, cols[4]);
	db_copy_text(r->strategy, sizeof r->strategy, cols[5]);
	db_copy_text(r->location, sizeof r->location, cols[6]);
	db_copy_text(r->sha256, sizeof r->sha256, cols[7]);
	db_copy_text(r->metadata, sizeof r->metadata, cols[8]);
	db_copy_text(r->selector, sizeof r->selector, cols[9]);
	db_copy_text(r->waves, sizeof r->waves, cols[10]);
	if (rollout_parse_state(cols[2], &r->state, err))
		return -1;
	for (i = 0; i < 8; i++)
		if (db_parse_int(cols[11 + i], names[i], &n[i], err))
			return -1;
	r->wave_count = (unsigned)n[0];
	r->current_wave = (unsigned)n[1];
	r->max_failure_ppm = (uint32_t)n[2];
	r->cast_interval_us = n[3];
	r->probation_us = n[4];
	r->timeout_us = n[5];
	r->created_us = n[6];
	r->updated_us = n[7];
	return 0;
}

struct rollout_insert {
	const struct fleet_rollout *r;
	const struct fleet_rollout_target *targets;
	size_t count;
	char reason[FLEET_REASON_MAX];
	int64_t created_us;
};

static int rollout_insert_targets(struct db *db, struct rollout_insert *c, struct error *err)
{
	int64_t changes;
	size_t i;

	for (i = 0; i < c->count; i++) {
		struct db_value p[] = { DB_T(c->r->id), DB_T(c->targets[i].instance_id),
					DB_I((int64_t)i), DB_I(c->targets[i].wave) };

		if (db_exec(db, "INSERT INTO rollout_targets (rollout_id, instance_id, seq, wave,"
				" upgrade_id, cast_us) VALUES ($1, $2, $3, $4, '', 0)"
				" ON CONFLICT (rollout_id, instance_id) DO NOTHING",
			    p, 4, NULL, NULL, &changes, err))
			return -1;
		if (!changes)
			return store_invalid(err, "store: rollout target %s given twice",
					     c->targets[i].instance_id);
	}
	return 0;
}

static int rollout_insert_tx(struct db *db, void *ctx, struct error *err)
{
	struct rollout_insert *c = ctx;
	const struct fleet_rollout *r = c->r;
	struct db_value p[] = {
		DB_T(r->id),	     DB_T(r->tenant),	   DB_I(r->state),
		DB_T(c->reason),     DB_T(r->to_version),  DB_T(r->strategy),
		DB_T(r->location),   DB_T(r->sha256),	   DB_T(r->metadata),
		DB_T(r->selector),   DB_T(r->waves),	   DB_I(r->wave_count),
		DB_I(r->current_wave), DB_I(r->max_failure_ppm), DB_I(r->cast_interval_us),
		DB_I(r->probation_us), DB_I(r->timeout_us), DB_I(c->created_us),
		DB_I(c->created_us),
	};
	int64_t changes;

	if (db_exec(db, "INSERT INTO rollouts (" ROLLOUT_COLS ") VALUES ($1, $2, $3, $4, $5, $6,"
			" $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
			" ON CONFLICT (id) DO NOTHING",
		    p, ROLLOUT_NCOLS, NULL, NULL, &changes, err))
		return -1;
	if (!changes)
		return 1;
	return rollout_insert_targets(db, c, err);
}

static int rollout_check(const struct fleet_rollout *r, const struct fleet_rollout_target *t,
			 size_t count, struct error *err)
{
	const struct {
		const char *text;
		size_t size;
		const char *name;
	} f[] = {
		{ r->id, sizeof r->id, "id" },
		{ r->tenant, sizeof r->tenant, "tenant" },
		{ r->to_version, sizeof r->to_version, "to_version" },
		{ r->strategy, sizeof r->strategy, "strategy" },
		{ r->location, sizeof r->location, "location" },
		{ r->sha256, sizeof r->sha256, "sha256" },
		{ r->metadata, sizeof r->metadata, "metadata" },
		{ r->selector, sizeof r->selector, "selector" },
		{ r->waves, sizeof r->waves, "waves" },
	};
	size_t i;

	for (i = 0; i < sizeof f / sizeof f[0]; i++)
		if (store_check_text(f[i].text, f[i].size, 0, f[i].name, err))
			return -1;
	if (!r->id[0] || (unsigned)r->state >= FLEET_ROLLOUT_STATE_COUNT || !r->wave_count ||
	    r->wave_count > FLEET_ROLLOUT_WAVES_MAX || r->current_wave >= r->wave_count ||
	    !count || count > FLEET_ROLLOUT_PAGE_MAX)
		return store_invalid(err, "store: rollout %s: bad id, state, waves or target count",
				     r->id), -1;
	for (i = 0; i < count; i++) {
		if (store_check_text(t[i].instance_id, sizeof t[i].instance_id, 0, "instance_id",
				     err))
			return -1;
		if (!t[i].instance_id[0] || t[i].wave >= r->wave_count)
			return store_invalid(err, "store: rollout target %zu: no instance or a wave"
						  " beyond the last", i), -1;
	}
	return 0;
}

int fleet_store_rollout_insert(struct fleet_store *store, const struct fleet_rollout *rollout,
			       const struct fleet_rollout_target *targets, size_t count,
			       struct error *err)
{
	struct rollout_insert c = { .r = rollout, .targets = targets, .count = count };

	if (rollout_check(rollout, targets, count, err))
		return -1;
	store_clean_reason(c.reason, rollout->reason);
	c.created_us = rollout->created_us ? rollout->created_us : store_now_us();
	return store_tx(store, rollout_insert_tx, &c, err);
}

struct rollout_rows {
	struct fleet_rollout *out;
	size_t max, count;
	int more;
	const char *id;
	const struct fleet_rollout_filter *filter;
};

static int rollout_row_fn(void *ctx, const char *const *cols, int ncols, struct error *err)
{
	struct rollout_rows *r = ctx;

	if (r->count == r->max) {
		r->more = 1;
		return 0;
	}
	return rollout_row(cols, ncols, &r->out[r->count++], err);
}

static int rollout_get_read(struct db *db, void *ctx, struct error *err)
{
	struct rollout_rows *r = ctx;
	struct db_value p[] = { DB_T(r->id) };

	if (db_exec(db, "SELECT " ROLLOUT_COLS " FROM rollouts WHERE id = $1", p, 1,
		    rollout_row_fn, r, NULL, err))
		return -1;
	return r->count > 0;
}

int fleet_store_rollout_get(struct fleet_store *store, const char *id,
			    struct fleet_rollout *rollout, struct error *err)
{
	struct rollout_rows r = { .out = rollout, .max = 1, .id = id };

	if (store_check_text(id, FLEET_ID_MAX, 0, "rollout id", err))
		return -1;
	return store_read(store, rollout_get_read, &r, err);
}

static int rollout_created_row(void *ctx, const char *const *cols, int ncols, struct error *err)
{
	if (ncols != 1)
		return error_set(err, "store: unexpected marker row");
	return db_parse_int(cols[0], "created_us", ctx, err);
}

static int rollout_list_read(struct db *db, void *ctx, struct error *err)
{
	struct rollout_rows *r = ctx;
	const struct fleet_rollout_filter *f = r->filter;
	struct db_value p[5];
	char sql[512];
	size_t used;
	int64_t created = -1;
	int n = 0;

	if (f->marker) {
		p[0] = DB_T(f->marker);
		if (db_exec(db, "SELECT created_us FROM rollouts WHERE id = $1", p, 1,
			    rollout_created_row, &created, NULL, err))
			return -1;
		if (created < 0)
			return 1;
	}
	used = (size_t)snprintf(sql, sizeof sql, "SELECT " ROLLOUT_COLS " FROM rollouts WHERE TRUE");
	if (f->has_state) {
		p[n++] = DB_I(f->state);
		used += (size_t)snprintf(sql + used, sizeof sql - used, " AND state = $%d", n);
	}
	if (f->marker) {
		p[n++] = DB_I(created);
		p[n++] = DB_T(f->marker);
		used += (size_t)snprintf(sql + used, sizeof sql - used,
					 " AND (created_us < $%d OR (created_us = $%d AND id < $%d))",
					 n - 1, n - 1, n);
	}
	p[n++] = DB_I((int64_t)f->limit + 1);
	snprintf(sql + used, sizeof sql - used, " ORDER BY created_us DESC, id DESC LIMIT $%d", n);
	return db_exec(db, sql, p, n, rollout_row_fn, r, NULL, err);
}

int fleet_store_rollout_list(struct fleet_store *store, const struct fleet_rollout_filter *filter,
			     struct fleet_rollout *rollouts, size_t *count, int *more,
			     struct error *err)
{
	struct rollout_rows r = { .out = rollouts, .max = filter->limit, .filter = filter };
	int rc;

	*count = 0;
	*more = 0;
	if (store_check_text(filter->marker, FLEET_ID_MAX, 1, "marker", err))
		return -1;
	if (filter->limit < 1 || filter->limit > FLEET_PAGE_MAX ||
	    (filter->has_state && (unsigned)filter->state >= FLEET_ROLLOUT_STATE_COUNT))
		return store_invalid(err, "store: bad rollout list limit or state"), -1;
	rc = store_read(store, rollout_list_read, &r, err);
	if (rc == 0) {
		*count = r.count;
		*more = r.more;
	}
	return rc;
}

struct rollout_ids {
	char (*ids)[FLEET_ID_MAX];
	size_t max, count;
};

static int rollout_id_row(void *ctx, const char *const *cols, int ncols, struct error *err)
{
	struct rollout_ids *r = ctx;

	if (ncols != 1)
		return error_set(err, "store: unexpected rollout id row");
	if (r->count < r->max)
		db_copy_text(r->ids[r->count++], FLEET_ID_MAX, cols[0]);
	return 0;
}

static int rollout_running_read(struct db *db, void *ctx, struct error *err)
{
	struct rollout_ids *r = ctx;
	struct db_value p[] = { DB_I(FLEET_ROLLOUT_RUNNING), DB_I((int64_t)r->max) };

	return db_exec(db, "SELECT id FROM rollouts WHERE state = $1"
			   " ORDER BY created_us, id LIMIT $2",
		       p, 2, rollout_id_row, r, NULL, err);
}

int fleet_store_rollout_running(struct fleet_store *store, char (*ids)[FLEET_ID_MAX], size_t max,
				size_t *count, struct error *err)
{
	struct rollout_ids r = { .ids = ids, .max = max };

	*count = 0;
	if (max == 0)
		return 0;
	if (store_read(store, rollout_running_read, &r, err))
		return -1;
	*count = r.count;
	return 0;
}

struct rollout_move {
	const char *id;
	unsigned from_mask, wave;
	enum fleet_rollout_state to, current;
	const char *reason;		/* NULL: keep */
	char clean[FLEET_REASON_MAX];
};

static int rollout_state_row(void *ctx, const char *const *cols, int ncols, struct error *err)
{
	if (ncols != 1)
		return error_set(err, "store: unexpected rollout state row");
	return rollout_parse_state(cols[0], ctx, err);
}

/* The state now, for a transition that did not apply. */
static int rollout_current(struct db *db, struct rollout_move *m, struct error *err)
{
	struct db_value p[] = { DB_T(m->id) };

	m->current = FLEET_ROLLOUT_STATE_COUNT;
	return db_exec(db, "SELECT state FROM rollouts WHERE id = $1", p, 1, rollout_state_row,
		       &m->current, NULL, err);
}

static int rollout_transition_tx(struct db *db, void *ctx, struct error *err)
{
	struct rollout_move *m = ctx;
	struct db_value p[5 + FLEET_ROLLOUT_STATE_COUNT] = {
		DB_T(m->id), DB_I(m->to), DB_T(m->clean), DB_I(m->reason != NULL),
		DB_I(store_now_us()),
	};
	int64_t changes;
	unsigned s;

	/* $6..$10: the states allowed to move, -1 for the others. */
	for (s = 0; s < FLEET_ROLLOUT_STATE_COUNT; s++)
		p[5 + s] = DB_I(m->from_mask & FLEET_ROLLOUT_BIT(s) ? (int64_t)s : -1);
	if (db_exec(db, "UPDATE rollouts SET state = $2, updated_us = $5,"
			" reason = CASE WHEN $4 = 1 THEN $3 ELSE reason END"
			" WHERE id = $1 AND state IN ($6, $7, $8, $9, $10)",
		    p, 5 + FLEET_ROLLOUT_STATE_COUNT, NULL, NULL, &changes, err))
		return -1;
	if (changes)
		return 1;
	return rollout_current(db, m, err) ? -1 : 0;
}

int fleet_store_rollout_transition(struct fleet_store *store, const char *id,
				   unsigned from_mask, enum fleet_rollout_state to,
				   const char *reason, enum fleet_rollout_state *current,
				   struct error *err)
{
	struct rollout_move m = { .id = id, .from_mask = from_mask, .to = to, .reason = reason };
	int rc;

	if (store_check_text(id, FLEET_ID_MAX, 0, "rollout id", err))
		return -1;
	if ((unsigned)to >= FLEET_ROLLOUT_STATE_COUNT)
		return store_invalid(err, "store: rollout state %d is not a state", (int)to), -1;
	store_clean_reason(m.clean, reason);
	rc = store_tx(store, rollout_transition_tx, &m, err);
	if (current)
		*current = rc == 1 ? to : m.current;
	return rc;
}

static int rollout_advance_tx(struct db *db, void *ctx, struct error *err)
{
	struct rollout_move *m = ctx;
	struct db_value p[] = { DB_T(m->id), DB_I(m->wave), DB_I(FLEET_ROLLOUT_RUNNING),
				DB_I(FLEET_ROLLOUT_FINISHED), DB_I(store_now_us()) };
	int64_t changes;

	if (db_exec(db, "UPDATE rollouts SET updated_us = $5,"
			" state = CASE WHEN $2 + 1 >= wave_count THEN $4 ELSE state END,"
			" current_wave = CASE WHEN $2 + 1 >= wave_count THEN current_wave"
			" ELSE $2 + 1 END"
			" WHERE id = $1 AND state = $3 AND current_wave = $2",
		    p, 5, NULL, NULL, &changes, err))
		return -1;
	return changes > 0;
}

int fleet_store_rollout_advance(struct fleet_store *store, const char *id, unsigned wave,
				struct error *err)
{
	struct rollout_move m = { .id = id, .wave = wave };

	if (store_check_text(id, FLEET_ID_MAX, 0, "rollout id", err))
		return -1;
	return store_tx(store, rollout_advance_tx, &m, err);
}
