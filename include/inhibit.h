/* inhibit.h: the upgrade inhibitor, <root>/run/inhibit (docs/slots.md, The upgrade inhibitor).
 *
 * The agent holds flock(LOCK_SH) on the file while doing work that must not
 * be interrupted.  An upgrade or flip takes LOCK_EX, bounded in time.  flock
 * locks belong to the open file description, so a forked waiter child can
 * block in flock() on an inherited fd and the lock it gets is the parent's:
 * that is how a bounded wait is done without polling or signals in the caller. */
#ifndef SLOTD_INHIBIT_H
#define SLOTD_INHIBIT_H

#include <sys/types.h>
#include "error.h"
#include "layout.h"

/* Opens (creating) run/inhibit, mode 0600 (narrowed if it was wider: any
 * process able to open it could hold the lock); returns the fd or -1. */
int inhibit_open(const struct layout *layout, struct error *err);
/* Non-blocking LOCK_EX: 0 acquired, 1 held by someone else, -1 error. */
int inhibit_try(int fd, struct error *err);
/* Forks a child that blocks in flock(fd, LOCK_EX) for at most timeout_ms and
 * exits 0 (acquired, for the parent) or 1 (timed out).  Returns its pid. */
pid_t inhibit_spawn_waiter(int fd, unsigned timeout_ms, struct error *err);
/* Blocking form: 0 acquired, 1 still held after timeout_ms, -1 error. */
int inhibit_acquire(int fd, unsigned timeout_ms, struct error *err);
/* Drops the lock (the fd stays open). */
int inhibit_release(int fd);

#endif
