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

/* The API client's global options; any may be NULL (not given).  The
 * --os-* ones override the OS_* environment variables (api_auth.c). */
struct api_options {
	const char *api, *token_file, *tenant;
	const char *os_auth_url, *os_username, *os_password, *os_project_name;
	const char *os_user_domain_name, *os_project_domain_name, *os_token, *os_cacert;
};

/* `slotctl --api URL (--token-file F --tenant T | OS_* credentials)
 * upgrade|upgrades|instance|rollout ...` (api.c): slotfleet's API.  argv[0]
 * is the command; --api, --token-file and --tenant may also be given after
 * the command.  Returns the exit status. */
int api_command(const struct api_options *options, int argc, char **argv);

#endif
