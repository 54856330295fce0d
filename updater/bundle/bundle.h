/* bundle.h: slot images ("bundles"): format in packaging/FORMAT.md.
 *
 * A bundle is a plain ustar archive with exactly four members, in order:
 *   manifest.ini     what the bundle is (INI, parsed with inih)
 *   manifest.sig     CMS detached signature over manifest.ini (DER)
 *   blocks.sha256    SHA-256 of every payload block, 32 bytes each (format
 *                    2: each preceded by the block's length, 4 bytes)
 *   payload          tar (gzip|xz|zstd) of the slot tree, optionally AES-256-CTR
 * and in format 3 a fifth, delta.index (bundle_index.h), before the payload.
 *
 * Format 1 compresses the tar as one stream and cuts the stored payload into
 * blocks of block_size.  Format 2 (what bundle_create writes) cuts the tar
 * into chunks of chunk_size bytes and compresses each on its own: one
 * stored block is one complete gzip member / xz stream / zstd frame, its
 * length signed in the hash list, so members can be decoded in parallel
 * (updater/extract/extract_pool.h) and a reader knows every member's boundaries
 * before it decodes a byte.
 *
 * bundle_read() promises: the manifest is verified against the keyring
 * before anything else is trusted; the hash list is checked against the
 * manifest; each payload block is checked against its hash *before* it is
 * decrypted or handed out.  So nothing unverified reaches a decompressor or
 * an unpacker, and a bad bundle is refused at the first bad block, named by
 * number.  The outer ustar container is read with libarchive's tar reader
 * (format only, no filters): its member data is opaque bytes to it.
 * The container's bytes pass the tar gate (updater/extract/tar_gate.h, container
 * profile) before libarchive parses them: plain ustar headers, regular
 * members, nothing after the end-of-archive marker but zero padding.
 * Memory: one block (at most BUNDLE_BLOCK_MAX, decrypted in place) plus the
 * hash list (at most 32 * BUNDLE_BLOCKS_MAX), whatever the payload size. */
#ifndef SLOTD_BUNDLE_H
#define SLOTD_BUNDLE_H

#include <stddef.h>
#include <stdint.h>
#include "error.h"

#define BUNDLE_FORMAT_BLOCKS 1		/* one compressed stream, fixed blocks */
#define BUNDLE_FORMAT_CHUNKED 2		/* one member per block (FORMAT.md) */
#define BUNDLE_FORMAT_DELTA 3		/* format 2 cut at file boundaries, with a
					 * signed index (docs/delta.md) */
#define BUNDLE_FORMAT BUNDLE_FORMAT_CHUNKED	/* what bundle_create writes by default */
#define BUNDLE_BLOCK_SIZE (1u << 20)		/* what bundle_create writes in format 1 */
/* Format 2: uncompressed bytes per member.  Every member decodes to exactly
 * chunk_size bytes but the last, which decodes to 1 .. chunk_size. */
#define BUNDLE_CHUNK_SIZE (128u << 10)		/* what bundle_create writes */
#define BUNDLE_CHUNK_MIN (64u << 10)
#define BUNDLE_CHUNK_MAX (960u << 10)		/* its BUNDLE_MEMBER_MAX is BUNDLE_BLOCK_MAX */
/* Format 2: the longest block (member) a chunk of c bytes may be stored as.
 * No filter grows incompressible data by 1/16 (gzip stored blocks: 5 bytes
 * per 16 KiB; zstd raw blocks: 3 per 128 KiB; xz: 3 per 64 KiB) and headers
 * fit in 4 KiB, so any writer fits; a reader holds no more per member. */
#define BUNDLE_MEMBER_MAX(c) ((c) + (c) / 16 + 4096u)
/* Format 3: a block is cut before an entry once it holds BUNDLE_DELTA_PACK
 * bytes of tar, before and after an entry of that size or more, and where
 * the next entry would pass chunk_size: small files share a block, every
 * other file starts one of its own (docs/delta.md). */
#define BUNDLE_DELTA_PACK (16u << 10)
/* Format 3's delta.index (bundle_index.h): its ceiling, checked from the
 * signed manifest before a byte of it is fetched. */
#define BUNDLE_INDEX_MAX (32u << 20)
/* Format 2 hash list entry: 4-byte big-endian block length, 32-byte SHA-256. */
#define BUNDLE_ENTRY_CHUNKED 36u
#define BUNDLE_MANIFEST_MAX (16u << 10)
#define BUNDLE_SIGNATURE_MAX (64u << 10)
/* Ceilings a reader enforces from the manifest before allocating (FORMAT.md):
 * one block is held in memory, and the whole hash list.  In format 2 a
 * block is one member: at most BUNDLE_BLOCK_MAX stored bytes too. */
