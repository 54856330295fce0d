/* extract_worker.h: extract_stream() on a thread of its own, fed through a
 * socket, so verified payload bytes are unpacked while the next block is
 * read and hashed.  Used by `slotupd install` and `slotpack extract`.
 *
 * After the end-of-archive marker the worker drains what is left (compressor
 * padding, already verified) so the feeder never sees a spurious EPIPE.  If
 * the worker quits early (a hostile entry), feeding fails and `stopped` says
 * so: the worker's error is then the one that explains the failure.
 *
 * With limits->chunk_size set (bundle format 2), there is no socket: each
 * feed is one member, decoded by an extract_pool (updater/extract/extract_pool.h)
 * on threads of their own, and the worker extracts the chunks in order. */
#ifndef SLOTD_EXTRACT_WORKER_H
#define SLOTD_EXTRACT_WORKER_H

#include <pthread.h>
#include <stddef.h>

#include "extract/extract.h"
#include "extract/extract_pool.h"

struct extract_worker {
	int fd[2];			/* [1] fed by the caller, [0] read by the worker */
	int slot_fd;
	struct extract_limits limits;
	char compression[8];		/* limits.compression points here */
	struct extract_pool *pool;	/* format 2: the members' decoders */
	struct extract_stats stats;	/* valid after extract_worker_finish */
	pthread_t thread;
	int running;
	int stopped;			/* a feed failed because the worker had quit */
	int rc;
	struct error err;
};

/* Starts the worker unpacking into slot_fd (which stays the caller's). */
int extract_worker_start(struct extract_worker *w, int slot_fd,
			 const struct extract_limits *limits, struct error *err);
/* Hands bytes (format 2: one whole member) to the worker; -1 (and
 * w->stopped) when it no longer reads. */
int extract_worker_feed(struct extract_worker *w, const void *data, size_t len,
			struct error *err);
/* Format 3: one chunk of plain tar in the members' order
 * (extract_pool_submit_plain). */
int extract_worker_feed_plain(struct extract_worker *w, const void *data, size_t len,
			      struct error *err);
/* Ends the input and waits: the worker's result, its error in err.  Safe to
 * call on a worker that never started. */
int extract_worker_finish(struct extract_worker *w, struct error *err);

#endif
