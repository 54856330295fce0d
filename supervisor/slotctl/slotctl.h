/* slotctl.h: what slotctl's main dispatches to. */
#ifndef SLOTD_SLOTCTL_H
#define SLOTD_SLOTCTL_H

#include "config.h"
#include "control.h"

/* `slotctl status [--json]` and the requests to the local slotd (local.c).
 * Return the exit status: 0 done, 1 refused, unreachable or malformed. */
int local_status(const struct config *config, int json);
int local_command(const struct config *config, const struct control_request *request);

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
