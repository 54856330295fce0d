/* fleet_store_rollout.h: the store's rollout tables (schema version 2), on
 * the same two backends and under the same promises as fleet_store.h (one
 * transaction per call, values bound as parameters, EINVAL for refused input,
 * EIO for the backend; tests/unit/test_fleet_store_rollout.c runs one suite
 * against each).
 *
 * A rollout is one row; its plan is one row per target instance (rollout,
 * instance: unique), made when the rollout is created (or appended to its
 * draft, waves given when it starts), or for a selector taken a page at a
 * time as the driver reaches their wave (store_rollout_fill.c), and never
 * changed after: the instance's wave and its place in the casting order
 * (seq, dense from 0).  Targets are chosen and numbered in the database
 * (store_rollout_select.c): no call holds more than a page of them.  A target is
 *   pending      nothing sent yet (upgrade_id "")
 *   planned      fleet_store_rollout_plan() gave it an upgrade record (NEW,
 *                rollout_id set), in the same transaction that checked the
 *                rollout is RUNNING: the cast is durable before it is sent
 *   cast         fleet_store_rollout_cast_done() recorded the broker's
 *                confirmation (cast_us)
 * A target is planned at most once (the update is conditional on
 * upgrade_id ""), so no instance ever gets two upgrade records from one
 * rollout.  A planned target not yet cast (slotfleet died between the
 * two) is published again with the same upgrade id: the guest treats a
 * repeated id as the same attempt, so that is not a second cast.
 *
 * Driving: on PostgreSQL, several slotfleet processes may share the
 * database; fleet_store_rollout_lock() takes a session advisory lock per
 * rollout (pg_try_advisory_lock, released when the process or its
 * connection goes), and fleet_store_rollout_plan() plans only while this
 * connection still holds it (checked in pg_locks in the same transaction),
 * so exactly one process casts for a rollout.  On SQLite one process is
 * assumed: the lock is always granted. */
#ifndef SLOTFLEET_STORE_ROLLOUT_H
#define SLOTFLEET_STORE_ROLLOUT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "store/fleet_store.h"

enum fleet_rollout_state {
	FLEET_ROLLOUT_RUNNING = 0,
	FLEET_ROLLOUT_PAUSED,
	FLEET_ROLLOUT_HALTED,
	FLEET_ROLLOUT_CANCELLED,
	FLEET_ROLLOUT_FINISHED,
};
#define FLEET_ROLLOUT_STATE_COUNT 5
#define FLEET_ROLLOUT_BIT(s) (1u << (s))

#define FLEET_ROLLOUT_TARGETS_MAX 1000000	/* a rollout's targets; memory does not grow with it */
#define FLEET_ROLLOUT_PAGE_MAX 10000		/* ids a list gives at once (creation, append) */
#define FLEET_ROLLOUT_WAVES_MAX 16
#define FLEET_ROLLOUT_METADATA_MAX 4096	/* the metadata object as JSON text */
#define FLEET_ROLLOUT_TEXT_MAX 512		/* selector and waves, as JSON text */

const char *fleet_rollout_state_name(enum fleet_rollout_state state);
int fleet_rollout_state_parse(const char *name, enum fleet_rollout_state *state);

struct fleet_rollout {
	char id[FLEET_ID_MAX];
	char tenant[FLEET_ID_MAX];
	enum fleet_rollout_state state;
	char reason[FLEET_REASON_MAX];		/* why HALTED or CANCELLED, "" otherwise */
	char to_version[FLEET_VERSION_MAX];
	char strategy[32];
	char location[FLEET_LOCATION_MAX];
	char sha256[65];
	char metadata[FLEET_ROLLOUT_METADATA_MAX];	/* "" or a JSON object */
	char selector[FLEET_ROLLOUT_TEXT_MAX];	/* how targets were chosen (JSON) */
	char waves[FLEET_ROLLOUT_TEXT_MAX];	/* the waves' percents (JSON array) */
	unsigned wave_count;			/* waves with targets: 1..WAVES_MAX */
	unsigned current_wave;			/* 0-based */
	uint32_t max_failure_ppm;		/* max_failure_rate in millionths */
	int64_t cast_interval_us;		/* 1 / rate */
	int64_t probation_us, timeout_us;
	int64_t created_us, updated_us;
};

