/* store_schema.c: the versioned schema.  Migration N takes the database
 * from version N-1 to N in one transaction, recorded in schema_version.
 * Several processes may open one PostgreSQL at once: the transaction first
 * takes an advisory lock, then rereads the version.  Released migrations
 * are never edited; a change is a new migration.
 *
 * State columns hold enum fleet_state values, which are ordered by rank
 * (the report rules compare them); they are part of the schema.  On
 * PostgreSQL, ids use the "C" collation so lists are ordered by bytes, as
 * on SQLite, whatever the database's locale. */
#include <stdlib.h>

#include "store/store_internal.h"

#define ANY (DB_SQLITE | DB_POSTGRESQL)
#define PG DB_POSTGRESQL

struct store_step {
	unsigned backends;
	const char *sql;
};

static const struct store_step store_v1[] = {
	{ ANY, "CREATE TABLE upgrades ("
	       " id TEXT NOT NULL PRIMARY KEY,"
	       " tenant TEXT NOT NULL,"
	       " kind TEXT NOT NULL,"
	       " instance_id TEXT NOT NULL,"
	       " from_version TEXT NOT NULL,"
	       " to_version TEXT NOT NULL,"
	       " strategy TEXT NOT NULL,"
	       " location TEXT NOT NULL,"
	       " sha256 TEXT NOT NULL,"
	       " rollout_id TEXT NOT NULL,"	/* rollouts come later: "" until then */
	       " state INTEGER NOT NULL CHECK (state BETWEEN 0 AND 7),"
	       " reason TEXT NOT NULL,"
	       " created_us BIGINT NOT NULL,"
	       " updated_us BIGINT NOT NULL)" },
	{ PG, "ALTER TABLE upgrades ALTER COLUMN id TYPE TEXT COLLATE \"C\","
	      " ALTER COLUMN tenant TYPE TEXT COLLATE \"C\","
	      " ALTER COLUMN instance_id TYPE TEXT COLLATE \"C\"" },
	{ ANY, "CREATE TABLE upgrade_events ("
	       " upgrade_id TEXT NOT NULL REFERENCES upgrades (id),"
	       " seq BIGINT NOT NULL,"		/* 1, 2, ... per upgrade: the order applied */
	       " state INTEGER NOT NULL CHECK (state BETWEEN 0 AND 7),"
	       " reason TEXT NOT NULL,"
	       " at_us BIGINT NOT NULL,"
	       " source TEXT NOT NULL,"
	       " PRIMARY KEY (upgrade_id, seq))" },
	{ PG, "ALTER TABLE upgrade_events ALTER COLUMN upgrade_id TYPE TEXT COLLATE \"C\"" },
	{ ANY, "CREATE TABLE instances ("
	       " id TEXT NOT NULL PRIMARY KEY,"
	       " agent_version TEXT NOT NULL DEFAULT '',"
	       " agent_slot TEXT NOT NULL DEFAULT '',"
	       " last_seen_us BIGINT NOT NULL DEFAULT 0)" },
	{ PG, "ALTER TABLE instances ALTER COLUMN id TYPE TEXT COLLATE \"C\","
	      " ALTER COLUMN agent_version TYPE TEXT COLLATE \"C\"" },
	/* One index per list filter, each in list order (newest first by
	 * created, then id), so a page is an index range. */
	{ ANY, "CREATE INDEX upgrades_by_created ON upgrades (created_us, id)" },
	{ ANY, "CREATE INDEX upgrades_by_instance ON upgrades (instance_id, created_us, id)" },
	{ ANY, "CREATE INDEX upgrades_by_tenant ON upgrades (tenant, created_us, id)" },
	{ ANY, "CREATE INDEX upgrades_by_state ON upgrades (state, created_us, id)" },
	{ ANY, "CREATE INDEX instances_by_version ON instances (agent_version, id)" },
};

/* Rollouts (store/fleet_store_rollout.h): the rollout, and its plan, one
 * row per target, unique per (rollout, instance): an instance is planned
 * once per rollout.  seq is the casting order (waves in order). */
