/* store_rollout_select.c: a rollout's targets chosen in the database (see
 * store/fleet_store_rollout.h): by selector, one COUNT over instances
 * gives the waves' sizes, and the targets themselves are taken a page at a
 * time as the driver reaches them (store_rollout_fill.c); by id list,
 * pages of at most FLEET_ROLLOUT_PAGE_MAX ids appended to a draft; a
 * draft's waves assigned from its count when it starts.  Nothing here
 * holds more than one page of ids: memory does not grow with a rollout.
 *
 * "Below V" is version.h's order, which SQL does not know: the distinct
 * versions are walked one index probe each (a fleet runs a few), those
 * below V go to a per-connection temporary table, and the SQL joins it.
 * The walk and the count are one transaction, as is the rollout's row. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/fleet_store_rollout.h"
#include "store/store_internal.h"
#include "store/store_rollout_select.h"
#include "version.h"

/* Kept waves for n targets: wave k ends at ceil(p_k * n / 100) targets, a
 * wave that would be empty is dropped.  ends[] and kept[] get the kept
 * waves' ends and percents; returns how many were kept. */
unsigned store_rollout_waves(const unsigned *percents, size_t count, int64_t n, int64_t *ends,
			     unsigned *kept)
{
	int64_t start = 0, end;
	unsigned m = 0;
	size_t k;

	for (k = 0; k < count; k++) {
		end = ((int64_t)percents[k] * n + 99) / 100;
		if (end > start) {
			ends[m] = end;
			kept[m++] = percents[k];
			start = end;
		}
	}
	return m;
}

/* "[1,10,100]" from kept percents, into waves (FLEET_ROLLOUT_TEXT_MAX). */
static void select_waves_text(char *waves, const unsigned *kept, unsigned m)
{
	size_t used = 0;
	unsigned k;

	used += (size_t)snprintf(waves, FLEET_ROLLOUT_TEXT_MAX, "[");
	for (k = 0; k < m && used < FLEET_ROLLOUT_TEXT_MAX; k++)
		used += (size_t)snprintf(waves + used, FLEET_ROLLOUT_TEXT_MAX - used, "%s%u",
					 k ? "," : "", kept[k]);
	if (used < FLEET_ROLLOUT_TEXT_MAX)
		snprintf(waves + used, FLEET_ROLLOUT_TEXT_MAX - used, "]");
}

struct select_ctx {
	const struct fleet_rollout *r;
	const struct fleet_rollout_selection *sel;
	char reason[FLEET_REASON_MAX];
	int64_t created_us;
	int64_t count;			/* out: targets */
	size_t dup;			/* out: the list's index given before */
	int refused;			/* a FLEET_ROLLOUT_CREATE_* refusal: rolled back */
};

/* A refusal: the transaction is rolled back (-2), the code kept. */
static int select_refuse(struct select_ctx *c, int code)
{
	c->refused = code;
	return -2;
}

struct select_walk {
	char last[FLEET_VERSION_MAX];	/* the version walk's position */
	int found;
};

static int select_version_row(void *ctx, const char *const *cols, int ncols, struct error *err)
{
	struct select_walk *w = ctx;

	if (ncols != 1 || !cols[0])
		return error_set(err, "store: unexpected version row");
	db_copy_text(w->last, sizeof w->last, cols[0]);
	w->found = 1;
	return 0;
}

int store_rollout_pick_versions(struct db *db, const char *below, struct error *err)
{
	struct select_walk w = { "", 0 };
	int cmp;

	if (db_exec(db, "CREATE TEMP TABLE IF NOT EXISTS rollout_pick (version TEXT PRIMARY KEY)",
		    NULL, 0, NULL, NULL, NULL, err) ||
	    db_exec(db, "DELETE FROM rollout_pick", NULL, 0, NULL, NULL, NULL, err))
		return -1;
	for (;;) {
		struct db_value p[] = { DB_T(w.last) };

		w.found = 0;
		if (db_exec(db, "SELECT agent_version FROM instances WHERE agent_version > $1"
				" ORDER BY agent_version LIMIT 1",
			    p, 1, select_version_row, &w, NULL, err))
			return -1;
		if (!w.found)
			return 0;
		/* unparsable versions are left out, as in the docs */
		if (version_compare_text(w.last, below, &cmp, NULL) == 0 && cmp < 0 &&
		    db_exec(db, "INSERT INTO rollout_pick (version) VALUES ($1)", p, 1, NULL,
			    NULL, NULL, err))
			return -1;
	}
}

