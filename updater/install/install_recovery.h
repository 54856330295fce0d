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
#include "history.h"
#include "slots.h"

int install_recover(struct slots *slots, const char *except_id, struct error *err);

/* The outcome slotd decided for attempt r (as the slots now say): SUCCESS,
 * FAILED (r->error set), or -1 while its slot is still on trial.  Also used
 * by an attempt whose connection to slotd broke during the trial: a
 * restarted slotd goes on with a trial saved on disk. */
int install_trial_verdict(const struct slots *slots, struct history_record *r);

#endif
