/* test_fetch.c: the strategies' local checks: the `file` strategy's open,
 * with and without a directory it must stay beneath ([amqp] file_dir for
 * casts), and what a refused location's error may quote. */
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

#include "fetch.h"
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_beneath_opens_what_stays_inside),
		cmocka_unit_test(test_beneath_refuses_what_leaves),
		cmocka_unit_test(test_fifo_is_refused_without_hanging),
		cmocka_unit_test(test_without_beneath_any_path),
		cmocka_unit_test(test_refusals_quote_no_credentials),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
