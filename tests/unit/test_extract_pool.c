/* test_extract_pool.c: format 2 members (packaging/FORMAT.md) through
 * extract_worker and its decoder pool, as `slotupd install` feeds them:
 * round trips for gzip, xz and zstd, then every framing lie refused naming
 * the member: a boundary that lies, a member decoding to more than the chunk
 * size, a short member that is not the last, a truncated member, bytes after
 * a member's end, a skippable zstd frame; and the error is always the first
 * bad member's, whichever decoder thread finished first.  Members are made
 * here with zlib, liblzma and libzstd directly, not with slotpack's writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "extract/extract_worker.h"
#include "support.h"

#define CHUNK (64u << 10)
#define FILE_SIZE (300u << 10)	/* with headers: 5 members of 64 KiB, the last short */
#define MEMBERS_MAX 64

struct fixture {
	char root[256], slot[300];
	int slot_fd;
	unsigned char *tar;	/* the plain payload */
	size_t tar_len;
	unsigned char *file;	/* the one big file's content */
};

/* A member of `compression` holding in[0..len). */
static unsigned char *compress_member(const char *compression, const void *in, size_t len,
				      size_t *out_len)
{
	size_t cap = len + len / 2 + 1024;
	unsigned char *out = malloc(cap);

	assert_non_null(out);
	if (!strcmp(compression, "gzip")) {
		z_stream z = { 0 };

		assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
		z.next_in = (unsigned char *)in;
		z.avail_in = (uInt)len;
		z.next_out = out;
		z.avail_out = (uInt)cap;
		assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
		*out_len = cap - z.avail_out;
		deflateEnd(&z);
	} else if (!strcmp(compression, "xz")) {
		*out_len = 0;
		assert_int_equal(lzma_easy_buffer_encode(1, LZMA_CHECK_CRC64, NULL, in, len, out,
							 out_len, cap), LZMA_OK);
	} else {
		*out_len = ZSTD_compress(out, cap, in, len, 3);
		assert_false(ZSTD_isError(*out_len));
	}
	return out;
}

static la_ssize_t tar_append(struct archive *a, void *ctx, const void *data, size_t len)
{
	struct fixture *f = ctx;

	(void)a;
	f->tar = realloc(f->tar, f->tar_len + len);
	assert_non_null(f->tar);
	memcpy(f->tar + f->tar_len, data, len);
	f->tar_len += len;
	return (la_ssize_t)len;
}

/* bin/ and big, a file of varied but compressible bytes. */
static void make_tar(struct fixture *f)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	unsigned x = 12345;

	f->file = malloc(FILE_SIZE);
	assert_non_null(f->file);
	for (size_t i = 0; i < FILE_SIZE; i++) {
		x = x * 1103515245u + 12345u;
		f->file[i] = (unsigned char)('a' + (x >> 16) % 16);
	}
	assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open2(a, f, NULL, tar_append, NULL, NULL), ARCHIVE_OK);
	archive_entry_set_pathname(e, "bin/");
	archive_entry_set_filetype(e, AE_IFDIR);
	archive_entry_set_perm(e, 0755);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	archive_entry_clear(e);
	archive_entry_set_pathname(e, "big");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, FILE_SIZE);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	assert_int_equal(archive_write_data(a, f->file, FILE_SIZE), (la_ssize_t)FILE_SIZE);
	archive_entry_free(e);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	assert_true(f->tar_len > 4 * CHUNK && f->tar_len < 6 * CHUNK);
}

