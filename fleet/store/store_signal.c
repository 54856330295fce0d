/* store_signal.c: a FAILED stored, told to the rollout drivers of every
 * slotfleet on the database (see store/fleet_store_rollout.h).
 *
 * The report consumer that stores a FAILED kicks its own process's driver
 * directly; with several slotfleets on one PostgreSQL the rollout may be
 * driven by another, which would only see the FAILED at its next full
 * step.  So the consumer also signals the channel (pg_notify, delivered to
 * the listeners once it commits: it is its own statement, after the
 * batch's commit) and every driver checks for a signal before it casts. */
#include "store/fleet_store_rollout.h"
#include "store/store_internal.h"

#define SIGNAL_CHANNEL "slotfleet_failed"

static int signal_send(struct db *db, void *ctx, struct error *err)
{
	struct db_value p[] = { DB_T(SIGNAL_CHANNEL) };

	(void)ctx;
	if (db->ops->backend != DB_POSTGRESQL)
		return 0;	/* one process per SQLite file: the direct kick is all */
	return db_exec(db, "SELECT pg_notify($1, '')", p, 1, NULL, NULL, NULL, err);
}

int fleet_store_failed_signal(struct fleet_store *store, struct error *err)
{
	return store_read(store, signal_send, NULL, err);
}

static int signal_heard(struct db *db, void *ctx, struct error *err)
{
	return db_heard(db, SIGNAL_CHANNEL, ctx, err);
}

int fleet_store_failed_heard(struct fleet_store *store, int *heard, struct error *err)
{
	*heard = 0;
	return store_read(store, signal_heard, heard, err);
}
