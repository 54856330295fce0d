/* test_rpc_message.c: the control plane's captured casts (tests/data/wire),
 * plain and encrypted, and every kind of bad message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rpc_message.h"
#include "support.h"
#include "trove_crypto.h"

#define KEY "0123456789abcdef0123456789abcdef"
#define INSTANCE "27e25b73-88a1-4526-b2b9-919a28b8b33f"

static void config_for(struct config *c, const char *rpc_key)
{
	assert_int_equal(config_load_string(c, "[amqp]\ninstance_id = " INSTANCE "\n", "t", NULL), 0);
	snprintf(c->amqp.rpc_key, sizeof c->amqp.rpc_key, "%s", rpc_key);
}

static void parse_ok(const char *body, const char *key, struct rpc_request *req)
{
	struct config c;
	struct error err = { "" };

	config_for(&c, key);
	if (rpc_message_parse(body, strlen(body), &c, req, &err) < 0)
		fail_msg("refused: %s", err.text);
}

static void test_plain_upgrade_capture(void **unused)
{
	struct rpc_request req;
	char *body = support_capture_body("upgrade-cast.txt", 0);

	(void)unused;
	parse_ok(body, "", &req);
	assert_int_equal(req.kind, RPC_UPGRADE);
	assert_string_equal(req.instance_id, INSTANCE);
	assert_string_equal(req.instance_version, "v1.0.1");
	assert_string_equal(req.location, "http://127.0.0.1:8080/agent-v1.0.1.bundle");
	assert_string_equal(req.strategy, "http");
	assert_string_equal(req.sha256, "0f1e...");
	assert_string_equal(req.unique_id, "70228f6e7fcd4ce39f7609eefb12fb0a");
	assert_int_equal(req.is_admin, 1);
	free(body);
}

static void test_encrypted_upgrade_capture(void **unused)
{
	struct rpc_request req;
	struct config c;
	struct error err = { "" };
	char *body = support_capture_body("upgrade-cast.txt", 1);

	(void)unused;
	parse_ok(body, KEY, &req);
	assert_int_equal(req.kind, RPC_UPGRADE);
	assert_string_equal(req.instance_version, "v1.0.1");
	assert_string_equal(req.location, "http://127.0.0.1:8080/agent-v1.0.1.bundle");
	assert_string_equal(req.instance_id, INSTANCE);
	assert_int_equal(req.is_admin, 1);
	/* Another key: refused, never misread. */
	config_for(&c, "fedcba9876543210fedcba9876543210");
	assert_int_equal(rpc_message_parse(body, strlen(body), &c, &req, &err), -1);
	assert_non_null(strstr(err.text, "rpc_key"));
	/* No key at all: refused with a reason. */
	config_for(&c, "");
	assert_int_equal(rpc_message_parse(body, strlen(body), &c, &req, &err), -1);
	assert_non_null(strstr(err.text, "encrypted and no [amqp] rpc_key"));
	free(body);
}

static void test_datastore_upgrade_is_ignored(void **unused)
{
	struct rpc_request req;
	char *body = support_capture_body("datastore-upgrade-cast.txt", 0);

	(void)unused;
	parse_ok(body, "", &req);
	assert_int_equal(req.kind, RPC_IGNORE);
	assert_non_null(strstr(req.why_ignored, "upgrade_info"));
	free(body);
}

static void test_heartbeat_payload_decrypts(void **unused)
{
	char *body = support_capture_body("heartbeat-cast.txt", 1), *text = NULL;
	json_t *outer, *inner, *sealed;

	(void)unused;
	/* envelope -> oslo.message -> args.payload (a sealed JSON text) -> entity */
	outer = json_loads(body, 0, NULL);
	inner = json_loads(json_string_value(json_object_get(outer, "oslo.message")), 0, NULL);
	sealed = json_loads(json_string_value(json_object_get(json_object_get(inner, "args"),
							      "payload")), 0, NULL);
	assert_non_null(sealed);
	assert_string_equal(json_string_value(json_object_get(sealed, "csz-instance-id")), INSTANCE);
	assert_int_equal(trove_decrypt(KEY, json_string_value(json_object_get(sealed, "entity")),
				       &text, NULL), 0);
	assert_string_equal(text, "{\"service_status\": \"healthy\"}");
	free(text);
	json_decref(sealed);
	json_decref(inner);
	json_decref(outer);
	free(body);
}

