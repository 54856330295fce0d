/* test_tar_gate.c: what reaches libarchive, and how much memory decoding
 * may take.  Tar streams are made block by block here (a second, minimal
 * writer), so the rules of FORMAT.md "The payload tar" are tested one by
 * one: each refused with its reason, nothing written to the slot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "extract/extract.h"
#include "support.h"
#include "extract/tar_gate.h"

struct fixture {
	char root[256], slot[300], file[300];
	int slot_fd;
	unsigned char tar[64 << 10];
	size_t len;
};

static int setup(void **state)
{
	static struct fixture f;

	memset(&f, 0, sizeof f);
	support_tmpdir(f.root, sizeof f.root);
	snprintf(f.slot, sizeof f.slot, "%s/slot", f.root);
	snprintf(f.file, sizeof f.file, "%s/payload", f.root);
	assert_int_equal(mkdir(f.slot, 0755), 0);
	f.slot_fd = open(f.slot, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(f.slot_fd >= 0);
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

/* Appends a header: name, type, size, magic ("ustar\0" + "00" unless given). */
static void header(struct fixture *f, const char *name, char type, unsigned long long size,
		   const char *magic)
{
	unsigned char *h = f->tar + f->len;
	unsigned sum = 0;

	memset(h, 0, 512);
	snprintf((char *)h, 100, "%s", name);
	snprintf((char *)h + 100, 8, "%07o", 0644);
	snprintf((char *)h + 108, 8, "%07o", 0);
	snprintf((char *)h + 116, 8, "%07o", 0);
	snprintf((char *)h + 124, 12, "%011llo", size);
	snprintf((char *)h + 136, 12, "%011o", 1700000000);
	h[156] = (unsigned char)type;
	memcpy(h + 257, magic ? magic : "ustar\0" "00", 8);
	memset(h + 148, ' ', 8);
	for (int i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	f->len += 512;
}

/* Appends data padded to 512. */
static void data(struct fixture *f, const void *bytes, size_t len)
{
	memcpy(f->tar + f->len, bytes, len);
	memset(f->tar + f->len + len, 0, (512 - len % 512) % 512);
	f->len += (len + 511) & ~(size_t)511;
}

static void zeros(struct fixture *f, size_t len)
{
	memset(f->tar + f->len, 0, len);
	f->len += len;
}

static void pax(struct fixture *f, const char *records)
{
	header(f, "PaxHeader", 'x', strlen(records), NULL);
	data(f, records, strlen(records));
}

/* One well-formed record "LEN key=value\n" as a pax header. */
static void pax_kv(struct fixture *f, const char *key, const char *value)
{
	char rec[256];
	size_t body = strlen(key) + strlen(value) + 3, len = body + 1;

	while (snprintf(NULL, 0, "%zu", len) + body != len)
		len++;
	snprintf(rec, sizeof rec, "%zu %s=%s\n", len, key, value);
	pax(f, rec);
}

static void save(const struct fixture *f, const void *bytes, size_t len)
{
	int fd = open(f->file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, bytes, len), (ssize_t)len);
	close(fd);
}

