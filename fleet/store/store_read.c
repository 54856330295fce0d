/* store_read.c: gets and lists (see store/fleet_store.h).  Each is one
 * statement, except a list after a marker, which first finds where the
 * marker record sits (records never move: created_us and id are fixed). */
#include <stdio.h>
#include <string.h>

#include "store/store_internal.h"

int store_parse_state(const char *text, enum fleet_state *state, struct error *err)
{
	int64_t v;

	if (db_parse_int(text, "state", &v, err))
		return -1;
	if (v < 0 || v >= FLEET_STATE_COUNT)
		return error_set(err, "store: stored state %lld is not a state", (long long)v);
	*state = (enum fleet_state)v;
	return 0;
}

int store_row_upgrade(const char *const *cols, int ncols, struct fleet_upgrade *up,
		      struct error *err)
{
	int64_t cast = 0;

	if (ncols != 15 && ncols != 16)
		return error_set(err, "store: upgrade row has %d columns", ncols);
	memset(up, 0, sizeof *up);
	db_copy_text(up->id, sizeof up->id, cols[0]);
	db_copy_text(up->tenant, sizeof up->tenant, cols[1]);
	db_copy_text(up->kind, sizeof up->kind, cols[2]);
	db_copy_text(up->instance_id, sizeof up->instance_id, cols[3]);
	db_copy_text(up->from_version, sizeof up->from_version, cols[4]);
	db_copy_text(up->to_version, sizeof up->to_version, cols[5]);
	db_copy_text(up->strategy, sizeof up->strategy, cols[6]);
	db_copy_text(up->location, sizeof up->location, cols[7]);
	db_copy_text(up->sha256, sizeof up->sha256, cols[8]);
	db_copy_text(up->rollout_id, sizeof up->rollout_id, cols[9]);
	db_copy_text(up->reason, sizeof up->reason, cols[11]);
	db_copy_text(up->policy_id, sizeof up->policy_id, cols[14]);
	if (store_parse_state(cols[10], &up->state, err) ||
	    db_parse_int(cols[12], "created_us", &up->created_us, err) ||
	    db_parse_int(cols[13], "updated_us", &up->updated_us, err) ||
	    (ncols == 16 && db_parse_int(cols[15], "cast", &cast, err)))
		return -1;
	up->cast = cast >= FLEET_CAST_STATE_PENDING && cast <= FLEET_CAST_STATE_REFUSED ?
		   (enum fleet_cast_state)cast : FLEET_CAST_STATE_UNKNOWN;
	/* A rollout's or a policy's refused cast is settled like a sent one;
	 * the record's reason tells them apart (only a refusal writes it). */
	if (up->cast == FLEET_CAST_STATE_QUEUED && up->state == FLEET_FAILED &&
	    !strncmp(up->reason, "cast not queued: ", 17))
		up->cast = FLEET_CAST_STATE_REFUSED;
	return 0;
}

/* Rows into an array of records; one row beyond max says there is more. */
struct store_rows {
	void *out;
	size_t max, count;
	int more;
	const char *id;			/* the argument of single-row reads */
	const struct fleet_upgrade_filter *filter;
	const char *agent_version;
};

static int store_upgrade_row(void *ctx, const char *const *cols, int ncols, struct error *err)
{
	struct store_rows *r = ctx;

	if (r->count == r->max) {
		r->more = 1;
		return 0;
	}
	return store_row_upgrade(cols, ncols, (struct fleet_upgrade *)r->out + r->count++, err);
}

static int store_get_read(struct db *db, void *ctx, struct error *err)
{
	struct store_rows *r = ctx;
	struct db_value p[] = { DB_T(r->id) };

	if (db_exec(db, "SELECT " STORE_UPGRADE_READ " FROM upgrades WHERE id = $1", p, 1,
		    store_upgrade_row, r, NULL, err))
		return -1;
	return r->count > 0;
}

int fleet_store_upgrade_get(struct fleet_store *store, const char *id, struct fleet_upgrade *up,
			    struct error *err)
{
	struct store_rows r = { .out = up, .max = 1, .id = id };

	if (store_check_text(id, FLEET_ID_MAX, 0, "upgrade id", err))
		return -1;
	return store_read(store, store_get_read, &r, err);
}

static int store_event_row(void *ctx, const char *const *cols, int ncols, struct error *err)
{
	struct store_rows *r = ctx;
	struct fleet_event *e = (struct fleet_event *)r->out + r->count;

	if (ncols != 4 || r->count == r->max)
		return error_set(err, "store: unexpected event row");
	memset(e, 0, sizeof *e);
	db_copy_text(e->reason, sizeof e->reason, cols[1]);
	db_copy_text(e->source, sizeof e->source, cols[3]);
	if (store_parse_state(cols[0], &e->state, err) ||
	    db_parse_int(cols[2], "at_us", &e->at_us, err))
		return -1;
	r->count++;
	return 0;
}