static void test_crypto_round_trip(void **unused)
{
	char *b64 = NULL, *back = NULL;
	struct error err = { "" };

	(void)unused;
	assert_int_equal(trove_encrypt(KEY, "{\"a\": [1, 2, \"x\"]}", &b64, NULL), 0);
	assert_int_equal(trove_decrypt(KEY, b64, &back, NULL), 0);
	assert_string_equal(back, "{\"a\": [1, 2, \"x\"]}");
	free(back);
	assert_int_equal(trove_decrypt("another key", b64, &back, &err), -1);
	assert_null(back);
	assert_int_equal(trove_decrypt(KEY, "not base64!", &back, &err), -1);
	free(b64);
}

static void expect_refused(const char *inner_args, const char *method, const char *needle)
{
	char body[4096];
	struct rpc_request req;
	struct config c;
	struct error err = { "" };

	snprintf(body, sizeof body, "{\"method\": \"%s\", \"args\": %s, \"_unique_id\": \"abc\"}",
		 method, inner_args);
	config_for(&c, "");
	if (rpc_message_parse(body, strlen(body), &c, &req, &err) == 0)
		fail_msg("accepted: %s", body);
	if (!strstr(err.text, needle))
		fail_msg("'%s' lacks '%s'", err.text, needle);
	assert_string_equal(req.unique_id, "abc");
}

static void test_bad_messages_name_the_field(void **unused)
{
	struct rpc_request req;
	struct config c;
	struct error err = { "" };
	char *big;

	(void)unused;
	expect_refused("{\"instance_version\": 5, \"location\": \"http://h/x\"}", "upgrade",
		       "args.instance_version: not a string");
	expect_refused("{\"instance_version\": \"v2\"}", "upgrade", "args.location: missing");
	expect_refused("{\"instance_version\": \"v2\", \"location\": \"http://h/x\", \"instance_id\": \"other\"}",
		       "upgrade", "args.instance_id: 'other' is not this instance");
	expect_refused("{\"instance_version\": \"v2\", \"location\": \"http://h/x\", \"strategy\": \"ftp\"}",
		       "upgrade", "unknown strategy 'ftp'");
	expect_refused("{\"instance_version\": \"v2\", \"location\": \"htp:/x\"}", "upgrade",
		       "malformed location");
	expect_refused("{\"instance_version\": \"v2\", \"location\": \"http://h/x\", \"metadata\": 3}",
		       "upgrade", "args.metadata: not an object");
	expect_refused("{}", "rollback", "_context_is_admin");
	expect_refused("[]", "upgrade", "message.args: not an object");
	/* found by fuzz_rpc_message: present but empty was accepted */
	expect_refused("{\"instance_version\": \"\", \"location\": \"http://h/x\"}", "upgrade",
		       "args.instance_version: ");
	expect_refused("{\"instance_version\": \"v2\", \"instance_version\": \"\", \"location\": \"http://h/x\"}",
		       "upgrade", "args.instance_version: ");
	config_for(&c, "");
	assert_int_equal(rpc_message_parse("{not json", 9, &c, &req, &err), -1);
	assert_non_null(strstr(err.text, "body: not a JSON object"));
	assert_int_equal(rpc_message_parse("{\"oslo.message\": 7}", 19, &c, &req, &err), -1);
	assert_non_null(strstr(err.text, "oslo.message"));
	/* found by fuzz_rpc_message: inner JSON that is not an object was
	 * freed and then used (ASan in make check catches a regression) */
	assert_int_equal(rpc_message_parse("{\"oslo.message\": \"[]\"}", 22, &c, &req, &err), -1);
	assert_non_null(strstr(err.text, "oslo.message: not a JSON object"));
	assert_int_equal(rpc_message_parse("{\"oslo.message\": \"7\"}", 21, &c, &req, &err), -1);
	big = malloc(1 << 20);
	memset(big, ' ', 1 << 20);
	assert_int_equal(rpc_message_parse(big, 1 << 20, &c, &req, &err), -1);
	assert_non_null(strstr(err.text, "more than"));
	free(big);
}

