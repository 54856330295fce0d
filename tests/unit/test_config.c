/* test_config.c: the shared INI configuration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
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

/* [strategy.NAME] sections: keys, defaults, the registry's names. */
static void test_config_strategy_sections(void **unused)
{
	struct config c;
	struct error err = { "" };
	const struct config_strategy *s;
	char known[256];

	(void)unused;
	assert_int_equal(config_load_string(&c,
		"[updater]\nstrategy = jenkins\n"
		"[strategy.jenkins]\nfetch = /usr/lib/slotd/fetch-jenkins\nformat = bundle\n"
		"timeout = 5m\nread = /etc/jenkins /var/lib/jenkins-cache\n"
		"[strategy.rsync_2-b]\nfetch = /opt/f\n", "t.ini", &err), 0);
	assert_int_equal(c.strategies.count, 2);
	s = config_strategy_find(&c, "jenkins");
	assert_non_null(s);
	assert_string_equal(s->fetch, "/usr/lib/slotd/fetch-jenkins");
	assert_int_equal(s->format, STRATEGY_FORMAT_BUNDLE);
	assert_int_equal(s->timeout_ms, 300000);
	assert_string_equal(s->read, "/etc/jenkins /var/lib/jenkins-cache");
	s = config_strategy_find(&c, "rsync_2-b");
	assert_non_null(s);
	assert_int_equal(s->timeout_ms, 0);	/* the download's own bounds */
	assert_int_equal(s->format, STRATEGY_FORMAT_BUNDLE);
	assert_string_equal(s->read, "");
	assert_null(config_strategy_find(&c, "http"));	/* a built-in, not a section */
	assert_int_equal(config_strategy_builtin("swift"), STRATEGY_SWIFT);
	config_strategy_known(&c, known, sizeof known);
	assert_string_equal(known, "http, swift, file, jenkins, rsync_2-b");
	config_strategy_known(NULL, known, sizeof known);
	assert_string_equal(known, "http, swift, file");
	assert_string_equal(config_strategy_format_name(STRATEGY_FORMAT_BUNDLE), "bundle");
}

static void test_config_strategy_refusals(void **unused)
{
	(void)unused;
	expect_error("[strategy.Jenkins]\nfetch = /f\n",
		     "/etc/x.ini:2: [strategy.Jenkins]: not a strategy name: want 1 to 31 of [a-z0-9_-]");
	expect_error("[strategy.]\nfetch = /f\n", "[strategy.]: not a strategy name");
	expect_error("[strategy.a.b]\nfetch = /f\n", "[strategy.a.b]: not a strategy name");
	expect_error("[strategy.abcdefghijklmnopqrstuvwxyz012345]\nfetch = /f\n",
		     "not a strategy name");
	expect_error("[strategy.http]\nfetch = /f\n", "[strategy.http]: 'http' is a built-in strategy");
	expect_error("[strategy.file]\nfetch = /f\n", "'file' is a built-in strategy");
	expect_error("[strategy.j]\nfetch = /f\n[agent]\nexec = x\n[strategy.j]\ntimeout = 1m\n",
		     "/etc/x.ini:6: [strategy.j]: section given twice");
	expect_error("[strategy.j]\nfetch = /f\nfetch = /g\n", ":3: [strategy.j] fetch: given twice");
	expect_error("[strategy.j]\nfetch = /f\ncommand = /g\n", ":3: [strategy.j] command: unknown key");
	expect_error("[strategy.j]\nfetch = f\n", "[strategy.j] fetch: must be an absolute path");
	expect_error("[strategy.j]\ntimeout = 1m\n", "/etc/x.ini: [strategy.j] fetch: missing");
	expect_error("[strategy.j]\nfetch = /f\nformat = zip\n",
		     "[strategy.j] format: not a format: want one of bundle, pip");
	expect_error("[strategy.j]\nfetch = /f\ntimeout = soon\n", "[strategy.j] timeout: not a duration");
	expect_error("[strategy.j]\nfetch = /f\ntimeout = 10ms\n", "[strategy.j] timeout: at least 1s");
	expect_error("[strategy.j]\nfetch = /f\nread = /a b\n", "[strategy.j] read: want at most 8 absolute");
	expect_error("[strategy.j]\nfetch = /f\nread = /1 /2 /3 /4 /5 /6 /7 /8 /9\n",
		     "[strategy.j] read: want at most 8");
	expect_error("[updater]\nstrategy = ftp\n",
		     "[updater] strategy: unknown strategy 'ftp' (known: http, swift, file)");
}

