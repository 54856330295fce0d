/* extract_pool.h: format 2 payload members (packaging/FORMAT.md) decoded
 * concurrently on a small pool of threads and handed on strictly in order.
 *
 * One producer submits verified, decrypted members, one at a time and in
 * payload order; one consumer takes the decoded chunks in the same order
 * (extract_pool_next, an extract_input_fn).  Between them up to
 * EXTRACT_POOL_THREADS_MAX decoder threads (one per online CPU that the
 * process may run on) each decode
 * a member of their own (updater/extract/member.c): exactly one gzip member /
 * xz stream / zstd frame, nothing after it, decoding to chunk_size bytes
 * (the last member: 1 .. chunk_size; a short member anywhere else is
 * refused when the next one arrives).
 *
 * Bounded: `threads + 1` slots, each one member (grown to the largest seen,
 * at most a bundle block) and one chunk of chunk_size + 1 bytes; a producer
 * finding none free waits.  With 2 CPUs and 256 KiB chunks: 1.5 MiB.
 * Errors come in payload order: a member that fails to decode is reported
 * to the consumer only when every member before it has been consumed, so
 * the first bad byte of the payload is the one named, whatever thread got
 * there first; and from then on submitting fails, so the producer stops.
 * A consumer that quits (extract_pool_cancel) makes submitting fail too. */
#ifndef SLOTD_EXTRACT_POOL_H
#define SLOTD_EXTRACT_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define EXTRACT_POOL_THREADS_MAX 4

struct extract_pool;

/* Starts `threads` decoders (0: one per online CPU), at most
 * EXTRACT_POOL_THREADS_MAX, for members of `compression` (gzip|xz|zstd). */
struct extract_pool *extract_pool_new(const char *compression, uint32_t chunk_size,
				      unsigned threads, struct error *err);
/* Copies one member in and queues it; waits for a free slot.  -1 ("stopped")
 * once the consumer quit or a member failed to decode. */
int extract_pool_submit(struct extract_pool *p, const void *member, size_t len,
			struct error *err);
/* Format 3 (docs/delta.md): members are cut at entry boundaries, so any
 * may decode short; call before the first submit. */
void extract_pool_allow_short(struct extract_pool *p);
/* Queues a chunk that is already plain tar (format 3: a block a guest
 * rebuilt and checked against its signed hash), 1 .. chunk_size bytes, in
 * the same order as members. */
int extract_pool_submit_plain(struct extract_pool *p, const void *chunk, size_t len,
			      struct error *err);
/* No more members: the consumer sees the end after the last one. */
void extract_pool_close(struct extract_pool *p);
/* The consumer's extract_input_fn (ctx: the pool): the next chunk, in order;
 * it stays valid until the next call.  0 at the end, -1 with err naming the
 * member by its index, as blocks are ("payload member 3: ..."). */
long extract_pool_next(void *pool, const void **data, struct error *err);
/* The consumer stops reading: submitting fails from now on. */
void extract_pool_cancel(struct extract_pool *p);
/* Stops and joins the decoders, frees everything.  NULL is allowed. */
void extract_pool_free(struct extract_pool *p);
/* Decoder threads running (tests). */
unsigned extract_pool_threads(const struct extract_pool *p);

#endif
