/* routes.c: the API's route table, then auth and rate limits, in that
 * order, before any handler runs (docs/fleet.md, "API contract"):
 *   unknown path 404; known path, other method 405 with Allow;
 *   no or unknown token 401; member token or another tenant 403;
 *   ([api] auth = keystone) Keystone cannot answer 503 with Retry-After;
 *   a write over the tenant's rate 429 with Retry-After (nothing recorded).
 * GET /metrics is outside /v1.0 and takes no token (fleet_api.h); so are
 * the web UI's files under /ui/ (ui.c), which hold no tenant's data.  Each
 * route's index in the table is its label for the request counters. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/fleet_auth.h"
#include "api/fleet_http.h"
#include "api/fleet_keystone.h"
#include "metrics/fleet_metrics.h"
#include "api/fleet_ratelimit.h"

#define ROUTE_PARTS_MAX 8

struct route {
	const char *method;
	const char *parts[3];		/* after /v1.0/{tenant}/mgmt/; "*" is the {id} */
	fleet_handler handler;
	int rate_limited;
};

static const struct route routes[] = {
	{ "POST", { "upgrade" }, fleet_handle_upgrade, 1 },
	{ "GET", { "upgrades" }, fleet_handle_upgrade_list, 0 },
	{ "GET", { "upgrades", "*" }, fleet_handle_upgrade_get, 0 },
	{ "GET", { "instances" }, fleet_handle_instance_list, 0 },
	{ "GET", { "summary" }, fleet_handle_summary, 0 },
	{ "GET", { "instances", "*" }, fleet_handle_instance_get, 0 },
	{ "POST", { "instances", "*", "action" }, fleet_handle_action, 1 },
	{ "GET", { "rollouts" }, fleet_handle_rollout_list, 0 },
	{ "POST", { "rollouts" }, fleet_handle_rollout_create, 1 },
	{ "GET", { "rollouts", "*" }, fleet_handle_rollout_get, 0 },
	{ "POST", { "rollouts", "*", "action" }, fleet_handle_rollout_action, 1 },
	{ "POST", { "rollouts", "*", "targets" }, fleet_handle_rollout_append, 1 },
	{ "GET", { "policies" }, fleet_handle_policy_list, 0 },
	{ "POST", { "policies" }, fleet_handle_policy_create, 1 },
	{ "GET", { "policies", "*" }, fleet_handle_policy_get, 0 },
	{ "DELETE", { "policies", "*" }, fleet_handle_policy_delete, 1 },
	{ "POST", { "policies", "*", "action" }, fleet_handle_policy_action, 1 },
};
#define ROUTES (sizeof routes / sizeof routes[0])
/* After the table: GET /metrics, the web UI, then every request no route matched. */
#define ROUTE_METRICS ROUTES
#define ROUTE_UI (ROUTES + 1)
#define ROUTE_UNMATCHED (ROUTES + 2)
_Static_assert(ROUTE_UNMATCHED < FLEET_METRICS_ROUTES, "FLEET_METRICS_ROUTES too small");

static const char *route_label(size_t i, char *buf, size_t size)
{
	const struct route *r;
	size_t used;

	if (i == ROUTE_METRICS)
		return "GET /metrics";
	if (i == ROUTE_UI)
		return "GET /ui/";
	if (i == ROUTE_UNMATCHED)
		return "unmatched";
	if (i > ROUTE_UNMATCHED)
		return NULL;
	r = &routes[i];
	used = (size_t)snprintf(buf, size, "%s /v1.0/{tenant}/mgmt", r->method);
	for (int k = 0; k < 3 && r->parts[k] && used < size; k++)
		used += (size_t)snprintf(buf + used, size - used, "/%s",
					 strcmp(r->parts[k], "*") ? r->parts[k] : "{id}");
	return buf;
}

const struct fleet_metrics_routes fleet_api_routes = { route_label, ROUTE_UNMATCHED };

size_t fleet_route_unmatched(void)
{
	return ROUTE_UNMATCHED;
}

/* Splits path on '/' in place; -1 for an empty part or too many. */
static int route_split(char *path, char **parts)
{
	int count = 0;
	char *p = path;

	if (*p++ != '/')
		return -1;
	for (;;) {
		if (count == ROUTE_PARTS_MAX)
			return -1;
		parts[count++] = p;
		p = strchr(p, '/');
		if (!p)
			break;
		*p++ = '\0';
	}
	for (int i = 0; i < count; i++)
		if (!parts[i][0])
			return -1;
	return count;
}