static int count_slot(const struct fixture *f)
{
	DIR *d = opendir(f->slot);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static int run(struct fixture *f, const char *compression, struct error *err)
{
	struct extract_limits lim = { 1 << 30, 1000, 0, compression };
	int fd = open(f->file, O_RDONLY | O_CLOEXEC), rc;

	assert_true(fd >= 0);
	memset(err, 0, sizeof *err);
	rc = extract_stream(fd, f->slot_fd, &lim, NULL, err);
	close(fd);
	return rc;
}

static void expect(struct fixture *f, const char *compression, const char *why)
{
	struct error err;

	if (run(f, compression, &err) == 0)
		fail_msg("accepted, expected a refusal with '%s'", why);
	if (!strstr(err.text, why))
		fail_msg("error '%s' does not mention '%s'", err.text, why);
	assert_int_equal(extract_clear(f->slot_fd, &err), 0);
}

/* One good entry, then whatever the test appends. */
static void start(struct fixture *f)
{
	f->len = 0;
	header(f, "a", '0', 2, NULL);
	data(f, "a\n", 2);
}

static void expect_tar(struct fixture *f, const char *why)
{
	save(f, f->tar, f->len);
	expect(f, "none", why);
}

static void test_good_and_padding(void **state)
{
	struct fixture *f = *state;
	struct error err;

	start(f);
	pax_kv(f, "path", "a-name-from-pax-header");
	header(f, "short", '0', 1, NULL);
	data(f, "p", 1);
	header(f, "d", '5', 0, NULL);
	zeros(f, 1024 + TAR_GATE_TRAILER_MAX);
	save(f, f->tar, f->len);
	if (run(f, "none", &err) < 0)
		fail_msg("%s", err.text);
	assert_int_equal(count_slot(f), 3);	/* a, a-name-from-pax-header, d */
	assert_int_equal(extract_clear(f->slot_fd, &err), 0);
}

static void test_end_of_archive(void **state)
{
	struct fixture *f = *state;

	start(f);
	expect_tar(f, "no end-of-archive marker");
	start(f);
	zeros(f, 512);
	expect_tar(f, "only one of the two end-of-archive blocks");
	start(f);
	zeros(f, 512);
	header(f, "b", '0', 0, NULL);
	zeros(f, 1024);
	expect_tar(f, "a lone zero block inside the archive");
	start(f);
	zeros(f, 1024);
	header(f, "hidden", '0', 0, NULL);
	expect_tar(f, "data after the end-of-archive marker");
	start(f);
	zeros(f, 1024 + TAR_GATE_TRAILER_MAX + 512);
	expect_tar(f, "more padding after the end-of-archive marker");
	start(f);
	header(f, "cut", '0', 4096, NULL);
	data(f, "x", 1);
	expect_tar(f, "entry 'cut': reading data: Truncated");
}

static void test_headers(void **state)
{
	struct fixture *f = *state;

	start(f);
	header(f, "gnu", '0', 0, "ustar  \0");
	zeros(f, 1024);
	expect_tar(f, "a GNU tar header");
	start(f);
	header(f, "v7", '0', 0, "\0\0\0\0\0\0\0\0");
	zeros(f, 1024);
	expect_tar(f, "not a POSIX ustar header");
	start(f);
	header(f, "sum", '0', 0, NULL);
	f->tar[f->len - 512 + 10] ^= 1;		/* after the checksum was computed */
	zeros(f, 1024);
	expect_tar(f, "header checksum does not match");
	for (const char *t = "gLKSDMNVAX7"; *t; t++) {
		start(f);
		header(f, "odd", *t, 0, NULL);
		zeros(f, 1024);
		expect_tar(f, "entry type not allowed");
	}
	start(f);
	header(f, "dir-with-data", '5', 512, NULL);
	zeros(f, 512 + 1024);
	expect_tar(f, "a non-regular entry with data");
}

static void test_pax(void **state)
{
	struct fixture *f = *state;

	start(f);
	pax(f, "30 GNU.sparse.major=1\n00000000");
	expect_tar(f, "malformed pax record");
	start(f);
	pax_kv(f, "GNU.sparse.major", "1");
	header(f, "s", '0', 0, NULL);
	zeros(f, 1024);
	expect_tar(f, "pax key not allowed");
	start(f);
	pax_kv(f, "SCHILY.xattr.user.x", "bigvalue");
	header(f, "x", '0', 0, NULL);
	zeros(f, 1024);
	expect_tar(f, "pax key not allowed");
	start(f);
	pax_kv(f, "path", "pp");
	pax_kv(f, "path", "qq");
	header(f, "x", '0', 0, NULL);
	zeros(f, 1024);
	expect_tar(f, "two pax headers in a row");
	start(f);
	pax_kv(f, "path", "pp");
	zeros(f, 1024);
	expect_tar(f, "pax header not followed by an entry");
	start(f);
	header(f, "PaxHeader", 'x', TAR_GATE_PAX_MAX + 1, NULL);
	zeros(f, 1024);
	expect_tar(f, "pax header larger than TAR_GATE_PAX_MAX");
	/* size= moves the data boundary: the gate must follow it */
	start(f);
	pax_kv(f, "size", "1024");
	header(f, "sized", '0', 0, NULL);
	zeros(f, 1024);		/* the data, not the end marker */
	expect_tar(f, "no end-of-archive marker");
	start(f);
	pax_kv(f, "size", "-10");
	header(f, "neg", '0', 0, NULL);
	zeros(f, 1024);
	expect_tar(f, "pax size is not a decimal number");
}

static size_t gzip_into(const void *in, size_t len, unsigned char *out, size_t cap)
{
	z_stream z = { 0 };

	assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
			 Z_OK);
	z.next_in = (unsigned char *)in;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	deflateEnd(&z);
	return cap - z.avail_out;
}

