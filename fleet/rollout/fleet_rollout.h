/* fleet_rollout.h: rollouts, hawkBit style: one upgrade cast to many
 * instances in waves, each wave watched before the next starts
 * (docs/fleet.md "Rollouts").
 *
 * The driver is a thread of slotfleet with its own store handle; it shares
 * the API's publisher.  Every ROLLOUT_TICK_MS (sooner while casts are
 * due: when the next one is, at least ROLLOUT_CAST_MS apart unless behind
 * the rate; at once when kicked) it lists the RUNNING rollouts, takes the
 * driving lock of those it does not drive yet (fleet_store_rollout_lock: on
 * PostgreSQL one process per rollout; on SQLite one slotfleet per database
 * file is assumed), lets go of those no longer RUNNING, and steps each
 * rollout it drives:
 *   1. casts planned but never confirmed (slotfleet died or the broker was
 *      away) are published again with the same upgrade id, which the guest
 *      takes as the same attempt;
 *   2. upgrades of the current wave not final `timeout` after their cast
 *      are recorded FAILED, reason "no answer within T" (source "fleet");
 *   3. if the wave's failures (FAILED, a guest's revert after SUCCESS
 *      included) exceed max_failure_rate of its size, the rollout is
 *      HALTED with the reason, and nothing more is cast;
 *   4. else its pending targets are cast at `rate`: those due now, in
 *      batches of at most ROLLOUT_CAST_BATCH, each batch planned durably
 *      first in one transaction (fleet_store_rollout_plan_many: the NEW
 *      records, rollout_id set), then published with shared confirms and
 *      its confirmations recorded in one transaction; a cast the broker
 *      refuses is recorded FAILED ("cast not queued: ...") and the wave
 *      judged again before the next batch, one it cannot reach is sent
 *      again at the next step.  A step casts for at most
 *      ROLLOUT_CAST_MS, and falls back to now (no burst) when more than a
 *      tick behind the rate;
 *   5. once every target of the wave is FAILED or has been SUCCESS for
 *      `probation` (from the time of its SUCCESS report), the next wave
 *      starts, or the rollout is FINISHED after the last.
 * State changes by the API (pause, resume, cancel) and by the driver are
 * conditional updates of the rollout's row: whichever commits first wins,
 * and a cast is only planned while the rollout is RUNNING.
 *
 * A FAILED stored by this process's report consumer kicks the driver
 * (fleet_rollout_kick): no batch is planned after it before the waves are
 * judged again, so a rollout over its failure budget halts with at most
 * the batch in progress cast after the FAILED was stored.  A FAILED stored
 * by another slotfleet on the same PostgreSQL is seen at the next step
 * (within ROLLOUT_CAST_MS of casting). */
#ifndef SLOTFLEET_ROLLOUT_H
#define SLOTFLEET_ROLLOUT_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdint.h>

#include "error.h"
#include "broker/fleet_publisher.h"
#include "store/fleet_store.h"
#include "store/fleet_store_rollout.h"

#define ROLLOUT_TICK_MS 250
#define ROLLOUT_CAST_MS 50		/* a step casts for at most this long */
#define ROLLOUT_DRIVEN_MAX 64		/* rollouts one process drives at once */
#define ROLLOUT_BATCH 64		/* members read per query */
/* Casts planned and sent together, at most: a batch costs two commits and
 * a confirmation whatever its size, and at 1,000 casts/s a batch is what
 * fell due since the last (tens of ms on PostgreSQL), so the bound is set
 * above that; at most this many go out after a FAILED is stored. */
#define ROLLOUT_CAST_BATCH 128
/* A selector's targets are taken a page at a time (store_rollout_fill.c)
 * when fewer than ROLLOUT_FILL_LOW are left to cast: 2 s at the highest
 * rate, so the casts never wait on a page. */
