/* fleet_http.h: one API request as the route handlers see it, and their
 * answer; between api/http.c (libmicrohttpd), api/routes.c and the
 * handlers.  Nothing here depends on libmicrohttpd.  http.c calls
 * routes.c, which calls the handlers; they call request.c, never back.
 *
 * Handlers fill a fleet_response: a status and a JSON body (errors through
 * fleet_reply_error(), which makes the error body of docs/fleet.md
 * {"error": {"code": N, "field": "...", "message": "..."}}). */
#ifndef SLOTFLEET_HTTP_H
#define SLOTFLEET_HTTP_H

#include <jansson.h>
#include <stddef.h>

#include "api/fleet_api.h"
#include "store/fleet_store.h"

#define FLEET_QUERY_MAX 16

struct fleet_param {
	const char *key, *value;
};

struct fleet_request {
	const struct fleet_api_deps *deps;
	const char *method;
	const char *path;
	const char *token;		/* X-Auth-Token bytes, NULL if none */
	size_t token_len;
	char base[320];			/* "http://HOST[:PORT]" for Location and links */
	struct fleet_param query[FLEET_QUERY_MAX];
	size_t query_count;
	int query_overflow;		/* more than FLEET_QUERY_MAX arguments */
	const char *body;		/* NUL-terminated, body_len bytes */
	size_t body_len;
	/* Set by the router. */
	char tenant[FLEET_ID_MAX];
	const char *id;			/* the {id} of the path, or NULL */
	size_t route;			/* fleet_api_routes' label index, for the metrics */
};

struct fleet_response {
	unsigned status;
	json_t *body;			/* owned */
	char location[640];		/* "" : no Location header */
	unsigned retry_after;		/* 0 : no Retry-After header */
	char allow[64];			/* "" : no Allow header */
	char *text;			/* owned; when set, sent instead of body as
					 * the Prometheus text format (GET /metrics) */
	size_t text_len;
	const unsigned char *asset;	/* when set, sent instead of body: static
					 * bytes of the web UI, never freed */
	size_t asset_len;
	const char *asset_type;		/* the asset's Content-Type */
	int ui;				/* add the web UI's security headers (ui.c) */
};

typedef void (*fleet_handler)(struct fleet_request *req, struct fleet_response *res);

/* request.c.  Takes body. */
void fleet_reply(struct fleet_response *res, unsigned status, json_t *body);
/* The error body; field may be "".  Returns -1 for `return fleet_reply_error(...)`. */
int fleet_reply_error(struct fleet_response *res, unsigned status, const char *field,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Routes and checks auth and rate, then runs the handler (routes.c). */
void fleet_route(struct fleet_request *req, struct fleet_response *res);
/* The label index of requests no route matched (404, 405, 413). */
size_t fleet_route_unmatched(void);

/* request.c.  The query arguments a handler accepts: an unknown or
 * repeated one is a 400 naming it.  values[i] is set for allowed[i] (NULL if absent). */
int fleet_query(const struct fleet_request *req, const char *const *allowed, size_t count,
		const char **values, struct fleet_response *res);

/* handlers_write.c's request checks, shared by the rollout handlers: each
 * answers the 400 naming the field itself and returns -1. */
json_t *write_body(const struct fleet_request *req, struct fleet_response *res);
int write_known_fields(json_t *object, const char *prefix, const char *const *allowed,
		       struct fleet_response *res);
int write_string(json_t *object, const char *key, const char *field, int required,
		 const char **out, struct fleet_response *res);
int write_sha256(json_t *metadata, const char **sha256, struct fleet_response *res);
/* metadata (NULL: none) an object within the guests' bound
 * (REQUEST_METADATA_MAX, request_check.h), else the 400 answered. */
int write_metadata(json_t *metadata, struct fleet_response *res);
/* The one action of an action body, {"NAME": {}}, NAME one of names: its
 * index; -1 with the 400 answered (list names them for the message). */
int write_action(json_t *body, const char *const *names, size_t count, const char *list,
		 struct fleet_response *res);

/* Records up (its id made when empty, the request's tenant, NEW) with its
 * cast method(args) in the outbox, in one group commit; kicks the outbox.
 * 0 recorded, 1 the id exists (nothing recorded), -1 not recorded (err).
 * Steals args.  up->cast says pending after. */
int write_record(struct fleet_request *req, struct fleet_upgrade *up, const char *method,
		 json_t *args, struct error *err);

/* handlers_read.c's query checks and paging links, shared likewise. */
int read_limit(const char *text, size_t *limit, struct fleet_response *res);
int read_id(const char *field, const char *text, size_t max, struct fleet_response *res);
json_t *read_links(const struct fleet_request *req, const char *collection, int more,
		   const char *last_id, const char *filter_key, const char *filter,
		   const char *filter2_key, const char *filter2, size_t limit);

/* The handlers (handlers_write.c, handlers_read.c, handlers_rollout.c). */
void fleet_handle_upgrade(struct fleet_request *req, struct fleet_response *res);
void fleet_handle_action(struct fleet_request *req, struct fleet_response *res);
void fleet_handle_upgrade_list(struct fleet_request *req, struct fleet_response *res);
void fleet_handle_upgrade_get(struct fleet_request *req, struct fleet_response *res);
void fleet_handle_instance_get(struct fleet_request *req, struct fleet_response *res);
void fleet_handle_instance_list(struct fleet_request *req, struct fleet_response *res);
void fleet_handle_rollout_create(struct fleet_request *req, struct fleet_response *res);
void fleet_handle_rollout_list(struct fleet_request *req, struct fleet_response *res);
void fleet_handle_rollout_get(struct fleet_request *req, struct fleet_response *res);
void fleet_handle_rollout_action(struct fleet_request *req, struct fleet_response *res);
void fleet_handle_rollout_append(struct fleet_request *req, struct fleet_response *res);
void fleet_handle_metrics(struct fleet_request *req, struct fleet_response *res);
void fleet_handle_policy_create(struct fleet_request *req, struct fleet_response *res);
void fleet_handle_policy_list(struct fleet_request *req, struct fleet_response *res);
void fleet_handle_policy_get(struct fleet_request *req, struct fleet_response *res);
void fleet_handle_policy_delete(struct fleet_request *req, struct fleet_response *res);
void fleet_handle_policy_action(struct fleet_request *req, struct fleet_response *res);
void fleet_handle_summary(struct fleet_request *req, struct fleet_response *res);

/* ui.c: the web UI's files.  1 for /ui and every path below it. */
int fleet_ui_path(const char *path);
void fleet_handle_ui(struct fleet_request *req, struct fleet_response *res);

#endif
