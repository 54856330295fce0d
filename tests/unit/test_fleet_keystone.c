/* test_fleet_keystone.c: [api] auth = keystone without a Keystone: the
 * config's [keystone] section, Keystone's token answers checked
 * (keystone_token.c), the validation cache (bounded, expiring, LRU), and
 * fleet_keystone_check() answering 401 to garbage without asking and 503
 * with Retry-After when Keystone cannot be reached, within its timeout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/fleet_keystone.h"
#include "api/fleet_keystone_cache.h"
#include "config/fleet_config.h"
#include "keystone.h"

#define KS_INI "[api]\nauth = keystone\n[db]\npath = /f.db\n[keystone]\n" \
	"auth_url = http://127.0.0.1:1/v3\nusername = slotfleet\npassword = pw\n" \
	"project_name = service\n"

static void expect_config_error(const char *text, const char *needle)
{
	struct fleet_config c;
	struct error err = { "" };

	assert_int_equal(fleet_config_load_string(&c, text, "f.ini", &err), -1);
	if (!strstr(err.text, needle))
		fail_msg("error '%s' lacks '%s'", err.text, needle);
}

static void test_config(void **unused)
{
	struct fleet_config c;
	struct error err = { "" };

	(void)unused;
	assert_int_equal(fleet_config_load_string(&c, KS_INI, "f.ini", &err), 0);
	assert_int_equal(c.api.keystone, 1);
	assert_string_equal(c.keystone.user_domain_name, "Default");
	assert_string_equal(c.keystone.project_domain_name, "Default");
	assert_string_equal(c.keystone.admin_roles, "admin");
	assert_int_equal(c.keystone.cache_ttl_ms, 300000);
	assert_int_equal(c.keystone.timeout_ms, 5000);
	/* tokens mode stays the default and still needs its file */
	assert_int_equal(fleet_config_load_string(&c, "[api]\ntokens = /t\n[db]\npath = /f\n", "f", &err), 0);
	assert_int_equal(c.api.keystone, 0);
	expect_config_error("[api]\nauth = ldap\ntokens = /t\n[db]\npath = /f\n", "[api] auth: want");
	expect_config_error("[api]\nauth = keystone\n[db]\npath = /f\n", "[keystone] auth_url: missing");
	expect_config_error(KS_INI "password_file = /p\n", "exactly one of password and password_file");
	expect_config_error(KS_INI "timeout = 0s\n", "[keystone] timeout");
	expect_config_error(KS_INI "admin_roles = admin,,x\n", "[keystone] admin_roles");
	expect_config_error(KS_INI "bogus = 1\n", "unknown key");
	expect_config_error("[api]\nauth = keystone\n[db]\npath = /f\n[keystone]\n"
			    "auth_url = ftp://h/\nusername = u\npassword = p\nproject_name = s\n",
			    "auth_url: want http");
}

#define GOOD "{\"token\": {\"expires_at\": \"2030-01-02T03:04:05.000000Z\", " \
	"\"project\": {\"id\": \"f2a4fdd4bf454b49a2215a066e44f151\", \"name\": \"acme\"}, " \
	"\"roles\": [{\"id\": \"1\", \"name\": \"member\"}, {\"id\": \"2\", \"name\": \"admin\"}]}}"

static void expect_parse_error(const char *json)
{
	struct keystone_token info;
	struct error err = { "" };

	if (keystone_token_parse(json, strlen(json), &info, &err) == 0)
		fail_msg("accepted: %s", json);
}

static void test_token_parse(void **unused)
{
	struct keystone_token info;
	struct error err = { "" };
	char many[8192];
	size_t used;

	(void)unused;
	assert_int_equal(keystone_token_parse(GOOD, strlen(GOOD), &info, &err), 0);
	assert_string_equal(info.project_id, "f2a4fdd4bf454b49a2215a066e44f151");
	assert_int_equal(info.role_count, 2);
	assert_int_equal(keystone_token_has_role(&info, "admin"), 1);
	assert_int_equal(keystone_token_has_role(&info, "reader"), 0);
	assert_int_equal(info.expires_at, 1893553445);
	expect_parse_error("");
	expect_parse_error("[]");
	expect_parse_error("{\"token\": 1}");
	expect_parse_error("{\"token\": {\"expires_at\": 5}}");
	expect_parse_error("{\"token\": {\"expires_at\": \"yesterday\"}}");
	expect_parse_error("{\"token\": {\"expires_at\": \"2030-01-02T03:04:05Z\", \"project\": {\"id\": \"a/b\"}}}");
	expect_parse_error("{\"token\": {\"expires_at\": \"2030-01-02T03:04:05Z\", \"project\": {\"id\": 7}}}");
	expect_parse_error("{\"token\": {\"expires_at\": \"2030-01-02T03:04:05Z\", \"roles\": {}}}");
	expect_parse_error("{\"token\": {\"expires_at\": \"2030-01-02T03:04:05Z\", \"roles\": [{\"name\": 1}]}}");
	expect_parse_error("{\"token\": {\"expires_at\": \"2030-01-02T03:04:05Z\", \"roles\": [{\"name\": \"a\\u0000b\"}]}}");
	expect_parse_error("{\"token\": {}, \"token\": {}}");
	/* More roles than KEYSTONE_ROLES_MAX */
	used = (size_t)snprintf(many, sizeof many, "{\"token\": {\"expires_at\": \"2030-01-02T03:04:05Z\", \"roles\": [");
	for (int i = 0; i <= KEYSTONE_ROLES_MAX; i++)
		used += (size_t)snprintf(many + used, sizeof many - used, "%s{\"name\": \"r%d\"}", i ? "," : "", i);
	snprintf(many + used, sizeof many - used, "]}}");
	expect_parse_error(many);
	/* Unscoped: no project, no roles */
	used = (size_t)snprintf(many, sizeof many, "{\"token\": {\"expires_at\": \"2030-01-02T03:04:05Z\"}}");
	assert_int_equal(keystone_token_parse(many, used, &info, &err), 0);
	assert_string_equal(info.project_id, "");
}

