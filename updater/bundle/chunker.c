/* chunker.c: the format 2 payload (packaging/FORMAT.md): the tar cut into
 * chunks of chunk_size bytes, each compressed on its own into one complete
 * gzip member, xz stream or zstd frame, written one after the other.  The
 * stored length of every member is kept for the hash list, where it is
 * signed: a guest knows every member's boundaries before it decodes one.
 *
 * Settings are a guest's decoder ceilings (updater/extract/extract.h): gzip level 6;
 * xz -2 with its dictionary cut to the chunk (a member never refers further
 * back); zstd level 3, whose window follows the chunk's size (<= 2^20).
 * Reproducible: no gzip timestamp or name, the same settings every time.
 *
 * Format 3 (bundle_chunker_index): payload.c announces each tar entry before
 * its bytes, and a chunk is cut early at entry boundaries (the rule beside
 * BUNDLE_DELTA_PACK), so an unchanged file is cut, and compressed, the same
 * way in the next release; each chunk's record of delta.index (its tar
 * bytes' SHA-256 and the pieces of entries they are) follows its member. */
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include <openssl/evp.h>

#include "atomic.h"
#include "bundle/bundle.h"
#include "bundle/bundle_index.h"

struct bundle_chunker {
	int fd;
	char compression[8];
	uint32_t chunk_size;
	unsigned char *chunk, *out;	/* chunk_size, and a member's worst case */
	size_t have, out_cap;
	uint32_t *members;
	uint32_t count, cap;
	z_stream z;
	int z_open;
	ZSTD_CCtx *zstd;
	/* format 3 */
	int index_fd;			/* -1: format 2 */
	uint64_t offset;		/* tar bytes taken in */
	uint64_t chunk_start;		/* offset of chunk[0] */
	uint64_t item_pos;		/* the chunk's items cover up to here */
	char *entry;			/* the current entry, from entry_start */
	uint64_t entry_start, entry_len;
	int entry_big;
	unsigned char *items;		/* the chunk's items, encoded */
	size_t items_len, items_cap;
	unsigned item_count;
};

static size_t chunker_bound(const char *compression, uint32_t chunk_size)
{
	if (!strcmp(compression, "xz"))
		return lzma_stream_buffer_bound(chunk_size);
	if (!strcmp(compression, "zstd"))
		return ZSTD_compressBound(chunk_size);
	return compressBound(chunk_size) + 32;	/* + the gzip header and trailer */
}

struct bundle_chunker *bundle_chunker_new(int fd, const char *compression, uint32_t chunk_size,
					  struct error *err)
{
	struct bundle_chunker *c = calloc(1, sizeof *c);

