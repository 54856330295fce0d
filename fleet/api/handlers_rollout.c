/* handlers_rollout.c: the API's rollouts (docs/fleet.md "Rollouts").
 *
 *   POST .../mgmt/rollouts                 202, Location .../mgmt/rollouts/{id}
 *   GET  .../mgmt/rollouts?state=&limit=&marker=     newest first, paged
 *   GET  .../mgmt/rollouts/{id}            with per-wave counts and failures
 *   POST .../mgmt/rollouts/{id}/targets    {"instances": [...]} appended to a
 *                          draft (up to FLEET_ROLLOUT_PAGE_MAX)    200
 *   POST .../mgmt/rollouts/{id}/action     one of
 *        {"pause": {}}     RUNNING -> PAUSED                      200
 *        {"resume": {}}    PAUSED -> RUNNING (a draft: its waves made
 *                          from its count first)                  200
 *        {"cancel": {}}    RUNNING, PAUSED, HALTED -> CANCELLED   200
 *        {"rollback_failed": {}}  admin rollbacks to the failed instances
 *                          of the current wave                    202
 *        {"rollback_all": {}}     to every instance the rollout cast to;
 *                          a RUNNING or PAUSED rollout is CANCELLED first  202
 *   an action the rollout's state does not allow is a 409 naming its state.
 * The body is checked whole (rollout_request.h) before anything is stored;
 * the store then records the rollout and chooses its targets and waves in
 * one transaction (a selector is applied by the database), and the driver
 * (fleet_rollout.h) casts it.  Rollbacks are recorded like the instance
 * rollback action (kind "rollback", with the rollout's id) and cast here,
 * one by one, each answered in "rollbacks" with its record. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/fleet_http.h"
#include "store/fleet_pool.h"
#include "rollout/fleet_rollout.h"
#include "request_check.h"
#include "api/rollout_request.h"

#define ROLLOUT_FAILED_SHOWN 100

/* The store's refusals of a creation, as answers. */
static void rollout_create_refused(int rc, size_t count, size_t dup, struct fleet_response *res)
{
	if (rc == FLEET_ROLLOUT_CREATE_EXISTS)
		fleet_reply_error(res, 409, "rollout_id", "a rollout with this id exists");
	else if (rc == FLEET_ROLLOUT_CREATE_EMPTY)
		fleet_reply_error(res, 400, "targets", "no instance matches");
	else if (rc == FLEET_ROLLOUT_CREATE_TOO_MANY)
		fleet_reply_error(res, 400, "targets", "%zu instances match, more than %d", count,
				  FLEET_ROLLOUT_TARGETS_MAX);
	else
		fleet_reply_error(res, 400, "targets.instances", "instance %zu given twice", dup);
}

void fleet_handle_rollout_create(struct fleet_request *req, struct fleet_response *res)
{
	struct fleet_rollout_selection sel = { 0 };
	struct fleet_rollout *r = calloc(1, sizeof *r);
	struct fleet_store *store;
	struct error err = { "" };
	json_t *body = NULL, *view;
	size_t count = 0, dup = 0;
	int rc;

	if (!r) {
		fleet_reply_error(res, 500, "", "out of memory");
		return;
	}
	body = write_body(req, res);
	if (!body || rollout_request(req, body, r, &sel, res) < 0)
		goto out;
	store = fleet_pool_get(req->deps->pool);
	rc = fleet_store_rollout_create(store, r, &sel, &count, &dup, &err);
	if (rc == FLEET_ROLLOUT_CREATED && fleet_store_rollout_get(store, r->id, r, &err) != 1)
		rc = -1;
	fleet_pool_put(req->deps->pool, store);
	if (rc < 0) {
		fleet_reply_error(res, 503, "", "not recorded: %s", err.text);
	} else if (rc != FLEET_ROLLOUT_CREATED) {
		rollout_create_refused(rc, count, dup, res);
	} else {
		snprintf(res->location, sizeof res->location, "%s/v1.0/%s/mgmt/rollouts/%s",
			 req->base, req->tenant, r->id);
		view = fleet_rollout_view(r, NULL, NULL, 0);
		json_object_set_new(view, "target_count", json_integer((json_int_t)count));
		fleet_reply(res, 202, json_pack("{s:o}", "rollout", view));
	}
out:
	json_decref(body);
	free((void *)sel.ids);
	free(r);
}

/* POST .../rollouts/{id}/targets {"instances": [...]}: a page appended to
 * a draft. */
