/* rollout_step.c: one step of one rollout: re-send, time out, judge the
 * wave, cast, advance (see rollout/fleet_rollout.h for the rules). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rollout/fleet_rollout.h"
#include "history.h"
#include "log.h"

struct step {
	struct fleet_store *store;
	struct fleet_publisher *pub;
	struct fleet_rollout r;
	struct fleet_rollout_member members[ROLLOUT_CAST_BATCH];	/* >= ROLLOUT_BATCH */
	struct fleet_upgrade ups[ROLLOUT_CAST_BATCH];
	int planned[ROLLOUT_CAST_BATCH];
	size_t refused;			/* casts the broker refused: FAILED */
	int64_t now_us;
};

_Static_assert(ROLLOUT_BATCH <= ROLLOUT_CAST_BATCH, "a members query fits in members[]");

static int64_t step_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* 1: every planned cast is confirmed; 0: the broker is away (retry later). */
static int step_resend(struct step *s, struct error *err)
{
	struct fleet_rollout_members_query q = { FLEET_MEMBERS_UNCONFIRMED, -1, 0, ROLLOUT_BATCH };
	struct fleet_upgrade up;
	size_t n, i;
	int rc;

	if (fleet_store_rollout_members(s->store, s->r.id, &q, s->members, &n, err) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (fleet_store_upgrade_get(s->store, s->members[i].upgrade_id, &up, err) != 1)
			return error_set(err, "rollout %s: planned upgrade %s not found", s->r.id,
					 s->members[i].upgrade_id);
		log_info("rollout %s: sending %s to %s again (its cast was never confirmed)",
			 s->r.id, up.id, up.instance_id);
		rc = fleet_rollout_send(s->store, s->pub, &up, s->r.metadata, 1, err);
		if (rc == FLEET_CAST_UNREACHABLE)
			return 0;
		if (rc == -1)
			return -1;
	}
	return n < ROLLOUT_BATCH;
}

/* Upgrades of the wave still not final `timeout` after their cast fail. */
static int step_timeouts(struct step *s, struct error *err)
{
	struct fleet_rollout_members_query q = { FLEET_MEMBERS_OVERDUE, (int)s->r.current_wave,
						 s->now_us - s->r.timeout_us, ROLLOUT_BATCH };
	char owner[FLEET_ID_MAX + 8];
	size_t n, i;

	if (fleet_store_rollout_members(s->store, s->r.id, &q, s->members, &n, err) < 0)
		return -1;
	snprintf(owner, sizeof owner, "rollout %s", s->r.id);
	for (i = 0; i < n; i++)
		if (fleet_fail_silent(s->store, owner, s->members[i].upgrade_id,
				      s->members[i].instance_id, s->r.timeout_us, s->now_us,
				      err) < 0)
			return -1;
	return 0;
}

/* 1 halted (now or by someone else), 0 the wave is within its budget. */
static int step_judge(struct step *s, const struct fleet_rollout_wave *w, struct error *err)
{
	size_t size = w->total + w->untaken;	/* a selector's: as counted at creation */
	char reason[FLEET_REASON_MAX];
	int rc;

	if ((uint64_t)w->failed * 1000000 <= (uint64_t)s->r.max_failure_ppm * size)
		return 0;
	snprintf(reason, sizeof reason, "wave %u: %zu of %zu failed, over max_failure_rate %g",
		 s->r.current_wave + 1, w->failed, size, s->r.max_failure_ppm / 1e6);
	rc = fleet_store_rollout_transition(s->store, s->r.id,
					    FLEET_ROLLOUT_BIT(FLEET_ROLLOUT_RUNNING),
					    FLEET_ROLLOUT_HALTED, reason, NULL, err);
	if (rc < 0)
		return -1;
	if (rc == 1)
		log_warn("rollout %s: HALTED: %s", s->r.id, reason);
	return 1;
}

/* The upgrade record of s->members[i], in s->ups[i]. */
static int step_upgrade(struct step *s, size_t i, struct error *err)
{
	struct fleet_upgrade *up = &s->ups[i];

	memset(up, 0, sizeof *up);
	memcpy(up->kind, "upgrade", sizeof "upgrade");
	if (history_new_id(up->id, sizeof up->id, err) < 0)
		return -1;
	/* Fields of the same sizes: whole copies. */
	memcpy(up->tenant, s->r.tenant, sizeof up->tenant);
	memcpy(up->instance_id, s->members[i].instance_id, sizeof up->instance_id);
	memcpy(up->to_version, s->r.to_version, sizeof up->to_version);
	memcpy(up->strategy, s->r.strategy, sizeof up->strategy);
	memcpy(up->location, s->r.location, sizeof up->location);
	memcpy(up->sha256, s->r.sha256, sizeof up->sha256);
	memcpy(up->rollout_id, s->r.id, sizeof up->rollout_id);
	return 0;
}

/* Plans the next count (at most ROLLOUT_CAST_BATCH) pending targets in one
 * transaction and sends them together: how many were settled (0: nothing
 * to do, paused, cancelled, no longer ours, or the broker away), or -1. */
