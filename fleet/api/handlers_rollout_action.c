/* handlers_rollout_action.c: POST .../mgmt/rollouts/{id}/action (the
 * actions are listed in handlers_rollout.c).  State changes are one
 * conditional update each (fleet_store_rollout_transition): against the
 * driver, whichever commits first wins, and the loser sees the winner's
 * state (409).  Rollbacks are recorded here, one at a time, in the order
 * of the rollout's plan, at most ACTION_ROLLBACKS_MAX per action, each
 * with its cast in the outbox like the instance rollback action's: sent
 * after the answer; a rollback the broker refuses is recorded FAILED with
 * the reason, and is sent again by the next action.  Resuming a draft
 * starts it (its waves made from its count). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/fleet_http.h"
#include "store/fleet_pool.h"
#include "rollout/fleet_rollout.h"
#include "api/fleet_view.h"
#include "history.h"
#include "request_check.h"

/* Rollbacks one action casts (one page of targets): a rollout of the whole
 * fleet is rolled back by repeating the action, which skips the targets
 * this rollout sent a rollback already ("more" says when to). */
#define ACTION_ROLLBACKS_MAX FLEET_PAGE_MAX

struct action {
	const char *name;
	unsigned from;			/* states it applies to */
	enum fleet_rollout_state to;
	const char *reason;		/* the rollout's reason after it */
};

#define BIT FLEET_ROLLOUT_BIT
static const struct action actions[] = {
	{ "pause", BIT(FLEET_ROLLOUT_RUNNING), FLEET_ROLLOUT_PAUSED, "paused by an admin" },
	{ "resume", BIT(FLEET_ROLLOUT_PAUSED), FLEET_ROLLOUT_RUNNING, "resumed by an admin" },
	{ "cancel", BIT(FLEET_ROLLOUT_RUNNING) | BIT(FLEET_ROLLOUT_PAUSED) |
		    BIT(FLEET_ROLLOUT_HALTED), FLEET_ROLLOUT_CANCELLED, "cancelled by an admin" },
	{ "rollback_failed", 0, 0, "" },
	{ "rollback_all", BIT(FLEET_ROLLOUT_RUNNING) | BIT(FLEET_ROLLOUT_PAUSED),
	  FLEET_ROLLOUT_CANCELLED, "cancelled by rollback_all" },
};
#undef BIT

/* The one action of the body, its value {}; NULL with the 400 answered. */
static const struct action *action_parse(json_t *body, struct fleet_response *res)
{
	const char *names[sizeof actions / sizeof actions[0]];
	size_t i;
	int k;

	for (i = 0; i < sizeof actions / sizeof actions[0]; i++)
		names[i] = actions[i].name;
	k = write_action(body, names, i, "pause, resume, cancel, rollback_failed, rollback_all",
			 res);
	return k < 0 ? NULL : &actions[k];
}

/* Records one rollback with its cast in the outbox (sent after the
 * answer, as the instance rollback action's); its record joins list. */
static void action_rollback(struct fleet_request *req, const struct fleet_rollout *r,
			    const char *instance, json_t *list)
{
	struct fleet_upgrade up = { .kind = "rollback" };
	struct error err = { "" };

	snprintf(up.instance_id, sizeof up.instance_id, "%s", instance);
	snprintf(up.rollout_id, sizeof up.rollout_id, "%s", r->id);
	if (history_new_id(up.id, sizeof up.id, &err) < 0 ||
	    write_record(req, &up, "rollback", request_rollback_args(up.id), &err) != 0) {
		json_array_append_new(list, json_pack("{s:s, s:s}", "instance_id", instance,
						      "error", "not recorded"));
		return;
	}
	json_array_append_new(list, fleet_view_upgrade(&up));
}

