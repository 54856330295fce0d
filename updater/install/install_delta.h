/* install_delta.h: a format 3 bundle installed from what the running slot
 * already holds and the blocks it lacks, fetched by HTTP range requests
 * from the same location (docs/delta.md).
 *
 *   1. head: the bundle's bytes up to its payload, by range, into a temp
 *      file under <root>/cache (a 64 KiB guess, then what the container's
 *      headers say is left, each member checked against its format maximum
 *      before it is asked for); bundle_read_head() verifies it as a whole
 *      bundle's start is verified: signature, manifest, hash list, index;
 *   2. io->check: the caller's manifest checks (nothing touched yet);
 *   3. the plan against the running slot: every block it rebuilds hashes
 *      to the signed tar hash, or it is fetched (bundle_plan_make); a block
 *      the other slot (the one about to be overwritten) rebuilds instead is
 *      kept in a stash file under <root>/cache until the install;
 *   4. io->begin: the caller's slot is made ready;
 *   5. the missing blocks' ranges, fetched in the confined child
 *      (updater/fetch/fetch_child.h) and relayed by a thread, and the
 *      rebuilt ones, go to io->member / io->plain in block order: a fetched
 *      block must match its signed hash before it is handed on, a rebuilt
 *      one is rebuilt again and hashed again (the slot may have changed
 *      since the plan), a stashed one read back and hashed again.
 * Memory: one block of each kind, the hash list, one bit and at most one
 * range per block; the head, the index and the stash stay on disk.
 *
 * Returns 0 when the payload was handed on whole, 1 when io->check found
 * the bundle installed already, 2 when the bundle is not format 3 (nothing
 * touched), 3 when io->check refused its verified manifest (err says why;
 * nothing touched), -1 with the reason otherwise.  On 2 and -1 the caller
 * fetches the whole bundle instead; on 3 a whole bundle would be refused
 * the same way. */
#ifndef SLOTD_INSTALL_DELTA_H
#define SLOTD_INSTALL_DELTA_H

#include "bundle/bundle.h"
#include "config.h"
#include "slots.h"

struct install_delta_io {
	int (*check)(const struct bundle_manifest *m, void *ctx, struct error *err);
	int (*begin)(const struct bundle_manifest *m, void *ctx, struct error *err);
	bundle_payload_fn member;	/* a fetched block, verified: one member */
	bundle_payload_fn plain;	/* a rebuilt block, verified: plain tar */
	void *ctx;
};

struct install_delta_stats {
	unsigned long long fetched;	/* bytes over the wire: head and ranges */
	unsigned long long reused;	/* stored bytes of the blocks rebuilt */
	unsigned blocks, blocks_reused;	/* reused: from either slot */
	unsigned blocks_stashed;	/* of those, from the slot being overwritten */
	size_t ranges;
	unsigned format;		/* the bundle's, once its head verified */
};

int install_delta(const struct config *config, const char *strategy, const char *location,
		  const struct slots *slots, const struct bundle_reader_options *trust,
		  const struct install_delta_io *io, struct install_delta_stats *stats,
		  struct error *err);

#endif
