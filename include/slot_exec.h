/* slot_exec.h: a slot's own agent command (docs/slots.md, The agent's command).
 *
 * A slot may name the command that runs its agent in SLOT_EXEC_FILE at its
 * top: one line in [agent] exec's syntax (words split on blanks, no shell),
 * whose first word is relative to the slot, without a ".." component.  A
 * pip slot gets one from slotupd ("venv/" + its strategy's exec, since the
 * venv's console scripts are not where [agent] exec points); a bundle may
 * ship one (it is signed content like the agent itself).  slotd uses it
 * when present and [agent] exec otherwise, so each slot keeps the command
 * it was installed with and a revert to a bundle slot runs that slot's.
 *
 * The file is read without following a symlink, at most
 * CONFIG_STRING_MAX - 1 bytes, one line, no control character: anything
 * else is an error naming the file, and the launch fails (a trial is then
 * reverted like a crash). */
#ifndef SLOTD_SLOT_EXEC_H
#define SLOTD_SLOT_EXEC_H

#include <stddef.h>
#include "error.h"

#define SLOT_EXEC_FILE ".slotd-exec"

/* The slot's command into out (at least CONFIG_STRING_MAX bytes): 1, or 0
 * when the slot has no SLOT_EXEC_FILE, or -1 with err set. */
int slot_exec_read(int slot_fd, char *out, size_t len, struct error *err);

/* Checks command as slot_exec_read() would, then creates SLOT_EXEC_FILE in
 * the slot (which must not have one).  Not synced: the caller syncs the slot
 * before it is marked installed. */
int slot_exec_write(int slot_fd, const char *command, struct error *err);

#endif