const char *store_rollout_filter(enum fleet_rollout_select kind)
{
	return kind == FLEET_SELECT_VERSION_BELOW ?
		"i.agent_version IN (SELECT version FROM rollout_pick) AND $2 = $2" :
		"i.agent_version = $2";
}

static int select_int_row(void *ctx, const char *const *cols, int ncols, struct error *err)
{
	if (ncols != 1)
		return error_set(err, "store: unexpected count row");
	return db_parse_int(cols[0], "count", ctx, err);
}

/* The selection's size; its targets are taken later, a page at a time
 * (store_rollout_fill.c), in the order of the ids. */
static int select_count(struct db *db, struct select_ctx *c, struct error *err)
{
	struct db_value p[] = { DB_T(c->r->id), DB_T(c->sel->version) };
	char sql[256];

	snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM instances i WHERE %s AND $1 = $1",
		 store_rollout_filter(c->sel->kind));
	return db_exec(db, sql, p, 2, select_int_row, &c->count, NULL, err);
}

int store_rollout_take(struct db *db, const char *id, enum fleet_rollout_select kind,
		       const char *version, const char *after, int64_t from_seq, unsigned wave,
		       int64_t limit, int64_t *added, struct error *err)
{
	struct db_value p[] = { DB_T(id), DB_T(version), DB_I(from_seq), DB_I(wave), DB_T(after),
				DB_I(limit) };
	char sql[768];

	if (kind == FLEET_SELECT_VERSION_BELOW && store_rollout_pick_versions(db, version, err))
		return -1;
	/* LIMIT inside, numbering outside: only the page is numbered */
	snprintf(sql, sizeof sql,
		 "INSERT INTO rollout_targets (rollout_id, instance_id, seq, wave, upgrade_id,"
		 " cast_us) SELECT $1, s.id, $3 + ROW_NUMBER() OVER (ORDER BY s.id) - 1, $4, '', 0"
		 " FROM (SELECT i.id FROM instances i WHERE %s AND i.id > $5"
		 " ORDER BY i.id LIMIT $6) s", store_rollout_filter(kind));
	return db_exec(db, sql, p, 6, NULL, NULL, added, err);
}

/* The list's ids, at seq from..., in batches; 1 (c->dup set) when one is a
 * target already.  wave: ends[] for n targets, or NULL (a draft: 0). */
static int select_append(struct db *db, const char *id, const char *const *ids, size_t count,
			 int64_t from, const int64_t *ends, size_t *dup, struct error *err)
{
	struct db_stmt st[DB_BATCH_CHUNK];
	struct db_value p[DB_BATCH_CHUNK][4];
	size_t done, i, n;
	unsigned wave = 0;

	for (done = 0; done < count; done += n) {
		n = count - done < DB_BATCH_CHUNK ? count - done : DB_BATCH_CHUNK;
		for (i = 0; i < n; i++) {
			int64_t seq = from + (int64_t)(done + i);

			while (ends && seq >= ends[wave])
				wave++;
			p[i][0] = DB_T(id);
			p[i][1] = DB_T(ids[done + i]);
			p[i][2] = DB_I(seq);
			p[i][3] = DB_I(wave);
			st[i] = (struct db_stmt){ "INSERT INTO rollout_targets (rollout_id, instance_id,"
				" seq, wave, upgrade_id, cast_us) VALUES ($1, $2, $3, $4, '', 0)"
				" ON CONFLICT (rollout_id, instance_id) DO NOTHING", p[i], 4 };
		}
		if (db_exec_batch(db, st, n, err))
			return -1;
		for (i = 0; i < n; i++) {
			if (!st[i].changes) {
				*dup = done + i;
				return 1;
			}
		}
	}
	return 0;
}

