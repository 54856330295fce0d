/* test_fetch.c: the strategies' local checks: the `file` strategy's open,
 * with and without a directory it must stay beneath ([amqp] file_dir for
 * casts), and what a refused location's error may quote; the registry's
 * names (built-ins and [strategy.NAME] sections, the guest's and a
 * sender's check); a deployer's program run in-process (the fetch process
 * confines itself first: tests/integration/strategy.sh): its output, its
 * exit and first line, the max_bytes cut-off, the timeout that kills its
 * group, the retries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fetch/fetch.h"
#include "fetch/fetch_program.h"
#include "request_check.h"
#include "support.h"

struct fixture {
	char root[PATH_MAX], dir[PATH_MAX + 8];
};

/* root/outside (a file beside the directory), root/dir/ok.bundle,
 * root/dir/sub/, root/dir/out -> ../outside, root/dir/abs -> root/outside,
 * root/dir/in -> ok.bundle, root/dir/fifo */
static int setup(void **state)
{
	static struct fixture f;
	char path[PATH_MAX + 64];

	support_tmpdir(f.root, sizeof f.root);
	snprintf(f.dir, sizeof f.dir, "%s/dir", f.root);
	assert_int_equal(mkdir(f.dir, 0755), 0);
	snprintf(path, sizeof path, "%s/sub", f.dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof path, "%s/outside", f.root);
	support_write_file(path, "secret");
	snprintf(path, sizeof path, "%s/ok.bundle", f.dir);
	support_write_file(path, "bundle");
	snprintf(path, sizeof path, "%s/out", f.dir);
	assert_int_equal(symlink("../outside", path), 0);
	snprintf(path, sizeof path, "%s/abs", f.dir);
	{
		char target[PATH_MAX + 16];

		snprintf(target, sizeof target, "%s/outside", f.root);
		assert_int_equal(symlink(target, path), 0);
	}
	snprintf(path, sizeof path, "%s/in", f.dir);
	assert_int_equal(symlink("ok.bundle", path), 0);
	snprintf(path, sizeof path, "%s/fifo", f.dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	support_rmtree(f->root);
	return 0;
}

/* Opens dir/NAME (as file:// when url) beneath `beneath`; returns the
 * error text, "" when it opened. */
static const char *try_open(const struct fixture *f, const char *name, const char *beneath,
			    int url, struct error *err)
{
	char location[PATH_MAX + 128];
	int fd;

	snprintf(location, sizeof location, "%s%s/%s", url ? "file://" : "", f->dir, name);
	err->text[0] = '\0';
	fd = fetch_file_open(location, beneath, err);
	if (fd < 0) {
		assert_true(err->text[0] != '\0');
		return err->text;
	}
	close(fd);
	return "";
}

static void test_beneath_opens_what_stays_inside(void **state)
{
	struct fixture *f = *state;
	struct error err;

	assert_string_equal(try_open(f, "ok.bundle", f->dir, 0, &err), "");
	assert_string_equal(try_open(f, "ok.bundle", f->dir, 1, &err), "");
	assert_string_equal(try_open(f, "in", f->dir, 0, &err), "");	/* a link inside */
	/* dir's own trailing slash does not matter */
	{
		char slashed[PATH_MAX + 16];

		snprintf(slashed, sizeof slashed, "%s/", f->dir);
		assert_string_equal(try_open(f, "ok.bundle", slashed, 0, &err), "");
	}
}

static void test_beneath_refuses_what_leaves(void **state)
{
	struct fixture *f = *state;
	struct error err;

	assert_non_null(strstr(try_open(f, "out", f->dir, 0, &err), "leads out of"));
	assert_non_null(strstr(try_open(f, "abs", f->dir, 0, &err), "leads out of"));
	assert_non_null(strstr(try_open(f, "sub/../ok.bundle", f->dir, 0, &err), "'..'"));
	assert_non_null(strstr(try_open(f, "../outside", f->dir, 0, &err), "'..'"));
	assert_non_null(strstr(try_open(f, "ok.bundle", "/nonexistent-dir", 0, &err),
			       "not beneath"));
	assert_non_null(strstr(try_open(f, "ok.bundle", "", 0, &err), "file_dir is set"));
	/* the directory itself, and a sibling whose name merely starts with it */
	assert_non_null(strstr(try_open(f, "", f->dir, 0, &err), "not beneath"));
	{
		char sibling[PATH_MAX + 16];

		snprintf(sibling, sizeof sibling, "%s/di", f->root);
		assert_non_null(strstr(try_open(f, "ok.bundle", sibling, 0, &err), "not beneath"));
	}
}

static void test_fifo_is_refused_without_hanging(void **state)
{
	struct fixture *f = *state;
	struct error err;

	assert_non_null(strstr(try_open(f, "fifo", f->dir, 0, &err), "not a regular file"));
	assert_non_null(strstr(try_open(f, "fifo", NULL, 0, &err), "not a regular file"));
}

/* slotupd install (the local administrator) is not confined to a directory. */
static void test_without_beneath_any_path(void **state)
{
	struct fixture *f = *state;
	struct error err;

	assert_string_equal(try_open(f, "out", NULL, 0, &err), "");
	assert_string_equal(try_open(f, "sub/../ok.bundle", NULL, 1, &err), "");
	assert_non_null(strstr(try_open(f, "missing", NULL, 0, &err), "No such file"));
}

/* A malformed location is quoted with its credentials redacted, even when
 * the '@' lies beyond the 100 bytes quoted (threat-model gap 5). */
static void test_refusals_quote_no_credentials(void **state)
{
	static const char *const cases[][2] = {
		{ "http", "htp://user:s3cret@host/x" },
		{ "http", "ftp://user:s3cret@host/x" },
		{ "http", "http://user:s3cret@/x" },
		{ "swift", "gopher://user:s3cret@host/x" },
		{ "file", "https://user:s3cret@host/x" },
		{ "http", "htp://user:s3cretxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx@host/x" },
	};
	struct error err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		err.text[0] = '\0';
		assert_int_equal(fetch_validate(NULL, cases[i][0], cases[i][1], &err), -1);
		if (!strstr(err.text, "malformed location") || strstr(err.text, "s3cret"))
			fail_msg("%s %s: '%s'", cases[i][0], cases[i][1], err.text);
	}
}

