/* handlers_policy.c: the API's policies (docs/fleet.md "Automatic
 * upgrades"), with the rollout routes' conventions (admin token, writes
 * rate limited, 400 naming the field, 404, 409):
 *
 *   POST   .../mgmt/policies              201, Location .../mgmt/policies/{id}
 *   GET    .../mgmt/policies?state=&limit=&marker=   the tenant's, newest first
 *   GET    .../mgmt/policies/{id}         with in-flight and budget counts
 *   DELETE .../mgmt/policies/{id}         200 with the policy as it was
 *   POST   .../mgmt/policies/{id}/action  {"pause": {}}  ACTIVE -> PAUSED
 *                                         {"resume": {}} PAUSED -> ACTIVE
 *   an action the state does not allow is a 409 naming the state.
 * A tenant has at most one ACTIVE or PAUSED policy per version line (the
 * major of instance_version) whose scope overlaps another's
 * (fleet_policy_overlap): a second is a 409 naming the first (checked in
 * the insert's transaction, so concurrent creations cannot both pass; on
 * several slotfleets too).  Another
 * tenant's policy is not found (404). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/fleet_http.h"
#include "api/policy_request.h"
#include "api/policy_view.h"
#include "store/fleet_pool.h"
#include "rollout/fleet_policy.h"
#include "request_check.h"

#define POLICY_LIVE (FLEET_POLICY_BIT(FLEET_POLICY_ACTIVE) | FLEET_POLICY_BIT(FLEET_POLICY_PAUSED))

void fleet_handle_policy_create(struct fleet_request *req, struct fleet_response *res)
{
	struct fleet_policy *p = calloc(2, sizeof *p);	/* p, and one it overlaps */
	struct fleet_store *store;
	struct error err = { "" };
	json_t *body = NULL;
	int rc;

	if (!p) {
		fleet_reply_error(res, 500, "", "out of memory");
		return;
	}
	body = write_body(req, res);
	if (!body || policy_request(req, body, p, res) < 0)
		goto out;
	store = fleet_pool_get(req->deps->pool);
	/* The overlap check runs in the insert's transaction: atomic. */
	rc = fleet_store_policy_insert(store, p, fleet_policy_overlap, p + 1, &err);
	if (rc == 0 && fleet_store_policy_get(store, p->id, p, &err) != 1)
		rc = -1;
	fleet_pool_put(req->deps->pool, store);
	if (rc == 2)
		fleet_reply_error(res, 409, "scope", "overlaps policy %s (%s, instance_version %s)",
				  p[1].id, fleet_policy_state_name(p[1].state), p[1].to_version);
	else if (rc == 1)
		fleet_reply_error(res, 409, "policy_id", "a policy with this id exists");
	else if (rc < 0)
		fleet_reply_error(res, 503, "", "not recorded: %s", err.text);
	else {
		snprintf(res->location, sizeof res->location, "%s/v1.0/%s/mgmt/policies/%s",
			 req->base, req->tenant, p->id);
		fleet_reply(res, 201, json_pack("{s:o}", "policy", fleet_policy_view(p, NULL)));
	}
out:
	json_decref(body);
	free(p);
}