/* An upgrade whose args.metadata is the given JSON text; 0 or -1 with err. */
static int parse_metadata(const char *metadata, struct rpc_request *req, struct error *err)
{
	size_t size = strlen(metadata) + 256;
	char *body = malloc(size);
	struct config c;
	int rc;

	assert_non_null(body);
	snprintf(body, size, "{\"method\": \"upgrade\", \"args\": {\"instance_version\": \"v2\", "
		 "\"location\": \"http://h/x\", \"metadata\": %s}, \"_unique_id\": \"abc\"}",
		 metadata);
	config_for(&c, "");
	rc = rpc_message_parse(body, strlen(body), &c, req, err);
	free(body);
	return rc;
}

/* A metadata object of exactly size bytes as compact JSON: {"k":"xxx..."}. */
static char *metadata_of_size(size_t size)
{
	char *text = malloc(size + 1);

	assert_non_null(text);
	assert_true(size >= 9);
	memcpy(text, "{\"k\":\"", 6);
	memset(text + 6, 'x', size - 8);
	memcpy(text + size - 2, "\"}", 3);
	return text;
}

/* args.metadata goes whole to a deployer's fetcher: an object (or null, or
 * none), at most REQUEST_METADATA_MAX bytes as compact JSON, carried as
 * printable ASCII; its sha256 is req.sha256 as before. */
static void test_metadata_whole(void **unused)
{
	struct rpc_request req;
	struct error err = { "" };
	char *text;

	(void)unused;
	assert_int_equal(parse_metadata("{\"sha256\": \"ab\", \"build\": \"1234\", "
					"\"nested\": {\"n\": [1, true, null]}}", &req, &err), 0);
	assert_string_equal(req.metadata, "{\"sha256\":\"ab\",\"build\":\"1234\","
			    "\"nested\":{\"n\":[1,true,null]}}");
	assert_string_equal(req.sha256, "ab");
	/* non-ASCII and control characters escaped: the wire takes ASCII only */
	assert_int_equal(parse_metadata("{\"branch\": \"st\u00e4ble\\n\"}", &req, &err), 0);
	assert_string_equal(req.metadata, "{\"branch\":\"st\\u00E4ble\\n\"}");
	assert_int_equal(parse_metadata("null", &req, &err), 0);
	assert_string_equal(req.metadata, "");
	assert_int_equal(parse_metadata("{}", &req, &err), 0);
	assert_string_equal(req.metadata, "{}");
	/* the bound is on compact JSON: blanks in the cast do not count */
	text = metadata_of_size(REQUEST_METADATA_MAX);
	assert_int_equal(parse_metadata(text, &req, &err), 0);
	assert_string_equal(req.metadata, text);
	free(text);
	text = metadata_of_size(REQUEST_METADATA_MAX + 1);
	assert_int_equal(parse_metadata(text, &req, &err), -1);
	assert_string_equal(err.text, "args.metadata: 2049 bytes as JSON, more than 2048");
	assert_string_equal(req.unique_id, "abc");
	free(text);
	/* 2048 bytes of two-byte UTF-8 escape to three times as many: they fit */
	text = malloc(REQUEST_METADATA_MAX + 1);
	assert_non_null(text);
	memcpy(text, "{\"k\":\"", 6);
	for (size_t i = 6; i + 2 < REQUEST_METADATA_MAX; i += 2)
		memcpy(text + i, "\xc3\xa4", 2);
	memcpy(text + REQUEST_METADATA_MAX - 2, "\"}", 3);
	assert_int_equal(parse_metadata(text, &req, &err), 0);
	assert_int_equal(strlen(req.metadata), 8 + (REQUEST_METADATA_MAX - 8) / 2 * 6);
	free(text);
	expect_refused("{\"instance_version\": \"v2\", \"location\": \"http://h/x\", "
		       "\"metadata\": [\"sha256\"]}", "upgrade", "args.metadata: not an object");
	expect_refused("{\"instance_version\": \"v2\", \"location\": \"http://h/x\", "
		       "\"metadata\": \"{}\"}", "upgrade", "args.metadata: not an object");
	expect_refused("{\"instance_version\": \"v2\", \"location\": \"http://h/x\", "
		       "\"metadata\": {\"sha256\": 5}}", "upgrade", "args.metadata.sha256: not a string");
}