#define BUNDLE_BLOCK_MIN 4096u
#define BUNDLE_BLOCK_MAX (1u << 20)
#define BUNDLE_BLOCKS_MAX 16384u		/* a hash list of at most 512 KiB */
#define BUNDLE_PAYLOAD_MAX ((1ull << 33) - 1)	/* ustar's 8 GiB member limit */

struct bundle_manifest {
	unsigned format;
	char version[64];
	char compatible[256];
	int64_t created;
	uint64_t payload_size;		/* bytes of the payload member as stored */
	char payload_sha256[65];	/* of the payload as stored */
	char compression[8];		/* gzip | xz | zstd */
	char encryption[16];		/* none | aes-256-ctr */
	char iv[33];			/* hex, aes-256-ctr only */
	char key_id[33];		/* hex, which key decrypts it */
	uint32_t block_size;		/* format 1: stored bytes per block */
	uint32_t chunk_size;		/* format 2: decoded bytes per member (format 3:
					 * at most) */
	uint32_t block_count;
	char blocks_sha256[65];		/* of the blocks.sha256 member */
	uint64_t index_size;		/* format 3: bytes of the delta.index member */
	char index_sha256[65];		/* format 3: its SHA-256 */
	char digest[65];		/* SHA-256 of manifest.ini: the bundle's identity */
	char signer[256];		/* subject of the signing certificate */
};

/* Who may sign (packaging/KEYS.md; the [updater] keys in config.h).  The
 * signer's chain is verified at the current time, against the keyring, with
 * the CRLs if given; then its CN is matched against allowed_signers; then the
 * signature's signingTime against max_age_ms. */
struct bundle_reader_options {
	const char *keyring_path;	/* PEM file or directory of *.pem CA certificates;
					 * NULL: do not verify (inspect) */
	const char *crl_path;		/* NULL or "": no revocation check; PEM file or dir */
	const char *allowed_signers;	/* NULL or "": any chained signer; "CN1, CN2" */
	uint64_t max_age_ms;		/* 0: no freshness check */
	const char *decrypt_key_path;	/* required iff the payload is encrypted */
};

/* Called once after manifest, signature and hash list verified, before any
 * payload byte.  Returns 0 to go on, -1 (err set) to refuse the bundle (wrong
 * compatible ...), 1 when the manifest was all the caller needed (a bundle
 * already installed): bundle_read() then stops and returns 1, no error. */
typedef int (*bundle_manifest_fn)(const struct bundle_manifest *m, void *ctx, struct error *err);
/* Receives the payload verified block by block, decrypted, in order; in
 * format 2 each call is exactly one member. */
typedef int (*bundle_payload_fn)(const void *data, size_t len, void *ctx, struct error *err);

/* Reads a whole bundle from fd.  on_payload may be NULL (verify only);
 * with options->keyring_path NULL only the manifest is read (inspect).
 * Returns 0 once all of it is read and verified, 1 when on_manifest said it
 * needs no more, -1 on error. */
int bundle_read(int fd, const struct bundle_reader_options *options,
		bundle_manifest_fn on_manifest, bundle_payload_fn on_payload, void *ctx,
		struct error *err);

struct bundle_create_options {
	const char *directory;
	const char *version;
	const char *compatible;
	const char *key_path;		/* signer's private key, PEM */
	const char *cert_path;		/* signer's certificate, PEM */
	const char *encrypt_key_path;	/* NULL: not encrypted */
	const char *compression;	/* gzip | xz | zstd; NULL: zstd in format 2,
					 * gzip in format 1 (docs/decisions.md D24) */
	unsigned format;		/* 0: BUNDLE_FORMAT; 1 for guests older than format 2;
					 * 3 for delta updates (not with encrypt_key_path) */
	uint32_t chunk_size;		/* format 2; 0: BUNDLE_CHUNK_SIZE */
	int64_t created;		/* SOURCE_DATE_EPOCH or 0 */
	int64_t signing_time;		/* CMS signingTime, seconds since the epoch; 0: now */
	const char *output;
};

/* Builds, signs and atomically writes a bundle.  Refuses device nodes,
 * fifos, sockets and symlinks that leave the tree. */
int bundle_create(const struct bundle_create_options *options, struct error *err);

/* The verified start of a bundle, up to its payload's first byte (format 3:
 * what a guest fetches before it plans a delta update, docs/delta.md). */