/* A configuration with [strategy.jenkins] (program at `fetch`). */
static void strategy_config(struct config *c, const char *fetch)
{
	config_defaults(c);
	snprintf(c->strategies.list[0].name, sizeof c->strategies.list[0].name, "jenkins");
	snprintf(c->strategies.list[0].fetch, sizeof c->strategies.list[0].fetch, "%s", fetch);
	c->strategies.count = 1;
}

static void expect_refusal(int rc, const struct error *err, const char *needle)
{
	assert_int_equal(rc, -1);
	if (!strstr(err->text, needle))
		fail_msg("error '%s' lacks '%s'", err->text, needle);
}

static void test_registry_names(void **state)
{
	struct config c;
	struct error err = { "" };
	char long_location[FETCH_OPAQUE_MAX + 2];

	(void)state;
	strategy_config(&c, "/bin/true");
	assert_int_equal(fetch_validate(&c, "jenkins", "job/agent #42 (last good)", &err), 0);
	assert_int_equal(fetch_validate(&c, "http", "https://example.net/a.bundle", &err), 0);
	expect_refusal(fetch_validate(&c, "ftp", "x", &err), &err,
		       "request: unknown strategy 'ftp' (known: http, swift, file, jenkins)");
	expect_refusal(fetch_validate(NULL, "jenkins", "x", &err), &err,
		       "unknown strategy 'jenkins' (known: http, swift, file)");
	expect_refusal(fetch_validate(&c, "Bad\x1bName", "x", &err), &err,
		       "unknown strategy: not a strategy name (known: http, swift, file, jenkins)");
	expect_refusal(fetch_validate(&c, "jenkins", "", &err), &err, "location is missing");
	expect_refusal(fetch_validate(&c, "jenkins", "a\nb", &err), &err,
		       "malformed location: control character at offset 1");
	memset(long_location, 'x', sizeof long_location - 1);
	long_location[sizeof long_location - 1] = '\0';
	expect_refusal(fetch_validate(&c, "jenkins", long_location, &err), &err,
		       "longer than 1023 bytes");
	long_location[FETCH_OPAQUE_MAX] = '\0';
	assert_int_equal(fetch_validate(&c, "jenkins", long_location, &err), 0);
	/* a built-in keeps its checks, blanks refused */
	expect_refusal(fetch_validate(&c, "http", "https://h/a b", &err), &err, "or blank");
	expect_refusal(fetch_validate(&c, "file", "relative", &err), &err, "not an absolute path");
}