static int select_row_insert(struct db *db, struct select_ctx *c, unsigned wave_count,
			     const char *waves, struct error *err);

/* The rollout row first (the targets refer to it), then a list's or a
 * draft's targets or a selector's count, then the waves from the count.
 * Returns a FLEET_ROLLOUT_CREATE_* code. */
static int select_create_tx(struct db *db, void *ctx, struct error *err)
{
	struct select_ctx *c = ctx;
	const struct fleet_rollout_selection *sel = c->sel;
	int64_t ends[FLEET_ROLLOUT_WAVES_MAX];
	unsigned kept[FLEET_ROLLOUT_WAVES_MAX], m;
	char waves[FLEET_ROLLOUT_TEXT_MAX];
	struct db_value p[6];
	int rc;

	rc = select_row_insert(db, c, 0, c->r->waves, err);
	if (rc)
		return rc < 0 ? -1 : FLEET_ROLLOUT_CREATE_EXISTS;
	if (sel->kind == FLEET_SELECT_LIST) {
		c->count = (int64_t)sel->count;
		m = store_rollout_waves(sel->percents, sel->percent_count, c->count, ends, kept);
		rc = select_append(db, c->r->id, sel->ids, sel->count, 0, sel->draft ? NULL : ends,
				   &c->dup, err);
		if (rc)
			return rc < 0 ? -1 : select_refuse(c, FLEET_ROLLOUT_CREATE_TWICE);
	} else {
		if (sel->draft)	/* its targets now, in wave 0 until it starts; one
				 * more than the bound tells too many */
			rc = store_rollout_take(db, c->r->id, sel->kind, sel->version, "", 0, 0,
						FLEET_ROLLOUT_TARGETS_MAX + 1, &c->count, err);
		else
			rc = (sel->kind == FLEET_SELECT_VERSION_BELOW &&
			      store_rollout_pick_versions(db, sel->version, err)) ||
			     select_count(db, c, err);
		if (rc)
			return -1;
		m = store_rollout_waves(sel->percents, sel->percent_count, c->count, ends, kept);
	}
	if (c->count == 0)
		return select_refuse(c, FLEET_ROLLOUT_CREATE_EMPTY);
	if (c->count > FLEET_ROLLOUT_TARGETS_MAX)
		return select_refuse(c, FLEET_ROLLOUT_CREATE_TOO_MANY);
	if (sel->draft)
		return FLEET_ROLLOUT_CREATED;	/* waves when it starts */
	select_waves_text(waves, kept, m);
	p[0] = DB_T(c->r->id);
	p[1] = DB_I(m);
	p[2] = DB_T(waves);
	p[3] = DB_I(sel->kind);		/* not a draft here: a list's targets are in */
	p[4] = DB_T(sel->kind == FLEET_SELECT_LIST ? "" : sel->version);
	p[5] = DB_I(sel->kind == FLEET_SELECT_LIST ? 0 : c->count);
	/* a selector's targets: taken by the driver (store_rollout_fill.c) */
	return db_exec(db, "UPDATE rollouts SET wave_count = $2, waves = $3, fill_kind = $4,"
			   " fill_version = $5, fill_total = $6 WHERE id = $1", p, 6,
		       NULL, NULL, NULL, err) ? -1 : FLEET_ROLLOUT_CREATED;
}

