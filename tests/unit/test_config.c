/* test_config.c: the shared INI configuration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>
#include <arpa/inet.h>

#include "config.h"
#include "http_url.h"

static void expect_error(const char *text, const char *needle)
{
	struct config c;
	struct error err = { "" };

	assert_int_equal(config_load_string(&c, text, "/etc/x.ini", &err), -1);
	if (!strstr(err.text, needle))
		fail_msg("error '%s' lacks '%s'", err.text, needle);
}

static void test_config_defaults_and_values(void **unused)
{
	struct config c;
	struct error err = { "" };

	(void)unused;
	assert_int_equal(config_load_string(&c,
		"[slots]\nroot = /srv/slots\ncompatible = trove-guest\n"
		"[agent]\nexec = bin/agent --serve\nhealth = notify\nstartup_timeout = 250ms\n"
		"min_uptime = 2\nmax_attempts = 2\n"
		"[updater]\nretries = 7\nallow_setuid = true\nmax_rate = 1048576\n"
		"[amqp]\ninstance_id = 27e25b73\nexchange_durable = false\n", "t.ini", &err), 0);
	assert_string_equal(c.slots.root, "/srv/slots");
	assert_int_equal(c.agent.health, HEALTH_NOTIFY);
	assert_int_equal(c.agent.startup_timeout_ms, 250);
	assert_int_equal(c.agent.min_uptime_ms, 2000);
	assert_int_equal(c.agent.max_attempts, 2);
	assert_int_equal(c.agent.stop_timeout_ms, 10000);
	assert_int_equal(c.updater.retries, 7);
	assert_int_equal(c.updater.allow_setuid, 1);
	assert_int_equal(c.updater.max_rate, 1048576);
	/* Derived defaults follow the root and instance. */
	assert_string_equal(c.supervisor.control_socket, "/srv/slots/run/control.sock");
	assert_string_equal(c.updater.cache, "/srv/slots/cache");
	assert_string_equal(c.amqp.queue, "slotupd.27e25b73");
	assert_string_equal(c.amqp.exchange, "trove");
	assert_int_equal(c.supervisor.admin_uid, -1);
}

static void test_config_errors_name_file_line_and_key(void **unused)
{
	(void)unused;
	expect_error("[agent]\nexec = x\ncolour = red\n", "/etc/x.ini:3: [agent] colour: unknown key");
	expect_error("[agent]\n\n\nmin_uptime = soon\n", "/etc/x.ini:4: [agent] min_uptime: not a duration");
	expect_error("[nosuch]\nx = 1\n", "/etc/x.ini:2: unknown section [nosuch]");
	expect_error("[agent]\nmax_attempts = 2\nmax_attempts = 3\n", ":3: [agent] max_attempts: given twice");
	expect_error("[updater]\nallow_setuid = perhaps\n", "allow_setuid: not a boolean");
	expect_error("[agent]\nhealth = ping\n", "health: not one of");
	expect_error("[agent]\nmax_attempts = 0\n", "max_attempts: must be at least 1");
	expect_error("[agent]\nhealth = exec\n", "health = exec needs health_exec");
	expect_error("[slots]\nroot = relative/dir\n", "root: must be an absolute path");
	expect_error("[amqp]\nfile_dir = bundles\n", "[amqp] file_dir: must be an absolute path");
	expect_error("[amqp]\nfile_dir = /\n", "[amqp] file_dir: must be an absolute path other than /");
	expect_error("[amqp]\nqueue_type = mirrored\n", "[amqp] queue_type: not classic or quorum");
	expect_error("[hooks]\npre_install = backup.sh\n", "[hooks] pre_install: must be an absolute path");
	expect_error("[hooks]\npost_commit = bin/x\n", "[hooks] post_commit: must be an absolute path");
	expect_error("[hooks]\ntimeout = 500ms\n", "[hooks] timeout: at least 1s");
	expect_error("[supervisor]\nadmin_uid = -5\n", "admin_uid: not a uid");
	expect_error("[agent\n", "/etc/x.ini:1: syntax error");
	/* Debian's inih splits lines over 200 bytes: refused before parsing. */
	char longline[400];
	memset(longline, 'x', sizeof longline);
	memcpy(longline, "[agent]\nexec = ", 15);
	longline[sizeof longline - 1] = '\0';
	expect_error(longline, "/etc/x.ini:2: line longer than");
}

/* health = http: the URL is checked at load, the way slotd-httpcheck reads it. */
static void test_config_health_url(void **unused)
{
	struct http_url url;
	struct config c;
	struct error err = { "" };

	(void)unused;
	assert_int_equal(config_load_string(&c, "[agent]\nhealth = http\n"
		"health_url = http://127.0.0.1:8080/healthz?deep=1\n", "t.ini", &err), 0);
	assert_int_equal(http_url_parse(c.agent.health_url, &url, &err), 0);
	assert_int_equal(url.addr.ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&url.addr)->sin_port), 8080);
	assert_string_equal(url.path, "/healthz?deep=1");
	assert_string_equal(url.host, "127.0.0.1");
	assert_int_equal(http_url_parse("http://[::1]/", &url, &err), 0);
	assert_int_equal(url.addr.ss_family, AF_INET6);
	assert_int_equal(ntohs(((struct sockaddr_in6 *)&url.addr)->sin6_port), 80);
	assert_int_equal(http_url_parse("http://localhost:9", &url, &err), 0);
	assert_string_equal(url.path, "/");
	assert_int_equal(((struct sockaddr_in *)&url.addr)->sin_addr.s_addr, htonl(0x7f000001));
	expect_error("[agent]\nhealth = http\n", "health = http needs health_url");
	expect_error("[agent]\nhealth = http\nhealth_url = https://127.0.0.1/\n",
		     "/etc/x.ini: [agent] health_url: https is not supported");
	expect_error("[agent]\nhealth_url = http://agent.example/\n",
		     "host 'agent.example' is not an IP address or localhost");
	expect_error("[agent]\nhealth_url = http://u:pw@127.0.0.1/\n", "user information");
	expect_error("[agent]\nhealth_url = http://127.0.0.1:0/\n", "port is not a number");
	expect_error("[agent]\nhealth_url = http://127.0.0.1:70000/\n", "port is not a number");
	expect_error("[agent]\nhealth_url = http://[::1/\n", "closing ']'");
	expect_error("[agent]\nhealth_url = http://127.0.0.1/a#b\n", "fragment");
	expect_error("[agent]\nhealth_url = ftp://127.0.0.1/\n", "not an http:// URL");
	expect_error("[agent]\nhealth_url = http:///x\n", "no host");
}