/* A sender passes any well-formed name through, built-ins checked. */
static void test_registry_relayed(void **state)
{
	struct error err = { "" };

	(void)state;
	assert_int_equal(fetch_validate_relayed("jenkins", "job/agent #42", &err), 0);
	assert_int_equal(fetch_validate_relayed("pigeon", "coop 7", &err), 0);
	assert_int_equal(fetch_validate_relayed("http", "https://example.net/a", &err), 0);
	expect_refusal(fetch_validate_relayed("http", "ftp://example.net/a", &err), &err,
		       "scheme must be http or https");
	expect_refusal(fetch_validate_relayed("carrier pigeon", "x", &err), &err,
		       "strategy: want 1 to 31 of [a-z0-9_-]");
	expect_refusal(fetch_validate_relayed("jenkins", "a\tb", &err), &err, "control character");
}

struct collected {
	char data[256];
	size_t len;
	unsigned long long total;
};

static int collect(const void *data, size_t len, void *ctx, struct error *err)
{
	struct collected *c = ctx;

	(void)err;
	c->total += len;
	if (len > sizeof c->data - 1 - c->len)
		len = sizeof c->data - 1 - c->len;
	memcpy(c->data + c->len, data, len);
	c->len += len;
	c->data[c->len] = '\0';
	return 0;
}

/* Runs `body` as /bin/sh script under [strategy.jenkins]; returns its
 * result, the error text in err and its output in out. */
static int run_program(const struct fixture *f, const char *body, struct config *c,
		       struct collected *out, struct error *err)
{
	char path[PATH_MAX + 16], script[2 * PATH_MAX + 512], input[FETCH_PROGRAM_INPUT_MAX];
	struct fetch_job job = { .config = c, .location = "job/42", .sink = collect, .ctx = out,
				 .instance_version = "v2.0.0", .input = input };

	snprintf(path, sizeof path, "%s/program", f->root);
	snprintf(script, sizeof script, "#!/bin/sh\n%s\n", body);
	unlink(path);
	support_write_file(path, script);
	assert_int_equal(chmod(path, 0755), 0);
	assert_true(strlen(path) < sizeof c->strategies.list[0].fetch);
	snprintf(c->strategies.list[0].fetch, sizeof c->strategies.list[0].fetch, "%.500s", path);
	assert_int_equal(fetch_program_input("jenkins", &job, input, sizeof input, err), 0);
	memset(out, 0, sizeof *out);
	err->text[0] = '\0';
	return fetch_program(&job, &c->strategies.list[0], err);
}

static void test_program_output_and_input(void **state)
{
	struct fixture *f = *state;
	struct config c;
	struct collected out;
	struct error err;

	strategy_config(&c, "");
	assert_int_equal(run_program(f, "cat", &c, &out, &err), 0);
	assert_string_equal(out.data, "{\"location\":\"job/42\",\"metadata\":{},"
			    "\"instance_version\":\"v2.0.0\",\"strategy\":\"jenkins\"}\n");
	assert_int_equal(run_program(f, "echo \"$SLOTD_STRATEGY $LC_ALL\"; echo note >&2", &c,
				     &out, &err), 0);
	assert_string_equal(out.data, "jenkins C\n");
}

