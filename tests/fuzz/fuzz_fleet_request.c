/* fuzz_fleet_request.c: slotfleet's API routing and handlers on hostile
 * requests.
 *
 * Drives fleet_route() (fleet/api/routes.c: route table, auth, rate limit, then
 * the handler: upgrade, action, lists, rollouts) as fleet/api/http.c does once
 * libmicrohttpd has read a request, against a SQLite store in a temporary
 * directory.  The input is
 *     METHOD SP PATH[?QUERY] LF  TOKEN LF  BODY
 * where TOKEN "-" sends no X-Auth-Token and QUERY is split on '&' and '='
 * (libmicrohttpd's decoding is not what is under test).  Casts go to the
 * fake publisher below (every function of fleet_publisher.h, so the real
 * one is not linked), which queues every one (so accepted upgrades and
 * rollouts reach the store); the rate limit is set out of the way.
 * Oracle beyond the sanitizers: the status is one the API documents (never
 * 500: the store is local and healthy, so a 500 means a request broke a
 * handler), an error has a JSON body, and no string in a body, nor the
 * Location header, carries a control character. */
#include <jansson.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/fleet_api.h"
#include "api/fleet_http.h"
#include "store/fleet_store.h"
#include "support_fuzz.h"

static struct fleet_config fuzz_config;
static struct fleet_api_deps fuzz_deps;

/* --- the publisher, faked: every cast is queued at once --- */
int fleet_publisher_new(struct fleet_publisher **pub, const struct fleet_config *config,
			const struct rpc_keys *keys, struct error *err)
{
	(void)config;
	(void)keys;
	(void)err;
	*pub = NULL;
	return 0;
}

void fleet_publisher_free(struct fleet_publisher *pub)
{
	(void)pub;
}

int fleet_publisher_cast(struct fleet_publisher *pub, const char *instance_id,
			 const char *method, json_t *args, struct error *err)
{
	(void)pub;
	(void)err;
	if (!instance_id[0] || !method[0])
		fuzz_fail("a cast without instance or method");
	json_decref(args);
	return 0;
}

int fleet_publisher_cast_many(struct fleet_publisher *pub, size_t n,
			      struct fleet_publisher_cast *casts, struct error *err)
{
	(void)err;
	for (size_t i = 0; i < n; i++) {
		casts[i].rc = fleet_publisher_cast(pub, casts[i].instance_id, casts[i].method,
						   casts[i].args, &casts[i].err);
		casts[i].args = NULL;
	}
	return 0;
}

/* The token file: "fuzz-admin" and "fuzz-member" for tenant t1,
 * "fuzz-other" an admin of t2, hashed as slotfleet's token file keeps them. */
static void fuzz_auth(struct fleet_auth **auth)
{
	static const char *const lines[][3] = {
		{ "fuzz-admin", "t1", "admin" },
		{ "fuzz-member", "t1", "member" },
		{ "fuzz-other", "t2", "admin" },
	};
	char text[512] = "", hex[65];
	unsigned char hash[32];
	struct error err = { "" };
	size_t used = 0;

	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		SHA256((const unsigned char *)lines[i][0], strlen(lines[i][0]), hash);
		for (int k = 0; k < 32; k++)
			snprintf(hex + 2 * k, 3, "%02x", hash[k]);
		used += (size_t)snprintf(text + used, sizeof text - used, "%s %s %s\n", hex,
					 lines[i][1], lines[i][2]);
	}
	if (fleet_auth_load_string(auth, text, "fuzz.tokens", &err) < 0)
		fuzz_fail("tokens: %s", err.text);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static struct fleet_auth *auth;
	static struct fleet_ratelimit *rate;
	static struct fleet_pool *pool;
	static struct fleet_metrics *metrics;
	struct error err = { "" };
	char dir[256], db[300];

	(void)argc;
	(void)argv;
	fuzz_tmpdir(dir, sizeof dir);
	snprintf(db, sizeof db, "%s/fleet.db", dir);
	fleet_config_defaults(&fuzz_config);
	fuzz_auth(&auth);
	if (fleet_ratelimit_new(&rate, 1000000, 1000, 1000000, &err) < 0 ||
	    fleet_metrics_new(&metrics, &fleet_api_routes, &err) < 0 ||
	    fleet_pool_open(&pool, db, 1, &err) < 0)
		fuzz_fail("setup: %s", err.text);
	fuzz_deps = (struct fleet_api_deps){ &fuzz_config, auth, NULL, rate, pool, NULL, metrics };
	return 0;
}