static void test_config_secret_never_echoed(void **unused)
{
	struct config c;
	struct error err = { "" };

	(void)unused;
	assert_int_equal(config_load_string(&c, "[amqp]\nrpc_key = hunter2hunter2\nrpc_key = s3cret\n",
					    "t.ini", &err), -1);
	assert_null(strstr(err.text, "s3cret"));
	assert_null(strstr(err.text, "hunter2"));
}

static void test_config_missing_file(void **unused)
{
	struct config c;
	struct error err = { "" };

	(void)unused;
	assert_int_equal(config_load(&c, "/nonexistent/slotd.ini", &err), -1);
	assert_non_null(strstr(err.text, "/nonexistent/slotd.ini"));
}

static void test_config_split_words(void **unused)
{
	char *argv[CONFIG_ARGV_MAX];
	char storage[128];

	(void)unused;
	assert_int_equal(config_split_words("  bin/agent  --port 8080\t-v ", argv, storage,
					    sizeof storage, NULL), 4);
	assert_string_equal(argv[0], "bin/agent");
	assert_string_equal(argv[3], "-v");
	assert_null(argv[4]);
	assert_int_equal(config_split_words("   ", argv, storage, sizeof storage, NULL), -1);
}

static void test_config_duration(void **unused)
{
	unsigned ms;

	(void)unused;
	assert_int_equal(config_parse_duration("5m", &ms), 0);
	assert_int_equal(ms, 300000);
	assert_int_equal(config_parse_duration("0ms", &ms), 0);
	assert_int_equal(ms, 0);
	assert_int_equal(config_parse_duration("-1", &ms), -1);
	assert_int_equal(config_parse_duration("1h", &ms), 0);
	assert_int_equal(ms, 3600000);
	assert_int_equal(config_parse_duration("49d", &ms), 0);
	assert_int_equal(ms, 49u * 86400000u);
	assert_int_equal(config_parse_duration("50d", &ms), -1);	/* over 32 bits of ms */
	assert_int_equal(config_parse_duration("1w", &ms), -1);
	assert_int_equal(config_parse_duration("1 d", &ms), -1);
	assert_int_equal(config_parse_duration("99999999999", &ms), -1);
}

static void test_config_duration64(void **unused)
{
	uint64_t ms;

	(void)unused;
	assert_int_equal(config_parse_duration64("90d", &ms), 0);
	assert_true(ms == 90ULL * 86400000ULL);
	assert_int_equal(config_parse_duration64("36h", &ms), 0);
	assert_true(ms == 36ULL * 3600000ULL);
	assert_int_equal(config_parse_duration64("250ms", &ms), 0);
	assert_true(ms == 250);
	assert_int_equal(config_parse_duration64("213503982336d", &ms), -1);	/* overflows */
	assert_int_equal(config_parse_duration64("d", &ms), -1);
}

static void test_config_trust_keys(void **unused)
{
	struct config c;
	struct error err = { "" };

	(void)unused;
	assert_int_equal(config_load_string(&c, "[slots]\nroot = /srv\n", "t.ini", &err), 0);
	assert_string_equal(c.updater.crl, "");
	assert_string_equal(c.updater.allowed_signers, "");
	assert_true(c.updater.max_bundle_age_ms == 0);
	assert_int_equal(config_load_string(&c,
		"[updater]\nkeyring = /etc/slotd/keyring.d\ncrl = /etc/slotd/crl.d\n"
		"allowed_signers = packager-2026, packager-2027\nmax_bundle_age = 90d\n",
		"t.ini", &err), 0);
	assert_string_equal(c.updater.keyring, "/etc/slotd/keyring.d");
	assert_string_equal(c.updater.crl, "/etc/slotd/crl.d");
	assert_string_equal(c.updater.allowed_signers, "packager-2026, packager-2027");
	assert_true(c.updater.max_bundle_age_ms == 90ULL * 86400000ULL);
	expect_error("[updater]\nmax_bundle_age = 3 months\n",
		     "/etc/x.ini:2: [updater] max_bundle_age: not a duration");
	expect_error("[updater]\ncrl = /a\ncrl = /b\n", ":3: [updater] crl: given twice");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_defaults_and_values),
		cmocka_unit_test(test_config_errors_name_file_line_and_key),
		cmocka_unit_test(test_config_health_url),
		cmocka_unit_test(test_config_secret_never_echoed),
		cmocka_unit_test(test_config_missing_file),
		cmocka_unit_test(test_config_split_words),
		cmocka_unit_test(test_config_duration),
		cmocka_unit_test(test_config_duration64),
		cmocka_unit_test(test_config_trust_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