struct fleet_rollout_target {
	char instance_id[FLEET_INSTANCE_MAX];
	unsigned wave;				/* 0-based, < wave_count */
};

/* A target as the driver and the view see it. */
struct fleet_rollout_member {
	int64_t seq;				/* its place in the casting order */
	char instance_id[FLEET_INSTANCE_MAX];
	char upgrade_id[FLEET_ID_MAX];		/* "" : pending */
	unsigned wave;
	int64_t cast_us;			/* 0 : not confirmed */
	int has_upgrade;			/* state, updated_us, reason valid */
	enum fleet_state state;
	int64_t updated_us;
	char reason[FLEET_REASON_MAX];
};

enum fleet_rollout_which {
	FLEET_MEMBERS_PENDING,		/* in the wave, nothing sent, in casting order */
	FLEET_MEMBERS_UNCONFIRMED,	/* planned, not confirmed (any wave) */
	FLEET_MEMBERS_OVERDUE,		/* in the wave, cast before `before_us`, not final */
	FLEET_MEMBERS_FAILED,		/* upgrade FAILED; in the wave, or any wave if wave < 0 */
	FLEET_MEMBERS_CAST,		/* planned or cast, any wave */
};

struct fleet_rollout_members_query {
	enum fleet_rollout_which which;
	int wave;			/* -1: any (FAILED only) */
	int64_t before_us;		/* OVERDUE */
	size_t limit;			/* 1..FLEET_PAGE_MAX */
	int64_t from_seq;		/* paging: targets at this seq or later (0: all) */
	int unrolled;			/* FAILED, CAST: skip targets this rollout sent a
					 * rollback (not FAILED) since their upgrade's
					 * last change */
};

/* One wave's counts, for the driver's decision. */
struct fleet_rollout_wave {
	size_t total;			/* taken (below: untaken) */
	size_t untaken;			/* a selector's, still to take (fill) */
	size_t pending;			/* taken, nothing sent */
	size_t unconfirmed;		/* planned, not confirmed */
	size_t failed;			/* upgrade FAILED */
	size_t succeeded;		/* upgrade SUCCESS */
	size_t proven;			/* SUCCESS applied at or before proven_before_us */
};

struct fleet_rollout_filter {
	int has_state;
	enum fleet_rollout_state state;
	const char *marker;		/* NULL: from the newest */
	size_t limit;			/* 1..FLEET_PAGE_MAX */
};

/* Inserts the rollout (its state, current_wave and reason as given;
 * created_us 0 means now) and its targets with their waves, in this order
 * (the casting order), at most FLEET_ROLLOUT_PAGE_MAX (the API creates with
 * fleet_store_rollout_create; this is for tests).  Every target's wave must be < wave_count, every instance id
 * non-empty and given once (EINVAL otherwise).  Returns 0, 1 when the id
 * exists already (nothing changed), or -1. */
int fleet_store_rollout_insert(struct fleet_store *store, const struct fleet_rollout *rollout,
			       const struct fleet_rollout_target *targets, size_t count,
			       struct error *err);
/* How a rollout's targets are chosen (fleet_store_rollout_create):
 *   LIST           ids[0..count) in this order (1..FLEET_ROLLOUT_PAGE_MAX)
 *   VERSION_BELOW  every instance whose agent_version is below `version`
 *                  (version.h's order; none or unparsable: left out), by id
 *   VERSION_EQUAL  every instance whose agent_version is `version`, by id
 * percents: the waves' cumulative percents (increasing, the last 100).  A
 * draft is created PAUSED with every target in wave 0 and wave_count 0:
 * ids may be appended (fleet_store_rollout_append) until it starts
 * (fleet_store_rollout_start), which gives the waves from the count. */