/* The declared compression is the only one accepted; nothing follows it. */
static void test_declared_compression(void **state)
{
	struct fixture *f = *state;
	static unsigned char once[64 << 10], twice[64 << 10];
	size_t n1, n2;
	struct error err;

	start(f);
	zeros(f, 1024);
	save(f, f->tar, f->len);
	expect(f, "gzip", "incorrect header check (the manifest says gzip)");
	n1 = gzip_into(f->tar, f->len, once, sizeof once);
	save(f, once, n1);
	assert_int_equal(run(f, "gzip", &err), 0);
	assert_int_equal(extract_clear(f->slot_fd, &err), 0);
	expect(f, "xz", "not an xz stream");
	expect(f, "zstd", "the manifest says zstd");
	n2 = gzip_into(once, n1, twice, sizeof twice);
	save(f, twice, n2);
	expect(f, "gzip", "payload: tar: entry #1");	/* a gzip stream is no tar header */
	memcpy(once + n1, "junk", 4);
	save(f, once, n1 + 4);
	expect(f, "gzip", "data after the end of the gzip stream");
	save(f, once, n1 - 5);
	expect(f, "gzip", "truncated");
	expect(f, "bzip2", "not one of gzip, xz, zstd");
}

/* Streams made with libarchive's writer at a given level. */
static void compressed(struct fixture *f, int filter, const char *name, const char *level)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	static char big[4 << 20];

	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (char)(i * 2654435761u >> 24);
	assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	assert_int_equal(archive_write_add_filter(a, filter), ARCHIVE_OK);
	assert_int_equal(archive_write_set_filter_option(a, name, "compression-level", level),
			 ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, f->file), ARCHIVE_OK);
	archive_entry_set_pathname(e, "big");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, sizeof big);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	assert_int_equal(archive_write_data(a, big, sizeof big), (la_ssize_t)sizeof big);
	archive_entry_free(e);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

static void test_decoder_ceilings(void **state)
{
	struct fixture *f = *state;
	struct error err;

	compressed(f, ARCHIVE_FILTER_XZ, "xz", "2");
	if (run(f, "xz", &err) < 0)
		fail_msg("xz -2: %s", err.text);
	assert_int_equal(extract_clear(f->slot_fd, &err), 0);
	compressed(f, ARCHIVE_FILTER_XZ, "xz", "6");	/* an 8 MiB dictionary */
	expect(f, "xz", "EXTRACT_XZ_MEMLIMIT");
	compressed(f, ARCHIVE_FILTER_ZSTD, "zstd", "3");
	if (run(f, "zstd", &err) < 0)
		fail_msg("zstd 3: %s", err.text);
	assert_int_equal(extract_clear(f->slot_fd, &err), 0);
	compressed(f, ARCHIVE_FILTER_ZSTD, "zstd", "19");	/* an 8 MiB window */
	expect(f, "zstd", "EXTRACT_ZSTD_WINDOW_LOG_MAX");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_good_and_padding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_end_of_archive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pax, setup, teardown),
		cmocka_unit_test_setup_teardown(test_declared_compression, setup, teardown),
		cmocka_unit_test_setup_teardown(test_decoder_ceilings, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
