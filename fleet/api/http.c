/* http.c: libmicrohttpd glue for the API (see api/fleet_api.h):
 * the daemon, bounded bodies, the request's view for the router, the
 * answer's headers, and the one log line per request. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "api/fleet_http.h"
#include "store/fleet_text.h"
#include "log.h"

struct fleet_api {
	struct MHD_Daemon *daemon;
	const struct fleet_api_deps *deps;
	unsigned port;
};

/* One connection's request, from its first callback to its completion. */
struct http_ctx {
	struct timespec start;
	char method[16];
	char path[160];			/* cleaned, for the log */
	char *body;
	size_t len;
	int too_big;
	unsigned status;
	char tenant[FLEET_ID_MAX];
	struct fleet_metrics *metrics;
};

static enum MHD_Result http_query_arg(void *cls, enum MHD_ValueKind kind, const char *key,
				      const char *value)
{
	struct fleet_request *req = cls;

	(void)kind;
	if (req->query_count == FLEET_QUERY_MAX) {
		req->query_overflow = 1;
		return MHD_NO;
	}
	req->query[req->query_count].key = key;
	req->query[req->query_count++].value = value ? value : "";
	return MHD_YES;
}

/* "http://" + the Host header when it is a plain host[:port], else the
 * listen address: a hostile Host must not end up in Location. */
static void http_base(struct MHD_Connection *conn, const struct fleet_api *api,
		      struct fleet_request *req)
{
	const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
	const struct fleet_config *c = api->deps->config;

	if (host && host[0] && strlen(host) < 256 &&
	    strspn(host, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:[]") ==
		    strlen(host))
		snprintf(req->base, sizeof req->base, "http://%s", host);
	else if (strchr(c->api.host, ':'))
		snprintf(req->base, sizeof req->base, "http://[%s]:%u", c->api.host, api->port);
	else
		snprintf(req->base, sizeof req->base, "http://%s:%u", c->api.host, api->port);
}

/* The exposition format's media type (Prometheus text format 0.0.4). */
#define HTTP_PROM_TYPE "text/plain; version=0.0.4; charset=utf-8"
/* The web UI's pages run this origin's files only: no inline script or
 * style, no other host (docs/dashboard.md, Security). */
#define HTTP_UI_CSP "default-src 'self'; script-src 'self'; style-src 'self'; " \
		    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"

static void http_ui_headers(struct MHD_Response *response)
{
	MHD_add_response_header(response, "Content-Security-Policy", HTTP_UI_CSP);
	MHD_add_response_header(response, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(response, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(response, "X-Frame-Options", "DENY");
	MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
}

/* The answer's bytes and type: a web UI file (static, never copied nor
 * freed), the metrics' text, or the JSON body (500 when it cannot be made). */
static struct MHD_Response *http_body(struct fleet_response *res, const char **type)
{
	char *text = res->text ? res->text : res->body ? json_dumps(res->body, JSON_COMPACT) : NULL;
	size_t len = res->text ? res->text_len : text ? strlen(text) : 0;
	struct MHD_Response *response;

	*type = res->text ? HTTP_PROM_TYPE : "application/json";
	res->text = NULL;
	if (res->asset) {
		free(text);
		*type = res->asset_type;
		return MHD_create_response_from_buffer(res->asset_len,
						       (void *)(uintptr_t)res->asset,
						       MHD_RESPMEM_PERSISTENT);
	}
	if (!text) {
		text = strdup("{\"error\": {\"code\": 500, \"field\": \"\", \"message\": \"out of memory\"}}");
		len = text ? strlen(text) : 0;
		*type = "application/json";
		res->status = 500;
	}
	response = text ? MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE) :
		   NULL;
	if (!response)
		free(text);
	return response;
}

static enum MHD_Result http_send(struct MHD_Connection *conn, struct http_ctx *ctx,
				 size_t route, struct fleet_response *res)
{
	struct MHD_Response *response;
	enum MHD_Result rc;
	const char *type;
	char seconds[16];

	response = http_body(res, &type);
	if (!response) {
		json_decref(res->body);
		res->body = NULL;
		return MHD_NO;
	}
	MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (res->ui)
		http_ui_headers(response);
	if (res->location[0])
		MHD_add_response_header(response, MHD_HTTP_HEADER_LOCATION, res->location);
	if (res->allow[0])
		MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, res->allow);
	if (res->retry_after) {
		snprintf(seconds, sizeof seconds, "%u", res->retry_after);
		MHD_add_response_header(response, MHD_HTTP_HEADER_RETRY_AFTER, seconds);
	}
	ctx->status = res->status;
	fleet_metrics_request(ctx->metrics, route, res->status);
	rc = MHD_queue_response(conn, res->status, response);
	MHD_destroy_response(response);
	json_decref(res->body);
	res->body = NULL;
	return rc;
}

/* The whole request is in: route it and answer. */
static enum MHD_Result http_answer(struct fleet_api *api, struct MHD_Connection *conn,
				   struct http_ctx *ctx, const char *method, const char *url)
{
	struct fleet_response res = { 0 };
	struct fleet_request req = { .deps = api->deps, .method = method, .path = url };
	if (ctx->too_big) {
		fleet_reply_error(&res, 413, "body", "the body is larger than %zu bytes",
				  api->deps->config->api.max_body);
		return http_send(conn, ctx, fleet_route_unmatched(), &res);
	}
	http_base(conn, api, &req);
	MHD_lookup_connection_value_n(conn, MHD_HEADER_KIND, "X-Auth-Token", 12, &req.token,
				      &req.token_len);
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, http_query_arg, &req);
	req.body = ctx->body ? ctx->body : "";
	req.body_len = ctx->len;
	fleet_route(&req, &res);
	snprintf(ctx->tenant, sizeof ctx->tenant, "%s", req.tenant);
	return http_send(conn, ctx, req.route, &res);
}