#define ROLLOUT_FILL_LOW 2000
#define ROLLOUT_FILL_PAGE 5000
#define ROLLOUT_RATE_MAX 1000		/* casts/s: the API's bound */
/* The full step counts the current wave (a join over its targets): a few
 * ms for a thousand targets, a sixth of a second for 50,000 on a busy
 * PostgreSQL.  While casting it runs once a tick, or ROLLOUT_JUDGE_SPACING
 * times its last cost after the last (so it takes at most a quarter of
 * the driver's time), but never more than ROLLOUT_JUDGE_MAX_MS apart. */
#define ROLLOUT_JUDGE_SPACING 4
#define ROLLOUT_JUDGE_MAX_MS 2000

struct fleet_rollout_driver;

/* A rollout's pacing, kept by the driver between steps (zeroed at first).
 * Casts are due 1/rate apart (token_us: the next one's time; a step more
 * than a tick behind starts again from now), and never more than
 * ceil(rate) go in any second (recent_us: a ring of the last casts'
 * times). */
struct fleet_rollout_pace {
	int64_t due_us;			/* out: when to step again; 0 nothing left to cast */
	int64_t judged_us;		/* last full step; 0: the next step is one */
	int64_t judge_every_us;		/* from the last full step's cost */
	size_t pending;			/* the wave's targets not cast, then */
	int64_t token_us;
	int64_t recent_us[ROLLOUT_RATE_MAX];
	size_t first, count;
};

/* rollout_pace.c, for rollouts and policies.  begin: at the start of a
 * step (behind by more than a tick: from now, no burst); room: how many
 * casts may go now (due at 1/interval since token_us, within ceil(rate)
 * in the last second, at most ROLLOUT_CAST_BATCH and pending); add: n
 * went at `at`; next: sets due_us (0 when nothing more is to go). */
void fleet_pace_begin(struct fleet_rollout_pace *pace, int64_t now_us);
size_t fleet_pace_room(const struct fleet_rollout_pace *pace, int64_t interval_us,
		       int64_t now_us, size_t pending);
void fleet_pace_add(struct fleet_rollout_pace *pace, int64_t interval_us, int64_t at_us,
		    size_t n);
void fleet_pace_next(struct fleet_rollout_pace *pace, int64_t interval_us, int more);
/* judged: a full step began at `at` and took cost_us; due: 1 when the
 * next step is to be a full one (also when judged_us was zeroed). */
void fleet_pace_judged(struct fleet_rollout_pace *pace, int64_t at_us, int64_t cost_us);
int fleet_pace_judge_due(const struct fleet_rollout_pace *pace, int64_t now_us);

/* What a driver drives (rollout_claim.c): rollouts and policies alike. */
struct fleet_driven {
	char id[FLEET_ID_MAX];
	struct fleet_rollout_pace pace;	/* kept between steps */
	char cursor[FLEET_INSTANCE_MAX];	/* policies: the candidates' page */
	int seen;			/* wanted at this tick */
};

struct fleet_claims {
	const char *what;		/* "rollout", "policy": for the log */
	int (*lock)(struct fleet_store *store, const char *id, int *held, struct error *err);
	int (*unlock)(struct fleet_store *store, const char *id, struct error *err);
	struct fleet_driven *driven;	/* max of them */
	size_t count, max;
};

/* Drives the ids wanted (RUNNING rollouts, ACTIVE policies) whose lock this
 * process holds or takes, lets go (unlocking) of those no longer wanted.
 * The lock is asked again every tick (it does not stack): a PostgreSQL
 * connection that was reset lost its locks, and another process may have
 * taken the id meanwhile. */
void fleet_claims_update(struct fleet_claims *claims, struct fleet_store *store,
			 char (*wanted)[FLEET_ID_MAX], size_t count);

/* Opens its own store on spec and starts the thread, which drives the
 * rollouts and the policies (rollout/fleet_policy.h) with rpc_version_cap
 * ([amqp], "auto" or MAJOR.MINOR). */
int fleet_rollout_start(struct fleet_rollout_driver **driver, const char *spec,
			struct fleet_publisher *publisher, const char *rpc_version_cap,
			struct error *err);
