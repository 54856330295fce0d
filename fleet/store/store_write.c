/* store_write.c: what the calls that change records share (see
 * store/fleet_store.h): the checks of what they are given, the statements
 * of an upgrade's insert, and that insert inside a rollout plan's
 * transaction (store_insert_tx).
 *
 * Inserts, reports and heartbeats go through fleet_store_batch()
 * (store_batch.c, which holds the report rules, and which uses what is
 * here); the single calls are batches of one (store_single.c). */
#include <string.h>

#include "store/fleet_store_outbox.h"
#include "store/store_internal.h"

/* seq is computed under the upgrade's row lock, taken by the statement
 * that changed the upgrade just before, so two appends never race. */
const char store_sql_event[] =
	"INSERT INTO upgrade_events (upgrade_id, seq, state, reason, at_us, source)"
	" SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5"
	" FROM upgrade_events WHERE upgrade_id = $1";
const char store_sql_instance_known[] =
	"INSERT INTO instances (id) VALUES ($1) ON CONFLICT (id) DO NOTHING";
const char store_sql_upgrade_insert[] =
	"INSERT INTO upgrades (" STORE_UPGRADE_COLS ") VALUES"
	" ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
	" ON CONFLICT (id) DO NOTHING";

static int store_event(struct db *db, const char *id, enum fleet_state state,
		       const char *reason, int64_t at_us, const char *source, struct error *err)
{
	struct db_value p[] = { DB_T(id), DB_I(state), DB_T(reason), DB_I(at_us), DB_T(source) };

	return db_exec(db, store_sql_event, p, 5, NULL, NULL, NULL, err);
}

static int store_instance_known(struct db *db, const char *id, struct error *err)
{
	struct db_value p[] = { DB_T(id) };

	return db_exec(db, store_sql_instance_known, p, 1, NULL, NULL, NULL, err);
}

void store_upgrade_params(const struct fleet_upgrade *up, const char *reason, int64_t created_us,
			  struct db_value p[STORE_UPGRADE_PARAMS])
{
	const struct db_value v[STORE_UPGRADE_PARAMS] = {
		DB_T(up->id),	       DB_T(up->tenant),     DB_T(up->kind),
		DB_T(up->instance_id), DB_T(up->from_version), DB_T(up->to_version),
		DB_T(up->strategy),    DB_T(up->location),   DB_T(up->sha256),
		DB_T(up->rollout_id),  DB_I(FLEET_NEW),	     DB_T(reason),
		DB_I(created_us),      DB_I(created_us),	     DB_T(up->policy_id),
	};

	memcpy(p, v, sizeof v);
}

int store_insert_tx(struct db *db, void *ctx, struct error *err)
{
	struct store_insert *c = ctx;
	const struct fleet_upgrade *up = c->up;
	struct db_value p[STORE_UPGRADE_PARAMS];
	int64_t changes;

	store_upgrade_params(up, c->reason, c->created_us, p);
	if (db_exec(db, store_sql_upgrade_insert, p, STORE_UPGRADE_PARAMS, NULL, NULL, &changes,
		    err))
		return -1;
	if (!changes)
		return 1;
	if (store_event(db, up->id, FLEET_NEW, c->reason, c->created_us, "api", err) ||
	    store_instance_known(db, up->instance_id, err))
		return -1;
	return 0;
}

int store_check_upgrade(const struct fleet_upgrade *up, struct error *err)
{
	const struct {
		const char *text;
		size_t size;
		const char *name;
	} f[] = {
		{ up->id, sizeof up->id, "id" },
		{ up->tenant, sizeof up->tenant, "tenant" },
		{ up->kind, sizeof up->kind, "kind" },
		{ up->instance_id, sizeof up->instance_id, "instance_id" },
		{ up->from_version, sizeof up->from_version, "from_version" },
		{ up->to_version, sizeof up->to_version, "to_version" },
		{ up->strategy, sizeof up->strategy, "strategy" },
		{ up->location, sizeof up->location, "location" },
		{ up->sha256, sizeof up->sha256, "sha256" },
		{ up->rollout_id, sizeof up->rollout_id, "rollout_id" },
		{ up->policy_id, sizeof up->policy_id, "policy_id" },
	};
	size_t i;

	for (i = 0; i < sizeof f / sizeof f[0]; i++) {
		if (store_check_text(f[i].text, f[i].size, 0, f[i].name, err))
			return -1;
	}
	if (!up->id[0] || !up->instance_id[0])
		return store_invalid(err, "store: upgrade without %s",
				     up->id[0] ? "instance_id" : "id"), -1;
	return 0;
}

int store_check_report(const struct fleet_report *r, struct error *err)
{
	if (store_check_text(r->upgrade_id, FLEET_ID_MAX, 0, "upgrade_id", err) ||
	    store_check_text(r->instance_id, FLEET_INSTANCE_MAX, 1, "instance_id", err) ||
	    store_check_text(r->from_version, FLEET_VERSION_MAX, 1, "from_version", err) ||
	    store_check_text(r->to_version, FLEET_VERSION_MAX, 1, "to_version", err) ||
	    store_check_text(r->source, sizeof ((struct fleet_event *)0)->source, 0, "source",
			     err) ||
	    store_check_state(r->state, err))
		return -1;
	if (!r->upgrade_id[0])
		return store_invalid(err, "store: report without upgrade_id"), -1;
	return 0;
}

int store_check_heartbeat(const struct fleet_heartbeat *h, struct error *err)
{
	if (store_check_text(h->instance_id, FLEET_INSTANCE_MAX, 0, "instance_id", err) ||
	    store_check_text(h->agent_version, FLEET_VERSION_MAX, 1, "agent_version", err) ||
	    store_check_text(h->agent_slot, sizeof ((struct fleet_instance *)0)->agent_slot, 1,
			     "agent_slot", err) ||
	    store_check_text(h->rpc_api_version, FLEET_RPC_API_MAX, 1, "rpc_api_version", err))
		return -1;
	if (!h->instance_id[0])
		return store_invalid(err, "store: heartbeat without instance_id"), -1;
	return 0;
}

int store_check_cast(const struct fleet_outbox_cast *c, struct error *err)
{
	if (store_check_text(c->method, FLEET_CAST_METHOD_MAX, 0, "cast method", err) ||
	    store_check_text(c->version, FLEET_RPC_API_MAX, 1, "cast version", err) ||
	    store_check_text(c->args, FLEET_CAST_ARGS_MAX, 0, "cast args", err))
		return -1;
	return 0;
}
