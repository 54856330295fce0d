/* install_recovery.h: what a dead slotupd left behind, put right.
 *
 * Called by install_run() under the updater lock, before anything else:
 *  - a slot still `installing` holds a half-written tree: it is cleared and
 *    set back to `empty` (it was never the target of `current`);
 *  - an attempt whose last record is not final was interrupted: FAILED with
 *    "interrupted", except one that was ACTIVATING, whose outcome slotd
 *    decided without us: SUCCESS if its slot is now good, FAILED (with the
 *    slot's reason) if bad, left alone while the trial still runs.
 * DEFERRED attempts are left alone: they are waiting, not interrupted. */
#ifndef SLOTD_INSTALL_RECOVERY_H
#define SLOTD_INSTALL_RECOVERY_H

#include "error.h"
#include "slots.h"

int install_recover(struct slots *slots, const char *except_id, struct error *err);

#endif
