/* test_fleet_report.c: guests' reports as slotfleet reads them: the captured
 * heartbeats (tests/data/wire), and outcomes and heartbeats sealed by the
 * guest's own cast builder (rpc_cast_build), plain and with a key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/fleet_report.h"
#include "rpc_message.h"
#include "support.h"

#define INSTANCE "27e25b73-88a1-4526-b2b9-919a28b8b33f"
#define WIRE_KEY "0123456789abcdef0123456789abcdef"

static struct rpc_keys *keys_with(const char *text)
{
	struct rpc_keys *keys;

	assert_int_equal(rpc_keys_parse(&keys, text, strlen(text), "keys", NULL), 0);
	return keys;
}

/* A report as a guest builds it, sealed when rpc_key is not NULL. */
static char *guest_cast(const char *method, json_t *args, const char *rpc_key)
{
	struct config c;
	char *body = NULL;

	config_defaults(&c);
	snprintf(c.amqp.instance_id, sizeof c.amqp.instance_id, "%s", INSTANCE);
	if (rpc_key)
		snprintf(c.amqp.rpc_key, sizeof c.amqp.rpc_key, "%s", rpc_key);
	assert_int_equal(rpc_cast_build(method, args, &c, RPC_TO_CONDUCTOR, &body, NULL), 0);
	return body;
}

static json_t *outcome_args(const char *state, const char *reason)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:f}", "instance_id", INSTANCE,
			 "upgrade_id", "up-1", "from_version", "v1.0.0", "to_version", "v2.0.0",
			 "state", state, "reason", reason, "sent", 1795555231.5);
}

static int parse(const char *body, const struct rpc_keys *keys, struct fleet_msg *msg,
		 struct error *err)
{
	return fleet_report_parse(body, strlen(body), keys, msg, err);
}

static void test_wire_heartbeats(void **unused)
{
	struct rpc_keys *keys = keys_with(INSTANCE " " WIRE_KEY "\n"), *none = keys_with("");
	char *plain = support_capture_body("heartbeat-cast.txt", 0), *sealed = support_capture_body("heartbeat-cast.txt", 1);
	struct fleet_msg msg;
	struct error err = { "" };

	(void)unused;
	/* Trove's own heartbeats carry no agent_version: read, then ignored. */
	assert_int_equal(parse(plain, none, &msg, &err), 0);
	assert_int_equal(msg.kind, FLEET_MSG_IGNORE);
	assert_string_equal(msg.instance_id, INSTANCE);
	assert_int_equal(parse(sealed, keys, &msg, &err), 0);
	assert_int_equal(msg.kind, FLEET_MSG_IGNORE);
	assert_int_equal(msg.sealed, 1);
	assert_string_equal(msg.instance_id, INSTANCE);
	assert_int_equal(msg.sent_us / 1000000, 1795555231);
	/* Sealed without a key here, or a plain one for a keyed instance: refused. */
	assert_int_equal(parse(sealed, none, &msg, &err), -1);
	assert_non_null(strstr(err.text, "_context_csz-instance-id: sealed by " INSTANCE));
	assert_int_equal(parse(plain, keys, &msg, &err), -1);
	assert_non_null(strstr(err.text, "args.instance_id: a plain report"));
	free(plain);
	free(sealed);
	rpc_keys_free(keys);
	rpc_keys_free(none);
}

static void test_outcome_plain_and_sealed(void **unused)
{
	struct rpc_keys *keys = keys_with(INSTANCE " guest-key\n"), *none = keys_with("");
	char *plain = guest_cast("guest_upgrade_outcome", outcome_args("FAILED", "boom\n\x1b[31m"), NULL);
	char *sealed = guest_cast("guest_upgrade_outcome", outcome_args("SUCCESS", ""), "guest-key");
	char *wrong = guest_cast("guest_upgrade_outcome", outcome_args("SUCCESS", ""), "not-the-key");
	struct fleet_msg msg;
	struct error err = { "" };

	(void)unused;
	assert_int_equal(parse(plain, none, &msg, &err), 0);
	assert_int_equal(msg.kind, FLEET_MSG_OUTCOME);
	assert_int_equal(msg.sealed, 0);
	assert_string_equal(msg.upgrade_id, "up-1");
	assert_string_equal(msg.from_version, "v1.0.0");
	assert_string_equal(msg.to_version, "v2.0.0");
	assert_int_equal(msg.state, FLEET_FAILED);
	assert_string_equal(msg.reason, "boom??[31m");	/* no control characters kept */
	assert_int_equal(msg.sent_us, 1795555231500000LL);
	assert_int_equal(parse(sealed, keys, &msg, &err), 0);
	assert_int_equal(msg.kind, FLEET_MSG_OUTCOME);
	assert_int_equal(msg.sealed, 1);
	assert_int_equal(msg.state, FLEET_SUCCESS);
	assert_int_equal(parse(wrong, keys, &msg, &err), -1);
	free(plain);
	free(sealed);
	free(wrong);
	rpc_keys_free(keys);
	rpc_keys_free(none);
}

static void test_heartbeat_of_slotupd(void **unused)
{
	struct rpc_keys *none = keys_with("");
	char *body = guest_cast("heartbeat", json_pack("{s:s, s:{s:s, s:s}, s:f}", "instance_id",
						       INSTANCE, "payload", "agent_version", "v2.0.0",
						       "agent_slot", "b", "sent", 1795555232.0), NULL);
	struct fleet_msg msg;

	(void)unused;
	assert_int_equal(parse(body, none, &msg, NULL), 0);
	assert_int_equal(msg.kind, FLEET_MSG_HEARTBEAT);
	assert_string_equal(msg.agent_version, "v2.0.0");
	assert_string_equal(msg.agent_slot, "b");
	/* No rpc_api_version: a slotupd from before API versions, which speaks 1.0. */
	assert_string_equal(msg.rpc_api_version, "1.0");
	free(body);
	rpc_keys_free(none);
}