static int setup(void **state)
{
	static struct fixture f;

	support_tmpdir(f.root, sizeof f.root);
	snprintf(f.slot, sizeof f.slot, "%s/slot", f.root);
	assert_int_equal(mkdir(f.slot, 0755), 0);
	f.slot_fd = open(f.slot, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(f.slot_fd >= 0);
	if (!f.tar)
		make_tar(&f);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	close(f->slot_fd);
	support_rmtree(f->root);
	return 0;
}

/* The payload as members: one per CHUNK bytes of tar. */
struct members {
	unsigned char *data[MEMBERS_MAX];
	size_t len[MEMBERS_MAX];
	size_t count;
};

static void cut(const struct fixture *f, const char *compression, struct members *m)
{
	memset(m, 0, sizeof *m);
	for (size_t at = 0; at < f->tar_len; at += CHUNK) {
		size_t n = f->tar_len - at < CHUNK ? f->tar_len - at : CHUNK;

		m->data[m->count] = compress_member(compression, f->tar + at, n, &m->len[m->count]);
		m->count++;
	}
}

static void release(struct members *m)
{
	for (size_t i = 0; i < m->count; i++)
		free(m->data[i]);
}

/* Feeds the members through a worker, as install_stream does: -1 with the
 * error that explains the failure (the worker's when it stopped the feed). */
static int feed(const struct fixture *f, const char *compression, const struct members *m,
		struct error *err)
{
	struct extract_limits limits = { .max_bytes = 1 << 30, .max_entries = 100,
					 .compression = compression, .chunk_size = CHUNK };
	struct extract_worker w;
	struct error feed_err = { "" };
	int feed_rc = 0, rc;

	memset(err, 0, sizeof *err);
	assert_int_equal(extract_worker_start(&w, f->slot_fd, &limits, err), 0);
	assert_non_null(w.pool);
	for (size_t i = 0; i < m->count && feed_rc == 0; i++)
		feed_rc = extract_worker_feed(&w, m->data[i], m->len[i], &feed_err);
	rc = extract_worker_finish(&w, err);
	if (feed_rc < 0)
		assert_true(w.stopped && rc < 0);	/* a failed feed: the worker says why */
	return rc;
}

static void expect_tree(const struct fixture *f)
{
	char path[400], *content = malloc(FILE_SIZE + 1);
	int fd;

	assert_non_null(content);
	snprintf(path, sizeof path, "%s/big", f->slot);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, content, FILE_SIZE + 1), FILE_SIZE);
	close(fd);
	assert_memory_equal(content, f->file, FILE_SIZE);
	free(content);
	snprintf(path, sizeof path, "%s/bin", f->slot);
	assert_int_equal(access(path, X_OK), 0);
}

static void expect_error(const struct error *err, const char *why)
{
	if (!strstr(err->text, why))
		fail_msg("error '%s' does not mention '%s'", err->text, why);
}

static void test_round_trips(void **state)
{
	static const char *const kinds[] = { "gzip", "xz", "zstd" };
	struct fixture *f = *state;
	struct members m;
	struct error err;

	for (size_t k = 0; k < 3; k++) {
		cut(f, kinds[k], &m);
		assert_int_equal(m.count, 5);
		if (feed(f, kinds[k], &m, &err) < 0)
			fail_msg("%s: %s", kinds[k], err.text);
		expect_tree(f);
		release(&m);
		assert_int_equal(extract_clear(f->slot_fd, &err), 0);
	}
}

/* Member 1's signed boundary is 10 bytes early: member 1 ends truncated,
 * and member 2 starts with the rest. */
static void test_boundary_lie(void **state)
{
	static const char *const kinds[] = { "gzip", "xz", "zstd" };
	struct fixture *f = *state;
	struct members m;
	struct error err;

	for (size_t k = 0; k < 3; k++) {
		cut(f, kinds[k], &m);
		unsigned char *joined = malloc(m.len[1] + m.len[2]);
		memcpy(joined, m.data[1], m.len[1]);
		memcpy(joined + m.len[1], m.data[2], m.len[2]);
		free(m.data[2]);
		m.data[2] = joined + m.len[1] - 10;
		m.len[2] += 10;
		m.len[1] -= 10;
		free(m.data[1]);
		m.data[1] = joined;
		assert_int_equal(feed(f, kinds[k], &m, &err), -1);
		expect_error(&err, "payload member 1: ");
		expect_error(&err, "truncated");
		m.data[2] = NULL;
		release(&m);
		assert_int_equal(extract_clear(f->slot_fd, &err), 0);
	}
}

static void test_member_longer_than_chunk(void **state)
{
	struct fixture *f = *state;
	struct members m;
	struct error err;

	cut(f, "zstd", &m);
	free(m.data[0]);
	m.data[0] = compress_member("zstd", f->tar, 2 * CHUNK, &m.len[0]);
	assert_int_equal(feed(f, "zstd", &m, &err), -1);
	expect_error(&err, "payload member 0: decodes to more than the chunk size (65536 bytes)");
	release(&m);
	cut(f, "gzip", &m);
	free(m.data[2]);
	m.data[2] = compress_member("gzip", f->tar, CHUNK + 1, &m.len[2]);
	assert_int_equal(feed(f, "gzip", &m, &err), -1);
	expect_error(&err, "payload member 2: decodes to more than the chunk size");
	release(&m);
}

static void test_short_member_not_last(void **state)
{
	struct fixture *f = *state;
	struct members m;
	struct error err;

	cut(f, "xz", &m);
	free(m.data[1]);
	m.data[1] = compress_member("xz", f->tar + CHUNK, CHUNK - 512, &m.len[1]);
	assert_int_equal(feed(f, "xz", &m, &err), -1);
	expect_error(&err, "payload member 1: decodes to 65024 bytes, fewer than the chunk size");
	release(&m);
}