void fleet_handle_rollout_append(struct fleet_request *req, struct fleet_response *res)
{
	static const char *const fields[] = { "instances", NULL };
	enum fleet_rollout_state state = FLEET_ROLLOUT_STATE_COUNT;
	struct fleet_rollout *r = calloc(1, sizeof *r);
	const char **ids = NULL;
	struct fleet_store *store;
	struct error err = { "" };
	size_t count, total = 0, dup = 0;
	json_t *body = NULL, *view;
	int rc;

	if (!r) {
		fleet_reply_error(res, 500, "", "out of memory");
		return;
	}
	if (read_id("id", req->id, REQUEST_ID_MAX, res) < 0 || !(body = write_body(req, res)) ||
	    write_known_fields(body, "", fields, res) < 0 ||
	    (!json_object_get(body, "instances") &&
	     fleet_reply_error(res, 400, "instances", "missing") < 0) ||
	    rollout_request_ids(json_object_get(body, "instances"), "instances", &ids, &count,
				res) < 0)
		goto out;
	store = fleet_pool_get(req->deps->pool);
	rc = fleet_store_rollout_append(store, req->id, ids, count, &total, &dup, &state, &err);
	if (rc == FLEET_ROLLOUT_APPENDED && fleet_store_rollout_get(store, req->id, r, &err) != 1)
		rc = -1;
	fleet_pool_put(req->deps->pool, store);
	if (rc < 0) {
		fleet_reply_error(res, 503, "", "not recorded: %s", err.text);
	} else if (rc == FLEET_ROLLOUT_APPEND_NOT_DRAFT && state == FLEET_ROLLOUT_STATE_COUNT) {
		fleet_reply_error(res, 404, "id", "no rollout with this id");
	} else if (rc == FLEET_ROLLOUT_APPEND_NOT_DRAFT) {
		fleet_reply_error(res, 409, "instances", "the rollout is %s and not a draft: its "
				  "targets are fixed", fleet_rollout_state_name(state));
	} else if (rc == FLEET_ROLLOUT_APPEND_TOO_MANY) {
		fleet_reply_error(res, 400, "instances", "more than %d targets in all",
				  FLEET_ROLLOUT_TARGETS_MAX);
	} else if (rc == FLEET_ROLLOUT_APPEND_TWICE) {
		fleet_reply_error(res, 400, "instances", "instances[%zu] is a target already", dup);
	} else {
		view = fleet_rollout_view(r, NULL, NULL, 0);
		json_object_set_new(view, "target_count", json_integer((json_int_t)total));
		fleet_reply(res, 200, json_pack("{s:o}", "rollout", view));
	}
out:
	json_decref(body);
	free((void *)ids);
	free(r);
}

void fleet_handle_rollout_list(struct fleet_request *req, struct fleet_response *res)
{
	static const char *const allowed[] = { "state", "limit", "marker" };
	struct fleet_rollout_filter filter = { 0 };
	struct fleet_rollout *list = NULL;
	struct fleet_store *store;
	struct error err = { "" };
	const char *q[3];
	size_t count = 0, i;
	json_t *out;
	int more = 0, rc;

	if (fleet_query(req, allowed, 3, q, res) < 0 || read_limit(q[1], &filter.limit, res) < 0 ||
	    read_id("marker", q[2], REQUEST_ID_MAX, res) < 0)
		return;
	if (q[0] && fleet_rollout_state_parse(q[0], &filter.state) < 0) {
		fleet_reply_error(res, 400, "state", "not a rollout state (RUNNING, PAUSED, HALTED, "
				  "CANCELLED, FINISHED)");
		return;
	}
	filter.has_state = q[0] != NULL;
	filter.marker = q[2];
	if (!(list = calloc(filter.limit, sizeof *list))) {
		fleet_reply_error(res, 500, "", "out of memory");
		return;
	}
	store = fleet_pool_get(req->deps->pool);
	rc = fleet_store_rollout_list(store, &filter, list, &count, &more, &err);
	fleet_pool_put(req->deps->pool, store);
	if (rc < 0) {
		fleet_reply_error(res, 503, "", "%s", err.text);
	} else if (rc == 1) {
		fleet_reply_error(res, 400, "marker", "no rollout with this id");
	} else {
		out = json_array();
		for (i = 0; i < count; i++)
			json_array_append_new(out, fleet_rollout_view(&list[i], NULL, NULL, 0));
		fleet_reply(res, 200, json_pack("{s:o, s:o}", "rollouts", out, "links",
			read_links(req, "rollouts", more && count, count ? list[count - 1].id : "",
				   "state", q[0], NULL, NULL, filter.limit)));
	}
	free(list);
}

/* The full view: the record, per-wave counts, the failed instances. */
static json_t *rollout_full_view(struct fleet_store *store, const char *id, int *found,
				 struct error *err)
{
	struct fleet_rollout_members_query q = { FLEET_MEMBERS_FAILED, -1, 0,
						 ROLLOUT_FAILED_SHOWN };
	size_t counts[FLEET_ROLLOUT_WAVES_MAX][FLEET_STATE_COUNT + 1], n = 0, total = 0, w, s;
	struct fleet_rollout_member *failed = calloc(ROLLOUT_FAILED_SHOWN, sizeof *failed);
	struct fleet_rollout *r = calloc(1, sizeof *r);
	json_t *view = NULL;

	*found = 0;
	if (!failed || !r) {
		error_set(err, "out of memory");
		goto out;
	}
	*found = fleet_store_rollout_get(store, id, r, err);
	if (*found == 1 &&
	    fleet_store_rollout_counts(store, id, counts, FLEET_ROLLOUT_WAVES_MAX, err) == 0 &&
	    fleet_store_rollout_members(store, id, &q, failed, &n, err) == 0) {
		for (w = 0; w < FLEET_ROLLOUT_WAVES_MAX; w++)
			for (s = 0; s <= FLEET_STATE_COUNT; s++)
				total += counts[w][s];
		view = fleet_rollout_view(r, counts, failed, n);
		json_object_set_new(view, "target_count", json_integer((json_int_t)total));
	}
out:
	free(failed);
	free(r);
	return view;
}

void fleet_handle_rollout_get(struct fleet_request *req, struct fleet_response *res)
{
	struct fleet_store *store;
	struct error err = { "" };
	json_t *view;
	int found;

	if (fleet_query(req, NULL, 0, NULL, res) < 0 || read_id("id", req->id, REQUEST_ID_MAX, res) < 0)
		return;
	store = fleet_pool_get(req->deps->pool);
	view = rollout_full_view(store, req->id, &found, &err);
	fleet_pool_put(req->deps->pool, store);
	if (found == 0)
		fleet_reply_error(res, 404, "id", "no rollout with this id");
	else if (!view)
		fleet_reply_error(res, 503, "", "%s", err.text);
	else
		fleet_reply(res, 200, json_pack("{s:o}", "rollout", view));
}