/* A 1.1 guest's heartbeat says so, plain or sealed (serve_child.c's payload). */
static void test_heartbeat_rpc_api_version(void **unused)
{
	struct rpc_keys *keys = keys_with(INSTANCE " guest-key\n");
	const char *keys_for[] = { NULL, "guest-key" };
	struct fleet_msg msg;
	struct error err = { "" };
	size_t i;

	(void)unused;
	for (i = 0; i < 2; i++) {
		char *body = guest_cast("heartbeat", json_pack("{s:s, s:{s:s, s:s, s:s}, s:f}",
			"instance_id", INSTANCE, "payload", "agent_version", "v2.0.0", "agent_slot",
			"a", "rpc_api_version", RPC_API_VERSION, "sent", 1795555232.0), keys_for[i]);

		if (parse(body, i ? keys : NULL, &msg, &err) < 0)
			fail_msg("%s", err.text);
		assert_int_equal(msg.kind, FLEET_MSG_HEARTBEAT);
		assert_int_equal(msg.sealed, (int)i);
		assert_string_equal(msg.rpc_api_version, "1.1");
		free(body);
	}
	rpc_keys_free(keys);
}

static void expect_refused(const char *body, const char *needle)
{
	struct rpc_keys *none = keys_with("");
	struct fleet_msg msg;
	struct error err = { "" };

	assert_int_equal(parse(body, none, &msg, &err), -1);
	if (!strstr(err.text, needle))
		fail_msg("error '%s' lacks '%s'", err.text, needle);
	rpc_keys_free(none);
}

/* A heartbeat whose payload.rpc_api_version is the JSON text given. */
static void expect_rpc_api_refused(const char *value, const char *needle)
{
	char body[512];

	snprintf(body, sizeof body, "{\"method\": \"heartbeat\", \"args\": {\"instance_id\": \"i\","
		 " \"payload\": {\"agent_version\": \"1\", \"rpc_api_version\": %s}}}", value);
	expect_refused(body, needle);
}

static void test_heartbeat_rpc_api_version_refused(void **unused)
{
	static const char *const bad[] = {
		"\"1\"", "\"1.\"", "\".1\"", "\"1.1.1\"", "\"1.x\"", "\" 1.1\"", "\"1.1 \"",
		"\"+1.1\"", "\"1.-1\"", "\"12345.1\"", "\"1.12345\"", "\"1,1\"", "\"\"",
		"\"\u0661.1\"",	/* an Arabic-Indic digit */
	};
	size_t i;

	(void)unused;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_rpc_api_refused(bad[i], "args.payload.rpc_api_version: not MAJOR.MINOR");
	expect_rpc_api_refused("1.1", "args.payload.rpc_api_version: not a string");
	expect_rpc_api_refused("\"1111111111111111.1\"", "args.payload.rpc_api_version: longer than");
}

static void test_hostile_reports(void **unused)
{
	struct rpc_keys *none = keys_with("");
	struct fleet_msg msg;

	(void)unused;
	expect_refused("[1]", "body: not a JSON object");
	/* the use after free fuzz_rpc_message found in rpc_message_unwrap() */
	expect_refused("{\"oslo.message\": \"[]\"}", "oslo.message: not a JSON object");
	expect_refused("{\"method\": \"heartbeat\"}", "args: missing");
	expect_refused("{\"method\": \"heartbeat\", \"args\": {\"instance_id\": \"a/b\"}}",
		       "args.instance_id: want 1 to 127");
	expect_refused("{\"method\": \"heartbeat\", \"args\": {\"instance_id\": \"i\", \"payload\": 3}}",
		       "args.payload: not an object");
	expect_refused("{\"method\": \"guest_upgrade_outcome\", \"args\": {\"instance_id\": \"i\","
		       " \"upgrade_id\": \"u\", \"state\": \"GREAT\"}}", "args.state: not a state name");
	expect_refused("{\"method\": \"guest_upgrade_outcome\", \"args\": {\"instance_id\": \"i\","
		       " \"upgrade_id\": \"u\", \"state\": \"NEW\", \"to_version\": \"v 1\"}}",
		       "args.to_version: not a version");
	expect_refused("{\"method\": \"guest_upgrade_outcome\", \"args\": {\"instance_id\": \"i\","
		       " \"upgrade_id\": \"u;drop\", \"state\": \"NEW\"}}", "args.upgrade_id");
	expect_refused("{\"method\": \"heartbeat\", \"_context_csz-instance-id\": \"i\", \"args\": {}}",
		       "sealed by i, which has no key");
	/* Not ours: ignored, not refused. */
	assert_int_equal(parse("{\"method\": \"update_backup\", \"args\": {}}", none, &msg, NULL), 0);
	assert_int_equal(msg.kind, FLEET_MSG_IGNORE);
	rpc_keys_free(none);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wire_heartbeats),
		cmocka_unit_test(test_outcome_plain_and_sealed),
		cmocka_unit_test(test_heartbeat_of_slotupd),
		cmocka_unit_test(test_heartbeat_rpc_api_version),
		cmocka_unit_test(test_heartbeat_rpc_api_version_refused),
		cmocka_unit_test(test_hostile_reports),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
