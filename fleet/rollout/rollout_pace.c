/* rollout_pace.c: casting at a rate (see struct fleet_rollout_pace in
 * rollout/fleet_rollout.h), for rollouts and policies alike: casts are due
 * interval_us apart from token_us, and never more than ceil(rate) go in
 * any second (recent_us: a ring of the last casts' times); and how often a
 * rollout's full step comes while it casts. */
#include "rollout/fleet_rollout.h"

/* Forgets the casts more than a second old. */
static void pace_trim(struct fleet_rollout_pace *p, int64_t now)
{
	while (p->count && p->recent_us[p->first] <= now - 1000000) {
		p->first = (p->first + 1) % ROLLOUT_RATE_MAX;
		p->count--;
	}
}

/* ceil(rate): the most casts in any second. */
static int64_t pace_cap(int64_t interval_us)
{
	int64_t cap = (1000000 + interval_us - 1) / interval_us;

	return cap < ROLLOUT_RATE_MAX ? cap : ROLLOUT_RATE_MAX;
}

void fleet_pace_begin(struct fleet_rollout_pace *p, int64_t now)
{
	/* Behind by more than a tick (a new wave, a resume, casts slower than
	 * `rate`): start again from now rather than burst to catch up. */
	if (p->token_us < now - ROLLOUT_TICK_MS * 1000)
		p->token_us = now;
	pace_trim(p, now);
}

size_t fleet_pace_room(const struct fleet_rollout_pace *p, int64_t interval_us, int64_t now,
		       size_t pending)
{
	int64_t cap = pace_cap(interval_us), due;

	if (p->token_us > now || (int64_t)p->count >= cap)
		return 0;
	due = 1 + (now - p->token_us) / interval_us;
	if (due > cap - (int64_t)p->count)
		due = cap - (int64_t)p->count;
	if (due > ROLLOUT_CAST_BATCH)
		due = ROLLOUT_CAST_BATCH;
	return (size_t)due < pending ? (size_t)due : pending;
}

void fleet_pace_add(struct fleet_rollout_pace *p, int64_t interval_us, int64_t at, size_t n)
{
	p->token_us += (int64_t)n * interval_us;
	while (n--) {
		if (p->count == ROLLOUT_RATE_MAX) {
			p->first = (p->first + 1) % ROLLOUT_RATE_MAX;
			p->count--;
		}
		p->recent_us[(p->first + p->count++) % ROLLOUT_RATE_MAX] = at;
	}
	pace_trim(p, at);
}

void fleet_pace_next(struct fleet_rollout_pace *p, int64_t interval_us, int more)
{
	/* The next cast needs its token and a place in the last second. */
	p->due_us = more ? p->token_us : 0;
	if (more && (int64_t)p->count >= pace_cap(interval_us) &&
	    p->recent_us[p->first] + 1000000 > p->due_us)
		p->due_us = p->recent_us[p->first] + 1000000;
}

void fleet_pace_judged(struct fleet_rollout_pace *p, int64_t at, int64_t cost_us)
{
	int64_t every = cost_us > 0 ? cost_us * ROLLOUT_JUDGE_SPACING : 0;

	if (every < ROLLOUT_TICK_MS * 1000)
		every = ROLLOUT_TICK_MS * 1000;
	if (every > ROLLOUT_JUDGE_MAX_MS * 1000)
		every = ROLLOUT_JUDGE_MAX_MS * 1000;
	p->judged_us = at;
	p->judge_every_us = every;
}

int fleet_pace_judge_due(const struct fleet_rollout_pace *p, int64_t now)
{
	return !p->judged_us || now - p->judged_us >= p->judge_every_us;
}
