/* extract_internal.h: helpers shared by the files of updater/extract/ only. */
#ifndef SLOTD_EXTRACT_INTERNAL_H
#define SLOTD_EXTRACT_INTERNAL_H

#include <archive.h>
#include <lzma.h>
#include <stddef.h>
#include <stdint.h>
#include <zlib.h>
#include <zstd.h>

#include "error.h"
#include "extract/extract.h"
#include "extract/tar_gate.h"

/* Normalises an archive path into out (size len): drops "." and empty
 * components and a trailing '/'.  Returns 0, or -1 with *why set to a static
 * reason for an absolute path, a ".." component or a path that is too long.
 * An empty result (the archive's "./") is allowed: out is "". */
int extract_path_normalize(const char *path, char *out, size_t len, const char **why);

/* Splits a normalised path at its last '/': *name points into path, parent
 * gets the part before it ("" for a top-level entry). */
int extract_path_split(const char *path, char *parent, size_t len, const char **name);

/* 1 when a symlink at normalised link_path with this target stays inside the
 * slot when resolved lexically from the link's directory and ".." only leads
 * the target (so it never climbs out of another symlink); else 0. */
int extract_path_link_inside(const char *link_path, const char *target);

/* The payload stream as libarchive reads it (source.c): decompressed with
 * the declared filter under its memory ceiling, or already decoded bytes
 * from a callback (SOURCE_INPUT, format 2), checked by the tar gate. */
enum extract_source_kind { SOURCE_NONE, SOURCE_GZIP, SOURCE_XZ, SOURCE_ZSTD, SOURCE_INPUT };

struct extract_source {
	int fd, open, failed, in_eof, stream_end;
	enum extract_source_kind kind;
	extract_input_fn input;		/* SOURCE_INPUT */
	void *input_ctx;
	const unsigned char *chunk;	/* what the last read returned */
	z_stream z;
	lzma_stream x;
	ZSTD_DCtx *zs;
	size_t in_pos, in_len;
	unsigned char in[64 << 10], out[64 << 10];
	uint64_t total;			/* decoded bytes */
	struct tar_gate gate;
	struct error err;		/* the first failure, kept for the caller */
};

/* compression: "gzip", "xz", "zstd" or "none" (tests). */
int extract_source_open(struct extract_source *s, int fd, const char *compression,
			struct error *err);
/* Decoded bytes from next(ctx): they pass the gate, nothing else. */
void extract_source_open_input(struct extract_source *s, extract_input_fn next, void *ctx);
/* libarchive's read callback (context: the source). */
la_ssize_t extract_source_read(struct archive *a, void *context, const void **buf);
/* After libarchive's end of archive: reads the rest, which must be the
 * padding the gate allows, then the end of the compressed stream. */
int extract_source_finish(struct extract_source *s, struct error *err);
void extract_source_close(struct extract_source *s);

/* One thread's decoder of format 2 members (member.c). */
struct extract_member {
	int open;
	enum extract_source_kind kind;
	z_stream z;
	lzma_stream x;
	ZSTD_DCtx *zs;
};

int extract_member_init(struct extract_member *d, const char *compression, struct error *err);
/* Decodes in[0..len) as exactly one member into out, which holds
 * chunk_size + 1 bytes; *produced is 1 .. chunk_size on success.  -1 with
 * err saying what is wrong (without naming the member: the caller does). */
int extract_member_decode(struct extract_member *d, const void *in, size_t len, void *out,
			  uint32_t chunk_size, size_t *produced, struct error *err);
void extract_member_end(struct extract_member *d);

#endif
