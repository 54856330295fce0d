/* handlers_read.c: the API's reads.
 *
 *   GET .../mgmt/upgrades?state=&instance_id=&limit=&marker=
 *       newest first, limit 1..1000 (default 20); "links" holds
 *       {"rel": "next", "href": ...} when a further page exists
 *   GET .../mgmt/upgrades/{id}          the record and its "events"
 *   GET .../mgmt/instances?agent_version=&limit=&marker=   by id
 *   GET .../mgmt/instances/{id}
 * Query arguments are checked like bodies: an unknown one, a state that is
 * not a state, a bad id or limit is a 400 naming it.  The management API
 * reads the whole fleet, as Trove's does for admins: records keep the
 * tenant that asked for them ("tenant"), and reports create records
 * without one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/fleet_http.h"
#include "store/fleet_pool.h"
#include "api/fleet_view.h"
#include "number.h"
#include "request_check.h"

#define READ_LIMIT_DEFAULT 20
#define READ_EVENTS_MAX 256

int read_limit(const char *text, size_t *limit, struct fleet_response *res)
{
	unsigned long long n;

	*limit = READ_LIMIT_DEFAULT;
	if (!text)
		return 0;
	if (number_parse(text, FLEET_PAGE_MAX, &n) < 0 || n == 0)
		return fleet_reply_error(res, 400, "limit", "want a whole number from 1 to %d",
					 FLEET_PAGE_MAX);
	*limit = (size_t)n;
	return 0;
}

int read_id(const char *field, const char *text, size_t max, struct fleet_response *res)
{
	struct error err = { "" };

	if (text && request_check_id(field, text, max, &err) < 0)
		return fleet_reply_error(res, 400, field, "%s", err.text);
	return 0;
}

/* Appends "&key=value", the value percent-encoded (a version may hold '+'). */
static size_t read_query_append(char *href, size_t used, size_t size, const char *key,
				const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;

	if (!value || used >= size)
		return used;
	used += (size_t)snprintf(href + used, size - used, "&%s=", key);
	for (p = (const unsigned char *)value; *p && used + 4 < size; p++) {
		if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~", *p)) {
			href[used++] = (char)*p;
		} else {
			href[used++] = '%';
			href[used++] = hex[*p >> 4];
			href[used++] = hex[*p & 15];
		}
	}
	href[used < size ? used : size - 1] = '\0';
	return used;
}

/* Trove's paging: a "next" link with the same filters and the last id. */
json_t *read_links(const struct fleet_request *req, const char *collection, int more,
		   const char *last_id, const char *filter_key, const char *filter,
		   const char *filter2_key, const char *filter2, size_t limit)
{
	char href[1024];
	size_t n;

	if (!more)
		return json_array();
	n = (size_t)snprintf(href, sizeof href, "%s/v1.0/%s/mgmt/%s?limit=%zu&marker=%s",
			     req->base, req->tenant, collection, limit, last_id);
	n = read_query_append(href, n, sizeof href, filter_key, filter);
	read_query_append(href, n, sizeof href, filter2_key, filter2);
	return json_pack("[{s:s, s:s}]", "rel", "next", "href", href);
}

void fleet_handle_upgrade_list(struct fleet_request *req, struct fleet_response *res)
{
	static const char *const allowed[] = { "state", "instance_id", "limit", "marker" };
	struct fleet_upgrade_filter filter = { 0 };
	struct fleet_upgrade *ups = NULL;
	struct fleet_store *store;
	struct error err = { "" };
	const char *q[4];
	size_t count = 0, i;
	json_t *list;
	int more = 0, rc;

	if (fleet_query(req, allowed, 4, q, res) < 0 || read_limit(q[2], &filter.limit, res) < 0 ||
	    read_id("instance_id", q[1], REQUEST_INSTANCE_MAX, res) < 0 ||
	    read_id("marker", q[3], REQUEST_ID_MAX, res) < 0)
		return;
	if (q[0] && fleet_state_parse(q[0], &filter.state) < 0) {
		fleet_reply_error(res, 400, "state", "not a state (NEW, DEFERRED, DOWNLOADING, "
				  "VERIFYING, INSTALLING, ACTIVATING, SUCCESS, FAILED)");
		return;
	}
	filter.has_state = q[0] != NULL;
	filter.instance_id = q[1];
	filter.marker = q[3];
	ups = calloc(filter.limit, sizeof *ups);
	if (!ups) {
		fleet_reply_error(res, 500, "", "out of memory");
		return;
	}
	store = fleet_pool_get(req->deps->pool);
	rc = fleet_store_upgrade_list(store, &filter, ups, &count, &more, &err);
	fleet_pool_put(req->deps->pool, store);
	if (rc < 0) {
		fleet_reply_error(res, 503, "", "%s", err.text);
	} else {
		list = json_array();
		for (i = 0; i < count; i++)
			json_array_append_new(list, fleet_view_upgrade(&ups[i]));
		fleet_reply(res, 200, json_pack("{s:o, s:o}", "upgrades", list, "links",
			read_links(req, "upgrades", more && count, count ? ups[count - 1].id : "",
				   "state", q[0], "instance_id", q[1], filter.limit)));
	}
	free(ups);
}