/* Every string in v is free of control characters (they would reach a
 * terminal or a log through the admin's tools). */
static void fuzz_check_json(json_t *v)
{
	const char *key;
	json_t *item;
	size_t i;

	if (json_is_string(v)) {
		const unsigned char *s = (const unsigned char *)json_string_value(v);

		for (i = 0; i < json_string_length(v); i++)
			if (s[i] < 0x20 || s[i] == 0x7f)
				fuzz_fail("a control character in an answer: '%s'", (const char *)s);
	} else if (json_is_object(v)) {
		json_object_foreach(v, key, item) {
			for (const char *c = key; *c; c++)
				if ((unsigned char)*c < 0x20 || *c == 0x7f)
					fuzz_fail("a control character in an answer's key");
			fuzz_check_json(item);
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, item)
			fuzz_check_json(item);
	}
}

/* 301: /ui to /ui/ (the web UI, docs/dashboard.md). */
static void fuzz_check_response(const struct fleet_response *res)
{
	static const unsigned documented[] = { 200, 201, 202, 301, 400, 401, 403, 404,
					       405, 409, 413, 429, 502, 503 };
	size_t i;

	for (i = 0; i < sizeof documented / sizeof documented[0]; i++)
		if (res->status == documented[i])
			break;
	if (i == sizeof documented / sizeof documented[0])
		fuzz_fail("status %u", res->status);
	if (res->status >= 400 && !res->body)
		fuzz_fail("status %u without a body", res->status);
	fuzz_check_terminated(res->location, sizeof res->location, "location");
	for (const char *c = res->location; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			fuzz_fail("a control character in Location");
	if (res->body)
		fuzz_check_json(res->body);
}

/* Splits "a=1&b&c=2" in place into req->query, as libmicrohttpd hands it. */
static void fuzz_query(char *query, struct fleet_request *req)
{
	for (char *arg = strtok(query, "&"); arg; arg = strtok(NULL, "&")) {
		char *eq = strchr(arg, '=');

		if (req->query_count == FLEET_QUERY_MAX) {
			req->query_overflow = 1;
			return;
		}
		if (eq)
			*eq++ = '\0';
		req->query[req->query_count].key = arg;
		req->query[req->query_count++].value = eq ? eq : "";
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_strndup(data, size), *line, *token, *body, *query;
	struct fleet_request req = { .deps = &fuzz_deps, .base = "http://127.0.0.1:8779" };
	struct fleet_response res = { 0 };

	line = text;
	token = strchr(line, '\n');
	body = token ? strchr(token + 1, '\n') : NULL;
	if (!token || !body || size > fuzz_config.api.max_body)
		goto out;
	*token++ = '\0';
	*body++ = '\0';
	req.method = line;
	req.path = strchr(line, ' ');
	if (!req.path)
		goto out;
	*(char *)req.path++ = '\0';
	query = strchr(req.path, '?');
	if (query) {
		*query++ = '\0';
		fuzz_query(query, &req);
	}
	if (strcmp(token, "-")) {
		req.token = token;
		req.token_len = strlen(token);
	}
	req.body = body;
	req.body_len = strlen(body);
	fleet_route(&req, &res);
	fuzz_check_response(&res);
out:
	json_decref(res.body);
	free(res.text);
	free(text);
	return 0;
}
