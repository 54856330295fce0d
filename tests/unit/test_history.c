/* test_history.c: the append-only history: folding, filters, torn records,
 * compaction at HISTORY_COMPACT_BYTES (bounded size, unfinished attempts
 * kept, concurrent appenders lose nothing). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

/* A record whose line is about 1.1 KiB (a long location), so the history
 * reaches HISTORY_COMPACT_BYTES in a few hundred appends. */
static void append_big(struct fixture *f, const char *id, enum history_state st)
{
	struct history_record r;

	memset(&r, 0, sizeof r);
	snprintf(r.id, sizeof r.id, "%s", id);
	snprintf(r.kind, sizeof r.kind, "upgrade");
	memset(r.location, 'x', 1000);
	memcpy(r.location, "http://", 7);
	r.state = st;
	assert_int_equal(history_append(&f->layout, &r, NULL), 0);
}

static off_t history_size(struct fixture *f)
{
	struct stat st;

	if (fstatat(f->layout.root_fd, "history", &st, 0) < 0)
		return 0;	/* not written yet */
	return st.st_size;
}

static int count_visit(const struct history_record *r, void *context)
{
	(void)r;
	++*(unsigned *)context;
	return 0;
}

static unsigned history_count(struct fixture *f)
{
	unsigned n = 0;

	assert_int_equal(history_read(&f->layout, NULL, count_visit, &n, NULL, NULL), 0);
	return n;
}

static void test_history_compacts_at_its_bound(void **state)
{
	struct fixture *f = *state;
	struct history_record r;
	off_t peak = 0;
	char id[32];
	int i, n = (int)(2 * HISTORY_COMPACT_BYTES / 1000);

	append(f, "unfinished", "i", HISTORY_DOWNLOADING, "");
	for (i = 0; i < n; i++) {
		snprintf(id, sizeof id, "big-%d", i);
		append_big(f, id, HISTORY_SUCCESS);
		if (history_size(f) > peak)
			peak = history_size(f);
	}
	/* Never more than the bound plus one line; compacted at least once. */
	assert_true(peak < HISTORY_COMPACT_BYTES + 2048);
	assert_true(history_count(f) < (unsigned)n);
	assert_true(history_count(f) >= HISTORY_KEEP);
	/* The newest are kept, the oldest final ones dropped, the unfinished one kept. */
	snprintf(id, sizeof id, "big-%d", n - 1);
	assert_int_equal(history_find(&f->layout, id, &r, NULL), 1);
	assert_int_equal(r.state, HISTORY_SUCCESS);
	assert_int_equal(history_find(&f->layout, "big-0", &r, NULL), 0);
	assert_int_equal(history_find(&f->layout, "unfinished", &r, NULL), 1);
	assert_int_equal(r.state, HISTORY_DOWNLOADING);
	assert_string_equal(r.instance, "i");
}

/* Two processes append unfinished attempts (always kept) while the first
 * append compacts the file: an appender that waited on the replaced file's
 * lock must append to the new file, so every record is there. */
static void test_history_compaction_loses_no_concurrent_append(void **state)
{
	struct fixture *f = *state;
	int status, i, k;
	char id[32];
	pid_t pid;

	for (i = 0; history_size(f) < HISTORY_COMPACT_BYTES - 1200; i++) {
		snprintf(id, sizeof id, "fill-%d", i);
		append_big(f, id, HISTORY_SUCCESS);
	}
	pid = fork();
	assert_true(pid >= 0);
	for (k = 0; k < 40; k++) {
		snprintf(id, sizeof id, "%s-%d", pid ? "parent" : "child", k);
		if (pid == 0) {
			struct history_record r = { .kind = "upgrade", .state = HISTORY_NEW };

			snprintf(r.id, sizeof r.id, "%s", id);
			if (history_append(&f->layout, &r, NULL) < 0)
				_exit(1);
		} else {
			append_big(f, id, HISTORY_NEW);
		}
	}
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(status, 0);
	for (k = 0; k < 40; k++) {
		struct history_record r;

		snprintf(id, sizeof id, "child-%d", k);
		assert_int_equal(history_find(&f->layout, id, &r, NULL), 1);
		snprintf(id, sizeof id, "parent-%d", k);
		assert_int_equal(history_find(&f->layout, id, &r, NULL), 1);
	}
}

/* Credentials become "***" in place, never writing past the buffer, even
 * where "***" is longer than what it replaces (found by fuzz_serve_wire). */
static void test_history_redact_location(void **unused)
{
	static const char *const cases[][2] = {
		{ "https://user:secret@host/x", "https://***@host/x" },
		{ "http://@host/x", "http://***@host/x" },
		{ "http://a@h", "http://***@h" },
		{ "http://host/x@y", "http://host/x@y" },	/* an '@' in the path */
		{ "/srv/a@b", "/srv/a@b" },
	};
	char buf[64], tight[12];
	size_t i;

	(void)unused;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(buf, sizeof buf, "%s", cases[i][0]);
		history_redact_location(buf, sizeof buf);
		assert_string_equal(buf, cases[i][1]);
	}
	memset(tight, 'Z', sizeof tight);
	memcpy(tight, "http://@h/x", 12);	/* exactly full */
	history_redact_location(tight, sizeof tight);
	assert_string_equal(tight, "http://***@");
	memcpy(tight, "http://@hhh", 12);
	history_redact_location(tight, 9);
	assert_string_equal(tight, "http://");	/* no room for the marker: cut */
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
		cmocka_unit_test_setup_teardown(test_history_compacts_at_its_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_history_compaction_loses_no_concurrent_append,
						setup, teardown),
		cmocka_unit_test(test_history_redact_location),
		cmocka_unit_test(test_history_new_id_is_random_hex),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