enum fleet_rollout_select {
	FLEET_SELECT_LIST = 0,
	FLEET_SELECT_VERSION_BELOW,
	FLEET_SELECT_VERSION_EQUAL,
};

struct fleet_rollout_selection {
	enum fleet_rollout_select kind;
	const char *version;
	const char *const *ids;
	size_t count;
	unsigned percents[FLEET_ROLLOUT_WAVES_MAX];
	size_t percent_count;
	int draft;
};

enum {
	FLEET_ROLLOUT_CREATED = 0,
	FLEET_ROLLOUT_CREATE_EXISTS,	/* the id is taken */
	FLEET_ROLLOUT_CREATE_EMPTY,	/* no instance matches */
	FLEET_ROLLOUT_CREATE_TOO_MANY,	/* more than FLEET_ROLLOUT_TARGETS_MAX */
	FLEET_ROLLOUT_CREATE_TWICE,	/* ids[*dup] was given before */
};

/* Records the rollout (state RUNNING, or PAUSED for a draft; wave_count and
 * waves from the kept waves, see above) and, in the same transaction, a
 * list's or a draft's targets, or a selector's count N (its targets are
 * taken later: fleet_store_rollout_fill): wave k ends at
 * ceil(p_k * N / 100) targets of N, a wave that would be empty is dropped.
 * *count: the targets.  Returns a code above (anything but CREATED leaves
 * nothing recorded), or -1. */
int fleet_store_rollout_create(struct fleet_store *store, const struct fleet_rollout *rollout,
			       const struct fleet_rollout_selection *selection, size_t *count,
			       size_t *dup, struct error *err);

enum {
	FLEET_ROLLOUT_APPENDED = 0,
	FLEET_ROLLOUT_APPEND_NOT_DRAFT,	/* unknown (*state STATE_COUNT), or started */
	FLEET_ROLLOUT_APPEND_TOO_MANY,
	FLEET_ROLLOUT_APPEND_TWICE,	/* ids[*dup] is a target already */
};
/* Appends 1..FLEET_ROLLOUT_PAGE_MAX ids to a draft, after its targets, in
 * one transaction; *total: its targets after.  A code above (nothing
 * appended unless APPENDED), or -1. */
int fleet_store_rollout_append(struct fleet_store *store, const char *id,
			       const char *const *ids, size_t count, size_t *total, size_t *dup,
			       enum fleet_rollout_state *state, struct error *err);
/* Starts a draft: its waves from its count (one UPDATE of its targets),
 * RUNNING.  1 started, 0 not a draft (*state: what it is; STATE_COUNT
 * unknown), -1. */
int fleet_store_rollout_start(struct fleet_store *store, const char *id, size_t *total,
			      enum fleet_rollout_state *state, struct error *err);

/* 1 found, 0 not, -1. */
int fleet_store_rollout_get(struct fleet_store *store, const char *id,
			    struct fleet_rollout *rollout, struct error *err);
/* Newest first, paged like fleet_store_upgrade_list(); 1 for an unknown marker. */
int fleet_store_rollout_list(struct fleet_store *store, const struct fleet_rollout_filter *filter,
			     struct fleet_rollout *rollouts, size_t *count, int *more,
			     struct error *err);
/* The ids of RUNNING rollouts, oldest first, at most max. */
int fleet_store_rollout_running(struct fleet_store *store, char (*ids)[FLEET_ID_MAX], size_t max,
				size_t *count, struct error *err);
/* Moves the rollout to `to` if its state is in from_mask (FLEET_ROLLOUT_BIT),
 * with reason (NULL: keep it).  Returns 1 applied, 0 not (*current, may be
 * NULL, says the state it is in; FLEET_ROLLOUT_STATE_COUNT for an unknown
 * id), -1.  The conditional update is the arbiter between the API's actions
 * and the driver: whichever commits first wins. */
