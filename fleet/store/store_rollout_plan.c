/* store_rollout_plan.c: a rollout's targets: what the driver asks (wave
 * counts, members to cast, overdue or failed ones) and the driving lock
 * (store_lock.c; see store/fleet_store_rollout.h).  The casts' plan and
 * confirmation are store_rollout_cast.c.
 *
 * A target's upgrade is found by its id (the upgrades primary key), so a
 * target's state is always the upgrade record's, reports included. */
#include <stdio.h>
#include <string.h>

#include "store/fleet_store_rollout.h"
#include "store/store_internal.h"
#include "store/store_rollout_select.h"

#define PLAN_FROM \
	" FROM rollout_targets t LEFT JOIN upgrades u ON u.id = t.upgrade_id" \
	" WHERE t.rollout_id = $1"

struct plan_wave {
	const char *id;
	unsigned wave;
	int64_t proven_before_us;
	struct fleet_rollout_wave *counts;
};

static int plan_wave_row(void *ctx, const char *const *cols, int ncols, struct error *err)
{
	struct plan_wave *w = ctx;
	size_t *out[6] = { &w->counts->total, &w->counts->pending, &w->counts->unconfirmed,
			   &w->counts->failed, &w->counts->succeeded, &w->counts->proven };
	int64_t v;
	int i;

	if (ncols != 6)
		return error_set(err, "store: unexpected wave row");
	for (i = 0; i < 6; i++) {
		if (db_parse_int(cols[i], "count", &v, err))
			return -1;
		*out[i] = (size_t)v;
	}
	return 0;
}

static int plan_wave_read(struct db *db, void *ctx, struct error *err)
{
	struct plan_wave *w = ctx;
	struct db_value p[] = { DB_T(w->id), DB_I(w->wave), DB_I(FLEET_FAILED),
				DB_I(FLEET_SUCCESS), DB_I(w->proven_before_us) };

	struct store_rollout_fill rf;
	int64_t size;

	if (db_exec(db, "SELECT COUNT(*),"
			   " COALESCE(SUM(CASE WHEN t.upgrade_id = '' THEN 1 ELSE 0 END), 0),"
			   " COALESCE(SUM(CASE WHEN t.upgrade_id <> '' AND t.cast_us = 0"
			   "  THEN 1 ELSE 0 END), 0),"
			   " COALESCE(SUM(CASE WHEN u.state = $3 THEN 1 ELSE 0 END), 0),"
			   " COALESCE(SUM(CASE WHEN u.state = $4 THEN 1 ELSE 0 END), 0),"
			   " COALESCE(SUM(CASE WHEN u.state = $4 AND u.updated_us <= $5"
			   "  THEN 1 ELSE 0 END), 0)" PLAN_FROM " AND t.wave = $2",
		    p, 5, plan_wave_row, w, NULL, err) ||
	    store_rollout_fill_read(db, &rf, w->id, err))
		return -1;
	if (!rf.filling || w->wave >= rf.wave_count)
		return 0;
	size = STORE_ROLLOUT_WAVE_SIZE(&rf, w->wave);
	if (size > (int64_t)w->counts->total)
		w->counts->untaken = (size_t)size - w->counts->total;
	return 0;
}

int fleet_store_rollout_wave(struct fleet_store *store, const char *id, unsigned wave,
			     int64_t proven_before_us, struct fleet_rollout_wave *counts,
			     struct error *err)
{
	struct plan_wave w = { id, wave, proven_before_us, counts };

	memset(counts, 0, sizeof *counts);
	if (store_check_text(id, FLEET_ID_MAX, 0, "rollout id", err))
		return -1;
	return store_read(store, plan_wave_read, &w, err);
}

struct plan_counts {
	const char *id;
	size_t (*counts)[FLEET_STATE_COUNT + 1];
	size_t max_waves;
};

