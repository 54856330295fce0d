/* test_history.c: the append-only history: folding, filters, torn records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "history.h"
#include "support.h"

struct fixture {
	char root[256];
	struct layout layout;
};

static int setup(void **state)
{
	static struct fixture f;

	support_tmpdir(f.root, sizeof f.root);
	assert_int_equal(layout_open(&f.layout, f.root, 1, NULL), 0);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	layout_close(&f->layout);
	support_rmtree(f->root);
	return 0;
}

static void append(struct fixture *f, const char *id, const char *instance,
		   enum history_state st, const char *error)
{
	struct history_record r;

	memset(&r, 0, sizeof r);
	snprintf(r.id, sizeof r.id, "%s", id);
	snprintf(r.kind, sizeof r.kind, "upgrade");
	snprintf(r.instance, sizeof r.instance, "%s", instance);
	snprintf(r.to_version, sizeof r.to_version, "v2");
	snprintf(r.location, sizeof r.location, "http://u:secretpw@127.0.0.1:1/x\tb");
	snprintf(r.error, sizeof r.error, "%s", error);
	r.state = st;
	assert_int_equal(history_append(&f->layout, &r, NULL), 0);
}

struct collected {
	char ids[16][HISTORY_ID_MAX];
	struct history_record last;
	unsigned count;
};

static int collect(const struct history_record *r, void *context)
{
	struct collected *c = context;

	snprintf(c->ids[c->count++], HISTORY_ID_MAX, "%s", r->id);
	c->last = *r;
	return 0;
}

static void test_history_folds_snapshots_by_id(void **state)
{
	struct fixture *f = *state;
	struct collected c = { 0 };
	struct history_stats stats;

	append(f, "one", "i1", HISTORY_NEW, "");
	append(f, "two", "i2", HISTORY_NEW, "");
	append(f, "one", "i1", HISTORY_DOWNLOADING, "");
	append(f, "one", "i1", HISTORY_FAILED, "download: 404\nNot Found %");
	assert_int_equal(history_read(&f->layout, NULL, collect, &c, &stats, NULL), 0);
	assert_int_equal(stats.records, 2);
	assert_int_equal(stats.torn, 0);
	assert_string_equal(c.ids[0], "one");
	assert_string_equal(c.ids[1], "two");

	struct history_record r;
	assert_int_equal(history_find(&f->layout, "one", &r, NULL), 1);
	assert_int_equal(r.state, HISTORY_FAILED);
	/* control bytes are recorded escaped (text_sanitize), '%' survives */
	assert_string_equal(r.error, "download: 404\\x0aNot Found %");
	/* Credentials in a location never reach the disk. */
	assert_string_equal(r.location, "http://***@127.0.0.1:1/x\\x09b");
	assert_true(r.started > 0 && r.updated >= r.started);
	assert_int_equal(history_find(&f->layout, "three", &r, NULL), 0);
}

static void test_history_filters(void **state)
{
	struct fixture *f = *state;
	struct collected c = { 0 };
	struct history_filter filter = { .state = "failed" };

	append(f, "a", "i1", HISTORY_SUCCESS, "");
	append(f, "b", "i2", HISTORY_FAILED, "x");
	append(f, "c", "i1", HISTORY_FAILED, "y");
	assert_int_equal(history_read(&f->layout, &filter, collect, &c, NULL, NULL), 0);
	assert_int_equal(c.count, 2);
	assert_string_equal(c.ids[0], "b");
	filter.instance = "i1";
	memset(&c, 0, sizeof c);
	assert_int_equal(history_read(&f->layout, &filter, collect, &c, NULL, NULL), 0);
	assert_int_equal(c.count, 1);
	assert_string_equal(c.ids[0], "c");
}

static void test_history_torn_record_is_skipped(void **state)
{
	struct fixture *f = *state;
	struct collected c = { 0 };
	struct history_stats stats;
	char path[300];
	int fd;

	append(f, "early", "i1", HISTORY_SUCCESS, "");
	/* A crash mid-write leaves half a line with no newline. */
	snprintf(path, sizeof path, "%s/history", f->root);
	fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "1234abcd id=torn\tki", 19), 19);
	close(fd);
	assert_int_equal(history_read(&f->layout, NULL, collect, &c, &stats, NULL), 0);
	assert_int_equal(stats.records, 1);
	assert_int_equal(stats.torn, 1);
	/* The next append starts on a fresh line: the torn tail cannot eat it. */
	append(f, "later", "i1", HISTORY_SUCCESS, "");
	memset(&c, 0, sizeof c);
	assert_int_equal(history_read(&f->layout, NULL, collect, &c, &stats, NULL), 0);
	assert_int_equal(stats.records, 2);
	assert_int_equal(stats.torn, 1);
	assert_string_equal(c.ids[1], "later");
}

static void test_history_corrupt_line_is_skipped(void **state)
{
	struct fixture *f = *state;
	struct history_stats stats;
	char path[300], text[4096];
	long len;

	append(f, "x", "i1", HISTORY_SUCCESS, "");
	append(f, "y", "i1", HISTORY_SUCCESS, "");
	snprintf(path, sizeof path, "%s/history", f->root);
	len = support_read_file(path, text, sizeof text);
	assert_true(len > 0);
	/* Flip a byte in the first record: its checksum no longer matches. */
	char *p = strstr(text, "id=x");
	p[3] = 'z';
	support_write_file(path, text);
	assert_int_equal(history_read(&f->layout, NULL, NULL, NULL, &stats, NULL), 0);
	assert_int_equal(stats.records, 1);
	assert_int_equal(stats.torn, 1);
}

static void test_history_new_id_is_random_hex(void **unused)
{
	char a[40], b[40];

	(void)unused;
	assert_int_equal(history_new_id(a, sizeof a, NULL), 0);
	assert_int_equal(history_new_id(b, sizeof b, NULL), 0);
	assert_int_equal(strlen(a), 32);
	assert_int_equal(strspn(a, "0123456789abcdef"), 32);
	assert_string_not_equal(a, b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_history_folds_snapshots_by_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_history_filters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_history_torn_record_is_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_history_corrupt_line_is_skipped, setup, teardown),
		cmocka_unit_test(test_history_new_id_is_random_hex),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