static void test_token_bytes_and_url(void **unused)
{
	char url[128];

	(void)unused;
	assert_int_equal(keystone_token_check("gAAAAAB-abc_123", 15), 0);
	assert_int_equal(keystone_token_check("a b", 3), -1);
	assert_int_equal(keystone_token_check("a\r\nX: y", 7), -1);
	assert_int_equal(keystone_token_check("", 0), -1);
	assert_int_equal(keystone_tokens_url("http://h:5000/v3/", url, sizeof url), 0);
	assert_string_equal(url, "http://h:5000/v3/auth/tokens?nocatalog");
	assert_int_equal(keystone_tokens_url("https://h/identity", url, sizeof url), 0);
	assert_string_equal(url, "https://h/identity/v3/auth/tokens?nocatalog");
	assert_int_equal(keystone_tokens_url("file:///etc/passwd", url, sizeof url), -1);
}

static void key_of(int n, unsigned char key[32])
{
	memset(key, 0, 32);
	memcpy(key, &n, sizeof n);
}

static void test_cache(void **unused)
{
	struct fleet_keystone_cache *c;
	struct fleet_keystone_grant g = { "acme", 1 }, out;
	unsigned char key[32];

	(void)unused;
	assert_int_equal(fleet_keystone_cache_new(&c, 4, NULL), 0);
	key_of(1, key);
	assert_int_equal(fleet_keystone_cache_get(c, key, 100, &out), 0);
	fleet_keystone_cache_put(c, key, &g, 200, 100);
	assert_int_equal(fleet_keystone_cache_get(c, key, 199, &out), 1);
	assert_string_equal(out.project_id, "acme");
	assert_int_equal(out.admin, 1);
	/* never past its time */
	assert_int_equal(fleet_keystone_cache_get(c, key, 200, &out), 0);
	/* nothing kept for a time already gone */
	fleet_keystone_cache_put(c, key, &g, 50, 100);
	assert_int_equal(fleet_keystone_cache_count(c, 100), 0);
	/* full: the least recently used goes */
	for (int i = 1; i <= 4; i++) {
		key_of(i, key);
		fleet_keystone_cache_put(c, key, &g, 1000, 100);
	}
	key_of(1, key);
	assert_int_equal(fleet_keystone_cache_get(c, key, 101, &out), 1);	/* 1 used: 2 is oldest */
	key_of(5, key);
	fleet_keystone_cache_put(c, key, &g, 1000, 102);
	assert_int_equal(fleet_keystone_cache_count(c, 102), 4);
	key_of(2, key);
	assert_int_equal(fleet_keystone_cache_get(c, key, 103, &out), 0);
	for (int i = 1; i <= 5; i++) {
		key_of(i, key);
		assert_int_equal(fleet_keystone_cache_get(c, key, 103, &out), i != 2);
	}
	fleet_keystone_cache_free(c);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_check_unreachable(void **unused)
{
	struct fleet_config c;
	struct fleet_keystone *ks;
	struct error err = { "" };
	unsigned retry = 0;
	int64_t start;

	(void)unused;
	assert_int_equal(fleet_config_load_string(&c, KS_INI "timeout = 1s\n", "f.ini", &err), 0);
	assert_int_equal(fleet_keystone_new(&ks, &c, NULL, &err), 0);
	assert_int_equal(fleet_keystone_check(ks, NULL, 0, "acme", &retry), FLEET_AUTH_MISSING);
	assert_int_equal(fleet_keystone_check(ks, "a b", 3, "acme", &retry), FLEET_AUTH_UNKNOWN);
	assert_int_equal(retry, 0);
	start = now_ms();
	assert_int_equal(fleet_keystone_check(ks, "gAAAA-token", 11, "acme", &retry),
			 FLEET_AUTH_UNAVAILABLE);
	assert_true(now_ms() - start < 1500);
	assert_int_equal(retry, FLEET_KEYSTONE_RETRY_AFTER_S);
	assert_int_equal(fleet_auth_status(FLEET_AUTH_UNAVAILABLE), 503);
	assert_int_equal(fleet_keystone_prime(ks, &err), -1);
	assert_non_null(strstr(err.text, "slotfleet's own token"));
	fleet_keystone_free(ks);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_token_parse),
		cmocka_unit_test(test_token_bytes_and_url),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_check_unreachable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