/* fetch_program_input(): the request's whole metadata, re-read, with its
 * sha256 set; anything but one object within the bound is refused. */
static int input_with(const char *metadata, const char *sha256, char *out, size_t len,
		      struct error *err)
{
	struct fetch_job job = { .location = "job/42", .instance_version = "v2.0.0",
				 .sha256 = sha256, .metadata = metadata };

	err->text[0] = '\0';
	return fetch_program_input("jenkins", &job, out, len, err);
}

static void test_program_input_metadata(void **state)
{
	char out[FETCH_PROGRAM_INPUT_MAX], big[REQUEST_METADATA_MAX + 16];
	struct error err;

	(void)state;
	assert_int_equal(input_with("{\"build\":\"1234\",\"branch\":\"st\\u00E4ble\"}", "ab",
				    out, sizeof out, &err), 0);
	assert_string_equal(out, "{\"location\":\"job/42\",\"metadata\":{\"build\":\"1234\","
			    "\"branch\":\"st\xc3\xa4" "ble\",\"sha256\":\"ab\"},"
			    "\"instance_version\":\"v2.0.0\",\"strategy\":\"jenkins\"}\n");
	/* the request's sha256 is the one the fetcher reads */
	assert_int_equal(input_with("{\"sha256\":\"cd\",\"b\":1}", "ab", out, sizeof out, &err), 0);
	assert_non_null(strstr(out, "\"metadata\":{\"sha256\":\"ab\",\"b\":1}"));
	assert_int_equal(input_with(NULL, NULL, out, sizeof out, &err), 0);
	assert_non_null(strstr(out, "\"metadata\":{}"));
	assert_int_equal(input_with("[1]", NULL, out, sizeof out, &err), -1);
	assert_string_equal(err.text, "strategy jenkins: metadata: not an object");
	assert_int_equal(input_with("{\"a\":1} x", NULL, out, sizeof out, &err), -1);
	assert_string_equal(err.text, "strategy jenkins: metadata: not JSON");
	memset(big, 0, sizeof big);
	memcpy(big, "{\"k\":\"", 6);
	memset(big + 6, 'x', REQUEST_METADATA_MAX - 7);
	memcpy(big + REQUEST_METADATA_MAX - 1, "\"}", 2);
	assert_int_equal(input_with(big, NULL, out, sizeof out, &err), -1);
	assert_string_equal(err.text, "strategy jenkins: metadata: 2049 bytes as JSON, more than 2048");
	big[REQUEST_METADATA_MAX - 2] = '"';
	big[REQUEST_METADATA_MAX - 1] = '}';
	big[REQUEST_METADATA_MAX] = '\0';
	assert_int_equal(input_with(big, NULL, out, sizeof out, &err), 0);
	/* and a buffer too small for it is an error, never a cut object */
	assert_int_equal(input_with(big, NULL, out, 1024, &err), -1);
	assert_non_null(strstr(err.text, "its input is longer than 1022 bytes"));
}

static void test_program_exit_and_first_line(void **state)
{
	struct fixture *f = *state;
	struct config c;
	struct collected out;
	struct error err;

	strategy_config(&c, "");
	c.updater.retries = 3;		/* not retried: exit 3 is final */
	assert_int_equal(run_program(f, "printf '\\n\\033[31martifact not found\\nmore\\n' >&2; exit 3",
				     &c, &out, &err), -1);
	assert_string_equal(err.text, "strategy jenkins: fetcher exited 3: \\x1b[31martifact not found");
	assert_int_equal(run_program(f, "exit 4", &c, &out, &err), -1);
	assert_string_equal(err.text, "strategy jenkins: fetcher exited 4");
}