/* format = pip: package and exec required, fetch optional, pip's keys
 * refused in a bundle section. */
static void test_config_strategy_pip(void **unused)
{
	const struct config_strategy *s;
	struct config c;
	struct error err = { "" };

	(void)unused;
	assert_int_equal(config_load_string(&c, "[strategy.pip]\nformat = pip\n"
					    "package = trove-guestagent\n"
					    "exec = bin/trove-guestagent --debug\n", "x", &err), 0);
	s = config_strategy_find(&c, "pip");
	assert_non_null(s);
	assert_int_equal(s->format, STRATEGY_FORMAT_PIP);
	assert_string_equal(s->fetch, "");
	assert_string_equal(s->package, "trove-guestagent");
	assert_string_equal(s->exec, "bin/trove-guestagent --debug");
	assert_string_equal(s->python, "/usr/bin/python3");
	assert_int_equal(s->build_timeout_ms, 600000);
	assert_string_equal(config_strategy_format_name(STRATEGY_FORMAT_PIP), "pip");
	expect_error("[strategy.p]\nformat = pip\nexec = bin/a\n",
		     "/etc/x.ini: [strategy.p] package: missing (format = pip)");
	expect_error("[strategy.p]\nformat = pip\npackage = a\n",
		     "[strategy.p] exec: missing (format = pip)");
	expect_error("[strategy.p]\nformat = pip\npackage = a b\n",
		     "[strategy.p] package: not a distribution name");
	expect_error("[strategy.p]\nformat = pip\npackage = -a\n", "package: not a distribution");
	expect_error("[strategy.p]\nformat = pip\npackage = a\nexec = /bin/sh\n",
		     "[strategy.p] exec: want a command whose first word is relative");
	expect_error("[strategy.p]\nformat = pip\npackage = a\nexec = bin/../../x\n",
		     "[strategy.p] exec: want a command");
	expect_error("[strategy.p]\nformat = pip\npackage = a\nexec = a\npython = python3\n",
		     "[strategy.p] python: must be an absolute path");
	expect_error("[strategy.p]\nformat = pip\npackage = a\nexec = a\nbuild_timeout = 1ms\n",
		     "[strategy.p] build_timeout: at least 1s");
	expect_error("[strategy.b]\nfetch = /f\npackage = a\n",
		     "[strategy.b] package: only with format = pip");
	expect_error("[strategy.b]\nformat = bundle\nexec = a\n", "[strategy.b] exec: only with");
}

/* At most CONFIG_STRATEGY_MAX sections. */
static void test_config_strategy_limit(void **unused)
{
	char text[4096];
	size_t used = 0;
	struct config c;
	struct error err = { "" };
	int i;

	(void)unused;
	for (i = 0; i < CONFIG_STRATEGY_MAX; i++)
		used += (size_t)snprintf(text + used, sizeof text - used,
					 "[strategy.s%d]\nfetch = /f%d\n", i, i);
	assert_int_equal(config_load_string(&c, text, "t.ini", &err), 0);
	assert_int_equal(c.strategies.count, CONFIG_STRATEGY_MAX);
	snprintf(text + used, sizeof text - used, "[strategy.one-more]\nfetch = /f\n");
	expect_error(text, "[strategy.one-more]: more than 16 strategy sections");
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
		cmocka_unit_test(test_config_strategy_sections),
		cmocka_unit_test(test_config_strategy_refusals),
		cmocka_unit_test(test_config_strategy_pip),
		cmocka_unit_test(test_config_strategy_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
