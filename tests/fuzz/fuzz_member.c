/* fuzz_member.c: format 2 members (packaging/FORMAT.md) of hostile bytes
 * through an extract_pool, as the extractor takes them.  Input: byte 0
 * picks the filter (gzip, xz, zstd) and 1 or 2 decoder threads, byte 1 the
 * number of members (1 or 2: what fits the pool's slots without a consumer
 * running), the rest is cut into that many members of equal length.  Oracles beyond
 * the sanitizers, the promises of updater/extract/extract_pool.h: every chunk handed
 * out is 1 .. chunk_size bytes and only the last may be short; no more
 * chunks than members; after an error nothing more is handed out; the pool
 * stops its threads and frees everything (LeakSanitizer). */
#include <stdint.h>
#include <string.h>

#include "extract/extract_pool.h"
#include "support_fuzz.h"

#define FUZZ_CHUNK (64u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const kinds[] = { "gzip", "xz", "zstd" };
	struct extract_pool *p;
	struct error err = { "" };
	const void *chunk;
	size_t members, each, last = FUZZ_CHUNK, got = 0;
	long n;

	if (size < 3)
		return 0;
	members = 1 + data[1] % 2;
	each = (size - 2) / members;
	if (each == 0)
		return 0;
	p = extract_pool_new(kinds[data[0] % 3], FUZZ_CHUNK, 1 + data[0] / 3 % 2, &err);
	if (!p)
		fuzz_fail("extract_pool_new: %s", err.text);
	for (size_t i = 0; i < members; i++)
		if (extract_pool_submit(p, data + 2 + i * each, each, &err) < 0)
			break;
	extract_pool_close(p);
	while ((n = extract_pool_next(p, &chunk, &err)) > 0) {
		if ((size_t)n > FUZZ_CHUNK || last < FUZZ_CHUNK)
			fuzz_fail("chunk %zu of %ld bytes after one of %zu", got, n, last);
		memset((void *)chunk, 0, (size_t)n);	/* ASan: the chunk is writable */
		last = (size_t)n;
		got++;
	}
	fuzz_check_terminated(err.text, sizeof err.text, "error text");
	if (got > members)
		fuzz_fail("%zu chunks from %zu members", got, members);
	if (n < 0 && extract_pool_next(p, &chunk, &err) > 0)
		fuzz_fail("a chunk after an error");
	extract_pool_free(p);
	return 0;
}
