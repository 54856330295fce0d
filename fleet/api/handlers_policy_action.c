/* handlers_policy_action.c: POST .../mgmt/policies/{id}/action (see
 * handlers_policy.c): pause and resume, each one conditional update
 * (fleet_store_policy_transition): against the driver (which halts a
 * policy over its budget), whichever commits first wins, and the loser
 * sees the winner's state (409).  A HALTED policy is not resumed: its
 * budget is spent, and would halt it again; delete it and make another. */
#include <stdlib.h>
#include <string.h>

#include "api/fleet_http.h"
#include "api/policy_view.h"
#include "store/fleet_pool.h"
#include "request_check.h"

struct policy_action {
	const char *name;
	unsigned from;
	enum fleet_policy_state to;
	const char *reason;
};

static const struct policy_action policy_actions[] = {
	{ "pause", FLEET_POLICY_BIT(FLEET_POLICY_ACTIVE), FLEET_POLICY_PAUSED, "paused by an admin" },
	{ "resume", FLEET_POLICY_BIT(FLEET_POLICY_PAUSED), FLEET_POLICY_ACTIVE, "resumed by an admin" },
};
#define POLICY_ACTIONS (sizeof policy_actions / sizeof policy_actions[0])

static void action_apply(struct fleet_request *req, const struct policy_action *a,
			 struct fleet_policy *p, struct fleet_response *res)
{
	struct fleet_store *store = fleet_pool_get(req->deps->pool);
	enum fleet_policy_state now = p->state;
	struct error err = { "" };
	int rc = 0;

	if (a->from & FLEET_POLICY_BIT(p->state))
		rc = fleet_store_policy_transition(store, p->id, a->from, a->to, a->reason, &now,
						   &err);
	if (rc == 1 && fleet_store_policy_get(store, p->id, p, &err) != 1)
		rc = -1;
	fleet_pool_put(req->deps->pool, store);
	if (rc < 0)
		fleet_reply_error(res, 503, "", "%s", err.text);
	else if (rc == 0 && now == FLEET_POLICY_STATE_COUNT)
		fleet_reply_error(res, 404, "id", "no policy with this id");
	else if (rc == 0)
		fleet_reply_error(res, 409, a->name, "the policy is %s: cannot %s it",
				  fleet_policy_state_name(now), a->name);
	else
		fleet_reply(res, 200, json_pack("{s:o}", "policy", fleet_policy_view(p, NULL)));
}

void fleet_handle_policy_action(struct fleet_request *req, struct fleet_response *res)
{
	const char *names[POLICY_ACTIONS];
	struct fleet_policy *p = calloc(1, sizeof *p);
	struct fleet_store *store;
	struct error err = { "" };
	json_t *body = NULL;
	size_t i;
	int k, rc;

	if (!p) {
		fleet_reply_error(res, 500, "", "out of memory");
		return;
	}
	for (i = 0; i < POLICY_ACTIONS; i++)
		names[i] = policy_actions[i].name;
	if (read_id("id", req->id, REQUEST_ID_MAX, res) < 0 || !(body = write_body(req, res)) ||
	    (k = write_action(body, names, POLICY_ACTIONS, "pause, resume", res)) < 0)
		goto out;
	store = fleet_pool_get(req->deps->pool);
	rc = fleet_store_policy_get(store, req->id, p, &err);
	fleet_pool_put(req->deps->pool, store);
	if (rc < 0)
		fleet_reply_error(res, 503, "", "%s", err.text);
	else if (rc == 0 || strcmp(p->tenant, req->tenant))
		fleet_reply_error(res, 404, "id", "no policy with this id");
	else
		action_apply(req, &policy_actions[k], p, res);
out:
	json_decref(body);
	free(p);
}
