/* policy_step.c: the policies' driver (see rollout/fleet_policy.h): which
 * ACTIVE policies this process drives, and one step of each: re-send,
 * fail the casts its guests left silent past `timeout`, judge the budget,
 * then cast to a page of candidates at `rate`, within
 * max_in_flight and the window.  Stepped from the rollout driver's thread
 * (rollout_driver.c), with its store and the shared publisher. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rollout/fleet_policy.h"
#include "store/fleet_text.h"
#include "history.h"
#include "log.h"

#define POLICY_PAGE 64			/* candidates read per query */
#define POLICY_PAGES_PER_STEP 4		/* a step reads at most this many pages */

struct fleet_policy_driver {
	char cap[FLEET_RPC_API_MAX];	/* [amqp] rpc_version_cap */
	struct fleet_driven driven[POLICY_DRIVEN_MAX];
	struct fleet_claims claims;
	char active[POLICY_DRIVEN_MAX][FLEET_ID_MAX];
};

struct pstep {
	struct fleet_store *store;
	struct fleet_publisher *pub;
	const char *cap;
	struct fleet_driven *x;
	struct fleet_policy p;
	json_t *ids;			/* the scope's list, NULL: any */
	int64_t now;
	struct fleet_policy_candidate page[POLICY_PAGE];
	struct fleet_upgrade ups[ROLLOUT_CAST_BATCH];
	const struct fleet_upgrade *settled[ROLLOUT_CAST_BATCH];
	const char *done[ROLLOUT_CAST_BATCH];
	int planned[ROLLOUT_CAST_BATCH];
	size_t refused;
};

static int64_t pstep_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void pstep_warn(const char *id, const char *what, const struct error *err)
{
	char clean[sizeof err->text];

	log_warn("policy %s: %s: %s", id, what, fleet_text_clean(clean, sizeof clean, err->text));
}

/* Publishes n planned upgrades of the policy, records their confirmations:
 * how many were settled (n: all), or -1. */
static int pstep_send(struct pstep *s, const struct fleet_upgrade *ups, size_t n,
		      struct error *err)
{
	int done = fleet_cast_many(s->store, s->pub, ups, n, s->p.metadata,
				   POLICY_AUTOMATIC_VERSION, 1, s->settled, &s->refused, err);
	int i;

	for (i = 0; i < done; i++)
		s->done[i] = s->settled[i]->id;
	if (done > 0 && fleet_store_policy_cast_done_many(s->store, s->done, (size_t)done, 0,
							  err) < 0)
		return -1;
	return done;
}

/* 1: every planned cast is confirmed; 0: the broker is away; -1. */
static int pstep_resend(struct pstep *s, struct error *err)
{
	size_t n;
	int rc;

	if (fleet_store_policy_unconfirmed(s->store, s->p.id, s->ups, ROLLOUT_CAST_BATCH, &n,
					   err) < 0)
		return -1;
	if (!n)
		return 1;
	log_info("policy %s: sending %zu planned casts again (never confirmed)", s->p.id, n);
	rc = pstep_send(s, s->ups, n, err);
	return rc < 0 ? -1 : (size_t)rc == n && n < ROLLOUT_CAST_BATCH;
}

/* Upgrades still not final `timeout` after their cast are FAILED (source
 * fleet), as a rollout's are: a silent guest counts against the budget and
 * gives its max_in_flight place back. */
static int pstep_timeouts(struct pstep *s, struct error *err)
{
	char reason[64], t[32];
	size_t n, i;

	if (fleet_store_policy_overdue(s->store, s->p.id, s->now - s->p.timeout_us, s->ups,
				       ROLLOUT_CAST_BATCH, &n, err) < 0)
		return -1;
	fleet_rollout_duration(t, sizeof t, s->p.timeout_us);
	snprintf(reason, sizeof reason, "no answer within %s", t);
	for (i = 0; i < n; i++) {
		struct fleet_report rep = { .upgrade_id = s->ups[i].id,
					    .instance_id = s->ups[i].instance_id,
					    .state = FLEET_FAILED, .reason = reason,
					    .at_us = s->now, .source = "fleet" };

		if (fleet_store_report(s->store, &rep, NULL, err) < 0)
			return -1;
		log_info("policy %s: %s on %s: %s", s->p.id, rep.upgrade_id, rep.instance_id,
			 reason);
	}
	return 0;
}

/* 1 halted (now or by someone else), 0 within its budget; *room: how many
 * more may be in flight. */