	if (!c) {
		error_errno(err, "payload");
		return NULL;
	}
	c->fd = fd;
	c->index_fd = -1;
	c->chunk_size = chunk_size;
	snprintf(c->compression, sizeof c->compression, "%s", compression);
	c->out_cap = chunker_bound(compression, chunk_size);
	c->chunk = malloc(chunk_size);
	c->out = malloc(c->out_cap);
	if (!c->chunk || !c->out) {
		error_errno(err, "payload");
		goto fail;
	}
	if (!strcmp(compression, "gzip")) {
		/* 16 + 15: a gzip wrapper with no name and no timestamp */
		if (deflateInit2(&c->z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
			error_set(err, "payload: cannot set up gzip");
			goto fail;
		}
		c->z_open = 1;
	} else if (!strcmp(compression, "zstd")) {
		c->zstd = ZSTD_createCCtx();
		if (!c->zstd) {
			error_set(err, "payload: cannot set up zstd");
			goto fail;
		}
	} else if (strcmp(compression, "xz")) {
		error_set(err, "compression '%s': not one of gzip, xz, zstd", compression);
		goto fail;
	}
	return c;
fail:
	bundle_chunker_free(c);
	return NULL;
}

void bundle_chunker_free(struct bundle_chunker *c)
{
	if (!c)
		return;
	if (c->z_open)
		deflateEnd(&c->z);
	ZSTD_freeCCtx(c->zstd);
	free(c->chunk);
	free(c->out);
	free(c->members);
	free(c->entry);
	free(c->items);
	free(c);
}

void bundle_chunker_index(struct bundle_chunker *c, int index_fd)
{
	c->index_fd = index_fd;
}

/* Items for the chunk's bytes up to stream offset pos: pieces of the
 * current entry, then zeros (the end-of-archive marker, nothing else). */
static int chunker_items_upto(struct bundle_chunker *c, uint64_t pos, struct error *err)
{
	uint64_t end = c->entry ? c->entry_start + c->entry_len : 0, n;
	const unsigned char *p;
	int rc;

	while (c->item_pos < pos) {
		if (c->entry && c->item_pos >= c->entry_start && c->item_pos < end) {
			n = (end < pos ? end : pos) - c->item_pos;
			rc = bundle_index_put_item(&c->items, &c->items_len, &c->items_cap, c->entry,
						   c->item_pos - c->entry_start, (uint32_t)n);
		} else {
			n = pos - c->item_pos;
			p = c->chunk + (c->item_pos - c->chunk_start);
			for (uint64_t i = 0; i < n; i++)
				if (p[i])
					return error_set(err, "payload: tar bytes outside any entry");
			rc = bundle_index_put_item(&c->items, &c->items_len, &c->items_cap, NULL, 0,
						   (uint32_t)n);
		}
		if (rc < 0)
			return error_errno(err, "payload: index");
		c->item_count++;
		c->item_pos += n;
	}
	return 0;
}

/* The chunk's record: head, then its items. */
static int chunker_record(struct bundle_chunker *c, struct error *err)
{
	unsigned char head[38], digest[32];

	if (chunker_items_upto(c, c->chunk_start + c->have, err) < 0)
		return -1;
	if (c->item_count > BUNDLE_INDEX_ITEMS_MAX)
		return error_set(err, "payload: chunk %u: %u index items", c->count, c->item_count);
	if (EVP_Digest(c->chunk, c->have, digest, NULL, EVP_sha256(), NULL) != 1)
		return error_set(err, "payload: sha256 failed");
	bundle_index_put_block(head, (uint32_t)c->have, digest, (uint16_t)c->item_count);
	if (atomic_write_all(c->index_fd, head, sizeof head) < 0 ||
	    atomic_write_all(c->index_fd, c->items, c->items_len) < 0)
		return error_errno(err, "payload: index: write");
	c->chunk_start += c->have;
	c->items_len = 0;
	c->item_count = 0;
	return 0;
}

/* One xz stream of one block, the dictionary no larger than the chunk. */
static int chunker_xz(struct bundle_chunker *c, size_t *len)
{
	lzma_options_lzma lz;
	lzma_filter filters[2] = { { LZMA_FILTER_LZMA2, &lz }, { LZMA_VLI_UNKNOWN, NULL } };

	if (lzma_lzma_preset(&lz, 2))
		return -1;
	if (lz.dict_size > c->chunk_size)
		lz.dict_size = c->chunk_size;
	*len = 0;
	return lzma_stream_buffer_encode(filters, LZMA_CHECK_CRC64, NULL, c->chunk, c->have,
					 c->out, len, c->out_cap) == LZMA_OK ? 0 : -1;
}

/* Compresses the chunk held into one member: its stored length in *len. */
static int chunker_compress(struct bundle_chunker *c, size_t *len)
{
	if (c->zstd) {
		*len = ZSTD_compressCCtx(c->zstd, c->out, c->out_cap, c->chunk, c->have, 3);
		return ZSTD_isError(*len) ? -1 : 0;
	}
	if (!c->z_open)
		return chunker_xz(c, len);
	if (deflateReset(&c->z) != Z_OK)
		return -1;
	c->z.next_in = c->chunk;
	c->z.avail_in = (uInt)c->have;
	c->z.next_out = c->out;
	c->z.avail_out = (uInt)c->out_cap;
	if (deflate(&c->z, Z_FINISH) != Z_STREAM_END)
		return -1;
	*len = c->out_cap - c->z.avail_out;
	return 0;
}

static int chunker_flush(struct bundle_chunker *c, struct error *err)
{
	size_t len;

	if (chunker_compress(c, &len) < 0)
		return error_set(err, "payload: %s compression of chunk %u failed", c->compression,
				 c->count);
	/* a guest refuses more; no filter's worst case comes near it */
	if (len > BUNDLE_MEMBER_MAX(c->chunk_size))
		return error_set(err, "payload: chunk %u compresses to %zu bytes, more than "
				 "BUNDLE_MEMBER_MAX (%u)", c->count, len,
				 BUNDLE_MEMBER_MAX(c->chunk_size));
	if (c->count == BUNDLE_BLOCKS_MAX)
		return error_set(err, "payload: more than %u chunks of %u bytes: use a larger "
				 "chunk size (slotpack create --chunk-size)", BUNDLE_BLOCKS_MAX,
				 c->chunk_size);
	if (c->count == c->cap) {
		uint32_t cap = c->cap ? 2 * c->cap : 256, *grown;

		grown = reallocarray(c->members, cap, sizeof *grown);
		if (!grown)
			return error_errno(err, "payload");
		c->members = grown;
		c->cap = cap;
	}
	if (atomic_write_all(c->fd, c->out, len) < 0)
		return error_errno(err, "payload: write");
	if (c->index_fd >= 0 && chunker_record(c, err) < 0)
		return -1;
	c->members[c->count++] = (uint32_t)len;
	c->have = 0;
	return 0;
}

int bundle_chunker_write(struct bundle_chunker *c, const void *data, size_t len,
			 struct error *err)
{
	const unsigned char *p = data;

	while (len > 0) {
		size_t n = c->chunk_size - c->have;

		if (n > len)
			n = len;
		memcpy(c->chunk + c->have, p, n);
		c->have += n;
		c->offset += n;
		p += n;
		len -= n;
		if (c->have == c->chunk_size && chunker_flush(c, err) < 0)
			return -1;
	}
	return 0;
}

int bundle_chunker_entry(struct bundle_chunker *c, const char *name, uint64_t repr,
			 struct error *err)
{
	int big = repr >= BUNDLE_DELTA_PACK;
	char *copy;

	if (c->index_fd < 0)
		return 0;
	if (chunker_items_upto(c, c->offset, err) < 0)
		return -1;
	if (c->have > 0 && (c->have >= BUNDLE_DELTA_PACK || big || c->entry_big ||
			    c->have + repr > c->chunk_size) && chunker_flush(c, err) < 0)
		return -1;
	copy = strdup(name);
	if (!copy)
		return error_errno(err, "payload");
	free(c->entry);
	c->entry = copy;
	c->entry_start = c->offset;
	c->entry_len = repr;
	c->entry_big = big;
	return 0;
}

int bundle_chunker_finish(struct bundle_chunker *c, uint32_t **members, uint32_t *count,
			  struct error *err)
{
	if (c->have > 0 && chunker_flush(c, err) < 0)
		return -1;
	if (c->count == 0)
		return error_set(err, "payload: empty");
	*members = c->members;
	*count = c->count;
	c->members = NULL;
	return 0;
}
