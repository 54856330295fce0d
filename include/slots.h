/* slots.h: the slot engine: status machine, flip ordering, reconcile.
 *
 * Promises (docs/slots.md, Invariants 1-4), held after every call and after a crash at
 * any crash point inside one:
 *  1. `current` points at a slot that is `good` or `trial` (or, when no slot
 *     is bootable at all, nothing is launched and slots_bootable() is 0);
 *  2. a `trial` slot's attempts are incremented on disk before each launch;
 *     at max_attempts it becomes `bad` and `current` goes back;
 *  3. an `installing` slot is never the target of `current`;
 *  4. while a trial runs, the other (previous good) slot is not touched.
 *
 * Ordering that makes this crash safe: a status that *leaves* a slot unusable
 * (bad, installing) is saved before `current` moves away from / is kept away
 * from it; a flip *towards* a slot happens only after its trial/good status is
 * saved.  slots_recover() is idempotent: after a crash anywhere, calling it
 * again finishes or undoes the interrupted step.
 *
 * There are exactly two slots; the "previous" slot of a trial is the other one.
 * Every mutating call takes run/state.lock (flock) and re-reads state and
 * `current` first, so slotd and slotupd never lose each other's updates. */
#ifndef SLOTD_SLOTS_H
#define SLOTD_SLOTS_H

#include "error.h"
#include "layout.h"
#include "state.h"

struct slots {
	struct layout layout;
	struct slot_state state;
	int current;		/* what `current` points at: SLOT_A, SLOT_B, SLOT_NONE */
	unsigned max_attempts;
	int lock_fd;		/* run/state.lock: serialises read-modify-write of state */
};

/* Opens the layout (creating it), loads state and `current`.  Does not
 * reconcile: call slots_recover() before trusting s->current. */
int slots_open(struct slots *s, const char *root, unsigned max_attempts, struct error *err);
void slots_close(struct slots *s);
/* Re-reads state and `current` from disk (another process may have changed them). */
int slots_reload(struct slots *s, struct error *err);

/* Pure function: from any (state, current) pair, the pair to start from.
 * Returns 0 and fills *out_state and *out_current; *why (may be NULL) says what
 * changed, "" when nothing.  Returns -1 when the state contradicts itself
 * (two trial slots), naming the contradiction in err. */
int slots_reconcile(const struct slot_state *state, int current, unsigned max_attempts,
		    struct slot_state *out_state, int *out_current, char *why, size_t why_len,
		    struct error *err);

/* Applies slots_reconcile() to disk: saves state, then flips if needed.
 * *why as above. */
int slots_recover(struct slots *s, char *why, size_t why_len, struct error *err);

/* 1 if `current` points at a good or trial slot. */
int slots_bootable(const struct slots *s);

/* --- updater side --- */
/* The slot an updater may write into, or SLOT_NONE (with the reason in err)
 * when none may be written now (a trial is running: the other slot is the way back). */
int slots_inactive(const struct slots *s, struct error *err);
/* empty|installed|bad|good(inactive) -> installing.  Refuses the current slot. */
int slots_begin_install(struct slots *s, int slot, struct error *err);
/* installing -> installed, recording version and digest. */
int slots_finish_install(struct slots *s, int slot, const char *version, const char *digest,
			 struct error *err);
/* installing -> empty (after the caller cleared or gave up on the tree). */
int slots_abort_install(struct slots *s, int slot, struct error *err);

/* --- supervisor side --- */
/* installed -> trial (attempts 0), save, flip `current` to it. */
int slots_activate(struct slots *s, int slot, struct error *err);
/* Before each launch: recover, then if current is trial, attempts += 1 and
 * save.  Sets *slot to the slot to launch, SLOT_NONE if nothing is bootable. */
int slots_prepare_launch(struct slots *s, int *slot, struct error *err);
/* trial -> good (the health check passed). */
int slots_commit(struct slots *s, struct error *err);
/* trial -> bad with reason, flip back to the other slot if it is good. */
int slots_revert(struct slots *s, const char *reason, struct error *err);
/* Admin: flip to the other slot if it is good (installed too, with force,
 * which starts a trial there).  A running trial is reverted (bad). */
int slots_rollback(struct slots *s, int force, struct error *err);
/* Admin: current trial -> good. */
int slots_mark_good(struct slots *s, struct error *err);
/* Admin: current -> bad, flip to the other slot; refused if the other is not good. */
int slots_mark_bad(struct slots *s, const char *reason, struct error *err);

#endif