static int store_events_read(struct db *db, void *ctx, struct error *err)
{
	struct store_rows *r = ctx;
	struct db_value p[] = { DB_T(r->id), DB_I((int64_t)r->max) };

	return db_exec(db, "SELECT state, reason, at_us, source FROM upgrade_events"
			   " WHERE upgrade_id = $1 ORDER BY seq LIMIT $2",
		       p, 2, store_event_row, r, NULL, err);
}

int fleet_store_upgrade_events(struct fleet_store *store, const char *id,
			       struct fleet_event *events, size_t max, size_t *count,
			       struct error *err)
{
	struct store_rows r = { .out = events, .max = max, .id = id };

	*count = 0;
	if (store_check_text(id, FLEET_ID_MAX, 0, "upgrade id", err))
		return -1;
	if (max == 0)
		return 0;
	if (store_read(store, store_events_read, &r, err))
		return -1;
	*count = r.count;
	return 0;
}

static int store_created_row(void *ctx, const char *const *cols, int ncols, struct error *err)
{
	int64_t *created = ctx;

	if (ncols != 1)
		return error_set(err, "store: unexpected marker row");
	return db_parse_int(cols[0], "created_us", created, err);
}

#define STORE_APPEND(fmt, ...) \
	(used += (size_t)snprintf(sql + used, sizeof sql - used, fmt, __VA_ARGS__))

/* The SQL is assembled from fixed fragments (values stay parameters), so
 * each filter combination is a plain index range on both backends. */
static int store_list_read(struct db *db, void *ctx, struct error *err)
{
	struct store_rows *r = ctx;
	const struct fleet_upgrade_filter *f = r->filter;
	struct db_value p[8];
	char sql[1536];
	size_t used = 0;
	int64_t created = -1;
	int n = 0;

	if (f->marker) {
		p[0] = DB_T(f->marker);
		if (db_exec(db, "SELECT created_us FROM upgrades WHERE id = $1", p, 1,
			    store_created_row, &created, NULL, err))
			return -1;
		if (created < 0)
			return 1;
	}
	STORE_APPEND("%s", "SELECT " STORE_UPGRADE_READ " FROM upgrades WHERE TRUE");
	if (f->has_state) {
		p[n++] = DB_I(f->state);
		STORE_APPEND(" AND state = $%d", n);
	}
	if (f->instance_id) {
		p[n++] = DB_T(f->instance_id);
		STORE_APPEND(" AND instance_id = $%d", n);
	}
	if (f->tenant) {
		p[n++] = DB_T(f->tenant);
		STORE_APPEND(" AND tenant = $%d", n);
	}
	if (f->marker) {
		p[n++] = DB_I(created);
		p[n++] = DB_T(f->marker);
		STORE_APPEND(" AND (created_us < $%d OR (created_us = $%d AND id < $%d))", n - 1,
			     n - 1, n);
	}
	p[n++] = DB_I((int64_t)f->limit + 1);
	STORE_APPEND(" ORDER BY created_us DESC, id DESC LIMIT $%d", n);
	return db_exec(db, sql, p, n, store_upgrade_row, r, NULL, err);
}

int fleet_store_upgrade_list(struct fleet_store *store, const struct fleet_upgrade_filter *filter,
			     struct fleet_upgrade *up, size_t *count, int *more,
			     struct error *err)
{
	struct store_rows r = { .out = up, .max = filter->limit, .filter = filter };
	int rc;

	*count = 0;
	*more = 0;
	if ((filter->has_state && store_check_state(filter->state, err)) ||
	    store_check_text(filter->instance_id, FLEET_INSTANCE_MAX, 1, "instance_id", err) ||
	    store_check_text(filter->tenant, FLEET_ID_MAX, 1, "tenant", err) ||
	    store_check_text(filter->marker, FLEET_ID_MAX, 1, "marker", err))
		return -1;
	if (filter->limit < 1 || filter->limit > FLEET_PAGE_MAX)
		return store_invalid(err, "store: limit %zu not in 1..%d", filter->limit,
				     FLEET_PAGE_MAX), -1;
	rc = store_read(store, store_list_read, &r, err);
	if (rc == 0) {
		*count = r.count;
		*more = r.more;
	}
	return rc;
}