static const struct store_step store_v2[] = {
	{ ANY, "CREATE TABLE rollouts ("
	       " id TEXT NOT NULL PRIMARY KEY,"
	       " tenant TEXT NOT NULL,"
	       " state INTEGER NOT NULL CHECK (state BETWEEN 0 AND 4),"
	       " reason TEXT NOT NULL,"
	       " to_version TEXT NOT NULL,"
	       " strategy TEXT NOT NULL,"
	       " location TEXT NOT NULL,"
	       " sha256 TEXT NOT NULL,"
	       " metadata TEXT NOT NULL,"
	       " selector TEXT NOT NULL,"
	       " waves TEXT NOT NULL,"
	       " wave_count INTEGER NOT NULL,"
	       " current_wave INTEGER NOT NULL,"
	       " max_failure_ppm BIGINT NOT NULL,"
	       " cast_interval_us BIGINT NOT NULL,"
	       " probation_us BIGINT NOT NULL,"
	       " timeout_us BIGINT NOT NULL,"
	       " created_us BIGINT NOT NULL,"
	       " updated_us BIGINT NOT NULL)" },
	{ PG, "ALTER TABLE rollouts ALTER COLUMN id TYPE TEXT COLLATE \"C\"" },
	{ ANY, "CREATE TABLE rollout_targets ("
	       " rollout_id TEXT NOT NULL REFERENCES rollouts (id),"
	       " instance_id TEXT NOT NULL,"
	       " seq INTEGER NOT NULL,"
	       " wave INTEGER NOT NULL,"
	       " upgrade_id TEXT NOT NULL,"	/* '' until planned */
	       " cast_us BIGINT NOT NULL,"	/* 0 until the broker confirmed */
	       " PRIMARY KEY (rollout_id, instance_id))" },
	{ PG, "ALTER TABLE rollout_targets ALTER COLUMN rollout_id TYPE TEXT COLLATE \"C\","
	      " ALTER COLUMN instance_id TYPE TEXT COLLATE \"C\"" },
	{ ANY, "CREATE UNIQUE INDEX rollout_targets_by_seq ON rollout_targets (rollout_id, seq)" },
	{ ANY, "CREATE INDEX rollouts_by_created ON rollouts (created_us, id)" },
	{ ANY, "CREATE INDEX rollouts_by_state ON rollouts (state, created_us, id)" },
};

/* The guest RPC API version each instance's heartbeats say ('' until one
 * does: rows from before v3 keep it until their next heartbeat). */
static const struct store_step store_v3[] = {
	{ ANY, "ALTER TABLE instances ADD COLUMN rpc_api_version TEXT NOT NULL DEFAULT ''" },
	{ PG, "ALTER TABLE instances ALTER COLUMN rpc_api_version TYPE TEXT COLLATE \"C\"" },
};

/* Policies (store/fleet_store_policy.h): the policy, and one row per
 * upgrade it planned (cast_us 0 until the broker confirmed: sent again
 * after a restart).  Upgrades say which policy cast them ('' for the
 * records before v4 and those of admins and rollouts). */
static const struct store_step store_v4[] = {
	{ ANY, "CREATE TABLE policies ("
	       " id TEXT NOT NULL PRIMARY KEY,"
	       " tenant TEXT NOT NULL,"
	       " state INTEGER NOT NULL CHECK (state BETWEEN 0 AND 2),"
	       " reason TEXT NOT NULL,"
	       " to_version TEXT NOT NULL,"
	       " strategy TEXT NOT NULL,"
	       " location TEXT NOT NULL,"
	       " sha256 TEXT NOT NULL,"
	       " metadata TEXT NOT NULL,"
	       " instances TEXT NOT NULL,"	/* '' or a JSON array of ids */
	       " min_version TEXT NOT NULL,"
	       " max_version TEXT NOT NULL,"
	       " cast_interval_us BIGINT NOT NULL,"
	       " max_in_flight INTEGER NOT NULL,"
	       " time_window TEXT NOT NULL,"	/* '' or HH:MM-HH:MM (WINDOW is a keyword) */
	       " probation_us BIGINT NOT NULL,"
	       " max_failures INTEGER NOT NULL,"
	       " budget_window INTEGER NOT NULL,"
	       " retry_after_us BIGINT NOT NULL,"
	       " created_us BIGINT NOT NULL,"
	       " updated_us BIGINT NOT NULL)" },
	{ PG, "ALTER TABLE policies ALTER COLUMN id TYPE TEXT COLLATE \"C\","
	      " ALTER COLUMN tenant TYPE TEXT COLLATE \"C\"" },
	{ ANY, "CREATE INDEX policies_by_created ON policies (created_us, id)" },
	{ ANY, "CREATE TABLE policy_casts ("
	       " upgrade_id TEXT NOT NULL PRIMARY KEY,"
	       " policy_id TEXT NOT NULL,"
	       " instance_id TEXT NOT NULL,"
	       " cast_us BIGINT NOT NULL)" },
	{ PG, "ALTER TABLE policy_casts ALTER COLUMN upgrade_id TYPE TEXT COLLATE \"C\","
	      " ALTER COLUMN policy_id TYPE TEXT COLLATE \"C\"" },
	{ ANY, "CREATE INDEX policy_casts_by_policy ON policy_casts (policy_id, cast_us)" },
	{ ANY, "ALTER TABLE upgrades ADD COLUMN policy_id TEXT NOT NULL DEFAULT ''" },
	{ PG, "ALTER TABLE upgrades ALTER COLUMN policy_id TYPE TEXT COLLATE \"C\"" },
	{ ANY, "CREATE INDEX upgrades_by_policy ON upgrades (policy_id, updated_us, id)" },
};

