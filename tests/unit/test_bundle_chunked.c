/* test_bundle_chunked.c: whole bundles through bundle_create and
 * bundle_read, into a slot with extract_worker, as slotupd and slotpack do:
 * format 2 for gzip, xz and zstd, plain and encrypted, with small chunks so
 * a member spans no block boundary and the tree spans many members; format
 * 1 (the old one-stream payload) still installs; format 2's hash list
 * carries each block's length and a bundle whose lengths disagree with its
 * size is refused before a payload byte is read.  Signed with the checked-in
 * test keys of the fuzz harnesses (tests/fuzz/keys). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle/bundle.h"
#include "extract/extract_worker.h"
#include "support.h"

#define BIG (700u << 10)

struct fixture {
	char root[256], tree[300], slot[300], bundle[300], key[300];
	char signer_key[512], signer_pem[512], ca[512];
	int slot_fd;
	unsigned char *big;
};

static void key_path(const char *name, char *buf, size_t len)
{
	const char *src = getenv("SLOTD_SRC");

	snprintf(buf, len, "%s/tests/fuzz/keys/%s", src ? src : ".", name);
}

static void write_bytes(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* bin/agent, etc/conf, and big: 700 KiB, half of it incompressible. */
static int setup(void **state)
{
	static struct fixture f;
	char p[400];
	unsigned x = 99;

	support_tmpdir(f.root, sizeof f.root);
	snprintf(f.tree, sizeof f.tree, "%s/tree", f.root);
	snprintf(f.slot, sizeof f.slot, "%s/slot", f.root);
	snprintf(f.bundle, sizeof f.bundle, "%s/b.bundle", f.root);
	snprintf(f.key, sizeof f.key, "%s/payload.key", f.root);
	key_path("signer.key", f.signer_key, sizeof f.signer_key);
	key_path("signer.pem", f.signer_pem, sizeof f.signer_pem);
	key_path("ca.pem", f.ca, sizeof f.ca);
	assert_int_equal(mkdir(f.tree, 0755), 0);
	assert_int_equal(mkdir(f.slot, 0755), 0);
	snprintf(p, sizeof p, "%s/bin", f.tree);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof p, "%s/bin/agent", f.tree);
	support_write_file(p, "#!/bin/sh\nexit 0\n");
	assert_int_equal(chmod(p, 0755), 0);
	f.big = malloc(BIG);
	assert_non_null(f.big);
	for (size_t i = 0; i < BIG; i++) {
		x = x * 1103515245u + 12345u;
		f.big[i] = i < BIG / 2 ? (unsigned char)(x >> 16) : (unsigned char)('0' + i % 10);
	}
	snprintf(p, sizeof p, "%s/big", f.tree);
	write_bytes(p, f.big, BIG);
	support_write_file(f.key, "000102030405060708090a0b0c0d0e0f"
			   "101112131415161718191a1b1c1d1e1f\n");
	f.slot_fd = open(f.slot, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(f.slot_fd >= 0);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	close(f->slot_fd);
	free(f->big);
	support_rmtree(f->root);
	return 0;
}

struct install {
	struct extract_worker worker;
	int slot_fd, started;
	struct bundle_manifest manifest;
	unsigned feeds;
};

static int on_manifest(const struct bundle_manifest *m, void *ctx, struct error *err)
{
	struct install *in = ctx;
	struct extract_limits limits = {
		.max_bytes = 1 << 30, .max_entries = 100, .compression = m->compression,
		.chunk_size = m->format == BUNDLE_FORMAT_CHUNKED ? m->chunk_size : 0,
	};

	in->manifest = *m;
	if (extract_worker_start(&in->worker, in->slot_fd, &limits, err) < 0)
		return -1;
	in->started = 1;
	return 0;
}

static int on_payload(const void *data, size_t len, void *ctx, struct error *err)
{
	struct install *in = ctx;

	in->feeds++;
	return extract_worker_feed(&in->worker, data, len, err);
}

static void create(const struct fixture *f, const char *compression, int encrypted,
		   unsigned format)
{
	struct bundle_create_options o = {
		.directory = f->tree, .version = "v1.0.0", .compatible = "g",
		.key_path = f->signer_key, .cert_path = f->signer_pem,
		.encrypt_key_path = encrypted ? f->key : NULL, .compression = compression,
		.format = format, .chunk_size = BUNDLE_CHUNK_MIN, .output = f->bundle,
	};
	struct error err = { "" };

	if (format == BUNDLE_FORMAT_BLOCKS)
		o.chunk_size = 0;
	if (bundle_create(&o, &err) < 0)
		fail_msg("create %s: %s", compression, err.text);
}

/* Reads f->bundle into the slot; the reader's or the worker's error. */
static int install(const struct fixture *f, struct install *in, struct error *err)
{
	struct bundle_reader_options o = { .keyring_path = f->ca, .decrypt_key_path = f->key };
	struct error unpack_err = { "" };
	int fd = open(f->bundle, O_RDONLY | O_CLOEXEC), rc, unpack_rc = 0;

	assert_true(fd >= 0);
	memset(in, 0, sizeof *in);
	in->slot_fd = f->slot_fd;
	rc = bundle_read(fd, &o, on_manifest, on_payload, in, err);
	close(fd);
	if (in->started)
		unpack_rc = extract_worker_finish(&in->worker, &unpack_err);
	if (unpack_rc < 0 && (rc == 0 || in->worker.stopped)) {
		*err = unpack_err;
		return -1;
	}
	return rc;
}