struct bundle_head {
	struct bundle_manifest manifest;
	unsigned char *hashes;		/* blocks.sha256 (36-byte entries); malloc'd */
	uint64_t payload_offset;	/* where the payload's bytes start in the bundle */
};

/* Reads fd (a bundle, or its first payload_offset bytes or more) like
 * bundle_read() up to the payload member's header: signature, manifest,
 * hash list, and in format 3 the index, whose bytes go to index_fd (-1:
 * checked only).  Returns 0 with head filled (free with bundle_head_free),
 * or -1. */
int bundle_read_head(int fd, const struct bundle_reader_options *options, int index_fd,
		     struct bundle_head *head, struct error *err);
void bundle_head_free(struct bundle_head *head);
/* The stored length of block i of a head of format 2 or 3. */
uint32_t bundle_head_block_len(const struct bundle_head *head, uint32_t i);

/* --- internals shared by the bundle modules --- */
int bundle_manifest_parse(const char *text, size_t len, struct bundle_manifest *m,
			  struct error *err);
int bundle_manifest_format(const struct bundle_manifest *m, char *buf, size_t len);
/* Verifies a DER CMS detached signature over data: one signer, chained to
 * the keyring, not revoked, allowed, fresh (the options above); fills signer
 * with the signing certificate's subject, also when it is refused. */
int bundle_signature_verify(const void *data, size_t len, const void *sig, size_t sig_len,
			    const struct bundle_reader_options *trust, char *signer,
			    size_t signer_len, struct error *err);
/* Subject of the first signer certificate in a signature, without trusting it. */
int bundle_signature_signer(const void *sig, size_t sig_len, char *signer, size_t signer_len,
			    struct error *err);
/* DER CMS detached signature of data, with a signingTime attribute of
 * signing_time (0: now); *sig is OPENSSL_malloc'd. */
int bundle_signature_create(const void *data, size_t len, const char *key_path,
			    const char *cert_path, int64_t signing_time, unsigned char **sig,
			    size_t *sig_len, struct error *err);
/* 0 if the Common Name cn is one of the comma-separated entries of list
 * (blanks around entries ignored, exact byte match); else -1 naming cn. */
int bundle_signer_allowed(const char *cn, const char *list, struct error *err);
/* 0 if a signature made at signed_at is at most max_age_ms old at now and not
 * more than BUNDLE_CLOCK_SKEW seconds in its future; else -1 saying which. */
int bundle_signer_fresh(int64_t signed_at, int64_t now, uint64_t max_age_ms,
			struct error *err);
#define BUNDLE_CLOCK_SKEW 300
/* Reads a key file: 64 hex characters (and an optional newline) = 32 bytes. */
int bundle_key_load(const char *path, unsigned char key[32], struct error *err);
/* The key's public name: hex of SHA-256("slotd-key-id:" || key), first 16 bytes. */
void bundle_key_id(const unsigned char key[32], char id[33]);
/* Lowercase hex of len bytes into out (2*len+1). */
void bundle_hex(const unsigned char *bytes, size_t len, char *out);
/* Builds the payload tar of a tree into fd, reproducibly: one compressed
 * stream when chunk_size is 0 (format 1), else one member per chunk_size
 * bytes of tar (format 2), whose stored lengths go to *members (malloc'd,
 * *count of them; the caller frees).  index_fd >= 0: format 3, cut at entry
 * boundaries, and each block's record of delta.index written to index_fd. */
int bundle_payload_write(int fd, const char *directory, const char *compression,
			 int64_t mtime, uint32_t chunk_size, int index_fd, uint32_t **members,
			 uint32_t *count, struct error *err);
/* Format 2's payload writer (chunker.c): tar bytes in, one compressed
 * member per chunk_size bytes out to fd. */
struct bundle_chunker;
struct bundle_chunker *bundle_chunker_new(int fd, const char *compression, uint32_t chunk_size,
					  struct error *err);
int bundle_chunker_write(struct bundle_chunker *c, const void *data, size_t len,
			 struct error *err);
/* Format 3: the index's records go to index_fd from now on. */
void bundle_chunker_index(struct bundle_chunker *c, int index_fd);
/* Format 3: the next tar bytes are entry `name`, repr bytes long in all
 * (headers, data, padding); cuts the block before it by the rules above. */
int bundle_chunker_entry(struct bundle_chunker *c, const char *name, uint64_t repr,
			 struct error *err);
/* Writes the last chunk; hands over the stored length of every member. */
int bundle_chunker_finish(struct bundle_chunker *c, uint32_t **members, uint32_t *count,
			  struct error *err);
void bundle_chunker_free(struct bundle_chunker *c);

#endif