static int select_row_insert(struct db *db, struct select_ctx *c, unsigned wave_count,
			     const char *waves, struct error *err)
{
	const struct fleet_rollout *r = c->r;
	struct db_value p[] = {
		DB_T(r->id),	     DB_T(r->tenant),	   DB_I(r->state),
		DB_T(c->reason),     DB_T(r->to_version),  DB_T(r->strategy),
		DB_T(r->location),   DB_T(r->sha256),	   DB_T(r->metadata),
		DB_T(r->selector),   DB_T(waves),	   DB_I(wave_count),
		DB_I(0),	     DB_I(r->max_failure_ppm), DB_I(r->cast_interval_us),
		DB_I(r->probation_us), DB_I(r->timeout_us), DB_I(c->created_us),
		DB_I(c->created_us),
	};
	int64_t changes;

	if (db_exec(db, "INSERT INTO rollouts (id, tenant, state, reason, to_version, strategy,"
			" location, sha256, metadata, selector, waves, wave_count, current_wave,"
			" max_failure_ppm, cast_interval_us, probation_us, timeout_us, created_us,"
			" updated_us) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,"
			" $13, $14, $15, $16, $17, $18, $19) ON CONFLICT (id) DO NOTHING",
		    p, 19, NULL, NULL, &changes, err))
		return -1;
	return changes ? 0 : 1;
}

static int select_check(const struct fleet_rollout *r, const struct fleet_rollout_selection *sel,
			struct error *err)
{
	unsigned last = 0;
	size_t i;

	if (store_check_text(r->id, sizeof r->id, 0, "id", err) ||
	    store_check_text(r->tenant, sizeof r->tenant, 0, "tenant", err) ||
	    store_check_text(r->to_version, sizeof r->to_version, 0, "to_version", err) ||
	    store_check_text(r->strategy, sizeof r->strategy, 0, "strategy", err) ||
	    store_check_text(r->location, sizeof r->location, 0, "location", err) ||
	    store_check_text(r->sha256, sizeof r->sha256, 0, "sha256", err) ||
	    store_check_text(r->metadata, sizeof r->metadata, 0, "metadata", err) ||
	    store_check_text(r->selector, sizeof r->selector, 0, "selector", err) ||
	    store_check_text(r->waves, sizeof r->waves, 0, "waves", err) ||
	    store_check_text(sel->version, FLEET_VERSION_MAX, 1, "version", err))
		return -1;
	if (!r->id[0] || (sel->draft ? r->state != FLEET_ROLLOUT_PAUSED :
				       r->state != FLEET_ROLLOUT_RUNNING) ||
	    !sel->percent_count || sel->percent_count > FLEET_ROLLOUT_WAVES_MAX ||
	    sel->percents[sel->percent_count - 1] != 100 ||
	    (unsigned)sel->kind > FLEET_SELECT_VERSION_EQUAL ||
	    (sel->kind != FLEET_SELECT_LIST && !sel->version) ||
	    (sel->kind == FLEET_SELECT_LIST && (!sel->count || sel->count > FLEET_ROLLOUT_PAGE_MAX)))
		return store_invalid(err, "store: rollout %s: bad id, state, waves or selection",
				     r->id), -1;
	for (i = 0; i < sel->percent_count; last = sel->percents[i++])
		if (sel->percents[i] <= last || sel->percents[i] > 100)
			return store_invalid(err, "store: rollout %s: percents not increasing",
					     r->id), -1;
	for (i = 0; sel->kind == FLEET_SELECT_LIST && i < sel->count; i++)
		if (store_check_text(sel->ids[i], FLEET_INSTANCE_MAX, 0, "instance_id", err) ||
		    (!sel->ids[i][0] && store_invalid(err, "store: an empty instance id")))
			return -1;
	return 0;
}

int fleet_store_rollout_create(struct fleet_store *store, const struct fleet_rollout *rollout,
			       const struct fleet_rollout_selection *sel, size_t *count,
			       size_t *dup, struct error *err)
{
	struct select_ctx *c;
	int rc;

	*count = 0;
	*dup = 0;
	if (select_check(rollout, sel, err))
		return -1;
	c = calloc(1, sizeof *c);
	if (!c)
		return error_set(err, "store: out of memory");
	c->r = rollout;
	c->sel = sel;
	store_clean_reason(c->reason, rollout->reason);
	c->created_us = rollout->created_us ? rollout->created_us : store_now_us();
	rc = store_tx(store, select_create_tx, c, err);
	if (rc < 0 && c->refused)
		rc = c->refused;	/* rolled back: nothing recorded */
	*count = (size_t)c->count;
	*dup = c->dup;
	free(c);
	return rc;
}