static int step_cast_batch(struct step *s, size_t count, struct error *err)
{
	struct fleet_rollout_members_query q = { FLEET_MEMBERS_PENDING, (int)s->r.current_wave, 0,
						 count };
	size_t n, i, k = 0;
	int rc;

	if (fleet_store_rollout_members(s->store, s->r.id, &q, s->members, &n, err) < 0)
		return -1;
	for (i = 0; i < n; i++)
		if (step_upgrade(s, i, err) < 0)
			return -1;
	rc = fleet_store_rollout_plan_many(s->store, s->ups, n, s->planned, err);
	if (rc <= 0)
		return rc;	/* paused, cancelled or no longer ours: 0 */
	for (i = 0; i < n; i++)	/* the planned ones, in order, to the front */
		if (s->planned[i] && k++ != i)
			s->ups[k - 1] = s->ups[i];
	rc = fleet_rollout_send_many(s->store, s->pub, s->ups, k, s->r.metadata, &s->refused,
				     err);
	return rc < 0 ? -1 : rc == (int)k ? rc : 0;	/* some not sent: the broker is away */
}

/* Casts what `rate` allows now, in batches of what is due (at most
 * ROLLOUT_CAST_BATCH: one commit and one confirmation each), for at most
 * ROLLOUT_CAST_MS, and no more once *kick says a failure was stored since
 * this tick began, or the broker refused a cast (recorded FAILED): the
 * wave is judged again before the next batch.  *pending counts down;
 * p->due_us says when more may go.  1: pacing goes on; 0: a batch had
 * nothing to do (paused, cancelled, the broker away); -1. */
static int step_cast(struct step *s, size_t *pending, struct fleet_rollout_pace *p,
		     atomic_int *kick, struct error *err)
{
	int64_t now = step_now_us(), until = now + ROLLOUT_CAST_MS * 1000;
	int64_t interval = s->r.cast_interval_us;
	size_t room;
	int rc;

	fleet_pace_begin(p, now);
	while ((room = fleet_pace_room(p, interval, now, *pending)) && now < until &&
	       !s->refused && !(kick && atomic_load(kick))) {
		rc = step_cast_batch(s, room, err);
		if (rc <= 0)
			return rc;
		*pending -= (size_t)rc;
		now = step_now_us();
		fleet_pace_add(p, interval, now, (size_t)rc);
	}
	fleet_pace_next(p, interval, *pending != 0);
	return 1;
}

/* The wave's counts, after taking a page more of a selector's targets
 * when few are left to cast (store_rollout_fill.c). */
static int step_wave(struct step *s, struct fleet_rollout_wave *w, struct error *err)
{
	int64_t proven_before = s->now_us - s->r.probation_us;
	size_t added = 0;

	if (fleet_store_rollout_wave(s->store, s->r.id, s->r.current_wave, proven_before, w,
				     err) < 0)
		return -1;
	if (!w->untaken || w->pending >= ROLLOUT_FILL_LOW)
		return 0;
	if (fleet_store_rollout_fill(s->store, s->r.id, s->r.current_wave, ROLLOUT_FILL_PAGE,
				     &added, err) < 0)
		return -1;
	return fleet_store_rollout_wave(s->store, s->r.id, s->r.current_wave, proven_before, w,
					err);
}

static int step_advance(struct step *s, struct error *err)
{
	int rc = fleet_store_rollout_advance(s->store, s->r.id, s->r.current_wave, err);

	if (rc == 1 && s->r.current_wave + 1 >= s->r.wave_count)
		log_info("rollout %s: FINISHED", s->r.id);
	else if (rc == 1)
		log_info("rollout %s: wave %u done, wave %u starts", s->r.id, s->r.current_wave + 1,
			 s->r.current_wave + 2);
	return rc < 0 ? -1 : 0;
}

int fleet_rollout_step(struct fleet_store *store, struct fleet_publisher *pub, const char *id,
		       struct fleet_rollout_pace *pace, atomic_int *kick, struct error *err)
{
	struct step *s = calloc(1, sizeof *s);
	struct fleet_rollout_wave w;
	int rc;

	pace->due_us = 0;	/* unless casts are left for a later step */
	if (!s)
		return error_set(err, "rollout %s: out of memory", id);
	s->store = store;
	s->pub = pub;
	s->now_us = step_now_us();
	rc = fleet_store_rollout_get(store, id, &s->r, err);
	if (rc != 1 || s->r.state != FLEET_ROLLOUT_RUNNING)
		goto out;
	if (pace->pending && !fleet_pace_judge_due(pace, s->now_us))
		goto cast;	/* judged lately (a tick, or more when costly), no FAILED since */
	rc = step_resend(s, err);
	if (rc <= 0)
		goto out;
	if ((rc = step_timeouts(s, err)) < 0 || (rc = step_wave(s, &w, err)) < 0)
		goto out;
	rc = step_judge(s, &w, err);
	if (rc != 0)
		goto out;
	fleet_pace_judged(pace, s->now_us, step_now_us() - s->now_us);
	pace->pending = w.pending;
	if (!w.pending) {
		if (!w.untaken && w.failed + w.proven == w.total)
			rc = step_advance(s, err);
		goto out;
	}
cast:
	rc = step_cast(s, &pace->pending, pace, kick, err);
	if (rc != 1 || s->refused)
		pace->judged_us = 0;	/* nothing cast, or a FAILED: a full step next */
	if (rc != 1)
		pace->due_us = 0;	/* the next tick tries again */
out:
	free(s);
	return rc < 0 ? -1 : 0;
}
