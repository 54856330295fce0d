/* store_metrics.c: the counts GET /metrics shows (see store/fleet_store.h).
 * Two small aggregate reads, each one statement on an index
 * (upgrades_by_state, instances_by_version), the same SQL on both backends. */
#include <string.h>

#include "metrics/fleet_metrics.h"
#include "store/store_internal.h"

static int store_state_row(void *ctx, const char *const *cols, int ncols, struct error *err)
{
	uint64_t *counts = ctx;
	enum fleet_state state;
	int64_t n;

	if (ncols != 2)
		return error_set(err, "store: state count row has %d columns", ncols);
	if (store_parse_state(cols[0], &state, err) || db_parse_int(cols[1], "count", &n, err))
		return -1;
	counts[state] = n < 0 ? 0 : (uint64_t)n;
	return 0;
}

static int store_states_read(struct db *db, void *ctx, struct error *err)
{
	return db_exec(db, "SELECT state, count(*) FROM upgrades GROUP BY state", NULL, 0,
		       store_state_row, ctx, NULL, err);
}

int fleet_store_upgrade_counts(struct fleet_store *store, uint64_t counts[FLEET_STATE_COUNT],
			       struct error *err)
{
	memset(counts, 0, FLEET_STATE_COUNT * sizeof counts[0]);
	return store_read(store, store_states_read, counts, err);
}

struct store_versions {
	struct fleet_version_count *out;
	size_t max, count;
	uint64_t total;
};

static int store_version_row(void *ctx, const char *const *cols, int ncols, struct error *err)
{
	struct store_versions *v = ctx;
	int64_t n;

	if (ncols != 2 || v->count == v->max)
		return error_set(err, "store: unexpected version count row");
	if (db_parse_int(cols[1], "count", &n, err))
		return -1;
	db_copy_text(v->out[v->count].version, sizeof v->out[v->count].version, cols[0]);
	v->out[v->count++].count = n < 0 ? 0 : (uint64_t)n;
	return 0;
}

static int store_total_row(void *ctx, const char *const *cols, int ncols, struct error *err)
{
	struct store_versions *v = ctx;
	int64_t n;

	if (ncols != 1)
		return error_set(err, "store: instance count row has %d columns", ncols);
	if (db_parse_int(cols[0], "count", &n, err))
		return -1;
	v->total = n < 0 ? 0 : (uint64_t)n;
	return 0;
}

/* Two statements, one snapshot not needed: a scrape may be off by the
 * instances a concurrent heartbeat added (the "other" count absorbs it). */
static int store_versions_read(struct db *db, void *ctx, struct error *err)
{
	struct store_versions *v = ctx;
	struct db_value p[] = { DB_I((int64_t)v->max) };

	if (db_exec(db, "SELECT agent_version, count(*) FROM instances GROUP BY agent_version"
			" ORDER BY count(*) DESC, agent_version LIMIT $1",
		    p, 1, store_version_row, v, NULL, err))
		return -1;
	return db_exec(db, "SELECT count(*) FROM instances", NULL, 0, store_total_row, v, NULL,
		       err);
}

int fleet_store_version_counts(struct fleet_store *store, struct fleet_version_count *versions,
			       size_t max, size_t *count, uint64_t *total, struct error *err)
{
	struct store_versions v = { .out = versions, .max = max };

	*count = 0;
	*total = 0;
	if (store_read(store, store_versions_read, &v, err))
		return -1;
	*count = v.count;
	*total = v.total;
	return 0;
}
