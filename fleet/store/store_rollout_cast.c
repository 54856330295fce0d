/* store_rollout_cast.c: the plan-then-confirm steps of a rollout's casts
 * (see store/fleet_store_rollout.h): a batch's records planned in one
 * transaction, their confirmations recorded in another.
 *
 * Both send their statements together through db_exec_batch() (on
 * PostgreSQL a round trip per DB_BATCH_CHUNK statements): a plan is two
 * rounds, the targets' claims and then the records of the targets claimed,
 * instead of four round trips per cast; a confirmation is one round.  A
 * batch of casts then costs its two commits and a few round trips, which
 * is what lets a rollout keep 1,000 casts/s on PostgreSQL. */
#include <stdlib.h>
#include <string.h>

#include "store/fleet_store_rollout.h"
#include "store/store_internal.h"

/* One cast's statements and their values, alive until the batch ran. */
struct cast_run {
	struct db_value target[3];
	struct db_value upgrade[STORE_UPGRADE_PARAMS];
	struct db_value event[5];
	struct db_value instance[1];
	char reason[FLEET_REASON_MAX];
};

struct plan_cast {
	const char *rollout_id;
	const struct fleet_upgrade *ups;
	const char *const *instance_ids;	/* cast_done */
	size_t n;
	int *planned;
	int64_t created_us, cast_us;
	struct cast_run *runs;			/* n of them */
	struct db_stmt *stmts;			/* the claims, then 3 per claimed cast */
};

/* Round 1: each target still pending takes its upgrade's id. */
static int plan_claim(struct db *db, struct plan_cast *c, struct error *err)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		struct cast_run *run = &c->runs[i];
		const struct db_value v[3] = { DB_T(c->rollout_id), DB_T(c->ups[i].instance_id),
					       DB_T(c->ups[i].id) };

		memcpy(run->target, v, sizeof v);
		store_stmt(&c->stmts[i], "UPDATE rollout_targets SET upgrade_id = $3"
			  " WHERE rollout_id = $1 AND instance_id = $2 AND upgrade_id = ''",
			  run->target, 3);
	}
	return db_exec_batch(db, c->stmts, c->n, err);
}

/* A record's values: as the API's insert makes them, event source "api". */
static void plan_values(struct cast_run *run, const struct fleet_upgrade *up, int64_t created_us)
{
	const struct db_value event[5] = { DB_T(up->id), DB_I(FLEET_NEW), DB_T(run->reason),
					   DB_I(created_us), DB_T("api") };

	store_clean_reason(run->reason, up->reason);
	store_upgrade_params(up, run->reason, created_us, run->upgrade);
	memcpy(run->event, event, sizeof event);
	run->instance[0] = DB_T(up->instance_id);
}

/* Round 2: the records of the targets claimed (a target planned already
 * is not planned again), their NEW events, their instances known. */
static int plan_records(struct db *db, struct plan_cast *c, struct error *err)
{
	struct db_stmt *s = c->stmts + c->n, *first = s;
	size_t i;

	for (i = 0; i < c->n; i++) {
		const struct fleet_upgrade *up = &c->ups[i];
		struct cast_run *run = &c->runs[i];

		if (!(c->planned[i] = c->stmts[i].changes > 0))
			continue;
		plan_values(run, up, up->created_us ? up->created_us : c->created_us);
		s = store_stmt(s, store_sql_upgrade_insert, run->upgrade, STORE_UPGRADE_PARAMS);
		s = store_stmt(s, store_sql_event, run->event, 5);
		s = store_stmt(s, store_sql_instance_known, run->instance, 1);
	}
	if (db_exec_batch(db, first, (size_t)(s - first), err))
		return -1;
	for (; first < s; first += 3)	/* each record's insert */
		if (first->changes == 0)
			return error_set(err, "store: upgrade id %s exists already",
					 first->params[0].text);
	return 0;
}

/* Lock (PostgreSQL), RUNNING (its row locked until commit, so a pause or
 * cancel waits for this plan or is seen by it), then the two rounds.
 * 0, or 1 when nothing could be planned. */
