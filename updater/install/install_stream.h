/* install_stream.h: one bundle, from its location into a slot, streaming.
 *
 *   fetch process:     strategy, confined (updater/fetch/fetch_child.h) -> socket
 *   fetch thread:      records from it -> SHA-256 of the file -> socket
 *   calling thread:    bundle_read (signature, manifest, hash list, each
 *                      block hashed before it is decrypted) -> socket
 *   extraction thread: libarchive read side, hardened writer -> slot
 *
 * Nothing unverified reaches a decompressor.  Memory stays bounded (one
 * block of at most BUNDLE_BLOCK_MAX, two socket buffers, the decoder under
 * EXTRACT_XZ_MEMLIMIT / EXTRACT_ZSTD_WINDOW_LOG_MAX) whatever the bundle,
 * under 16 MiB peak RSS for the release slotupd (tests/integration/hostile.sh),
 * and the three stages run concurrently on the machine's cores.  The slot is
 * touched only after the manifest passed every check: a bundle refused for
 * its signature, compatible string, version or identity leaves the inactive
 * slot exactly as it was.  On a failure after that, the slot is cleared and
 * set back to `empty`.  The error reported is the first cause: an unpack
 * error over the verifier's "extraction stopped", a download error over the
 * verifier's "truncated". */
#ifndef SLOTD_INSTALL_STREAM_H
#define SLOTD_INSTALL_STREAM_H

#include "bundle/bundle.h"
#include "config.h"
#include "extract/extract.h"
#include "install/install.h"
#include "slots.h"

struct install_stream_checks {
	const char *expected_version;	/* NULL: any */
	const char *expected_sha256;	/* of the whole bundle file; NULL: not checked */
	const char *metadata;		/* see install_request */
	const char *running_version;	/* "" when nothing runs */
	const char *running_digest;	/* manifest digest of the running slot, or "" */
	int allow_downgrade;
	const char *file_beneath;	/* see install_request */
	int authenticated;		/* see install_request (format = pip only) */
};

enum install_stream_outcome {
	INSTALL_STREAM_INSTALLED,	/* the slot holds the bundle, `installed` */
	INSTALL_STREAM_IDENTICAL,	/* the bundle is the running slot's: nothing read past
					 * its manifest, nothing written */
};

struct install_stream_result {
	enum install_stream_outcome outcome;
	struct bundle_manifest manifest;	/* valid once manifest_ok */
	int manifest_ok;
	struct extract_stats stats;
	unsigned long long bundle_bytes;
	/* over the wire, delta path and whole download together; and the
	 * stored bytes of the blocks rebuilt from the running slot */
	unsigned long long fetched_bytes, reused_bytes;
	int delta;			/* installed by the delta path (docs/delta.md) */
};

/* Streams the bundle into `slot` (the inactive one) and syncs it; the slot
 * ends `installed` on success.  Returns 0 (check result->outcome) or -1. */
int install_stream(const struct config *config, const char *strategy, const char *location,
		   struct slots *slots, int slot, const struct install_stream_checks *checks,
		   const struct install_progress *progress, struct install_stream_result *result,
		   struct error *err);

#endif