int fleet_store_rollout_transition(struct fleet_store *store, const char *id,
				   unsigned from_mask, enum fleet_rollout_state to,
				   const char *reason, enum fleet_rollout_state *current,
				   struct error *err);
/* A RUNNING rollout still at `wave` moves to the next wave, or to FINISHED
 * after the last.  1 applied, 0 not, -1. */
int fleet_store_rollout_advance(struct fleet_store *store, const char *id, unsigned wave,
				struct error *err);
/* A rollout over a selector takes its targets as the driver reaches them
 * (store_rollout_fill.c): up to want (at most FLEET_ROLLOUT_PAGE_MAX) more
 * for `wave`, which must be its current wave while RUNNING, the next
 * instances by id that match the selector now, never past the wave's size
 * counted at creation (its untaken count).  *added: how many.  Lists,
 * drafts and rollouts whose instances ran out take none.  0, -1. */
int fleet_store_rollout_fill(struct fleet_store *store, const char *id, unsigned wave,
			     size_t want, size_t *added, struct error *err);
/* Counts of one wave; proven: SUCCESS applied at or before proven_before_us. */
int fleet_store_rollout_wave(struct fleet_store *store, const char *id, unsigned wave,
			     int64_t proven_before_us, struct fleet_rollout_wave *counts,
			     struct error *err);
/* counts[w][s]: targets of wave w whose upgrade is in state s, and
 * counts[w][FLEET_STATE_COUNT] those not sent yet; waves < max_waves. */
int fleet_store_rollout_counts(struct fleet_store *store, const char *id,
			       size_t (*counts)[FLEET_STATE_COUNT + 1], size_t max_waves,
			       struct error *err);
int fleet_store_rollout_members(struct fleet_store *store, const char *id,
				const struct fleet_rollout_members_query *query,
				struct fleet_rollout_member *members, size_t *count,
				struct error *err);
/* Plans the cast to up->instance_id: inserts up (NEW, its rollout_id must
 * be the rollout's) and records its id in the target, if the target is
 * pending, the rollout RUNNING and (PostgreSQL) this connection holds the
 * rollout's lock.  Returns 0 planned, 1 not (nothing changed), -1. */
int fleet_store_rollout_plan(struct fleet_store *store, const struct fleet_upgrade *up,
			     struct error *err);
/* The same for n upgrades of one rollout in ONE transaction (one commit for
 * a batch of casts): planned[i] says which were (a target planned already
 * is skipped).  Returns how many were planned (0 when the rollout is not
 * RUNNING or not ours), or -1 (none was). */
int fleet_store_rollout_plan_many(struct fleet_store *store, const struct fleet_upgrade *ups,
				  size_t n, int *planned, struct error *err);
/* Records the broker's confirmation of a planned cast. */
int fleet_store_rollout_cast_done(struct fleet_store *store, const char *rollout_id,
				  const char *instance_id, int64_t cast_us, struct error *err);
/* The same for n of the rollout's targets, in one transaction. */
int fleet_store_rollout_cast_done_many(struct fleet_store *store, const char *rollout_id,
				       const char *const *instance_ids, size_t n, int64_t cast_us,
				       struct error *err);
/* A FAILED stored, told across processes (store_signal.c): signal after
 * storing one (PostgreSQL: pg_notify; SQLite: nothing, one process per
 * file); heard sets *heard when one came on this store's connection since
 * the last call (the first call listens and says heard).  0, -1. */
int fleet_store_failed_signal(struct fleet_store *store, struct error *err);
int fleet_store_failed_heard(struct fleet_store *store, int *heard, struct error *err);
/* *held 1 when this store's connection holds (or just took) the right to
 * drive the rollout; PostgreSQL only, SQLite always 1. */
int fleet_store_rollout_lock(struct fleet_store *store, const char *id, int *held,
			     struct error *err);
int fleet_store_rollout_unlock(struct fleet_store *store, const char *id, struct error *err);

#endif