/* Exit 75 is retried; each run's first bytes already delivered are skipped. */
static void test_program_retry_skips_delivered(void **state)
{
	struct fixture *f = *state;
	struct config c;
	struct collected out;
	struct error err;
	char body[2 * PATH_MAX + 256];

	strategy_config(&c, "");
	c.updater.retries = 2;
	c.updater.retry_backoff_ms = 10;
	c.updater.retry_backoff_max_ms = 20;
	assert_int_equal(run_program(f, "echo later >&2; exit 75", &c, &out, &err), -1);
	assert_string_equal(err.text, "after 3 attempts: strategy jenkins: fetcher exited 75: later");
	/* first run writes "abc" and fails for now, the second "abcdef" */
	snprintf(body, sizeof body, "if [ -e %s/ran ]; then printf abcdef; else touch %s/ran; "
		 "printf abc; exit 75; fi", f->root, f->root);
	assert_int_equal(run_program(f, body, &c, &out, &err), 0);
	assert_string_equal(out.data, "abcdef");
}

/* /proc/PID/stat exists and its state is not Z. */
static int proc_running(const char *stat_path)
{
	char line[512], *paren;
	FILE *file = fopen(stat_path, "r");
	int running = 0;

	if (!file)
		return 0;
	if (fgets(line, sizeof line, file) && (paren = strrchr(line, ')')) != NULL)
		running = paren[1] == ' ' && paren[2] != 'Z';
	fclose(file);
	return running;
}

static void test_program_bounds(void **state)
{
	struct fixture *f = *state;
	struct config c;
	struct collected out;
	struct error err;
	char body[2 * PATH_MAX + 256];

	strategy_config(&c, "");
	c.updater.retries = 0;
	c.updater.max_bytes = 1 << 20;
	assert_int_equal(run_program(f, "exec yes", &c, &out, &err), -1);
	assert_string_equal(err.text, "strategy jenkins: fetcher wrote more than [updater] "
			    "max_bytes (1048576 bytes): cut off");
	assert_true(out.total <= 1 << 20);
	/* a hang: killed at its timeout with its group (the sleep it started) */
	c.strategies.list[0].timeout_ms = 1000;
	snprintf(body, sizeof body, "sleep 30 & echo $! > %s/child; echo stuck >&2; wait", f->root);
	assert_int_equal(run_program(f, body, &c, &out, &err), -1);
	assert_string_equal(err.text, "strategy jenkins: fetcher killed after its timeout (1000 ms): stuck");
	{
		char path[PATH_MAX + 16], pid[32] = "", proc[64];
		FILE *file;

		snprintf(path, sizeof path, "%s/child", f->root);
		file = fopen(path, "r");
		assert_non_null(file);
		assert_non_null(fgets(pid, sizeof pid, file));
		fclose(file);
		pid[strcspn(pid, "\n")] = '\0';
		snprintf(proc, sizeof proc, "/proc/%s/stat", pid);
		usleep(100000);
		assert_false(proc_running(proc));	/* gone, or a zombie init has not reaped */
	}
	/* no timeout: silence on stdout for low_speed_time */
	c.strategies.list[0].timeout_ms = 0;
	c.updater.low_speed_time_ms = 500;
	assert_int_equal(run_program(f, "printf x; exec sleep 30", &c, &out, &err), -1);
	assert_string_equal(err.text, "strategy jenkins: fetcher killed: silent for [updater] "
			    "low_speed_time (500 ms)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_beneath_opens_what_stays_inside),
		cmocka_unit_test(test_beneath_refuses_what_leaves),
		cmocka_unit_test(test_fifo_is_refused_without_hanging),
		cmocka_unit_test(test_without_beneath_any_path),
		cmocka_unit_test(test_refusals_quote_no_credentials),
		cmocka_unit_test(test_registry_names),
		cmocka_unit_test(test_registry_relayed),
		cmocka_unit_test(test_program_output_and_input),
		cmocka_unit_test(test_program_input_metadata),
		cmocka_unit_test(test_program_exit_and_first_line),
		cmocka_unit_test(test_program_retry_skips_delivered),
		cmocka_unit_test(test_program_bounds),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