struct select_draft {
	const char *id;
	const char *const *ids;
	size_t count;
	int64_t total;			/* targets (after the append) */
	size_t dup;
	int refused;
	enum fleet_rollout_state state;	/* STATE_COUNT: no such rollout */
	char waves[FLEET_ROLLOUT_TEXT_MAX];
};

static int select_draft_row(void *ctx, const char *const *cols, int ncols, struct error *err)
{
	struct select_draft *d = ctx;
	int64_t state;

	if (ncols != 2 || db_parse_int(cols[0], "state", &state, err))
		return error_set(err, "store: unexpected rollout row");
	d->state = (enum fleet_rollout_state)state;
	db_copy_text(d->waves, sizeof d->waves, cols[1]);
	return 0;
}

/* Locks the draft's row (a concurrent append or start waits) and counts
 * its targets (seq is dense from 0: seq + 1 of the last).  1 when it is
 * not a draft (d->state says what it is), 0, -1. */
static int select_draft_open(struct db *db, struct select_draft *d, struct error *err)
{
	struct db_value p[] = { DB_T(d->id), DB_I(FLEET_ROLLOUT_PAUSED), DB_I(store_now_us()) };
	int64_t changes;

	d->state = FLEET_ROLLOUT_STATE_COUNT;
	if (db_exec(db, "UPDATE rollouts SET updated_us = $3"
			" WHERE id = $1 AND state = $2 AND wave_count = 0",
		    p, 3, NULL, NULL, &changes, err) ||
	    db_exec(db, "SELECT state, waves FROM rollouts WHERE id = $1", p, 1,
		    select_draft_row, d, NULL, err))
		return -1;
	if (!changes)
		return 1;
	d->total = 0;
	return db_exec(db, "SELECT COALESCE(MAX(seq), -1) + 1 FROM rollout_targets"
			   " WHERE rollout_id = $1", p, 1, select_int_row, &d->total, NULL, err);
}

static int select_append_tx(struct db *db, void *ctx, struct error *err)
{
	struct select_draft *d = ctx;
	char selector[64];
	int rc = select_draft_open(db, d, err);

	if (rc)
		return rc < 0 ? -1 : (d->refused = FLEET_ROLLOUT_APPEND_NOT_DRAFT, -2);
	if (d->total + (int64_t)d->count > FLEET_ROLLOUT_TARGETS_MAX)
		return d->refused = FLEET_ROLLOUT_APPEND_TOO_MANY, -2;
	rc = select_append(db, d->id, d->ids, d->count, d->total, NULL, &d->dup, err);
	if (rc)
		return rc < 0 ? -1 : (d->refused = FLEET_ROLLOUT_APPEND_TWICE, -2);
	d->total += (int64_t)d->count;
	snprintf(selector, sizeof selector, "{\"instances\": %lld}", (long long)d->total);
	{
		struct db_value p[] = { DB_T(d->id), DB_T(selector) };

		/* a list's selector says how many; a version's is kept */
		return db_exec(db, "UPDATE rollouts SET selector = $2 WHERE id = $1"
				   " AND selector LIKE '{\"instances\":%'",
			       p, 2, NULL, NULL, NULL, err);
	}
}

int fleet_store_rollout_append(struct fleet_store *store, const char *id,
			       const char *const *ids, size_t count, size_t *total, size_t *dup,
			       enum fleet_rollout_state *state, struct error *err)
{
	struct select_draft d = { .id = id, .ids = ids, .count = count };
	size_t i;
	int rc;

