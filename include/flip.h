/* flip.h: the `current` symlink.
 *
 * slot_flip() points <root>/current at slots/<a|b> atomically: symlink()
 * "current.tmp", rename() it over "current", fsync the root.  There is no
 * instant at which `current` is missing or points elsewhere.  Each step is a
 * crash point. */
#ifndef SLOTD_FLIP_H
#define SLOTD_FLIP_H

#include "error.h"
#include "layout.h"

/* Reads `current`.  Sets *slot to SLOT_A/SLOT_B, or SLOT_NONE when the link
 * does not exist.  A link that is not a symlink, points anywhere but
 * "slots/a" or "slots/b", or dangles is an error naming the path and target. */
int slot_current(const struct layout *layout, int *slot, struct error *err);

/* Atomically points `current` at `slot`. */
int slot_flip(const struct layout *layout, int slot, struct error *err);

#endif