/* Rollbacks to the current wave's failed instances, or to all cast. */
static json_t *action_rollbacks(struct fleet_request *req, struct fleet_store *store,
				const struct fleet_rollout *r, int all, int *more, struct error *err)
{
	struct fleet_rollout_members_query q = { all ? FLEET_MEMBERS_CAST : FLEET_MEMBERS_FAILED,
						 all ? -1 : (int)r->current_wave, 0,
						 ACTION_ROLLBACKS_MAX, 0, 1 };
	struct fleet_rollout_member *m = calloc(q.limit, sizeof *m);
	json_t *list = NULL;
	size_t n = 0, i;

	if (!m) {
		error_set(err, "out of memory");
		return NULL;
	}
	if (fleet_store_rollout_members(store, r->id, &q, m, &n, err) == 0) {
		list = json_array();
		for (i = 0; i < n; i++)
			action_rollback(req, r, m[i].instance_id, list);
		*more = n == q.limit;
	}
	free(m);
	return list;
}

/* The state change first (if the action has one and the state allows it),
 * then the rollbacks; rollback_all rolls back whatever the state. */
static void action_apply(struct fleet_request *req, const struct action *a,
			 struct fleet_rollout *r, struct fleet_response *res)
{
	struct fleet_store *store = fleet_pool_get(req->deps->pool);
	enum fleet_rollout_state now = r->state;
	struct error err = { "" };
	int rollback = !strncmp(a->name, "rollback_", 9), more = 0, rc;
	json_t *list = NULL;
	size_t total;

	if (!strcmp(a->name, "resume") && r->state == FLEET_ROLLOUT_PAUSED && !r->wave_count)
		rc = fleet_store_rollout_start(store, r->id, &total, &now, &err);
	else if (a->from & FLEET_ROLLOUT_BIT(r->state))
		rc = fleet_store_rollout_transition(store, r->id, a->from, a->to, a->reason, &now,
						    &err);
	else
		rc = a->from && !rollback ? 0 : 1;
	if (rollback && rc >= 0) {
		list = action_rollbacks(req, store, r, !strcmp(a->name, "rollback_all"), &more,
					&err);
		rc = list ? 1 : -1;
	}
	if (rc == 1 && fleet_store_rollout_get(store, r->id, r, &err) != 1)
		rc = -1;
	fleet_pool_put(req->deps->pool, store);
	if (rc < 0) {
		json_decref(list);
		fleet_reply_error(res, 503, "", "%s", err.text);
	} else if (rc == 0) {
		fleet_reply_error(res, 409, a->name, "the rollout is %s: cannot %s it",
				  fleet_rollout_state_name(now), a->name);
	} else if (rollback) {
		fleet_reply(res, 202, json_pack("{s:o, s:o, s:b}", "rollout",
			fleet_rollout_view(r, NULL, NULL, 0), "rollbacks", list, "more", more));
	} else {
		fleet_reply(res, 200, json_pack("{s:o}", "rollout",
						fleet_rollout_view(r, NULL, NULL, 0)));
	}
}

void fleet_handle_rollout_action(struct fleet_request *req, struct fleet_response *res)
{
	struct fleet_rollout *r = calloc(1, sizeof *r);
	const struct action *a;
	struct fleet_store *store;
	struct error err = { "" };
	json_t *body = NULL;
	int rc;

	if (!r) {
		fleet_reply_error(res, 500, "", "out of memory");
		return;
	}
	if (read_id("id", req->id, REQUEST_ID_MAX, res) < 0 || !(body = write_body(req, res)) ||
	    !(a = action_parse(body, res)))
		goto out;
	store = fleet_pool_get(req->deps->pool);
	rc = fleet_store_rollout_get(store, req->id, r, &err);
	fleet_pool_put(req->deps->pool, store);
	if (rc < 0)
		fleet_reply_error(res, 503, "", "%s", err.text);
	else if (rc == 0)
		fleet_reply_error(res, 404, "id", "no rollout with this id");
	else
		action_apply(req, a, r, res);
out:
	json_decref(body);
	free(r);
}
