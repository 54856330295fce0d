/* slotctl.h: what slotctl's main dispatches to beyond the local commands. */
#ifndef SLOTD_SLOTCTL_H
#define SLOTD_SLOTCTL_H

#include "config.h"

/* `slotctl notify|rollback --instance ID|--instances FILE ...` (fleet.c):
 * method is "upgrade" or "rollback"; argv[0] is the command's name.
 * Returns the exit status. */
int fleet_command(const struct config *config, const char *method, int argc, char **argv);

/* `slotctl --api URL --token-file F --tenant T upgrade|upgrades|instance ...`
 * (api.c): slotfleet's API.  argv[0] is the command; the three options may
 * be NULL here and given after the command instead.  Returns the exit status. */
int api_command(const char *api, const char *token_file, const char *tenant, int argc,
		char **argv);

#endif