/* The newest record of each instance joined by its id: one index probe per
 * instance on both backends (no LATERAL in SQLite). */
#define STORE_INSTANCE_SELECT \
	"SELECT i.id, i.agent_version, i.agent_slot, i.last_seen_us," \
	" i.rpc_api_version, u.id, u.state, u.to_version, u.rollout_id, u.policy_id, u.reason" \
	" FROM instances i LEFT JOIN upgrades u ON u.id =" \
	" (SELECT l.id FROM upgrades l WHERE l.instance_id = i.id" \
	"  ORDER BY l.created_us DESC, l.id DESC LIMIT 1)"

static int store_instance_row(void *ctx, const char *const *cols, int ncols, struct error *err)
{
	struct store_rows *r = ctx;
	struct fleet_instance *in = (struct fleet_instance *)r->out + r->count;

	if (ncols != 11)
		return error_set(err, "store: instance row has %d columns", ncols);
	if (r->count == r->max) {
		r->more = 1;
		return 0;
	}
	memset(in, 0, sizeof *in);
	db_copy_text(in->id, sizeof in->id, cols[0]);
	db_copy_text(in->agent_version, sizeof in->agent_version, cols[1]);
	db_copy_text(in->agent_slot, sizeof in->agent_slot, cols[2]);
	db_copy_text(in->rpc_api_version, sizeof in->rpc_api_version, cols[4]);
	db_copy_text(in->last_upgrade_id, sizeof in->last_upgrade_id, cols[5]);
	db_copy_text(in->last_upgrade_to, sizeof in->last_upgrade_to, cols[7]);
	db_copy_text(in->last_upgrade_rollout, sizeof in->last_upgrade_rollout, cols[8]);
	db_copy_text(in->last_upgrade_policy, sizeof in->last_upgrade_policy, cols[9]);
	db_copy_text(in->last_upgrade_reason, sizeof in->last_upgrade_reason, cols[10]);
	in->last_upgrade_state = FLEET_NEW;
	if (db_parse_int(cols[3], "last_seen_us", &in->last_seen_us, err) ||
	    (cols[6] && store_parse_state(cols[6], &in->last_upgrade_state, err)))
		return -1;
	r->count++;
	return 0;
}

static int store_instance_read(struct db *db, void *ctx, struct error *err)
{
	struct store_rows *r = ctx;
	struct db_value p[] = { DB_T(r->id) };

	if (db_exec(db, STORE_INSTANCE_SELECT " WHERE i.id = $1", p, 1, store_instance_row, r,
		    NULL, err))
		return -1;
	return r->count > 0;
}

int fleet_store_instance_get(struct fleet_store *store, const char *instance_id,
			     struct fleet_instance *instance, struct error *err)
{
	struct store_rows r = { .out = instance, .max = 1, .id = instance_id };

	if (store_check_text(instance_id, FLEET_INSTANCE_MAX, 0, "instance id", err))
		return -1;
	return store_read(store, store_instance_read, &r, err);
}

static int store_instances_read(struct db *db, void *ctx, struct error *err)
{
	struct store_rows *r = ctx;
	struct db_value p[] = { DB_T(r->id ? r->id : ""), DB_I((int64_t)r->max + 1),
				DB_T(r->agent_version) };

	if (r->agent_version)
		return db_exec(db, STORE_INSTANCE_SELECT " WHERE i.id > $1 AND i.agent_version = $3"
					" ORDER BY i.id LIMIT $2",
			       p, 3, store_instance_row, r, NULL, err);
	return db_exec(db, STORE_INSTANCE_SELECT " WHERE i.id > $1 ORDER BY i.id LIMIT $2", p, 2,
		       store_instance_row, r, NULL, err);
}

int fleet_store_instance_list(struct fleet_store *store, const char *agent_version,
			      const char *marker, size_t limit, struct fleet_instance *instances,
			      size_t *count, int *more, struct error *err)
{
	struct store_rows r = { .out = instances, .max = limit, .id = marker,
				.agent_version = agent_version };
	int rc;

	*count = 0;
	*more = 0;
	if (store_check_text(agent_version, FLEET_VERSION_MAX, 1, "agent_version", err) ||
	    store_check_text(marker, FLEET_INSTANCE_MAX, 1, "marker", err))
		return -1;
	if (limit < 1 || limit > FLEET_PAGE_MAX)
		return store_invalid(err, "store: limit %zu not in 1..%d", limit, FLEET_PAGE_MAX),
		       -1;
	rc = store_read(store, store_instances_read, &r, err);
	if (rc == 0) {
		*count = r.count;
		*more = r.more;
	}
	return rc;
}
