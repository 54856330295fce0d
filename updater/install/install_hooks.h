/* install_hooks.h: the programs [hooks] names, run by slotupd around an
 * upgrade (RAUC's install hooks, SWUpdate's pre/post scripts):
 *   pre_install   before anything is fetched or written: a backup of the
 *                 agent's data, a drain; exit 75 (EX_TEMPFAIL) defers the
 *                 upgrade like a held inhibitor, any other non-zero exit
 *                 fails it (nothing was touched);
 *   pre_activate  the new slot written and synced, before slotd is asked to
 *                 flip: a check or a migration of the new slot; same exits;
 *   post_commit   after the trial passed and the slot is good: a failure is
 *                 logged, the upgrade stays SUCCESS (it cannot be undone).
 * A hook runs as slotupd (root), without a shell, in a process group of its
 * own, stdin /dev/null, stdout slotupd's stderr; its stderr is read (at most
 * HOOKS_STDERR_MAX bytes kept, each line logged) and its first line is the
 * reason of a failure.  At [hooks] timeout its whole group is SIGKILLed and
 * the attempt fails.  The environment is slotupd's plus SLOTD_HOOK (its
 * name), SLOTD_UPGRADE_ID, SLOTD_FROM_VERSION, SLOTD_TO_VERSION, SLOTD_ROOT,
 * SLOTD_CURRENT_SLOT and SLOTD_NEW_SLOT (paths; "" where there is none). */
#ifndef SLOTD_INSTALL_HOOKS_H
#define SLOTD_INSTALL_HOOKS_H

#include <stddef.h>

#include "config.h"

#define HOOKS_STDERR_MAX 4096
#define HOOKS_EX_TEMPFAIL 75

enum hooks_kind { HOOKS_PRE_INSTALL, HOOKS_PRE_ACTIVATE, HOOKS_POST_COMMIT };
enum hooks_result { HOOKS_OK, HOOKS_DEFER, HOOKS_FAILED };

struct hooks_context {
	const char *id, *from_version, *to_version;
	const char *root, *current_slot, *new_slot;	/* paths */
};

/* Runs the hook of that kind if [hooks] names one (HOOKS_OK if not); on
 * DEFER or FAILED, reason says why for the history ("pre_install hook
 * failed (exit 3): no space for the backup"). */
enum hooks_result hooks_run(const struct config *c, enum hooks_kind kind,
			    const struct hooks_context *ctx, char *reason, size_t len);

#endif
