/* tar_gate.h: a streaming check of the tar profile packaging/FORMAT.md
 * allows, run on the bytes *before* libarchive sees them.
 *
 * libarchive's tar reader accepts every dialect (GNU, sparse maps, global
 * headers, long-name blocks, base-256 numbers) and allocates for some of
 * them while parsing a header, before the caller can refuse the entry: a
 * GNU sparse map of millions of entries costs hundreds of MiB.  The gate
 * sees every byte first, in order, and refuses anything outside the
 * profile, so libarchive only ever parses plain ustar headers and small pax
 * 'x' records.  It does not parse for the extractor: it only follows block
 * boundaries (header, pax body, data) far enough to know which block is a
 * header.  libarchive remains the parser.
 *
 * Both profiles: POSIX ustar headers only (magic "ustar\0", version "00",
 * checksum right, numbers in octal), the end-of-archive marker (two zero
 * blocks) required, then only zero bytes, at most `trailer_max` of them.
 *   TAR_GATE_CONTAINER  the outer bundle: regular members ('0') only.
 *   TAR_GATE_PAYLOAD    the slot tree: types '0' '1' '2' '3' '4' '5' '6'
 *                       (devices and fifos are left to the extractor, which
 *                       refuses them naming the entry) and pax 'x' headers
 *                       of at most TAR_GATE_PAX_MAX bytes with the keys
 *                       path, linkpath, size, mtime, atime, ctime, uid,
 *                       gid, uname, gname.  Non-regular entries carry no data.
 * Memory: the struct (one header, one pax body), nothing per entry. */
#ifndef SLOTD_TAR_GATE_H
#define SLOTD_TAR_GATE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define TAR_GATE_PAX_MAX 16384
/* What a payload may carry after its end-of-archive marker: the padding of
 * one 10240-byte tar record, as tar writers produce. */
#define TAR_GATE_TRAILER_MAX 10240

enum tar_gate_profile { TAR_GATE_CONTAINER, TAR_GATE_PAYLOAD };

struct tar_gate {
	enum tar_gate_profile profile;
	int state;
	uint64_t trailer_max;
	unsigned char block[512];
	size_t have;			/* bytes of block (header or zero block) */
	char pax[TAR_GATE_PAX_MAX + 1];
	size_t pax_len, pax_size;
	int64_t pax_next_size;		/* size= for the next entry, -1 if none */
	int pax_pending;		/* a pax header was read: an entry must follow */
	uint64_t skip;			/* data and padding left in the current entry */
	uint64_t trailer;
	uint64_t offset;		/* bytes seen */
	unsigned long long entries;	/* headers of entries seen */
};

void tar_gate_init(struct tar_gate *g, enum tar_gate_profile profile, uint64_t trailer_max);
/* Checks the next len bytes; -1 (err says what and where) once anything is
 * outside the profile.  After a failure every call fails. */
int tar_gate_feed(struct tar_gate *g, const void *data, size_t len, struct error *err);
/* At the end of the stream: the end-of-archive marker must have been seen. */
int tar_gate_finish(struct tar_gate *g, struct error *err);

#endif