static int route_matches(const struct route *r, char **rest, int count, const char **id)
{
	int i;

	for (i = 0; i < 3 && r->parts[i]; i++) {
		if (i >= count)
			return 0;
		if (!strcmp(r->parts[i], "*"))
			*id = rest[i];
		else if (strcmp(r->parts[i], rest[i]))
			return 0;
	}
	return i == count;
}

/* The route for the path and method; NULL with 404 or 405 answered. */
static const struct route *route_find(struct fleet_request *req, char **parts, int count,
				      struct fleet_response *res)
{
	const struct route *found = NULL;
	const char *id = NULL;
	size_t i;

	if (count < 4 || strcmp(parts[0], "v1.0") || strcmp(parts[2], "mgmt")) {
		fleet_reply_error(res, 404, "", "no such resource");
		return NULL;
	}
	for (i = 0; i < ROUTES; i++) {
		if (!route_matches(&routes[i], parts + 3, count - 3, &id))
			continue;
		if (!strcmp(routes[i].method, req->method)) {
			req->id = id;
			req->route = i;
			return &routes[i];
		}
		found = &routes[i];
		snprintf(res->allow + strlen(res->allow), sizeof res->allow - strlen(res->allow),
			 "%s%s", res->allow[0] ? ", " : "", routes[i].method);
	}
	if (found)
		fleet_reply_error(res, 405, "", "method %s not allowed here", req->method);
	else
		fleet_reply_error(res, 404, "", "no such resource");
	return NULL;
}

/* The token file or Keystone, as [api] auth says; Keystone down is a 503
 * with Retry-After (fleet_keystone.h). */
static int route_auth(struct fleet_request *req, const char *tenant, struct fleet_response *res)
{
	enum fleet_auth_result auth;

	if (req->deps->keystone)
		auth = fleet_keystone_check(req->deps->keystone, req->token, req->token_len, tenant,
					    &res->retry_after);
	else
		auth = fleet_auth_check(req->deps->auth, req->token, req->token_len, tenant);
	if (auth != FLEET_AUTH_OK)
		return fleet_reply_error(res, fleet_auth_status(auth), "X-Auth-Token", "%s",
					 fleet_auth_message(auth));
	/* The tenant equals a token's tenant: a checked id. */
	snprintf(req->tenant, sizeof req->tenant, "%s", tenant);
	return 0;
}

static int route_rate(struct fleet_request *req, struct fleet_response *res)
{
	struct timespec now;
	unsigned retry_after = 0;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (fleet_ratelimit_take(req->deps->rate, req->tenant,
				 (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000, &retry_after))
		return 0;
	res->retry_after = retry_after;
	fleet_metrics_rate_limited(req->deps->metrics);
	return fleet_reply_error(res, 429, "", "over the rate limit; retry in %u s", retry_after);
}

/* No token: a scraper has none, and the page holds no tenant's data. */
static void route_metrics(struct fleet_request *req, struct fleet_response *res)
{
	if (strcmp(req->method, "GET")) {
		snprintf(res->allow, sizeof res->allow, "GET");
		fleet_reply_error(res, 405, "", "method %s not allowed here", req->method);
		return;
	}
	req->route = ROUTE_METRICS;
	fleet_handle_metrics(req, res);
}

void fleet_route(struct fleet_request *req, struct fleet_response *res)
{
	char path[1024], *parts[ROUTE_PARTS_MAX];
	const struct route *route;
	int count;

	req->route = ROUTE_UNMATCHED;
	if (!strcmp(req->path, "/metrics")) {
		route_metrics(req, res);
		return;
	}
	if (fleet_ui_path(req->path)) {
		req->route = ROUTE_UI;
		fleet_handle_ui(req, res);
		return;
	}
	if (strlen(req->path) >= sizeof path) {
		fleet_reply_error(res, 404, "", "no such resource");
		return;
	}
	strcpy(path, req->path);
	count = route_split(path, parts);
	if (count < 0) {
		fleet_reply_error(res, 404, "", "no such resource");
		return;
	}
	route = route_find(req, parts, count, res);
	if (!route || route_auth(req, parts[1], res) < 0)
		return;
	if (route->rate_limited && route_rate(req, res) < 0)
		return;
	route->handler(req, res);
}