static int plan_counts_row(void *ctx, const char *const *cols, int ncols, struct error *err)
{
	struct plan_counts *c = ctx;
	enum fleet_state state = FLEET_NEW;
	int64_t wave, n;

	if (ncols != 3 || db_parse_int(cols[0], "wave", &wave, err) ||
	    db_parse_int(cols[2], "count", &n, err) ||
	    (cols[1] && store_parse_state(cols[1], &state, err)))
		return error_set(err, "store: unexpected rollout count row");
	if (wave >= 0 && (size_t)wave < c->max_waves)
		c->counts[wave][cols[1] ? (unsigned)state : FLEET_STATE_COUNT] += (size_t)n;
	return 0;
}

/* The targets a selector rollout has still to take count as not sent:
 * each wave shows the size counted at creation until no instance is left. */
static void plan_counts_untaken(struct plan_counts *c, const struct store_rollout_fill *rf)
{
	int64_t size, have;
	unsigned w, s;

	for (w = 0; w < rf->wave_count && w < c->max_waves; w++) {
		size = STORE_ROLLOUT_WAVE_SIZE(rf, w);
		for (have = 0, s = 0; s <= FLEET_STATE_COUNT; s++)
			have += (int64_t)c->counts[w][s];
		if (size > have)
			c->counts[w][FLEET_STATE_COUNT] += (size_t)(size - have);
	}
}

static int plan_counts_read(struct db *db, void *ctx, struct error *err)
{
	struct plan_counts *c = ctx;
	struct db_value p[] = { DB_T(c->id) };
	struct store_rollout_fill rf;

	if (db_exec(db, "SELECT t.wave, u.state, COUNT(*)" PLAN_FROM " GROUP BY t.wave, u.state",
		    p, 1, plan_counts_row, c, NULL, err) ||
	    store_rollout_fill_read(db, &rf, c->id, err))
		return -1;
	if (rf.filling)
		plan_counts_untaken(c, &rf);
	return 0;
}

int fleet_store_rollout_counts(struct fleet_store *store, const char *id,
			       size_t (*counts)[FLEET_STATE_COUNT + 1], size_t max_waves,
			       struct error *err)
{
	struct plan_counts c = { id, counts, max_waves };

	memset(counts, 0, max_waves * sizeof *counts);
	if (store_check_text(id, FLEET_ID_MAX, 0, "rollout id", err))
		return -1;
	return store_read(store, plan_counts_read, &c, err);
}

struct plan_members {
	const char *id;
	const struct fleet_rollout_members_query *q;
	struct fleet_rollout_member *out;
	size_t count;
};

static int plan_member_row(void *ctx, const char *const *cols, int ncols, struct error *err)
{
	struct plan_members *m = ctx;
	struct fleet_rollout_member *t = &m->out[m->count];
	int64_t wave;

	if (ncols != 8 || m->count == m->q->limit)
		return error_set(err, "store: unexpected rollout member row");
	memset(t, 0, sizeof *t);
	db_copy_text(t->instance_id, sizeof t->instance_id, cols[0]);
	db_copy_text(t->upgrade_id, sizeof t->upgrade_id, cols[1]);
	db_copy_text(t->reason, sizeof t->reason, cols[6]);
	if (db_parse_int(cols[2], "wave", &wave, err) ||
	    db_parse_int(cols[3], "cast_us", &t->cast_us, err) ||
	    db_parse_int(cols[7], "seq", &t->seq, err))
		return -1;
	t->wave = (unsigned)wave;
	t->has_upgrade = cols[4] != NULL;
	if (t->has_upgrade && (store_parse_state(cols[4], &t->state, err) ||
			       db_parse_int(cols[5], "updated_us", &t->updated_us, err)))
		return -1;
	m->count++;
	return 0;
}

