/* test_bundle_index.c: format 3's delta.index reader (updater/bundle/bundle_index.h)
 * against valid and hostile indexes: every bound refused with its reason,
 * nothing read past the index's size, and a rebuild from a tree that holds
 * the bytes (and one that does not). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle/bundle_delta.h"
#include "bundle/bundle_index.h"

struct idx {
	unsigned char *buf;
	size_t len, cap;
};

static void put(struct idx *x, const void *p, size_t n)
{
	if (x->len + n > x->cap) {
		x->cap = (x->len + n) * 2;
		x->buf = realloc(x->buf, x->cap);
		assert_non_null(x->buf);
	}
	memcpy(x->buf + x->len, p, n);
	x->len += n;
}

static void put_be(struct idx *x, uint64_t v, unsigned n)
{
	unsigned char b[8];

	for (unsigned i = 0; i < n; i++)
		b[n - 1 - i] = (unsigned char)(v >> (8 * i));
	put(x, b, n);
}

static void put_block(struct idx *x, uint32_t plain, uint16_t items)
{
	unsigned char hash[32] = { 0 };

	put_be(x, plain, 4);
	put(x, hash, 32);
	put_be(x, items, 2);
}

static void put_entry(struct idx *x, const char *path, uint64_t from, uint32_t len)
{
	put_be(x, 0, 1);
	put_be(x, strlen(path), 2);
	put(x, path, strlen(path));
	put_be(x, from, 8);
	put_be(x, len, 4);
}

static void put_zeros(struct idx *x, uint32_t len)
{
	put_be(x, 1, 1);
	put_be(x, len, 4);
}

static int index_fd(const struct idx *x)
{
	int fd = open("/tmp", O_TMPFILE | O_RDWR, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, x->buf, x->len), (ssize_t)x->len);
	return fd;
}

/* Reads all of x as an index of `blocks` blocks; 0 or -1 with err. */
static int read_all(const struct idx *x, uint32_t blocks, struct error *err)
{
	struct bundle_index_reader *r = malloc(sizeof *r);
	struct bundle_index_block b;
	struct bundle_index_item item;
	int fd = index_fd(x), rc = -1;

	if (bundle_index_open(r, fd, x->len, blocks, BUNDLE_CHUNK_SIZE, err) < 0)
		goto out;
	for (uint32_t i = 0; i < blocks; i++) {
		if (bundle_index_block(r, &b, err) < 0)
			goto out;
		for (unsigned k = 0; k < b.items; k++)
			if (bundle_index_item(r, &item, err) < 0)
				goto out;
	}
	rc = bundle_index_end(r, err);
out:
	close(fd);
	free(r);
	return rc;
}

static struct idx start(void)
{
	struct idx x = { 0 };

	put(&x, BUNDLE_INDEX_MAGIC, 8);
	return x;
}

static void refused(struct idx *x, uint32_t blocks, const char *why)
{
	struct error err = { "" };

	assert_int_equal(read_all(x, blocks, &err), -1);
	if (!strstr(err.text, why))
		fail_msg("'%s' does not say '%s'", err.text, why);
	free(x->buf);
}

static void test_valid(void **state)
{
	struct idx x = start();
	struct error err = { "" };

	(void)state;
	put_block(&x, 2048, 2);
	put_entry(&x, "bin/agent", 0, 1024);
	put_entry(&x, "data/x", 512, 1024);
	put_block(&x, 1536, 2);
	put_entry(&x, "data/x", 1536, 512);
	put_zeros(&x, 1024);
	assert_int_equal(read_all(&x, 2, &err), 0);
	free(x.buf);
}