/* Appends upload data, at most max_body; the rest is read and dropped. */
static void http_take_body(struct http_ctx *ctx, size_t max, const char *data, size_t size)
{
	char *grown;

	if (ctx->too_big || size > max - ctx->len) {
		ctx->too_big = 1;
		return;
	}
	grown = realloc(ctx->body, ctx->len + size + 1);
	if (!grown) {
		ctx->too_big = 1;
		return;
	}
	memcpy(grown + ctx->len, data, size);
	ctx->body = grown;
	ctx->len += size;
	ctx->body[ctx->len] = '\0';
}

static struct http_ctx *http_begin(struct MHD_Connection *conn, const struct fleet_api *api,
				   const char *method, const char *url)
{
	struct http_ctx *ctx = calloc(1, sizeof *ctx);
	const char *length;
	unsigned long long declared;
	char *end;

	if (!ctx)
		return NULL;
	clock_gettime(CLOCK_MONOTONIC, &ctx->start);
	ctx->metrics = api->deps->metrics;
	fleet_text_clean(ctx->method, sizeof ctx->method, method);
	fleet_text_clean(ctx->path, sizeof ctx->path, url);
	length = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (length) {
		declared = strtoull(length, &end, 10);
		if (declared > api->deps->config->api.max_body)
			ctx->too_big = 1;
	}
	return ctx;
}

static enum MHD_Result http_access(void *cls, struct MHD_Connection *conn, const char *url,
				   const char *method, const char *version,
				   const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct fleet_api *api = cls;
	struct http_ctx *ctx = *con_cls;

	(void)version;
	if (!ctx) {
		ctx = http_begin(conn, api, method, url);
		if (!ctx)
			return MHD_NO;
		*con_cls = ctx;
		/* Refused before a byte of its body is read: MHD closes the
		 * connection after the answer. */
		if (ctx->too_big)
			return http_answer(api, conn, ctx, method, url);
		return MHD_YES;
	}
	if (*upload_data_size) {
		http_take_body(ctx, api->deps->config->api.max_body, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (ctx->status)	/* answered already */
		return MHD_YES;
	return http_answer(api, conn, ctx, method, url);
}

/* The log line, then the context goes. */
static void http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			   enum MHD_RequestTerminationCode code)
{
	struct http_ctx *ctx = *con_cls;
	struct timespec now;
	long ms;

	(void)cls;
	(void)conn;
	if (!ctx)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (now.tv_sec - ctx->start.tv_sec) * 1000 + (now.tv_nsec - ctx->start.tv_nsec) / 1000000;
	if (code == MHD_REQUEST_TERMINATED_COMPLETED_OK)
		log_info("%s %s %u tenant=%s %ldms", ctx->method, ctx->path, ctx->status,
			 ctx->tenant[0] ? ctx->tenant : "-", ms);
	else
		log_info("%s %s aborted (%s) tenant=%s %ldms", ctx->method, ctx->path,
			 code == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? "timeout" : "connection closed",
			 ctx->tenant[0] ? ctx->tenant : "-", ms);
	free(ctx->body);
	free(ctx);
	*con_cls = NULL;
}

/* [api] host and port as a socket address (numeric or resolved once). */
static int http_address(const struct fleet_config *c, struct sockaddr_storage *addr,
			struct error *err)
{
	struct addrinfo hints = { .ai_flags = AI_PASSIVE, .ai_socktype = SOCK_STREAM }, *found;
	char port[8];
	int rc;

	snprintf(port, sizeof port, "%u", c->api.port);
	rc = getaddrinfo(c->api.host, port, &hints, &found);
	if (rc != 0)
		return error_set(err, "%s: [api] listen: %s: %s", c->path, c->api.host,
				 gai_strerror(rc));
	memcpy(addr, found->ai_addr, found->ai_addrlen);
	freeaddrinfo(found);
	return 0;
}

int fleet_api_start(struct fleet_api **out, const struct fleet_api_deps *deps,
		    struct error *err)
{
	const struct fleet_config *c = deps->config;
	struct fleet_api *api = calloc(1, sizeof *api);
	struct sockaddr_storage addr = { 0 };
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;

	*out = NULL;
	if (!api)
		return error_set(err, "out of memory");
	api->deps = deps;
	if (http_address(c, &addr, err) < 0) {
		free(api);
		return -1;
	}
	if (addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	api->daemon = MHD_start_daemon(flags, 0, NULL, NULL, http_access, api,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
		MHD_OPTION_THREAD_POOL_SIZE, c->api.threads,
		MHD_OPTION_CONNECTION_LIMIT, c->api.connection_limit,
		MHD_OPTION_CONNECTION_TIMEOUT, (c->api.timeout_ms + 999) / 1000,
		MHD_OPTION_NOTIFY_COMPLETED, http_completed, api,
		MHD_OPTION_END);
	if (!api->daemon) {
		free(api);
		return error_errno(err, "%s: [api] listen: cannot listen on %s", c->path,
				   c->api.listen);
	}
	info = MHD_get_daemon_info(api->daemon, MHD_DAEMON_INFO_BIND_PORT);
	api->port = info ? info->port : c->api.port;
	*out = api;
	return 0;
}

unsigned fleet_api_port(const struct fleet_api *api)
{
	return api->port;
}

void fleet_api_stop(struct fleet_api *api)
{
	if (!api)
		return;
	MHD_stop_daemon(api->daemon);
	free(api);
}
