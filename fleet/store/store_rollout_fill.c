/* store_rollout_fill.c: a selector's targets taken as the driver reaches
 * them (see store/fleet_store_rollout.h, fleet_store_rollout_fill).
 *
 * Creating a rollout over a selector counts the instances it matches (N)
 * and makes the waves from N; no target is written then, so creating one
 * of a million takes one COUNT, not a million-row insert.  The driver asks
 * for a page of the current wave when it runs low: the next instances by
 * id after the last one taken (fill_after) that match the selector now,
 * at most what the wave still holds, one INSERT ... SELECT.  So a guest
 * that reached the version by another way before its turn is not cast,
 * and a rollout never takes more than the N it announced; when no
 * instance is left the rollout is full (fill_done) and its later waves
 * are as small as what was found.
 *
 * Rollouts of lists and drafts (fill_kind 0), and those created before
 * schema v8, have every target from the start: nothing to take. */
#include <string.h>

#include "store/fleet_store_rollout.h"
#include "store/store_internal.h"
#include "store/store_rollout_select.h"

/* The rollout's row as read. */
struct fill_row {
	int64_t kind, total, count, done, current, state;
	char version[FLEET_VERSION_MAX];
	char after[FLEET_INSTANCE_MAX];
	char waves[FLEET_ROLLOUT_TEXT_MAX];
};

static int fill_row(void *ctx, const char *const *cols, int ncols, struct error *err)
{
	struct fill_row *f = ctx;

	if (ncols != 9 || db_parse_int(cols[0], "fill_kind", &f->kind, err) ||
	    db_parse_int(cols[1], "fill_total", &f->total, err) ||
	    db_parse_int(cols[2], "fill_count", &f->count, err) ||
	    db_parse_int(cols[3], "fill_done", &f->done, err) ||
	    db_parse_int(cols[4], "current_wave", &f->current, err) ||
	    db_parse_int(cols[5], "state", &f->state, err))
		return error_set(err, "store: unexpected rollout fill row");
	db_copy_text(f->version, sizeof f->version, cols[6]);
	db_copy_text(f->after, sizeof f->after, cols[7]);
	db_copy_text(f->waves, sizeof f->waves, cols[8]);
	return 0;
}

int store_rollout_fill_read(struct db *db, struct store_rollout_fill *out, const char *id,
			    struct error *err)
{
	struct fill_row f = { .kind = -1 };
	struct db_value p[] = { DB_T(id) };
	unsigned percents[FLEET_ROLLOUT_WAVES_MAX], kept[FLEET_ROLLOUT_WAVES_MAX];
	size_t n;

	memset(out, 0, sizeof *out);
	if (db_exec(db, "SELECT fill_kind, fill_total, fill_count, fill_done, current_wave,"
			" state, fill_version, fill_after, waves FROM rollouts WHERE id = $1",
		    p, 1, fill_row, &f, NULL, err))
		return -1;
	if (f.kind <= 0 || f.done)
		return 0;	/* unknown, every target in already, or full */
	n = store_rollout_parse_waves(f.waves, percents);
	if (!n)
		return error_set(err, "store: rollout %s: waves \"%s\"", id, f.waves);
	out->filling = 1;
	out->kind = (enum fleet_rollout_select)f.kind;
	out->count = f.count;
	out->current = (unsigned)f.current;
	out->state = (enum fleet_rollout_state)f.state;
	out->wave_count = store_rollout_waves(percents, n, f.total, out->ends, kept);
	memcpy(out->version, f.version, sizeof out->version);
	memcpy(out->after, f.after, sizeof out->after);
	return 0;
}

/* Up to want instances after the last taken, as targets of wave `wave`
 * at the next places; the rollout's fill columns follow. */
static int fill_take(struct db *db, const struct store_rollout_fill *rf, const char *id,
		     unsigned wave, int64_t want, int64_t *added, struct error *err)
{
	struct db_value q[] = { DB_T(id), DB_I(0), DB_I(0) };

	if (store_rollout_take(db, id, rf->kind, rf->version, rf->after, rf->count, wave, want,
			       added, err))
		return -1;
	q[1] = DB_I(rf->count + *added);
	q[2] = DB_I(*added < want);
	/* the last one taken is at seq count + added - 1 (a unique index) */
	return db_exec(db, "UPDATE rollouts SET fill_count = $2, fill_done = $3,"
			   " fill_after = COALESCE((SELECT instance_id FROM rollout_targets"
			   "  WHERE rollout_id = $1 AND seq = $2 - 1), fill_after) WHERE id = $1",
		       q, 3, NULL, NULL, NULL, err);
}

struct fill_ctx {
	const char *id;
	unsigned wave;
	int64_t want;
	int64_t added;			/* out */
};

static int fill_tx(struct db *db, void *ctx, struct error *err)
{
	struct fill_ctx *f = ctx;
	struct db_value p[] = { DB_T(f->id) };
	struct store_rollout_fill rf;
	int64_t end, want;

	/* the row locked first: a second taker (the driving lock lost and
	 * taken over) waits, then reads the places this one took */
	if (db_exec(db, "UPDATE rollouts SET fill_count = fill_count WHERE id = $1", p, 1, NULL,
		    NULL, NULL, err) ||
	    store_rollout_fill_read(db, &rf, f->id, err))
		return -1;
	/* only the wave being driven, and only while it runs */
	if (!rf.filling || rf.state != FLEET_ROLLOUT_RUNNING || rf.current != f->wave ||
	    f->wave >= rf.wave_count)
		return 0;
	end = rf.ends[f->wave];
	want = end - rf.count < f->want ? end - rf.count : f->want;
	if (want <= 0)
		return 0;
	return fill_take(db, &rf, f->id, f->wave, want, &f->added, err);
}

int fleet_store_rollout_fill(struct fleet_store *store, const char *id, unsigned wave,
			     size_t want, size_t *added, struct error *err)
{
	struct fill_ctx f = { .id = id, .wave = wave, .want = (int64_t)want };
	int rc;

	*added = 0;
	if (store_check_text(id, FLEET_ID_MAX, 0, "rollout id", err))
		return -1;
	if (want > FLEET_ROLLOUT_PAGE_MAX)
		return store_invalid(err, "store: fill at most %d targets", FLEET_ROLLOUT_PAGE_MAX),
		       -1;
	rc = store_tx(store, fill_tx, &f, err);
	if (rc < 0)
		return -1;
	*added = (size_t)f.added;
	return 0;
}
