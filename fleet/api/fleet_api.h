/* fleet_api.h: slotfleet's HTTP API (docs/fleet.md, "API contract"; docs/openapi.yaml).
 *
 * libmicrohttpd with its own threads: [api] threads polling threads, each
 * with epoll, so a slow client (one byte a second) only costs a connection,
 * never a thread; idle connections are closed after [api] timeout, and at
 * most [api] connection_limit are open.  Request bodies are bounded by
 * [api] max_body (413 beyond it, the rest unread).  One log line per request
 * (method, path with control characters replaced, status, tenant, time);
 * headers, tokens and bodies are never logged.  Every answer is counted
 * (fleet_metrics.h) by route template and status; GET /metrics, outside
 * /v1.0, needs no token (it shows counts, never a tenant, id or secret). */
#ifndef SLOTFLEET_API_H
#define SLOTFLEET_API_H

#include "error.h"
#include "api/fleet_auth.h"
#include "api/fleet_keystone.h"
#include "config/fleet_config.h"
#include "metrics/fleet_metrics.h"
#include "store/fleet_pool.h"
#include "broker/fleet_outbox.h"
#include "broker/fleet_publisher.h"
#include "api/fleet_ratelimit.h"

struct fleet_api_deps {
	const struct fleet_config *config;
	const struct fleet_auth *auth;		/* [api] auth = tokens, else NULL */
	struct fleet_keystone *keystone;	/* [api] auth = keystone, else NULL */
	struct fleet_ratelimit *rate;
	struct fleet_pool *pool;
	struct fleet_publisher *publisher;
	struct fleet_metrics *metrics;
	struct fleet_outbox *outbox;		/* the API's casts go out through it */
};

struct fleet_api;

/* The route table's labels, for fleet_metrics_new() (routes.c). */
extern const struct fleet_metrics_routes fleet_api_routes;

/* Binds [api] listen and starts answering; deps must outlive the API. */
int fleet_api_start(struct fleet_api **api, const struct fleet_api_deps *deps,
		    struct error *err);
/* The bound port (useful with listen = HOST:0). */
unsigned fleet_api_port(const struct fleet_api *api);
/* Stops accepting, waits for requests in progress, frees. */
void fleet_api_stop(struct fleet_api *api);

#endif