static void test_truncated_last_member(void **state)
{
	static const char *const kinds[] = { "gzip", "xz", "zstd" };
	struct fixture *f = *state;
	struct members m;
	struct error err;

	for (size_t k = 0; k < 3; k++) {
		cut(f, kinds[k], &m);
		m.len[4] -= 3;
		assert_int_equal(feed(f, kinds[k], &m, &err), -1);
		expect_error(&err, "payload member 4: ");
		if (!strstr(err.text, "truncated") && !strstr(err.text, "corrupt"))
			fail_msg("%s: '%s'", kinds[k], err.text);
		release(&m);
		assert_int_equal(extract_clear(f->slot_fd, &err), 0);
	}
}

/* Trailing garbage, and a whole second member, inside one block. */
static void test_bytes_after_member(void **state)
{
	static const char *const kinds[] = { "gzip", "xz", "zstd" };
	static const char *const ends[] = { "gzip member", "xz stream", "zstd frame" };
	struct fixture *f = *state;
	struct members m;
	struct error err;

	for (size_t k = 0; k < 3; k++) {
		cut(f, kinds[k], &m);
		m.data[0] = realloc(m.data[0], m.len[0] + 4);
		memcpy(m.data[0] + m.len[0], "junk", 4);
		m.len[0] += 4;
		assert_int_equal(feed(f, kinds[k], &m, &err), -1);
		expect_error(&err, "payload member 0: data after the end of its ");
		expect_error(&err, ends[k]);
		release(&m);
		assert_int_equal(extract_clear(f->slot_fd, &err), 0);

		size_t second_len;
		unsigned char *second = compress_member(kinds[k], "", 0, &second_len);
		cut(f, kinds[k], &m);
		m.data[3] = realloc(m.data[3], m.len[3] + second_len);
		memcpy(m.data[3] + m.len[3], second, second_len);
		m.len[3] += second_len;
		free(second);
		assert_int_equal(feed(f, kinds[k], &m, &err), -1);
		expect_error(&err, "payload member 3: data after the end of its ");
		release(&m);
		assert_int_equal(extract_clear(f->slot_fd, &err), 0);
	}
}

static void test_zstd_skippable_frame(void **state)
{
	static const unsigned char skippable[12] = { 0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 1, 2, 3, 4 };
	struct fixture *f = *state;
	struct members m;
	struct error err;

	cut(f, "zstd", &m);
	free(m.data[2]);
	m.data[2] = malloc(sizeof skippable);
	memcpy(m.data[2], skippable, sizeof skippable);
	m.len[2] = sizeof skippable;
	assert_int_equal(feed(f, "zstd", &m, &err), -1);
	expect_error(&err, "payload member 2: not a zstd frame");
	release(&m);
}

/* Members 1 and 3 are bad: member 1 is named, even when a decoder finishes
 * member 3 first. */
static void test_first_bad_member_is_named(void **state)
{
	struct fixture *f = *state;
	struct members m;
	struct error err;

	for (int round = 0; round < 20; round++) {
		cut(f, "gzip", &m);
		m.data[1][m.len[1] / 2] ^= 0x55;
		m.len[3] = 5;
		assert_int_equal(feed(f, "gzip", &m, &err), -1);
		expect_error(&err, "payload member 1: ");
		release(&m);
		assert_int_equal(extract_clear(f->slot_fd, &err), 0);
	}
}

/* A member in the wrong compression, and a member decoding to nothing. */
static void test_wrong_kind_and_empty(void **state)
{
	struct fixture *f = *state;
	struct members m;
	struct error err;

	cut(f, "gzip", &m);
	assert_int_equal(feed(f, "xz", &m, &err), -1);
	expect_error(&err, "payload member 0: not an xz stream");
	free(m.data[4]);
	m.data[4] = compress_member("gzip", "", 0, &m.len[4]);
	assert_int_equal(feed(f, "gzip", &m, &err), -1);
	expect_error(&err, "payload member 4: decodes to nothing");
	release(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trips, setup, teardown),
		cmocka_unit_test_setup_teardown(test_boundary_lie, setup, teardown),
		cmocka_unit_test_setup_teardown(test_member_longer_than_chunk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_member_not_last, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_last_member, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bytes_after_member, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zstd_skippable_frame, setup, teardown),
		cmocka_unit_test_setup_teardown(test_first_bad_member_is_named, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_kind_and_empty, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