void fleet_handle_policy_list(struct fleet_request *req, struct fleet_response *res)
{
	static const char *const allowed[] = { "state", "limit", "marker" };
	struct fleet_policy_filter filter = { .tenant = req->tenant };
	enum fleet_policy_state state;
	struct fleet_policy *list = NULL;
	struct fleet_store *store;
	struct error err = { "" };
	const char *q[3];
	size_t count = 0, i;
	json_t *out;
	int more = 0, rc;

	if (fleet_query(req, allowed, 3, q, res) < 0 || read_limit(q[1], &filter.limit, res) < 0 ||
	    read_id("marker", q[2], REQUEST_ID_MAX, res) < 0)
		return;
	if (q[0] && fleet_policy_state_parse(q[0], &state) < 0) {
		fleet_reply_error(res, 400, "state", "not a policy state (ACTIVE, PAUSED, HALTED)");
		return;
	}
	filter.state_mask = q[0] ? FLEET_POLICY_BIT(state) : 0;
	filter.marker = q[2];
	if (!(list = calloc(filter.limit, sizeof *list))) {
		fleet_reply_error(res, 500, "", "out of memory");
		return;
	}
	store = fleet_pool_get(req->deps->pool);
	rc = fleet_store_policy_list(store, &filter, list, &count, &more, &err);
	fleet_pool_put(req->deps->pool, store);
	if (rc < 0) {
		fleet_reply_error(res, 503, "", "%s", err.text);
	} else if (rc == 1) {
		fleet_reply_error(res, 400, "marker", "no policy with this id");
	} else {
		out = json_array();
		for (i = 0; i < count; i++)
			json_array_append_new(out, fleet_policy_view(&list[i], NULL));
		fleet_reply(res, 200, json_pack("{s:o, s:o}", "policies", out, "links",
			read_links(req, "policies", more && count, count ? list[count - 1].id : "",
				   "state", q[0], NULL, NULL, filter.limit)));
	}
	free(list);
}

/* The tenant's policy req->id into p: 1, or 0/-1 with the answer set. */
static int policy_find(struct fleet_request *req, struct fleet_store *store,
		       struct fleet_policy *p, struct fleet_response *res)
{
	struct error err = { "" };
	int rc = fleet_store_policy_get(store, req->id, p, &err);

	if (rc < 0)
		return fleet_reply_error(res, 503, "", "%s", err.text);
	if (rc == 0 || strcmp(p->tenant, req->tenant))
		return fleet_reply_error(res, 404, "id", "no policy with this id"), 0;
	return 1;
}

void fleet_handle_policy_get(struct fleet_request *req, struct fleet_response *res)
{
	struct fleet_policy *p = calloc(1, sizeof *p);
	struct fleet_policy_counts counts;
	struct fleet_store *store;
	struct error err = { "" };
	int rc;

	if (!p) {
		fleet_reply_error(res, 500, "", "out of memory");
		return;
	}
	if (fleet_query(req, NULL, 0, NULL, res) < 0 ||
	    read_id("id", req->id, REQUEST_ID_MAX, res) < 0)
		goto out;
	store = fleet_pool_get(req->deps->pool);
	rc = policy_find(req, store, p, res);
	if (rc == 1 && fleet_store_policy_counts(store, p, 0, &counts, &err) < 0)
		rc = -1;
	fleet_pool_put(req->deps->pool, store);
	if (rc == -1 && err.text[0])
		fleet_reply_error(res, 503, "", "%s", err.text);
	else if (rc == 1)
		fleet_reply(res, 200, json_pack("{s:o}", "policy", fleet_policy_view(p, &counts)));
out:
	free(p);
}

void fleet_handle_policy_delete(struct fleet_request *req, struct fleet_response *res)
{
	struct fleet_policy *p = calloc(1, sizeof *p);
	struct fleet_store *store;
	struct error err = { "" };
	int rc;

	if (!p) {
		fleet_reply_error(res, 500, "", "out of memory");
		return;
	}
	if (fleet_query(req, NULL, 0, NULL, res) < 0 ||
	    read_id("id", req->id, REQUEST_ID_MAX, res) < 0)
		goto out;
	store = fleet_pool_get(req->deps->pool);
	rc = policy_find(req, store, p, res);
	if (rc == 1)
		rc = fleet_store_policy_delete(store, p->id, &err) < 0 ? -2 : 1;
	fleet_pool_put(req->deps->pool, store);
	if (rc == -2)
		fleet_reply_error(res, 503, "", "%s", err.text);
	else if (rc == 1)
		fleet_reply(res, 200, json_pack("{s:o}", "policy", fleet_policy_view(p, NULL)));
out:
	free(p);
}