/* The text between the guest's processes is read again by whoever receives
 * it: one object within the bound, nothing else. */
static void test_metadata_decode(void **unused)
{
	struct error err = { "" };
	json_t *m;
	char *text;

	(void)unused;
	m = request_metadata_decode("f", "{\"a\":\"\\u00e4\"}", &err);
	assert_non_null(m);
	assert_string_equal(json_string_value(json_object_get(m, "a")), "\xc3\xa4");
	json_decref(m);
	m = request_metadata_decode("f", "", &err);
	assert_non_null(m);
	assert_int_equal(json_object_size(m), 0);
	json_decref(m);
	assert_null(request_metadata_decode("f", "[1]", &err));
	assert_string_equal(err.text, "f: not an object");
	assert_null(request_metadata_decode("f", "{\"a\":1", &err));
	assert_string_equal(err.text, "f: not JSON");
	assert_null(request_metadata_decode("f", "{\"a\":1,\"a\":2}", &err));
	assert_string_equal(err.text, "f: not JSON");
	assert_null(request_metadata_decode("f", "{} {}", &err));
	text = metadata_of_size(REQUEST_METADATA_MAX + 1);
	assert_null(request_metadata_decode("f", text, &err));
	assert_string_equal(err.text, "f: 2049 bytes as JSON, more than 2048");
	free(text);
}

/* An upgrade body with the given envelope version ("" for none) and args
 * after instance_version and location; 0 or -1 with err. */
static int parse_versioned(const char *version, const char *more_args, const char *method,
			   int automatic_allowed, struct rpc_request *req, struct error *err)
{
	char body[1024], vfield[64] = "";
	struct config c;

	if (version)
		snprintf(vfield, sizeof vfield, "\"version\": %s, ", version);
	snprintf(body, sizeof body, "{\"method\": \"%s\", %s\"_context_is_admin\": true, "
		 "\"args\": {\"instance_version\": \"v2\", \"location\": \"http://h/x\"%s}, "
		 "\"_unique_id\": \"abc\"}", method, vfield, more_args);
	config_for(&c, "");
	c.updater.automatic = automatic_allowed;
	return rpc_message_parse(body, strlen(body), &c, req, err);
}

/* oslo.messaging's rule: same major, minor at most ours; none is 1.0.
 * Anything else is refused naming both versions, never acted on. */
static void test_rpc_api_versions(void **unused)
{
	static const char *const ok[] = { NULL, "\"1.0\"", "\"1.1\"" };
	static const struct {
		const char *version, *error;
	} bad[] = {
		{ "\"2.0\"", "RPC API 2.0 not supported (this guest: " RPC_API_VERSION ")" },
		{ "\"1.2\"", "RPC API 1.2 not supported (this guest: " RPC_API_VERSION ")" },
		{ "\"0.9\"", "RPC API 0.9 not supported" },
		{ "\"1\"", "message.version: not MAJOR.MINOR" },
		{ "\"1.1x\"", "message.version: not MAJOR.MINOR" },
		{ "\" 1.1\"", "message.version: not MAJOR.MINOR" },
		{ "\"+1.1\"", "message.version: not MAJOR.MINOR" },
		{ "1.1", "message.version: not a string" },
	};
	struct rpc_request req;
	struct error err = { "" };
	size_t i;

	(void)unused;
	for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		if (parse_versioned(ok[i], "", "upgrade", 1, &req, &err) < 0)
			fail_msg("version %s refused: %s", ok[i] ? ok[i] : "(none)", err.text);
		assert_int_equal(req.kind, RPC_UPGRADE);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (parse_versioned(bad[i].version, "", "upgrade", 1, &req, &err) == 0)
			fail_msg("version %s accepted", bad[i].version);
		if (!strstr(err.text, bad[i].error))
			fail_msg("version %s: '%s' lacks '%s'", bad[i].version, err.text, bad[i].error);
		assert_string_equal(req.unique_id, "abc");	/* recorded as FAILED under it */
	}
	assert_int_equal(parse_versioned("\"2.0\"", "", "rollback", 1, &req, &err), -1);
	assert_non_null(strstr(err.text, "RPC API 2.0 not supported"));
	/* Not ours (Trove's own guest API has versions of its own): ignored as before. */
	assert_int_equal(parse_versioned("\"3.4\"", "", "prepare", 1, &req, &err), 0);
	assert_int_equal(req.kind, RPC_IGNORE);
}

