/* slotctl.h: what slotctl's main dispatches to beyond the local commands. */
#ifndef SLOTD_SLOTCTL_H
#define SLOTD_SLOTCTL_H

#include "config.h"

/* `slotctl notify|rollback --instance ID|--instances FILE ...` (fleet.c):
 * method is "upgrade" or "rollback"; argv[0] is the command's name.
 * Returns the exit status. */
int fleet_command(const struct config *config, const char *method, int argc, char **argv);

#endif
