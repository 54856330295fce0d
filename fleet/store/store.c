/* store.c: fleet_store's life cycle, state names and the per-call
 * transaction (see store/fleet_store.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

static const char *const store_state_names[FLEET_STATE_COUNT] = {
	[FLEET_NEW] = "NEW",		       [FLEET_DEFERRED] = "DEFERRED",
	[FLEET_DOWNLOADING] = "DOWNLOADING", [FLEET_VERIFYING] = "VERIFYING",
	[FLEET_INSTALLING] = "INSTALLING",   [FLEET_ACTIVATING] = "ACTIVATING",
	[FLEET_SUCCESS] = "SUCCESS",	       [FLEET_FAILED] = "FAILED",
};

const char *fleet_state_name(enum fleet_state state)
{
	if ((unsigned)state >= FLEET_STATE_COUNT)
		return "?";
	return store_state_names[state];
}

int fleet_state_parse(const char *name, enum fleet_state *state)
{
	unsigned i;

	for (i = 0; name && i < FLEET_STATE_COUNT; i++) {
		if (!strcmp(name, store_state_names[i])) {
			*state = (enum fleet_state)i;
			return 0;
		}
	}
	return -1;
}

int fleet_state_final(enum fleet_state state)
{
	return state == FLEET_SUCCESS || state == FLEET_FAILED;
}

int fleet_store_open(struct fleet_store **store, const char *spec, struct error *err)
{
	struct fleet_store *s;

	if (!spec)
		return error_set(err, "store: no database given");
	if (!(s = calloc(1, sizeof *s)))
		return error_set(err, "store: out of memory");
	if (pthread_mutex_init(&s->lock, NULL)) {
		free(s);
		return error_set(err, "store: cannot create its lock");
	}
	if (db_open(&s->db, spec, err) || store_migrate(s->db, err)) {
		if (s->db)
			s->db->ops->close(s->db);
		pthread_mutex_destroy(&s->lock);
		free(s);
		errno = EIO;
		return -1;
	}
	*store = s;
	return 0;
}

void fleet_store_close(struct fleet_store *store)
{
	if (!store)
		return;
	store->db->ops->close(store->db);
	pthread_mutex_destroy(&store->lock);
	free(store);
}

const char *fleet_store_backend(const struct fleet_store *store)
{
	return store->db->ops->backend == DB_POSTGRESQL ? "postgresql" : "sqlite";
}

int store_tx(struct fleet_store *store, store_tx_fn fn, void *ctx, struct error *err)
{
	struct db *db = store->db;
	int rc;

	pthread_mutex_lock(&store->lock);
	rc = db->ops->begin(db, err);
	if (!rc) {
		rc = fn(db, ctx, err);
		if (rc >= 0 && db->ops->commit(db, err))
			rc = -1;
		else if (rc < 0)
			db->ops->rollback(db);
	}
	pthread_mutex_unlock(&store->lock);
	if (rc < 0) {
		/* -2: fn refused its input; anything else is the backend's. */
		errno = rc == -2 ? EINVAL : EIO;
		return -1;
	}
	return rc;
}

int store_read(struct fleet_store *store, store_tx_fn fn, void *ctx, struct error *err)
{
	int rc;

	pthread_mutex_lock(&store->lock);
	rc = fn(store->db, ctx, err);
	pthread_mutex_unlock(&store->lock);
	if (rc < 0) {
		errno = rc == -2 ? EINVAL : EIO;
		return -1;
	}
	return rc;
}

static int store_version_read(struct db *db, void *ctx, struct error *err)
{
	return store_schema_version(db, ctx, err);
}

int fleet_store_schema_version(struct fleet_store *store, int *version, struct error *err)
{
	return store_read(store, store_version_read, version, err);
}
