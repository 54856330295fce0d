/* test_fleet_config.c: slotfleet's INI file, token file and key file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "api/fleet_auth.h"
#include "config/fleet_config.h"

#define MIN_INI "[api]\ntokens = /etc/t\n[db]\npath = /var/lib/f.db\n"

static void expect_error(const char *text, const char *needle)
{
	struct fleet_config c;
	struct error err = { "" };

	assert_int_equal(fleet_config_load_string(&c, text, "/etc/f.ini", &err), -1);
	if (!strstr(err.text, needle))
		fail_msg("error '%s' lacks '%s'", err.text, needle);
}

static void test_defaults(void **unused)
{
	struct fleet_config c;
	struct error err = { "" };

	(void)unused;
	assert_int_equal(fleet_config_load_string(&c, MIN_INI, "f.ini", &err), 0);
	assert_string_equal(c.api.host, "127.0.0.1");
	assert_int_equal(c.api.port, 8779);
	assert_int_equal(c.api.rate_count, 20);
	assert_int_equal(c.api.rate_period_ms, 1000);
	assert_int_equal(c.api.burst, 20);
	assert_int_equal(c.api.max_body, 65536);
	assert_string_equal(c.amqp.exchange, "trove");
	assert_int_equal(c.amqp.exchange_durable, 0);
	assert_string_equal(c.amqp.conductor_topic, "trove-conductor");
	assert_string_equal(c.amqp.queue, "slotfleet.trove-conductor");
	assert_string_equal(c.amqp.rpc_version_cap, "auto");
}

static void test_values(void **unused)
{
	struct fleet_config c;
	struct error err = { "" };

	(void)unused;
	assert_int_equal(fleet_config_load_string(&c,
		"[api]\nlisten = [::1]:0\ntokens = /t\nrate = 30/m\nmax_body = 1MiB\n"
		"[db]\nurl = postgresql://u@127.0.0.1/fleet\n"
		"[amqp]\nconductor_topic = cond\nexchange_durable = true\nrpc_keys = /k\n"
		"rpc_version_cap = 1.0\n",
		"f.ini", &err), 0);
	assert_string_equal(c.api.host, "::1");
	assert_int_equal(c.api.port, 0);
	assert_int_equal(c.api.rate_count, 30);
	assert_int_equal(c.api.rate_period_ms, 60000);
	assert_int_equal(c.api.burst, 1);	/* 30/m is half a request a second */
	assert_int_equal(c.api.max_body, 1 << 20);
	assert_string_equal(c.amqp.queue, "slotfleet.cond");
	assert_int_equal(c.amqp.exchange_durable, 1);
	assert_string_equal(c.amqp.rpc_version_cap, "1.0");
	assert_int_equal(fleet_config_load_string(&c, MIN_INI "[api]\nrate = 5/s\nburst = 9\n",
						  "f.ini", &err), 0);
	assert_int_equal(c.api.burst, 9);
}

static void test_errors(void **unused)
{
	(void)unused;
	expect_error(MIN_INI "[api]\ncolour = red\n", "/etc/f.ini:6: [api] colour: unknown key");
	expect_error("[web]\nx = 1\n", "/etc/f.ini:2: unknown section [web]");
	expect_error(MIN_INI "[api]\nrate = 5/h\n", ":6: [api] rate: not a rate");
	expect_error(MIN_INI "[api]\nrate = 0/s\n", "rate: not a rate");
	expect_error(MIN_INI "[amqp]\nqueue_type = stream\n", "[amqp] queue_type: not classic or quorum");
	expect_error(MIN_INI "[api]\nlisten = 127.0.0.1\n", "listen: not HOST:PORT");
	expect_error(MIN_INI "[api]\nlisten = 127.0.0.1:70000\n", "listen: not HOST:PORT");
	expect_error(MIN_INI "[api]\nmax_body = lots\n", "max_body: not a size");
	expect_error(MIN_INI "[api]\nburst = 0\n", "burst: not a whole number");
	expect_error(MIN_INI "[amqp]\nexchange_durable = maybe\n", "not a boolean");
	expect_error(MIN_INI "[amqp]\nrpc_version_cap = 1\n", "rpc_version_cap: not auto or");
	expect_error(MIN_INI "[amqp]\nrpc_version_cap = newest\n", "not auto or");
	expect_error(MIN_INI "[db]\npath = /a\n", ":6: [db] path: given twice");
	expect_error("[api]\ntokens = /t\n", "[db]: set exactly one of path and url");
	expect_error("[api]\ntokens = /t\n[db]\npath = /a\nurl = postgresql://x/y\n",
		     "exactly one");
	expect_error("[api]\ntokens = /t\n[db]\nurl = mysql://x/y\n", "[db] url: want postgresql");
	expect_error("[db]\npath = /a\n", "[api] tokens: missing");
}

#define HASH_A "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" /* "test" */
#define HASH_B "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752" /* "test2" */

static void test_tokens(void **unused)
{
	struct fleet_auth *auth;
	struct error err = { "" };

	(void)unused;
	assert_int_equal(fleet_auth_load_string(&auth, "# ops\n\n" HASH_A " acme admin  # Ann\n"
						HASH_B "\tacme\tmember\n", "tokens", &err), 0);
	assert_int_equal(fleet_auth_count(auth), 2);
	assert_int_equal(fleet_auth_check(auth, "test", 4, "acme"), FLEET_AUTH_OK);
	assert_int_equal(fleet_auth_check(auth, "test", 4, "other"), FLEET_AUTH_OTHER_TENANT);
	assert_int_equal(fleet_auth_check(auth, "test2", 5, "acme"), FLEET_AUTH_NOT_ADMIN);
	assert_int_equal(fleet_auth_check(auth, "test3", 5, "acme"), FLEET_AUTH_UNKNOWN);
	assert_int_equal(fleet_auth_check(auth, "tes", 3, "acme"), FLEET_AUTH_UNKNOWN);
	assert_int_equal(fleet_auth_check(auth, NULL, 0, "acme"), FLEET_AUTH_MISSING);
	assert_int_equal(fleet_auth_status(FLEET_AUTH_UNKNOWN), 401);
	assert_int_equal(fleet_auth_status(FLEET_AUTH_NOT_ADMIN), 403);
	fleet_auth_free(auth);
}

static void expect_token_error(const char *text, const char *needle)
{
	struct fleet_auth *auth = NULL;
	struct error err = { "" };

	assert_int_equal(fleet_auth_load_string(&auth, text, "tokens", &err), -1);
	assert_null(auth);
	if (!strstr(err.text, needle))
		fail_msg("error '%s' lacks '%s'", err.text, needle);
}

static void test_token_errors(void **unused)
{
	(void)unused;
	expect_token_error("\n" HASH_A " acme\n", "tokens:2: want three fields");
	expect_token_error(HASH_A " acme admin extra\n", "tokens:1: want three fields");
	expect_token_error("9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08 a admin\n",
			   "tokens:1: the hash is not 64 lower-case hex");
	expect_token_error("abc acme admin\n", "the hash");
	expect_token_error(HASH_A " ac/me admin\n", "tokens:1: tenant");
	expect_token_error(HASH_A " acme root\n", "tokens:1: role: want admin or member");
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_token_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
