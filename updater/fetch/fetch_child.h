/* fetch_child.h: the download in a confined child process (docs/architecture.md,
 * Privilege separation).
 *
 * fetch_child_run() is fetch_run() with the strategy moved out of the
 * calling, privileged process.  It re-executes the running binary
 * (/proc/self/exe) as `slotupd --fetch-child` (FETCH_CHILD_ARG) with
 * descriptor 3 one end of a SOCK_SEQPACKET socketpair, 0 and 1 on /dev/null,
 * 2 shared, every other descriptor closed and every signal at its default;
 * sends it the job (strategy, location, the download keys of [updater],
 * fetch_user, which the child looks up itself; for `file`, the descriptor
 * of the file, opened here, so that the child needs no filesystem access at
 * all); then hands what the child sends to job->sink and job->progress and
 * returns its result.
 *
 * The child (fetch_child_main(), before it reads a byte from the network)
 * takes [updater] fetch_user's uid when run as root, sets no_new_privs and
 * confines itself with Landlock to reading the CA, resolver and library
 * paths (nothing at all for `file`), writing nothing (updater/privsep/privsep.h).
 * Retries, backoff and resume with Range stay inside it.  It dies with its
 * parent thread (PR_SET_PDEATHSIG).
 *
 * Records, child to parent, each one SEQPACKET message opening with a
 * uint32_t type:
 *   DATA    1..FETCH_CHILD_CHUNK bytes of the file, in order
 *   TOTAL   uint64_t: the size the server announced (progress only)
 *   DONE    the strategy succeeded
 *   FAILED  its error text, 1..511 bytes (sanitised again on receipt)
 * then end of file.  The parent checks nothing the child says about the
 * bundle: the verifier checks every byte against the signed manifest.
 * Anything else (an unknown or cut record, a second result, silence beyond
 * the child's own timeouts, an exit without a result) fails the attempt
 * with a reason naming it ("fetch process: killed by signal 9 ...").
 *
 * Why a re-exec rather than a fork: the child starts from a fresh image, so
 * nothing the parent holds (the AMQP password, the rpc_key, the payload
 * key, earlier messages on its heap) is in the memory of the process that
 * talks to the network, its address layout is its own, and no thread of
 * the parent's can leave a lock held in it.  The price: a program that calls
 * fetch_child_run() must hand FETCH_CHILD_ARG to fetch_child_main() first
 * thing in main() (slotupd does), and /proc must be mounted. */
#ifndef SLOTD_FETCH_CHILD_H
#define SLOTD_FETCH_CHILD_H

#include "fetch/fetch.h"
#include "privsep/privsep.h"

#define FETCH_CHILD_ARG "--fetch-child"
#define FETCH_CHILD_FD PRIVSEP_CHILD_FD
#define FETCH_CHILD_CHUNK (128u << 10)

/* Same contract as fetch_run(). */
int fetch_child_run(const char *strategy, const struct fetch_job *job, struct error *err);

/* The child's side: `slotupd --fetch-child`.  Returns the exit code. */
int fetch_child_main(void);

#endif