/* Fixed fragments per query kind; values stay parameters. */
static int plan_members_read(struct db *db, void *ctx, struct error *err)
{
	struct plan_members *m = ctx;
	const struct fleet_rollout_members_query *q = m->q;
	struct db_value p[9] = { DB_T(m->id) };
	char sql[1024];
	size_t used;
	int n = 1;

	used = (size_t)snprintf(sql, sizeof sql, "SELECT t.instance_id, t.upgrade_id, t.wave,"
				" t.cast_us, u.state, u.updated_us, u.reason, t.seq" PLAN_FROM);
#define PLAN_APPEND(...) (used += (size_t)snprintf(sql + used, sizeof sql - used, __VA_ARGS__))
	if (q->wave >= 0 && q->which != FLEET_MEMBERS_UNCONFIRMED && q->which != FLEET_MEMBERS_CAST) {
		p[n++] = DB_I(q->wave);
		PLAN_APPEND(" AND t.wave = $%d", n);
	}
	switch (q->which) {
	case FLEET_MEMBERS_PENDING:
		PLAN_APPEND(" AND t.upgrade_id = ''");
		break;
	case FLEET_MEMBERS_UNCONFIRMED:
		PLAN_APPEND(" AND t.upgrade_id <> '' AND t.cast_us = 0");
		break;
	case FLEET_MEMBERS_OVERDUE:
		p[n++] = DB_I(q->before_us);
		p[n++] = DB_I(FLEET_SUCCESS);
		p[n++] = DB_I(FLEET_FAILED);
		PLAN_APPEND(" AND t.cast_us > 0 AND t.cast_us < $%d AND u.state <> $%d"
			    " AND u.state <> $%d", n - 2, n - 1, n);
		break;
	case FLEET_MEMBERS_FAILED:
		p[n++] = DB_I(FLEET_FAILED);
		PLAN_APPEND(" AND u.state = $%d", n);
		break;
	case FLEET_MEMBERS_CAST:
		PLAN_APPEND(" AND t.upgrade_id <> ''");
		break;
	}
	if (q->from_seq > 0) {
		p[n++] = DB_I(q->from_seq);
		PLAN_APPEND(" AND t.seq >= $%d", n);
	}
	if (q->unrolled && (q->which == FLEET_MEMBERS_FAILED || q->which == FLEET_MEMBERS_CAST)) {
		/* an admin's repeated action goes on where the last stopped;
		 * a rollback that FAILED (not cast) is tried again */
		p[n++] = DB_I(FLEET_FAILED);
		PLAN_APPEND(" AND NOT EXISTS (SELECT 1 FROM upgrades b WHERE b.instance_id ="
			    " t.instance_id AND b.rollout_id = t.rollout_id AND b.kind = 'rollback'"
			    " AND b.state <> $%d AND b.created_us >= u.updated_us)", n);
	}
	p[n++] = DB_I((int64_t)q->limit);
	PLAN_APPEND(" ORDER BY t.seq LIMIT $%d", n);
#undef PLAN_APPEND
	return db_exec(db, sql, p, n, plan_member_row, m, NULL, err);
}

int fleet_store_rollout_members(struct fleet_store *store, const char *id,
				const struct fleet_rollout_members_query *query,
				struct fleet_rollout_member *members, size_t *count,
				struct error *err)
{
	struct plan_members m = { id, query, members, 0 };

	*count = 0;
	if (store_check_text(id, FLEET_ID_MAX, 0, "rollout id", err))
		return -1;
	if (query->limit < 1 || query->limit > FLEET_PAGE_MAX ||
	    (unsigned)query->which > FLEET_MEMBERS_CAST)
		return store_invalid(err, "store: bad rollout member query"), -1;
	if (store_read(store, plan_members_read, &m, err))
		return -1;
	*count = m.count;
	return 0;
}

struct plan_lock {
	const char *id;
	int held;
};

static int plan_lock_read(struct db *db, void *ctx, struct error *err)
{
	struct plan_lock *l = ctx;

	return store_lock_take(db, l->id, &l->held, err);
}

int fleet_store_rollout_lock(struct fleet_store *store, const char *id, int *held,
			     struct error *err)
{
	struct plan_lock l = { id, 0 };

	*held = 0;
	if (store_check_text(id, FLEET_ID_MAX, 0, "rollout id", err))
		return -1;
	if (store_read(store, plan_lock_read, &l, err))
		return -1;
	*held = l.held;
	return 0;
}

static int plan_unlock_read(struct db *db, void *ctx, struct error *err)
{
	return store_lock_release(db, ctx, err);
}

int fleet_store_rollout_unlock(struct fleet_store *store, const char *id, struct error *err)
{
	if (store_check_text(id, FLEET_ID_MAX, 0, "rollout id", err))
		return -1;
	return store_read(store, plan_unlock_read, (void *)id, err);
}
