/* bundle_delta.h: what a guest can build of a format 3 bundle from a tree it
 * already has (docs/delta.md).
 *
 * tar_entry.c: one entry's tar header, as payload.c writes it and as
 * rebuild.c writes it again from a slot: the same libarchive writer, fed
 * the same facts (name, type and mode bits, size, mtime = the manifest's
 * created, link target, owner 0:0).
 *
 * rebuild.c: a block's tar bytes from a tree by its index record; the
 * result counts only when its SHA-256 matches the signed one.  Paths of the
 * index are opened beneath the tree (openat2 RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS), a symlink is read, never followed, only regular
 * files are read; anything missing, different or unreadable makes the block
 * one to fetch, never an error.  Memory: the caller's block buffer and one
 * header.
 *
 * plan.c: which blocks a tree rebuilds, and the byte ranges of the bundle
 * to fetch for the others, adjacent ones merged.  A second tree (the slot
 * about to be overwritten) may supply blocks the first does not: their
 * bytes are kept in a stash file, as they will not be there to rebuild. */
#ifndef SLOTD_BUNDLE_DELTA_H
#define SLOTD_BUNDLE_DELTA_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bundle/bundle.h"
#include "bundle/bundle_index.h"

struct archive_entry;

/* Headers of one entry: a path and a link target of 4095 bytes each in pax
 * records, and the ustar header. */
#define BUNDLE_TAR_HEADER_MAX (16u << 10)

void bundle_tar_entry_fill(struct archive_entry *entry, const char *name, mode_t mode,
			   uint64_t size, int64_t mtime, const char *target);
/* The header bytes libarchive writes for that entry, into buf
 * (BUNDLE_TAR_HEADER_MAX); their length in *len. */
int bundle_tar_header(const char *name, mode_t mode, uint64_t size, int64_t mtime,
		      const char *target, unsigned char *buf, size_t *len, struct error *err);

struct bundle_rebuild {
	int tree_fd;			/* the tree's directory, the caller's */
	int64_t mtime;			/* the new bundle's created */
	/* the entry last looked at, kept across items and blocks */
	char path[BUNDLE_INDEX_PATH_MAX + 1];
	int found;			/* path exists as a file, directory or symlink */
	int file_fd;			/* its descriptor when a regular file */
	uint64_t size;
	unsigned char header[BUNDLE_TAR_HEADER_MAX];
	size_t header_len;
};

void bundle_rebuild_init(struct bundle_rebuild *rb, int tree_fd, int64_t mtime);
void bundle_rebuild_end(struct bundle_rebuild *rb);
/* Reads the items of block b from r and builds its b->plain_len bytes into
 * out; *match is 1 when they hash to b->sha256.  -1 only for an index error
 * (all of the block's items are consumed otherwise). */
int bundle_rebuild_block(struct bundle_rebuild *rb, struct bundle_index_reader *r,
			 const struct bundle_index_block *b, unsigned char *out, int *match,
			 struct error *err);
/* The same from n (1 or 2) trees at once, one pass over the items: each
 * tree's bytes into its outs[t] (b->plain_len each), matches[t] for each. */
int bundle_rebuild_trees(struct bundle_rebuild *const *rbs, unsigned n,
			 struct bundle_index_reader *r, const struct bundle_index_block *b,
			 unsigned char *const *outs, int *matches, struct error *err);

/* A guest's first request for a bundle's head (install_delta.h): bytes 0
 * to this; the rest of the head, if any, exactly (so a head costs
 * max(payload_offset, this) bytes). */
#define BUNDLE_DELTA_HEAD_GUESS (16u << 10)

struct bundle_range {
	uint64_t offset, len;		/* in the bundle file */
};

struct bundle_plan {
	uint32_t blocks, reused, stashed;
	unsigned char *reuse;		/* one bit per block: 1 = rebuilt from the tree */
	unsigned char *stash;		/* one bit per block: 1 = its tar bytes are in
					 * the stash file, in block order */
	uint64_t reused_bytes;		/* stored bytes of the reused and stashed blocks */
	uint64_t fetch_bytes;		/* stored bytes of the others */
	struct bundle_range *ranges;	/* to fetch, in order, adjacent blocks merged */
	size_t range_count;
};

/* Plans against the tree at tree_fd with the head and the index at
 * index_fd (bundle_read_head); with other_fd >= 0 a block the tree does not
 * rebuild may come from that tree instead, its tar bytes appended to
 * stash_fd.  -1 on an index error or a failed stash write. */
int bundle_plan_make(const struct bundle_head *head, int index_fd, int tree_fd, int other_fd,
		     int stash_fd, struct bundle_plan *plan, struct error *err);
int bundle_plan_reused(const struct bundle_plan *plan, uint32_t block);
int bundle_plan_stashed(const struct bundle_plan *plan, uint32_t block);
void bundle_plan_free(struct bundle_plan *plan);

#endif