/* 1.1's args.automatic, and the guest's [updater] automatic switch. */
static void test_automatic(void **unused)
{
	struct rpc_request req;
	struct error err = { "" };

	(void)unused;
	assert_int_equal(parse_versioned("\"1.1\"", ", \"automatic\": true", "upgrade", 1, &req,
					 &err), 0);
	assert_int_equal(req.automatic, 1);
	assert_int_equal(parse_versioned("\"1.1\"", ", \"automatic\": false", "upgrade", 0, &req,
					 &err), 0);
	assert_int_equal(req.automatic, 0);
	assert_int_equal(parse_versioned(NULL, "", "upgrade", 0, &req, &err), 0);
	assert_int_equal(req.kind, RPC_UPGRADE);	/* an admin's cast still works */
	assert_int_equal(parse_versioned("\"1.1\"", ", \"automatic\": true", "upgrade", 0, &req,
					 &err), -1);
	assert_non_null(strstr(err.text, "automatic upgrades disabled on this guest"));
	assert_string_equal(req.unique_id, "abc");
	assert_int_equal(parse_versioned("\"1.1\"", ", \"automatic\": \"yes\"", "upgrade", 1,
					 &req, &err), -1);
	assert_non_null(strstr(err.text, "args.automatic: not true or false"));
}

/* Found by fuzz_rpc_message: a refused message kept an unchecked _unique_id,
 * which slotupd then logs and records the refusal under. */
static void test_bad_id_is_dropped_on_refusals_too(void **unused)
{
	static const char *const bodies[] = {
		"{\"_unique_id\": \"x\\u001b[2Jy\", \"args\": {}}",		/* no method */
		"{\"_unique_id\": \"../../x\", \"method\": \"upgrade\"}",		/* no args */
		"{\"_unique_id\": \"a\\nb\", \"method\": \"rollback\", \"args\": {}}",
	};
	struct rpc_request req;
	struct config c;
	struct error err = { "" };
	size_t i;

	(void)unused;
	config_for(&c, "");
	for (i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
		assert_int_equal(rpc_message_parse(bodies[i], strlen(bodies[i]), &c, &req, &err), -1);
		assert_string_equal(req.unique_id, "");
	}
	/* the refusal keeps naming what was wrong first */
	assert_non_null(strstr(err.text, "_context_is_admin"));
}

static void test_cast_build_round_trip(void **unused)
{
	struct config c;
	struct rpc_request req;
	char *body = NULL;
	json_t *args;

	(void)unused;
	config_for(&c, "");
	args = json_pack("{s:s, s:s}", "instance_version", "v3", "location", "http://h/a.bundle");
	assert_int_equal(rpc_cast_build("upgrade", args, &c, RPC_TO_GUEST, &body, NULL), 0);
	assert_non_null(strstr(body, "\"oslo.version\""));
	parse_ok(body, "", &req);
	assert_int_equal(req.kind, RPC_UPGRADE);
	assert_string_equal(req.location, "http://h/a.bundle");
	assert_int_equal(strlen(req.unique_id), 32);
	free(body);
	/* Encrypted the way a Trove guest seals its reports: every arg a sealed JSON text. */
	config_for(&c, KEY);
	args = json_pack("{s:s}", "instance_id", INSTANCE);
	assert_int_equal(rpc_cast_build("heartbeat", args, &c, RPC_TO_CONDUCTOR, &body, NULL), 0);
	assert_non_null(strstr(body, "csz-instance-id"));
	assert_non_null(strstr(body, "_context_context"));
	assert_null(strstr(body, "\\\"instance_id\\\": \\\"" INSTANCE));
	free(body);
	/* Sealed towards a guest, as the control plane does: the guest opens it. */
	args = json_pack("{s:s, s:s, s:s}", "instance_version", "v4", "location", "http://h/b.bundle",
			 "upgrade_id", "fleet-1");
	assert_int_equal(rpc_cast_build("upgrade", args, &c, RPC_TO_GUEST, &body, NULL), 0);
	assert_null(strstr(body, "csz-instance-id"));
	assert_null(strstr(body, "b.bundle"));
	parse_ok(body, KEY, &req);
	assert_int_equal(req.kind, RPC_UPGRADE);
	assert_string_equal(req.location, "http://h/b.bundle");
	assert_string_equal(req.unique_id, "fleet-1");
	assert_true(req.is_admin);
	free(body);
}