static int pstep_judge(struct pstep *s, size_t *room, struct error *err)
{
	struct fleet_policy_counts c;
	char reason[FLEET_REASON_MAX];
	int rc;

	if (fleet_store_policy_counts(s->store, &s->p, s->now, &c, err) < 0)
		return -1;
	*room = c.in_flight < s->p.max_in_flight ? s->p.max_in_flight - c.in_flight : 0;
	if (!fleet_policy_over_budget(&s->p, &c, reason))
		return 0;
	rc = fleet_store_policy_transition(s->store, s->p.id,
					   FLEET_POLICY_BIT(FLEET_POLICY_ACTIVE),
					   FLEET_POLICY_HALTED, reason, NULL, err);
	if (rc == 1)
		log_warn("policy %s: HALTED: %s", s->p.id, reason);
	return rc < 0 ? -1 : 1;
}

/* The upgrade record of a candidate, in up. */
static int pstep_upgrade(struct pstep *s, const struct fleet_policy_candidate *c,
			 struct fleet_upgrade *up, struct error *err)
{
	memset(up, 0, sizeof *up);
	memcpy(up->kind, "upgrade", sizeof "upgrade");
	if (history_new_id(up->id, sizeof up->id, err) < 0)
		return -1;
	/* Fields of the same sizes: whole copies. */
	memcpy(up->tenant, s->p.tenant, sizeof up->tenant);
	memcpy(up->instance_id, c->id, sizeof up->instance_id);
	memcpy(up->from_version, c->agent_version, sizeof up->from_version);
	memcpy(up->to_version, s->p.to_version, sizeof up->to_version);
	memcpy(up->strategy, s->p.strategy, sizeof up->strategy);
	memcpy(up->location, s->p.location, sizeof up->location);
	memcpy(up->sha256, s->p.sha256, sizeof up->sha256);
	memcpy(up->policy_id, s->p.id, sizeof up->policy_id);
	return 0;
}

/* A candidate whose cap is below 1.1: its record, FAILED at once with the
 * reason, in one transaction (never a NEW record left in flight). */
static int pstep_refuse(struct pstep *s, const struct fleet_upgrade *up, const char *cap,
			struct error *err)
{
	char reason[FLEET_REASON_MAX];
	struct fleet_report rep = { .upgrade_id = up->id, .instance_id = up->instance_id,
				    .state = FLEET_FAILED, .reason = reason, .at_us = s->now,
				    .source = "fleet" };
	struct fleet_batch_item items[2] = { { .insert = up }, { .report = &rep } };

	snprintf(reason, sizeof reason, "instance %s speaks RPC API %s, this cast needs %s",
		 up->instance_id, cap, POLICY_AUTOMATIC_VERSION);
	if (fleet_store_batch(s->store, items, 2, err) < 0)
		return -1;
	if (items[0].result < 0 || items[1].result < 0) {
		*err = items[0].result < 0 ? items[0].err : items[1].err;
		return -1;
	}
	log_info("policy %s: %s FAILED: %s", s->p.id, up->id, reason);
	return 0;
}

/* One candidate: into s->ups[*n] when it may be cast, recorded FAILED
 * when its cap is too low, skipped when not in scope. */
static int pstep_take(struct pstep *s, const struct fleet_policy_candidate *c, size_t *n,
		      struct error *err)
{
	char cap[FLEET_RPC_API_MAX];
	int allows;

	if (!fleet_policy_candidate(&s->p, s->ids, c->id, c->agent_version))
		return 0;
	if (pstep_upgrade(s, c, &s->ups[*n], err) < 0)
		return -1;
	allows = fleet_policy_cap_allows(s->cap, c->rpc_api_version, POLICY_AUTOMATIC_VERSION, cap);
	if (allows == 1) {
		++*n;
		return 0;
	}
	if (allows < 0)	/* a reported version that is none: as 1.0 */
		snprintf(cap, sizeof cap, "1.0");
	return pstep_refuse(s, &s->ups[*n], cap, err);
}

/* Up to room candidates into s->ups, from the driven cursor on; the
 * cursor moves past what was read (back to the start at the end). */
static int pstep_pick(struct pstep *s, size_t room, size_t *n, struct error *err)
{
	char cap[FLEET_RPC_API_MAX];
	size_t count, i, pages;
	int more, cap_low;

	/* A configured cap below 1.1 refuses everyone: no cap refusal is retried. */
	cap_low = strcmp(s->cap, "auto") &&
		  fleet_policy_cap_allows(s->cap, "", POLICY_AUTOMATIC_VERSION, cap) != 1;

	*n = 0;
	for (pages = 0; pages < POLICY_PAGES_PER_STEP && *n < room; pages++) {
		if (fleet_store_policy_candidates(s->store, &s->p, s->x->cursor, cap_low, s->now,
						  s->page, POLICY_PAGE, &count, &more, err) < 0)
			return -1;
		for (i = 0; i < count && *n < room; i++)
			if (pstep_take(s, &s->page[i], n, err) < 0)
				return -1;
		if (i < count || more) {
			memcpy(s->x->cursor, s->page[i - 1].id, sizeof s->x->cursor);
			continue;
		}
		s->x->cursor[0] = '\0';	/* the end: from the start next time */
		break;
	}
	return 0;
}