static int plan_cast_tx(struct db *db, void *ctx, struct error *err)
{
	struct plan_cast *c = ctx;
	struct db_value r[] = { DB_T(c->rollout_id), DB_I(FLEET_ROLLOUT_RUNNING) };
	int64_t changes;
	int rc = store_lock_held(db, c->rollout_id, err);

	if (rc <= 0)
		return rc < 0 ? -1 : 1;
	if (db_exec(db, "UPDATE rollouts SET updated_us = updated_us WHERE id = $1 AND state = $2",
		    r, 2, NULL, NULL, &changes, err))
		return -1;
	if (!changes)
		return 1;
	if (plan_claim(db, c, err) || plan_records(db, c, err))
		return -1;
	return 0;
}

/* The batch's working memory, sized by n: 0, or -1 (err set). */
static int plan_alloc(struct plan_cast *c, size_t per_cast, struct error *err)
{
	c->runs = calloc(c->n, sizeof *c->runs);
	c->stmts = calloc(c->n * per_cast, sizeof *c->stmts);
	if (c->runs && c->stmts)
		return 0;
	free(c->runs);
	free(c->stmts);
	return error_set(err, "store: out of memory for %zu casts", c->n);
}

int fleet_store_rollout_plan_many(struct fleet_store *store, const struct fleet_upgrade *ups,
				  size_t n, int *planned, struct error *err)
{
	struct plan_cast c = { .rollout_id = n ? ups[0].rollout_id : "", .ups = ups, .n = n,
			       .planned = planned, .created_us = store_now_us() };
	size_t i, count = 0;
	int rc;

	for (i = 0; i < n; i++) {
		planned[i] = 0;
		if (store_check_upgrade(&ups[i], err))
			return -1;
		if (!ups[i].rollout_id[0] || strcmp(ups[i].rollout_id, c.rollout_id))
			return store_invalid(err, "store: a rollout's upgrade without its rollout_id"),
			       -1;
	}
	if (!n || plan_alloc(&c, 4, err) < 0)
		return n ? -1 : 0;
	rc = store_tx(store, plan_cast_tx, &c, err);
	for (i = 0; i < n; i++) {
		if (rc != 0)
			planned[i] = 0;	/* rolled back, or nothing planned */
		count += (size_t)planned[i];
	}
	free(c.runs);
	free(c.stmts);
	return rc < 0 ? -1 : (int)count;
}

int fleet_store_rollout_plan(struct fleet_store *store, const struct fleet_upgrade *up,
			     struct error *err)
{
	int planned;
	int rc = fleet_store_rollout_plan_many(store, up, 1, &planned, err);

	return rc < 0 ? -1 : rc == 1 ? 0 : 1;
}

static int plan_done_tx(struct db *db, void *ctx, struct error *err)
{
	struct plan_cast *c = ctx;
	size_t i;

	for (i = 0; i < c->n; i++) {
		const struct db_value v[3] = { DB_T(c->rollout_id), DB_T(c->instance_ids[i]),
					       DB_I(c->cast_us) };

		memcpy(c->runs[i].target, v, sizeof v);
		store_stmt(&c->stmts[i], "UPDATE rollout_targets SET cast_us = $3"
			  " WHERE rollout_id = $1 AND instance_id = $2 AND upgrade_id <> ''"
			  " AND cast_us = 0", c->runs[i].target, 3);
	}
	return db_exec_batch(db, c->stmts, c->n, err);
}

int fleet_store_rollout_cast_done_many(struct fleet_store *store, const char *rollout_id,
				       const char *const *instance_ids, size_t n, int64_t cast_us,
				       struct error *err)
{
	struct plan_cast c = { .rollout_id = rollout_id, .instance_ids = instance_ids, .n = n,
			       .cast_us = cast_us > 0 ? cast_us : store_now_us() };
	size_t i;
	int rc;

	if (store_check_text(rollout_id, FLEET_ID_MAX, 0, "rollout id", err))
		return -1;
	for (i = 0; i < n; i++)
		if (store_check_text(instance_ids[i], FLEET_INSTANCE_MAX, 0, "instance_id", err))
			return -1;
	if (!n || plan_alloc(&c, 1, err) < 0)
		return n ? -1 : 0;
	rc = store_tx(store, plan_done_tx, &c, err);
	free(c.runs);
	free(c.stmts);
	return rc;
}

int fleet_store_rollout_cast_done(struct fleet_store *store, const char *rollout_id,
				  const char *instance_id, int64_t cast_us, struct error *err)
{
	return fleet_store_rollout_cast_done_many(store, rollout_id, &instance_id, 1, cast_us,
						  err);
}