/* Seals a JSON text the way SecureSerializer does; the result is malloc()ed. */
static char *seal(const char *key, const char *json_text)
{
	char *b64 = NULL;

	assert_int_equal(trove_encrypt(key, json_text, &b64, NULL), 0);
	return b64;
}

static void expect_unsealed_refused(const char *body, const char *needle)
{
	struct rpc_request req;
	struct config c;
	struct error err = { "" };

	config_for(&c, KEY);
	if (rpc_message_parse(body, strlen(body), &c, &req, &err) == 0)
		fail_msg("accepted on a keyed guest: %s", body);
	if (!strstr(err.text, needle))
		fail_msg("'%s' lacks '%s'", err.text, needle);
	/* The forger's id is dropped: a refusal cannot land on a real record. */
	assert_string_equal(req.unique_id, "");
	assert_int_equal(req.is_admin, 0);
}

static void test_keyed_guest_refuses_what_is_not_sealed(void **unused)
{
	char body[4096], *ctx = seal(KEY, "{\"request_id\": \"r\"}"), *admin = seal(KEY, "{\"is_admin\": true}");
	char *loc = seal(KEY, "\"http://h/x\""), *ver = seal(KEY, "\"v2\""), *other = seal("another-key", "\"v2\"");
	char *plain_body = support_capture_body("upgrade-cast.txt", 0);

	(void)unused;
	/* The reproduction: a plaintext admin rollback. */
	expect_unsealed_refused("{\"method\":\"rollback\",\"args\":{},\"_unique_id\":\"abc123\","
				"\"_context_is_admin\":true}", "not sealed");
	/* The captured plaintext upgrade, and a plaintext method that is not ours. */
	expect_unsealed_refused(plain_body, "not sealed");
	expect_unsealed_refused("{\"method\":\"restart\",\"args\":{},\"_unique_id\":\"abc\"}", "not sealed");
	/* Partly sealed: one arg in clear text, one arg not even a string. */
	snprintf(body, sizeof body, "{\"method\":\"upgrade\",\"_unique_id\":\"abc\",\"_context_context\":\"%s\","
		 "\"args\":{\"instance_version\":\"%s\",\"location\":\"http://h/x\"}}", admin, ver);
	expect_unsealed_refused(body, "args.location");
	snprintf(body, sizeof body, "{\"method\":\"upgrade\",\"_unique_id\":\"abc\",\"_context_context\":\"%s\","
		 "\"args\":{\"instance_version\":\"%s\",\"location\":\"%s\",\"metadata\":{}}}", admin, ver, loc);
	expect_unsealed_refused(body, "args.metadata: not sealed");
	/* One arg sealed with another key. */
	snprintf(body, sizeof body, "{\"method\":\"upgrade\",\"_unique_id\":\"abc\",\"_context_context\":\"%s\","
		 "\"args\":{\"instance_version\":\"%s\",\"location\":\"%s\"}}", admin, other, loc);
	expect_unsealed_refused(body, "args.instance_version");
	/* A context sealed with another key. */
	free(other);
	other = seal("another-key", "{\"is_admin\": true}");
	snprintf(body, sizeof body, "{\"method\":\"rollback\",\"_unique_id\":\"abc\",\"_context_context\":\"%s\","
		 "\"args\":{}}", other);
	expect_unsealed_refused(body, "_context_context");
	/* Sealed args, but admin claimed only in clear beside a sealed context. */
	snprintf(body, sizeof body, "{\"method\":\"rollback\",\"_unique_id\":\"abc\",\"_context_context\":\"%s\","
		 "\"_context_is_admin\":true,\"args\":{}}", ctx);
	{
		struct rpc_request req;
		struct config c;
		struct error err = { "" };

		config_for(&c, KEY);
		assert_int_equal(rpc_message_parse(body, strlen(body), &c, &req, &err), -1);
		assert_non_null(strstr(err.text, "_context_is_admin is not true"));
		assert_int_equal(req.sealed, 1);
	}
	free(ctx);
	free(admin);
	free(loc);
	free(ver);
	free(other);
	free(plain_body);
}