static void test_hostile(void **state)
{
	struct idx x;

	(void)state;
	x = start(); x.buf[0] = 'X';
	refused(&x, 1, "bad magic");
	x = start();
	refused(&x, 1, "truncated");
	x = start(); put_block(&x, 0, 1); put_zeros(&x, 1);
	refused(&x, 1, "0 tar bytes");
	x = start(); put_block(&x, BUNDLE_CHUNK_SIZE + 1, 1); put_zeros(&x, 1);
	refused(&x, 1, "not 1 to");
	x = start(); put_block(&x, 512, 0);
	refused(&x, 1, "0 items");
	x = start(); put_block(&x, 512, 60000);
	refused(&x, 1, "60000 items");
	x = start(); put_block(&x, 512, 1); put_be(&x, 7, 1);
	refused(&x, 1, "item kind 7");
	x = start(); put_block(&x, 512, 1); put_entry(&x, "../etc/passwd", 0, 512);
	refused(&x, 1, "not a relative path");
	x = start(); put_block(&x, 512, 1); put_entry(&x, "/etc/passwd", 0, 512);
	refused(&x, 1, "not a relative path");
	x = start(); put_block(&x, 512, 1); put_entry(&x, "a//b", 0, 512);
	refused(&x, 1, "not a relative path");
	x = start(); put_block(&x, 512, 1); put_entry(&x, "a/./b", 0, 512);
	refused(&x, 1, "not a relative path");
	x = start(); put_block(&x, 512, 1); put_entry(&x, "dir/", 0, 512);
	refused(&x, 1, "not a relative path");
	x = start(); put_block(&x, 512, 1);
	put_be(&x, 0, 1); put_be(&x, 3, 2); put(&x, "a\0b", 3); put_be(&x, 0, 8); put_be(&x, 512, 4);
	refused(&x, 1, "not a relative path");
	x = start(); put_block(&x, 512, 1); put_be(&x, 0, 1); put_be(&x, 0, 2);
	refused(&x, 1, "path of 0 bytes");
	x = start(); put_block(&x, 512, 1); put_be(&x, 0, 1); put_be(&x, 5000, 2);
	refused(&x, 1, "path of 5000 bytes");
	x = start(); put_block(&x, 512, 1); put_entry(&x, "a", 0, 513);
	refused(&x, 1, "an item of 513 bytes where 512 are left");
	x = start(); put_block(&x, 512, 1); put_entry(&x, "a", 0, 0);
	refused(&x, 1, "an item of 0 bytes");
	x = start(); put_block(&x, 1024, 1); put_entry(&x, "a", 0, 512);
	refused(&x, 1, "512 bytes too few");
	x = start(); put_block(&x, 512, 1); put_entry(&x, "a", ~0ull, 512);
	refused(&x, 1, "offset out of range");
	x = start(); put_block(&x, 512, 1); put_zeros(&x, 512); put_be(&x, 0, 3);
	refused(&x, 1, "bytes after its last block");
	x = start(); put_block(&x, 512, 1); put_zeros(&x, 512);
	refused(&x, 2, "truncated");
}

/* An index that claims more than its size: never read past it. */
static void test_size_bound(void **state)
{
	struct bundle_index_reader *r = malloc(sizeof *r);
	struct bundle_index_block b;
	struct error err = { "" };
	struct idx x = start();
	int fd;

	(void)state;
	put_block(&x, 512, 1);
	put_zeros(&x, 512);
	fd = index_fd(&x);
	assert_int_equal(bundle_index_open(r, fd, 20, 1, BUNDLE_CHUNK_SIZE, &err), 0);
	assert_int_equal(bundle_index_block(r, &b, &err), -1);
	assert_non_null(strstr(err.text, "truncated"));
	close(fd);
	free(r);
	free(x.buf);
}

/* A block rebuilt from a tree: the header slotpack writes, the file's
 * bytes, padding; matched when the hash is right, not when the file
 * differs or is missing. */