static void expect_tree(const struct fixture *f)
{
	unsigned char *got = malloc(BIG + 1);
	char p[400];
	int fd;

	assert_non_null(got);
	snprintf(p, sizeof p, "%s/big", f->slot);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, got, BIG + 1), BIG);
	close(fd);
	assert_memory_equal(got, f->big, BIG);
	free(got);
	snprintf(p, sizeof p, "%s/bin/agent", f->slot);
	assert_int_equal(access(p, X_OK), 0);
}

static void round_trip(const struct fixture *f, unsigned format)
{
	static const char *const kinds[] = { "gzip", "xz", "zstd" };
	struct install in;
	struct error err = { "" };

	for (size_t k = 0; k < 3; k++) {
		for (int encrypted = 0; encrypted < 2; encrypted++) {
			create(f, kinds[k], encrypted, format);
			if (install(f, &in, &err) != 0)
				fail_msg("%s%s format %u: %s", kinds[k], encrypted ? " encrypted" : "",
					 format, err.text);
			assert_int_equal(in.manifest.format, format);
			assert_string_equal(in.manifest.encryption, encrypted ? "aes-256-ctr" : "none");
			if (format == BUNDLE_FORMAT_CHUNKED) {
				/* one feed per member, 700 KiB of tree in 64 KiB chunks */
				assert_int_equal(in.manifest.chunk_size, BUNDLE_CHUNK_MIN);
				assert_true(in.manifest.block_count >= 11);
				assert_int_equal(in.feeds, in.manifest.block_count);
			}
			expect_tree(f);
			assert_int_equal(extract_clear(f->slot_fd, &err), 0);
		}
	}
}

static void test_format2_round_trips(void **state)
{
	round_trip(*state, BUNDLE_FORMAT_CHUNKED);
}

static void test_format1_still_installs(void **state)
{
	round_trip(*state, BUNDLE_FORMAT_BLOCKS);
}

/* Format 2 is the default, its chunk BUNDLE_CHUNK_SIZE, its compression zstd. */
static void test_default_is_format2(void **state)
{
	struct fixture *f = *state;
	struct bundle_create_options o = {
		.directory = f->tree, .version = "v1.0.0", .compatible = "g",
		.key_path = f->signer_key, .cert_path = f->signer_pem, .output = f->bundle,
	};
	struct install in;
	struct error err = { "" };

	assert_int_equal(bundle_create(&o, &err), 0);
	assert_int_equal(install(f, &in, &err), 0);
	assert_int_equal(in.manifest.format, BUNDLE_FORMAT_CHUNKED);
	assert_int_equal(in.manifest.chunk_size, BUNDLE_CHUNK_SIZE);
	assert_string_equal(in.manifest.compression, "zstd");
	expect_tree(f);
	o.chunk_size = 1000;
	assert_int_equal(bundle_create(&o, &err), -1);
	assert_non_null(strstr(err.text, "chunk size 1000"));
}

/* The manifest rules of format 2. */
static void test_manifest_keys(void **state)
{
	static const char head[] =
		"[bundle]\nformat = 2\ncompatible = g\nversion = v1.0.0\ncreated = 0\n"
		"[payload]\nsize = 3000000\nsha256 = %s\ncompression = gzip\n"
		"encryption = none\n%sblock_count = %s\nblocks_sha256 = %s\n";
	static const char hex[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	static const struct {
		const char *blocks, *count, *why;
	} cases[] = {
		{ "chunk_size = 262144\n", "12", NULL },
		{ "chunk_size = 262144\nblock_size = 1048576\n", "12", "block_size: not a key of format 2" },
		{ "", "12", "chunk_size: missing" },
		{ "chunk_size = 4096\n", "12", "chunk_size: not a chunk size" },
		{ "chunk_size = 2097152\n", "12", "chunk_size: not a chunk size" },
		{ "chunk_size = 983041\n", "12", "chunk_size: not a chunk size (65536 to 983040)" },
		{ "chunk_size = 262144\n", "2", "2 blocks of 1 to 282624 bytes cannot hold" },
	};
	struct bundle_manifest m;
	char text[1024];
	struct error err;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		int len = snprintf(text, sizeof text, head, hex, cases[i].blocks, cases[i].count, hex);

		memset(&err, 0, sizeof err);
		if (!cases[i].why) {
			if (bundle_manifest_parse(text, (size_t)len, &m, &err) < 0)
				fail_msg("%s", err.text);
			assert_int_equal(m.chunk_size, 262144);
			continue;
		}
		assert_int_equal(bundle_manifest_parse(text, (size_t)len, &m, &err), -1);
		if (!strstr(err.text, cases[i].why))
			fail_msg("error '%s' does not mention '%s'", err.text, cases[i].why);
	}
	int len = snprintf(text, sizeof text, head, hex, "chunk_size = 262144\n", "12", hex);
	assert_int_equal(bundle_manifest_parse(text, (size_t)len, &m, &err), 0);
	assert_true(bundle_manifest_format(&m, text, sizeof text) > 0);
	assert_non_null(strstr(text, "format = 2\n"));
	assert_non_null(strstr(text, "chunk_size = 262144\n"));
	assert_null(strstr(text, "block_size"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_format2_round_trips, setup, teardown),
		cmocka_unit_test_setup_teardown(test_format1_still_installs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_default_is_format2, setup, teardown),
		cmocka_unit_test(test_manifest_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