/* Rollouts of the whole fleet (up to FLEET_ROLLOUT_TARGETS_MAX targets):
 * the driver's questions are index ranges of the current wave, not scans
 * of the plan: a wave's rows (its counts, overdue, failed), and within it
 * the pending ones (upgrade_id '') in casting order.  A target leaves the
 * unconfirmed index when its cast is confirmed: it stays the size of the
 * casts in flight.  Kept apart from the others so that it can be
 * renumbered on a merge. */
static const struct store_step store_rollout_big[] = {
	{ ANY, "CREATE INDEX rollout_targets_by_wave ON rollout_targets"
	       " (rollout_id, wave, upgrade_id, seq)" },
	{ ANY, "CREATE INDEX rollout_targets_unconfirmed ON rollout_targets (rollout_id, seq)"
	       " WHERE upgrade_id <> '' AND cast_us = 0" },
	/* A target's rollout row is inserted first in the same transaction
	 * and rollouts are never deleted: PostgreSQL's per-row trigger for
	 * this key checked nothing, at a third of a million-target insert.
	 * (SQLite's check is an index probe per row; dropping it there would
	 * mean rebuilding the table.) */
	{ PG, "ALTER TABLE rollout_targets DROP CONSTRAINT IF EXISTS"
	      " rollout_targets_rollout_id_fkey" },
	/* a rollback of a rollout's target is looked up per instance */
	{ ANY, "CREATE INDEX upgrades_by_rollout ON upgrades (rollout_id, instance_id)"
	       " WHERE rollout_id <> ''" },
};

/* A policy's upgrades still silent `timeout` after their cast are FAILED
 * (rollouts have had it from v2); existing policies get 30 minutes, the
 * API's default.  Kept apart, like the one above, for renumbering. */
static const struct store_step store_policy_timeout[] = {
	{ ANY, "ALTER TABLE policies ADD COLUMN timeout_us BIGINT NOT NULL DEFAULT 1800000000" },
};

/* The outbox (store/fleet_store_outbox.h): the casts of the API's
 * records, written in the transaction that inserts the record and sent by
 * the outbox publisher after the commit.  seq is the order they are sent
 * in; state 0 pending, 1 queued by the broker, 2 refused by it.  A pending
 * row is leased (lease_owner, lease_until_us) by the slotfleet sending it,
 * so that processes on one PostgreSQL do not send it twice; lease_key is
 * the holder's session advisory lock (a dead holder's lease ends at once);
 * attempts counts the leases taken.  Records from before v7 have no row:
 * their casts were confirmed before the API answered. */
static const struct store_step store_v7[] = {
	{ DB_SQLITE, "CREATE TABLE casts ("
		     " seq INTEGER PRIMARY KEY,"	/* the rowid: never reused, as rows stay */
		     " upgrade_id TEXT NOT NULL UNIQUE REFERENCES upgrades (id),"
		     " instance_id TEXT NOT NULL,"
		     " method TEXT NOT NULL,"
		     " version TEXT NOT NULL,"
		     " args TEXT NOT NULL,"
		     " created_us BIGINT NOT NULL,"
		     " state INTEGER NOT NULL DEFAULT 0 CHECK (state BETWEEN 0 AND 2),"
		     " done_us BIGINT NOT NULL DEFAULT 0,"
		     " attempts INTEGER NOT NULL DEFAULT 0,"
		     " lease_owner TEXT NOT NULL DEFAULT '',"
		     " lease_until_us BIGINT NOT NULL DEFAULT 0,"
		     " lease_key BIGINT NOT NULL DEFAULT 0)" },
	{ PG, "CREATE TABLE casts ("
	      " seq BIGSERIAL PRIMARY KEY,"
	      " upgrade_id TEXT COLLATE \"C\" NOT NULL UNIQUE REFERENCES upgrades (id),"
	      " instance_id TEXT COLLATE \"C\" NOT NULL,"
	      " method TEXT NOT NULL,"
	      " version TEXT NOT NULL,"
	      " args TEXT NOT NULL,"
	      " created_us BIGINT NOT NULL,"
	      " state INTEGER NOT NULL DEFAULT 0 CHECK (state BETWEEN 0 AND 2),"
	      " done_us BIGINT NOT NULL DEFAULT 0,"
	      " attempts INTEGER NOT NULL DEFAULT 0,"
	      " lease_owner TEXT NOT NULL DEFAULT '',"
	      " lease_until_us BIGINT NOT NULL DEFAULT 0,"
	      " lease_key BIGINT NOT NULL DEFAULT 0)" },
	/* The pending ones, in order: what the publisher reads. */
	{ ANY, "CREATE INDEX casts_pending ON casts (state, seq)" },
};