static void test_rebuild(void **state)
{
	struct bundle_rebuild *rb = malloc(sizeof *rb);
	struct bundle_index_reader *r = malloc(sizeof *r);
	struct bundle_index_block b;
	unsigned char header[BUNDLE_TAR_HEADER_MAX], plain[4096], hash[32];
	char dir[] = "/tmp/test_bundle_index.XXXXXX", path[64];
	struct error err = { "" };
	size_t hlen;
	int tree, fd, match;

	(void)state;
	assert_non_null(mkdtemp(dir));
	tree = open(dir, O_RDONLY | O_DIRECTORY);
	snprintf(path, sizeof path, "%s/f", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	assert_int_equal(write(fd, "hello", 5), 5);
	close(fd);
	assert_int_equal(bundle_tar_header("f", S_IFREG | 0644, 5, 1700000000, NULL, header, &hlen,
					   &err), 0);
	memcpy(plain, header, hlen);
	memcpy(plain + hlen, "hello", 5);
	memset(plain + hlen + 5, 0, 507);
	EVP_Digest(plain, hlen + 512, hash, NULL, EVP_sha256(), NULL);
	for (int round = 0; round < 3; round++) {
		struct idx x = start();

		put_be(&x, hlen + 512, 4);
		put(&x, hash, 32);
		put_be(&x, 1, 2);
		put_entry(&x, "f", 0, (uint32_t)(hlen + 512));
		if (round == 1) {	/* the file differs */
			fd = open(path, O_WRONLY | O_APPEND);
			assert_int_equal(write(fd, "!", 1), 1);
			close(fd);
		} else if (round == 2) {
			unlink(path);
		}
		fd = index_fd(&x);
		bundle_rebuild_init(rb, tree, 1700000000);
		assert_int_equal(bundle_index_open(r, fd, x.len, 1, BUNDLE_CHUNK_SIZE, &err), 0);
		assert_int_equal(bundle_index_block(r, &b, &err), 0);
		assert_int_equal(bundle_rebuild_block(rb, r, &b, plain, &match, &err), 0);
		assert_int_equal(match, round == 0);
		assert_int_equal(bundle_index_end(r, &err), 0);
		bundle_rebuild_end(rb);
		close(fd);
		free(x.buf);
	}
	close(tree);
	rmdir(dir);
	free(rb);
	free(r);
}

/* A plan with two trees: a block only the second holds is stashed (its tar
 * bytes in the stash file), one neither holds is a range to fetch. */
static void test_plan_two_trees(void **state)
{
	char dirs[2][40] = { "/tmp/test_plan_a.XXXXXX", "/tmp/test_plan_b.XXXXXX" }, path[80];
	unsigned char header[BUNDLE_TAR_HEADER_MAX], plain[2][1024 + 512], hash[2][32];
	unsigned char hashes[2 * BUNDLE_ENTRY_CHUNKED] = { 0 }, back[1024 + 512];
	struct bundle_head head = { .hashes = hashes, .payload_offset = 3072 };
	struct bundle_plan plan;
	struct error err = { "" };
	struct idx x = start();
	size_t hlen[2];
	int trees[2], fd, stash;

	(void)state;
	for (int t = 0; t < 2; t++) {	/* file "f<t>" holds "t" in tree 1 only */
		char name[3] = { 'f', (char)('0' + t), 0 };

		assert_non_null(mkdtemp(dirs[t]));
		trees[t] = open(dirs[t], O_RDONLY | O_DIRECTORY);
		assert_int_equal(bundle_tar_header(name, S_IFREG | 0644, 1, 7, NULL, header, &hlen[t],
						   &err), 0);
		memcpy(plain[t], header, hlen[t]);
		plain[t][hlen[t]] = (unsigned char)('0' + t);
		memset(plain[t] + hlen[t] + 1, 0, 511);
		EVP_Digest(plain[t], hlen[t] + 512, hash[t], NULL, EVP_sha256(), NULL);
		put_be(&x, hlen[t] + 512, 4);
		put(&x, hash[t], 32);
		put_be(&x, 1, 2);
		put_entry(&x, name, 0, (uint32_t)(hlen[t] + 512));
		hashes[t * BUNDLE_ENTRY_CHUNKED + 3] = 100;	/* stored: 100 bytes each */
	}
	snprintf(path, sizeof path, "%s/f0", dirs[1]);	/* only tree 1 has f0 */
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	assert_int_equal(write(fd, "0", 1), 1);
	close(fd);
	head.manifest.chunk_size = BUNDLE_CHUNK_SIZE;
	head.manifest.block_count = 2;
	head.manifest.index_size = x.len;
	head.manifest.created = 7;
	fd = index_fd(&x);
	stash = open("/tmp", O_TMPFILE | O_RDWR, 0600);
	assert_int_equal(bundle_plan_make(&head, fd, trees[0], trees[1], stash, &plan, &err), 0);
	assert_int_equal(plan.reused, 0);
	assert_int_equal(plan.stashed, 1);
	assert_true(bundle_plan_stashed(&plan, 0) && !bundle_plan_stashed(&plan, 1));
	assert_int_equal(plan.range_count, 1);
	assert_int_equal(plan.ranges[0].offset, 3072 + 100);
	assert_int_equal(plan.ranges[0].len, 100);
	assert_int_equal(pread(stash, back, hlen[0] + 512, 0), (ssize_t)(hlen[0] + 512));
	assert_memory_equal(back, plain[0], hlen[0] + 512);
	bundle_plan_free(&plan);
	unlink(path);
	for (int t = 0; t < 2; t++) {
		close(trees[t]);
		rmdir(dirs[t]);
	}
	close(fd);
	close(stash);
	free(x.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_size_bound),
		cmocka_unit_test(test_rebuild),
		cmocka_unit_test(test_plan_two_trees),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