	*total = 0;
	*dup = 0;
	if (store_check_text(id, FLEET_ID_MAX, 0, "rollout id", err))
		return -1;
	if (!count || count > FLEET_ROLLOUT_PAGE_MAX)
		return store_invalid(err, "store: append 1 to %d ids", FLEET_ROLLOUT_PAGE_MAX), -1;
	for (i = 0; i < count; i++)
		if (store_check_text(ids[i], FLEET_INSTANCE_MAX, 0, "instance_id", err) ||
		    (!ids[i][0] && store_invalid(err, "store: an empty instance id")))
			return -1;
	rc = store_tx(store, select_append_tx, &d, err);
	if (rc < 0 && d.refused)
		rc = d.refused;
	*total = (size_t)d.total;
	*dup = d.dup;
	if (state)
		*state = d.state;
	return rc;
}

/* "[1,10,100]" (as slotfleet wrote it) into percents; the count or 0. */
size_t store_rollout_parse_waves(const char *text, unsigned *percents)
{
	const char *s = text;
	unsigned long v;
	size_t n = 0;
	char *end;

	if (*s++ != '[')
		return 0;
	while (n < FLEET_ROLLOUT_WAVES_MAX) {
		v = strtoul(s, &end, 10);
		if (end == s || v < 1 || v > 100 || (n && v <= percents[n - 1]))
			return 0;
		percents[n++] = (unsigned)v;
		s = end + strspn(end, " ");
		if (*s == ']')
			return percents[n - 1] == 100 ? n : 0;
		if (*s++ != ',')
			return 0;
	}
	return 0;
}

/* Every target's wave from its seq, by the kept waves' ends ($2...). */
static int select_assign(struct db *db, const char *id, const int64_t *ends, unsigned m,
			 struct error *err)
{
	struct db_value p[1 + FLEET_ROLLOUT_WAVES_MAX] = { DB_T(id) };
	char sql[1024];
	size_t used;
	unsigned k;

	if (m < 2)
		return 0;	/* one wave: every target is in wave 0 already */
	used = (size_t)snprintf(sql, sizeof sql, "UPDATE rollout_targets SET wave = CASE");
	for (k = 0; k + 1 < m; k++) {
		p[1 + k] = DB_I(ends[k]);
		used += (size_t)snprintf(sql + used, sizeof sql - used, " WHEN seq < $%u THEN %u",
					 k + 2, k);
	}
	snprintf(sql + used, sizeof sql - used, " ELSE %u END WHERE rollout_id = $1", m - 1);
	return db_exec(db, sql, p, (int)m, NULL, NULL, NULL, err);
}

static int select_start_tx(struct db *db, void *ctx, struct error *err)
{
	struct select_draft *d = ctx;
	int64_t ends[FLEET_ROLLOUT_WAVES_MAX];
	unsigned percents[FLEET_ROLLOUT_WAVES_MAX], kept[FLEET_ROLLOUT_WAVES_MAX], m;
	size_t n;
	int rc = select_draft_open(db, d, err);

	if (rc)
		return rc < 0 ? -1 : 0;
	n = store_rollout_parse_waves(d->waves, percents);
	if (!n || !d->total)
		return error_set(err, "store: draft %s: waves \"%s\" or no target", d->id,
				 d->waves);
	m = store_rollout_waves(percents, n, d->total, ends, kept);
	select_waves_text(d->waves, kept, m);
	{
		struct db_value p[] = { DB_T(d->id), DB_I(m), DB_T(d->waves),
					DB_I(FLEET_ROLLOUT_RUNNING), DB_T("started by an admin") };

		if (select_assign(db, d->id, ends, m, err) ||
		    db_exec(db, "UPDATE rollouts SET wave_count = $2, waves = $3, state = $4,"
				" reason = $5 WHERE id = $1", p, 5, NULL, NULL, NULL, err))
			return -1;
	}
	d->state = FLEET_ROLLOUT_RUNNING;
	return 1;
}

int fleet_store_rollout_start(struct fleet_store *store, const char *id, size_t *total,
			      enum fleet_rollout_state *state, struct error *err)
{
	struct select_draft d = { .id = id };
	int rc;

	*total = 0;
	if (store_check_text(id, FLEET_ID_MAX, 0, "rollout id", err))
		return -1;
	rc = store_tx(store, select_start_tx, &d, err);
	*total = (size_t)d.total;
	if (state)
		*state = d.state;
	return rc;
}