/* A selector rollout takes its targets as the driver reaches them
 * (store_rollout_fill.c): the selector (fill_kind: 0 for lists and drafts,
 * whose targets are all in, as for every rollout before v8), the count it
 * announced, how many were taken (the next seq), the last instance taken
 * (the next page starts after it) and whether none was left. */
static const struct store_step store_v8[] = {
	{ ANY, "ALTER TABLE rollouts ADD COLUMN fill_kind INTEGER NOT NULL DEFAULT 0" },
	{ ANY, "ALTER TABLE rollouts ADD COLUMN fill_version TEXT NOT NULL DEFAULT ''" },
	{ ANY, "ALTER TABLE rollouts ADD COLUMN fill_total BIGINT NOT NULL DEFAULT 0" },
	{ ANY, "ALTER TABLE rollouts ADD COLUMN fill_count BIGINT NOT NULL DEFAULT 0" },
	{ ANY, "ALTER TABLE rollouts ADD COLUMN fill_after TEXT NOT NULL DEFAULT ''" },
	{ PG, "ALTER TABLE rollouts ALTER COLUMN fill_after TYPE TEXT COLLATE \"C\"" },
	{ ANY, "ALTER TABLE rollouts ADD COLUMN fill_done INTEGER NOT NULL DEFAULT 0" },
};

static const struct {
	const struct store_step *steps;
	size_t count;
} store_migrations[STORE_SCHEMA_VERSION] = {
	{ store_v1, sizeof store_v1 / sizeof store_v1[0] },
	{ store_v2, sizeof store_v2 / sizeof store_v2[0] },
	{ store_v3, sizeof store_v3 / sizeof store_v3[0] },
	{ store_v4, sizeof store_v4 / sizeof store_v4[0] },
	{ store_rollout_big, sizeof store_rollout_big / sizeof store_rollout_big[0] },
	{ store_policy_timeout, sizeof store_policy_timeout / sizeof store_policy_timeout[0] },
	{ store_v7, sizeof store_v7 / sizeof store_v7[0] },
	{ store_v8, sizeof store_v8 / sizeof store_v8[0] },
};

static int store_version_row(void *ctx, const char *const *cols, int ncols, struct error *err)
{
	int64_t v;

	if (ncols < 1 || db_parse_int(cols[0], "schema_version.version", &v, err))
		return -1;
	*(int *)ctx = (int)v;
	return 0;
}

int store_schema_version(struct db *db, int *version, struct error *err)
{
	*version = 0;
	return db_exec(db, "SELECT COALESCE(MAX(version), 0) FROM schema_version", NULL, 0,
		       store_version_row, version, NULL, err);
}

static int store_apply(struct db *db, int version, struct error *err)
{
	struct db_value params[2] = { DB_I(version), DB_I(store_now_us()) };
	size_t i;

	for (i = 0; i < store_migrations[version - 1].count; i++) {
		const struct store_step *step = &store_migrations[version - 1].steps[i];

		if ((step->backends & db->ops->backend) &&
		    db_exec(db, step->sql, NULL, 0, NULL, NULL, NULL, err))
			return error_prefix(err, "schema migration %d, step %zu: ", version, i + 1);
	}
	return db_exec(db, "INSERT INTO schema_version (version, applied_us) VALUES ($1, $2)",
		       params, 2, NULL, NULL, NULL, err);
}

/* One transaction: 1 when the schema is current, 0 when a migration was
 * applied (call again), -1 on error. */
static int store_migrate_one(struct db *db, struct error *err)
{
	int version, rc;

	if (db->ops->begin(db, err))
		return -1;
	rc = db->ops->lock_schema(db, err);
	if (!rc)
		rc = db_exec(db, "CREATE TABLE IF NOT EXISTS schema_version ("
				 " version INTEGER NOT NULL PRIMARY KEY,"
				 " applied_us BIGINT NOT NULL)",
			     NULL, 0, NULL, NULL, NULL, err);
	if (!rc)
		rc = store_schema_version(db, &version, err);
	if (!rc && version > STORE_SCHEMA_VERSION)
		rc = error_set(err, "%s: the database has schema version %d, newer than this"
				    " slotfleet knows (%d): upgrade slotfleet",
			       db->ops->name, version, STORE_SCHEMA_VERSION);
	if (!rc && version < STORE_SCHEMA_VERSION)
		rc = store_apply(db, version + 1, err);
	if (rc) {
		db->ops->rollback(db);
		return -1;
	}
	if (db->ops->commit(db, err))
		return -1;
	return version == STORE_SCHEMA_VERSION;
}

int store_migrate(struct db *db, struct error *err)
{
	int rc;

	while ((rc = store_migrate_one(db, err)) == 0)
		;
	return rc < 0 ? -1 : 0;
}
