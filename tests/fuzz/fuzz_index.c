/* fuzz_index.c: format 3's delta.index reader (updater/bundle/bundle_index.h)
 * on hostile indexes.  The first input byte is the block count (1..256),
 * the rest the index.
 *
 * Oracles beyond the sanitizers: every path handed out is relative, without
 * an empty, "." or ".." component, NUL-terminated and at most
 * BUNDLE_INDEX_PATH_MAX bytes; the items of a block that read whole add up
 * to its plain_len, which is 1 .. chunk_size; an index that reads whole ends
 * exactly at its size. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bundle/bundle_index.h"
#include "support_fuzz.h"

static void fuzz_index_path(const char *p)
{
	size_t len = strnlen(p, BUNDLE_INDEX_PATH_MAX + 1);

	if (len == 0 || len > BUNDLE_INDEX_PATH_MAX || p[0] == '/' || p[len - 1] == '/' ||
	    strstr(p, "//") || !strcmp(p, "..") || !strncmp(p, "../", 3) || strstr(p, "/../") ||
	    (len >= 3 && !strcmp(p + len - 3, "/..")) || !strcmp(p, ".") ||
	    !strncmp(p, "./", 2) || strstr(p, "/./"))
		fuzz_fail("a path the reader should have refused: '%s'", p);
}

static int fuzz_index_read(int fd, uint64_t size, uint32_t blocks)
{
	static struct bundle_index_reader r;
	struct bundle_index_block b;
	struct bundle_index_item item;
	struct error err = { "" };

	if (bundle_index_open(&r, fd, size, blocks, BUNDLE_CHUNK_SIZE, &err) < 0)
		return -1;
	for (uint32_t i = 0; i < blocks; i++) {
		uint64_t sum = 0;

		if (bundle_index_block(&r, &b, &err) < 0)
			return -1;
		if (b.plain_len == 0 || b.plain_len > BUNDLE_CHUNK_SIZE)
			fuzz_fail("a block of %u bytes accepted", b.plain_len);
		for (unsigned k = 0; k < b.items; k++) {
			if (bundle_index_item(&r, &item, &err) < 0)
				return -1;
			if (!item.zeros)
				fuzz_index_path(item.path);
			sum += item.len;
		}
		if (sum != b.plain_len)
			fuzz_fail("items of %llu bytes in a block of %u", (unsigned long long)sum,
				  b.plain_len);
	}
	if (bundle_index_end(&r, &err) < 0)
		return -1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *f;
	int fd;

	if (size < 1 || size > (1u << 20))
		return -1;
	f = tmpfile();
	if (!f)
		return 0;
	fd = fileno(f);
	if (size > 1 && write(fd, data + 1, size - 1) != (ssize_t)(size - 1)) {
		fclose(f);
		return 0;
	}
	fuzz_index_read(fd, size - 1, (uint32_t)data[0] + 1);
	fclose(f);
	return 0;
}