void fleet_handle_upgrade_get(struct fleet_request *req, struct fleet_response *res)
{
	struct fleet_event *events = NULL;
	struct fleet_upgrade up;
	struct fleet_store *store;
	struct error err = { "" };
	size_t count = 0;
	json_t *view;
	int rc;

	if (fleet_query(req, NULL, 0, NULL, res) < 0 || read_id("id", req->id, REQUEST_ID_MAX, res) < 0)
		return;
	events = calloc(READ_EVENTS_MAX, sizeof *events);
	if (!events) {
		fleet_reply_error(res, 500, "", "out of memory");
		return;
	}
	store = fleet_pool_get(req->deps->pool);
	rc = fleet_store_upgrade_get(store, req->id, &up, &err);
	if (rc == 1 && fleet_store_upgrade_events(store, req->id, events, READ_EVENTS_MAX, &count,
						  &err) < 0)
		rc = -1;
	fleet_pool_put(req->deps->pool, store);
	if (rc < 0) {
		fleet_reply_error(res, 503, "", "%s", err.text);
	} else if (rc == 0) {
		fleet_reply_error(res, 404, "id", "no upgrade with this id");
	} else {
		view = fleet_view_upgrade(&up);
		json_object_set_new(view, "events", fleet_view_events(events, count));
		fleet_reply(res, 200, json_pack("{s:o}", "upgrade", view));
	}
	free(events);
}

void fleet_handle_instance_get(struct fleet_request *req, struct fleet_response *res)
{
	struct fleet_instance in;
	struct fleet_store *store;
	struct error err = { "" };
	int rc;

	if (fleet_query(req, NULL, 0, NULL, res) < 0 ||
	    read_id("instance_id", req->id, REQUEST_INSTANCE_MAX, res) < 0)
		return;
	store = fleet_pool_get(req->deps->pool);
	rc = fleet_store_instance_get(store, req->id, &in, &err);
	fleet_pool_put(req->deps->pool, store);
	if (rc < 0)
		fleet_reply_error(res, 503, "", "%s", err.text);
	else if (rc == 0)
		fleet_reply_error(res, 404, "instance_id", "no such instance (never heard from, "
				  "never upgraded)");
	else
		fleet_reply(res, 200, json_pack("{s:o}", "instance", fleet_view_instance(&in)));
}

/* A version as a filter: printable, no blanks, like the reports' versions. */
static int read_version(const char *text, struct fleet_response *res)
{
	size_t i;

	if (!text)
		return 0;
	for (i = 0; text[i]; i++)
		if ((unsigned char)text[i] <= 0x20 || (unsigned char)text[i] >= 0x7f)
			break;
	if (!text[0] || text[i] || i >= FLEET_VERSION_MAX)
		return fleet_reply_error(res, 400, "agent_version", "not a version");
	return 0;
}

void fleet_handle_instance_list(struct fleet_request *req, struct fleet_response *res)
{
	static const char *const allowed[] = { "agent_version", "limit", "marker" };
	struct fleet_instance *ins = NULL;
	struct fleet_store *store;
	struct error err = { "" };
	const char *q[3];
	size_t limit, count = 0, i;
	json_t *list;
	int more = 0, rc;

	if (fleet_query(req, allowed, 3, q, res) < 0 || read_version(q[0], res) < 0 ||
	    read_limit(q[1], &limit, res) < 0 ||
	    read_id("marker", q[2], REQUEST_INSTANCE_MAX, res) < 0)
		return;
	ins = calloc(limit, sizeof *ins);
	if (!ins) {
		fleet_reply_error(res, 500, "", "out of memory");
		return;
	}
	store = fleet_pool_get(req->deps->pool);
	rc = fleet_store_instance_list(store, q[0], q[2], limit, ins, &count, &more, &err);
	fleet_pool_put(req->deps->pool, store);
	if (rc < 0) {
		fleet_reply_error(res, 503, "", "%s", err.text);
	} else {
		list = json_array();
		for (i = 0; i < count; i++)
			json_array_append_new(list, fleet_view_instance(&ins[i]));
		fleet_reply(res, 200, json_pack("{s:o, s:o}", "instances", list, "links",
			read_links(req, "instances", more && count, count ? ins[count - 1].id : "",
				   "agent_version", q[0], NULL, NULL, limit)));
	}
	free(ins);
}