/* Asks the thread to stop (between two casts), waits, frees. */
void fleet_rollout_stop(struct fleet_rollout_driver *driver);
/* Tells the driver an upgrade FAILED (the report consumer calls it after
 * the commit): it casts nothing more before judging its waves again, at
 * once.  Safe from any thread; only wakes the thread. */
void fleet_rollout_kick(struct fleet_rollout_driver *driver);

/* One rollout's step (the list above), for the driver, with its pacing.
 * A step casts for at most ROLLOUT_CAST_MS, and stops casting as soon as
 * *kick (may be NULL) is set.  Steps 1 to 3 and 5 (the full step: a few
 * queries over the wave) run at most every ROLLOUT_TICK_MS while casting,
 * less often when they are costly (ROLLOUT_JUDGE_SPACING); the steps in
 * between only cast, on the pending count of the last full step (a plan
 * takes only targets still pending, so a stale count casts nothing
 * twice).  The driver zeroes pace->judged_us when kicked: a FAILED makes
 * the next step a full one. */
int fleet_rollout_step(struct fleet_store *store, struct fleet_publisher *pub, const char *id,
		       struct fleet_rollout_pace *pace, atomic_int *kick, struct error *err);

/* Publishes the cast of a recorded upgrade (kind "upgrade": the rollout's
 * metadata JSON text, may be ""; "rollback": an admin rollback).  0 sent
 * (for a rollout target, its confirmation recorded); FLEET_CAST_REFUSED:
 * the record is FAILED "cast not queued: ..." (and the target confirmed:
 * it will not be sent again); FLEET_CAST_UNREACHABLE: nothing recorded;
 * -1 a store failure.  err says why. */
int fleet_rollout_send(struct fleet_store *store, struct fleet_publisher *pub,
		       const struct fleet_upgrade *up, const char *metadata, int target,
		       struct error *err);
/* Publishes n recorded upgrades together (their confirmations shared), each
 * with the rollout's or policy's metadata, as `version` (NULL: 1.0) and
 * with args.automatic when automatic; records FAILED those the broker
 * refused (counted in *refused).  settled[] gets the upgrades settled (sent
 * or refused; not those the broker could not be reached for).  How many
 * were settled, or -1. */
int fleet_cast_many(struct fleet_store *store, struct fleet_publisher *pub,
		    const struct fleet_upgrade *ups, size_t n, const char *metadata,
		    const char *version, int automatic, const struct fleet_upgrade **settled,
		    size_t *refused, struct error *err);
/* Publishes the casts of n planned upgrades of one rollout together (their
 * confirmations shared), then records in one transaction which were
 * settled: sent, or refused (those recorded FAILED as above, and added to
 * *refused).  Those the broker could not be reached for stay planned, to
 * be sent again.  Returns how many were settled, or -1 (a store failure;
 * err says why). */
int fleet_rollout_send_many(struct fleet_store *store, struct fleet_publisher *pub,
			    const struct fleet_upgrade *ups, size_t n, const char *metadata,
			    size_t *refused, struct error *err);
/* Records up FAILED with "cast not queued: why" (source "fleet"). */
int fleet_rollout_fail(struct fleet_store *store, const struct fleet_upgrade *up,
		       const char *why, struct error *err);

/* Records an upgrade a guest left silent FAILED, "no answer within
 * TIMEOUT" (source "fleet") at now_us, and logs it under owner ("rollout
 * ID", "policy ID"): the timeouts of rollouts and policies. */
int fleet_fail_silent(struct fleet_store *store, const char *owner, const char *upgrade_id,
		      const char *instance_id, int64_t timeout_us, int64_t now_us,
		      struct error *err);

/* "90s", "10m", "1500ms": a duration for messages. */
void fleet_rollout_duration(char *buf, size_t len, int64_t us);

/* The API's view of a rollout: its fields, per-wave counts by upgrade
 * state, and (when failed is not NULL) the failed instances with reasons. */
json_t *fleet_rollout_view(const struct fleet_rollout *rollout,
			   size_t (*counts)[FLEET_STATE_COUNT + 1],
			   const struct fleet_rollout_member *failed, size_t failed_count);

#endif