static void age_case(double sent_offset, int with_sent, const char *needle)
{
	struct config c;
	struct rpc_request req;
	struct error err = { "" };
	char body[1024];

	config_for(&c, "");
	c.amqp.max_age_ms = 60000;
	if (with_sent)
		snprintf(body, sizeof body, "{\"method\":\"rollback\",\"_unique_id\":\"abc\",\"_context_is_admin\":true,"
			 "\"args\":{\"sent\": %.3f}}", (double)time(NULL) + sent_offset);
	else
		snprintf(body, sizeof body, "{\"method\":\"rollback\",\"_unique_id\":\"abc\",\"_context_is_admin\":true,"
			 "\"args\":{}}");
	if (!needle) {
		if (rpc_message_parse(body, strlen(body), &c, &req, &err) < 0)
			fail_msg("refused: %s", err.text);
		assert_int_equal(req.kind, RPC_ROLLBACK);
		return;
	}
	assert_int_equal(rpc_message_parse(body, strlen(body), &c, &req, &err), -1);
	if (!strstr(err.text, needle))
		fail_msg("'%s' lacks '%s'", err.text, needle);
}

static void test_max_age(void **unused)
{
	struct config c;
	struct rpc_request req;
	char *body = NULL;
	json_t *args;

	(void)unused;
	age_case(-5, 1, NULL);
	age_case(-3600, 1, "more than [amqp] max_age");
	age_case(+3600, 1, "in the future");
	age_case(0, 0, "args.sent: missing");
	/* What the control plane builds carries `sent`, sealed with the rest. */
	config_for(&c, KEY);
	c.amqp.max_age_ms = 60000;
	args = json_pack("{s:s, s:s}", "instance_version", "v4", "location", "http://h/b.bundle");
	assert_int_equal(rpc_cast_build("upgrade", args, &c, RPC_TO_GUEST, &body, NULL), 0);
	assert_int_equal(rpc_message_parse(body, strlen(body), &c, &req, NULL), 0);
	assert_int_equal(req.kind, RPC_UPGRADE);
	free(body);
	/* Messages that are not ours need no `sent`: Trove's own casts lack it. */
	body = support_capture_body("datastore-upgrade-cast.txt", 0);
	config_for(&c, "");
	c.amqp.max_age_ms = 60000;
	assert_int_equal(rpc_message_parse(body, strlen(body), &c, &req, NULL), 0);
	assert_int_equal(req.kind, RPC_IGNORE);
	free(body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_upgrade_capture),
		cmocka_unit_test(test_encrypted_upgrade_capture),
		cmocka_unit_test(test_datastore_upgrade_is_ignored),
		cmocka_unit_test(test_heartbeat_payload_decrypts),
		cmocka_unit_test(test_crypto_round_trip),
		cmocka_unit_test(test_bad_messages_name_the_field),
		cmocka_unit_test(test_bad_id_is_dropped_on_refusals_too),
		cmocka_unit_test(test_cast_build_round_trip),
		cmocka_unit_test(test_keyed_guest_refuses_what_is_not_sealed),
		cmocka_unit_test(test_max_age),
		cmocka_unit_test(test_rpc_api_versions),
		cmocka_unit_test(test_automatic),
		cmocka_unit_test(test_metadata_whole),
		cmocka_unit_test(test_metadata_decode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