/* Plans and sends up to room casts; how many went, or -1. */
static int pstep_cast(struct pstep *s, size_t room, struct error *err)
{
	size_t n, i, k = 0;
	int rc;

	if (pstep_pick(s, room, &n, err) < 0)
		return -1;
	if (!n)
		return 0;
	rc = fleet_store_policy_plan_many(s->store, s->ups, n, s->planned, err);
	if (rc <= 0)
		return rc;	/* paused, halted or no longer ours: 0 */
	for (i = 0; i < n; i++)	/* the planned ones, in order, to the front */
		if (s->planned[i] && k++ != i)
			s->ups[k - 1] = s->ups[i];
	for (i = 0; i < k; i++)
		log_info("policy %s: casting %s to %s (%s -> %s)", s->p.id, s->ups[i].id,
			 s->ups[i].instance_id, s->ups[i].from_version, s->ups[i].to_version);
	return pstep_send(s, s->ups, k, err);
}

static int pstep_run(struct pstep *s, struct error *err)
{
	struct fleet_policy_window w;
	struct fleet_rollout_pace *pace = &s->x->pace;
	size_t room, pace_room;
	int rc;

	rc = fleet_store_policy_get(s->store, s->x->id, &s->p, err);
	if (rc != 1 || s->p.state != FLEET_POLICY_ACTIVE)
		return rc < 0 ? -1 : 0;
	if ((rc = pstep_resend(s, err)) > 0 && (rc = pstep_timeouts(s, err)) == 0)
		rc = pstep_judge(s, &room, err);
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	if (fleet_policy_window_parse(s->p.window, &w) < 0 || !fleet_policy_window_open(&w, s->now))
		return 0;
	fleet_pace_begin(pace, s->now);
	pace_room = fleet_pace_room(pace, s->p.cast_interval_us, s->now, room);
	if (!pace_room) {
		fleet_pace_next(pace, s->p.cast_interval_us, room > 0);
		return 0;
	}
	s->ids = s->p.instances[0] ? json_loads(s->p.instances, 0, NULL) : NULL;
	rc = pstep_cast(s, pace_room, err);
	json_decref(s->ids);
	if (rc < 0)
		return -1;
	fleet_pace_add(pace, s->p.cast_interval_us, pstep_now_us(), (size_t)rc);
	/* All it could take went: more may be waiting, at the rate. */
	fleet_pace_next(pace, s->p.cast_interval_us, (size_t)rc == pace_room && rc < (int)room);
	return 0;
}

int fleet_policy_driver_new(struct fleet_policy_driver **out, const char *config_cap,
			    struct error *err)
{
	struct fleet_policy_driver *d = calloc(1, sizeof *d);

	*out = NULL;
	if (!d)
		return error_set(err, "policies: out of memory");
	snprintf(d->cap, sizeof d->cap, "%s", config_cap && config_cap[0] ? config_cap : "auto");
	d->claims = (struct fleet_claims){ "policy", fleet_store_policy_lock,
					   fleet_store_policy_unlock, d->driven, 0,
					   POLICY_DRIVEN_MAX };
	*out = d;
	return 0;
}

void fleet_policy_driver_free(struct fleet_policy_driver *d, struct fleet_store *store)
{
	if (d && store)	/* let go at once rather than with the connection */
		fleet_claims_update(&d->claims, store, d->active, 0);
	free(d);
}

int64_t fleet_policy_tick(struct fleet_policy_driver *d, struct fleet_store *store,
			  struct fleet_publisher *pub, atomic_int *stop)
{
	struct pstep *s = calloc(1, sizeof *s);
	struct error err = { "" };
	int64_t due_us = 0;
	size_t active, i;

	if (!s)
		return 0;
	if (fleet_store_policy_active(store, d->active, POLICY_DRIVEN_MAX, &active, &err) < 0) {
		pstep_warn("*", "list", &err);
		free(s);
		return 0;
	}
	fleet_claims_update(&d->claims, store, d->active, active);
	for (i = 0; i < d->claims.count && !atomic_load(stop); i++) {
		memset(s, 0, sizeof *s);
		s->store = store;
		s->pub = pub;
		s->cap = d->cap;
		s->x = &d->driven[i];
		s->now = pstep_now_us();
		s->x->pace.due_us = 0;
		if (pstep_run(s, &err) < 0)
			pstep_warn(s->x->id, "step", &err);
		if (s->x->pace.due_us && (!due_us || s->x->pace.due_us < due_us))
			due_us = s->x->pace.due_us;
	}
	free(s);
	return due_us;
}
