/* support_slots.h: slot roots in known states for engine tests. */
#ifndef SLOTD_TEST_SUPPORT_SLOTS_H
#define SLOTD_TEST_SUPPORT_SLOTS_H

#include "slots.h"

/* Installs `version` into `slot` (a marker file holds the version). */
void support_install(struct slots *s, int slot, const char *version);
/* Installs, activates, launches once and commits: `slot` ends current and good. */
void support_make_good(struct slots *s, int slot, const char *version);
/* The slot's marker file still holds `version`. */
void support_assert_marker(const struct slots *s, int slot, const char *version);

#endif
