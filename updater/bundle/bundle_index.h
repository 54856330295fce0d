/* bundle_index.h: format 3's delta.index (docs/delta.md, packaging/FORMAT.md):
 * for each payload block, in block order, the SHA-256 of the tar bytes it
 * decodes to and where a guest finds those bytes in a tree it already has.
 *
 *   "SLOTDIX\1"                         8 bytes, once
 *   per block:  u32 plain_len           1 .. chunk_size
 *               u8  sha256[32]          of the plain_len tar bytes
 *               u16 items               1 .. BUNDLE_INDEX_ITEMS_MAX
 *   per item:   u8  kind                0: entry bytes, 1: zeros
 *     kind 0:   u16 path_len, path      1 .. BUNDLE_INDEX_PATH_MAX bytes
 *               u64 from, u32 len       bytes [from, from+len) of the entry's
 *                                       tar representation (headers, data,
 *                                       padding to 512)
 *     kind 1:   u32 len                 zero bytes (the end-of-archive marker)
 * All numbers big-endian; the items' lengths add up to plain_len.
 *
 * The reader promises: a record is checked against these bounds as it is
 * read, from a descriptor, a buffer of 64 KiB at a time, so a hostile index
 * of any size costs that buffer and one path; paths are relative, without
 * NUL, empty or ".." components (a guest opens them beneath its slot with
 * RESOLVE_BENEATH all the same); the index ends exactly after block_count
 * records. */
#ifndef SLOTD_BUNDLE_INDEX_H
#define SLOTD_BUNDLE_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "bundle/bundle.h"
#include "error.h"

#define BUNDLE_INDEX_MAGIC "SLOTDIX\001"
#define BUNDLE_INDEX_PATH_MAX 4095u
/* every entry takes 512 bytes or more of tar, plus a zeros item and a piece */
#define BUNDLE_INDEX_ITEMS_MAX (BUNDLE_CHUNK_MAX / 512u + 2u)

struct bundle_index_block {
	uint32_t plain_len;
	unsigned char sha256[32];
	uint16_t items;
};

struct bundle_index_item {
	int zeros;			/* 1: len zero bytes; 0: a piece of path's entry */
	char path[BUNDLE_INDEX_PATH_MAX + 1];
	uint64_t from;
	uint32_t len;
};

struct bundle_index_reader {
	int fd;
	uint64_t left;			/* index bytes not yet read */
	uint32_t blocks, blocks_left, chunk_size;
	uint32_t items_left, bytes_left;	/* of the current block */
	size_t pos, len;
	unsigned char buf[64 << 10];
};

/* Starts reading an index of size bytes at fd's offset 0 for block_count
 * blocks of at most chunk_size tar bytes; checks its magic. */
int bundle_index_open(struct bundle_index_reader *r, int fd, uint64_t size,
		      uint32_t block_count, uint32_t chunk_size, struct error *err);
/* The next block's record; its items follow with bundle_index_item. */
int bundle_index_block(struct bundle_index_reader *r, struct bundle_index_block *b,
		       struct error *err);
/* The current block's next item. */
int bundle_index_item(struct bundle_index_reader *r, struct bundle_index_item *item,
		      struct error *err);
/* Skips what is left of the current block's items. */
int bundle_index_skip(struct bundle_index_reader *r, struct error *err);
/* After the last block: the index must end here. */
int bundle_index_end(struct bundle_index_reader *r, struct error *err);

/* The writer's side (chunker.c): appends one item to buf (grown with
 * realloc); -1 without memory. */
int bundle_index_put_item(unsigned char **buf, size_t *len, size_t *cap, const char *path,
			  uint64_t from, uint32_t len_);
/* The record head of a block. */
void bundle_index_put_block(unsigned char out[38], uint32_t plain_len,
			    const unsigned char sha256[32], uint16_t items);

#endif
