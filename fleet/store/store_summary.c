/* store_summary.c: the fleet's counts (see store/fleet_store_summary.h).
 * Five aggregate statements, the same SQL on SQLite and PostgreSQL; the
 * newest upgrade of each instance is found on upgrades_by_instance, one
 * index probe per instance, as the instance list does. */
#include <string.h>

#include "store/fleet_store_summary.h"
#include "store/store_internal.h"

struct summary_versions {
	struct fleet_version_count *out;
	size_t *count;
	uint64_t *other;
};

static uint64_t summary_count(int64_t n)
{
	return n < 0 ? 0 : (uint64_t)n;
}

/* The first FLEET_SUMMARY_VERSIONS rows are shown, the rest summed. */
static int summary_version_row(void *ctx, const char *const *cols, int ncols, struct error *err)
{
	struct summary_versions *v = ctx;
	int64_t n;

	if (ncols != 2)
		return error_set(err, "store: version count row has %d columns", ncols);
	if (db_parse_int(cols[1], "count", &n, err))
		return -1;
	if (*v->count == FLEET_SUMMARY_VERSIONS) {
		*v->other += summary_count(n);
		return 0;
	}
	db_copy_text(v->out[*v->count].version, sizeof v->out[*v->count].version,
		     cols[0] ? cols[0] : "");
	v->out[(*v->count)++].count = summary_count(n);
	return 0;
}

static int summary_totals_row(void *ctx, const char *const *cols, int ncols, struct error *err)
{
	struct fleet_summary *s = ctx;
	int64_t total, never, stale;

	if (ncols != 3)
		return error_set(err, "store: totals row has %d columns", ncols);
	if (db_parse_int(cols[0], "count", &total, err) ||
	    db_parse_int(cols[1], "never_seen", &never, err) ||
	    db_parse_int(cols[2], "stale", &stale, err))
		return -1;
	s->instances = summary_count(total);
	s->never_seen = summary_count(never);
	s->stale = summary_count(stale);
	return 0;
}

/* A NULL state: the instance was never upgraded. */
static int summary_last_row(void *ctx, const char *const *cols, int ncols, struct error *err)
{
	struct fleet_summary *s = ctx;
	enum fleet_state state = FLEET_STATE_COUNT;
	int64_t n;

	if (ncols != 2)
		return error_set(err, "store: last state row has %d columns", ncols);
	if ((cols[0] && store_parse_state(cols[0], &state, err)) ||
	    db_parse_int(cols[1], "count", &n, err))
		return -1;
	s->last_state[state] += summary_count(n);
	return 0;
}

static int summary_upgrade_row(void *ctx, const char *const *cols, int ncols, struct error *err)
{
	struct fleet_summary *s = ctx;
	enum fleet_state state;
	int64_t n;

	if (ncols != 2)
		return error_set(err, "store: upgrade count row has %d columns", ncols);
	if (store_parse_state(cols[0], &state, err) || db_parse_int(cols[1], "count", &n, err))
		return -1;
	s->upgrades[state] = summary_count(n);
	return 0;
}

struct summary_ctx {
	struct fleet_summary *out;
	int64_t stale_before_us;
};

static int summary_read(struct db *db, void *ctx, struct error *err)
{
	struct summary_ctx *c = ctx;
	struct fleet_summary *s = c->out;
	struct summary_versions agent = { s->versions, &s->version_count, &s->versions_other };
	struct summary_versions rpc = { s->rpc_api, &s->rpc_api_count, &s->rpc_api_other };
	struct db_value p[] = { DB_I(c->stale_before_us) };

	if (db_exec(db, "SELECT agent_version, count(*) FROM instances GROUP BY agent_version"
			" ORDER BY count(*) DESC, agent_version", NULL, 0,
		    summary_version_row, &agent, NULL, err) ||
	    db_exec(db, "SELECT rpc_api_version, count(*) FROM instances GROUP BY rpc_api_version"
			" ORDER BY count(*) DESC, rpc_api_version", NULL, 0,
		    summary_version_row, &rpc, NULL, err) ||
	    db_exec(db, "SELECT count(*),"
			" COALESCE(sum(CASE WHEN last_seen_us = 0 THEN 1 ELSE 0 END), 0),"
			" COALESCE(sum(CASE WHEN last_seen_us > 0 AND last_seen_us < $1"
			" THEN 1 ELSE 0 END), 0) FROM instances", p, 1,
		    summary_totals_row, s, NULL, err) ||
	    db_exec(db, "SELECT (SELECT u.state FROM upgrades u WHERE u.instance_id = i.id"
			" ORDER BY u.created_us DESC, u.id DESC LIMIT 1), count(*)"
			" FROM instances i GROUP BY 1", NULL, 0,
		    summary_last_row, s, NULL, err))
		return -1;
	return db_exec(db, "SELECT state, count(*) FROM upgrades GROUP BY state", NULL, 0,
		       summary_upgrade_row, s, NULL, err);
}

int fleet_store_summary(struct fleet_store *store, int64_t stale_before_us,
			struct fleet_summary *summary, struct error *err)
{
	struct summary_ctx c = { summary, stale_before_us };

	memset(summary, 0, sizeof *summary);
	return store_read(store, summary_read, &c, err);
}
