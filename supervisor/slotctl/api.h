/* api.h (private to slotctl): what the files of slotctl's client of
 * slotfleet's API share.  The arrows go one way: api.c (the commands and
 * their dispatch) calls api_rollout.c (the rollout commands) and
 * api_auth.c (the credentials: token file or Keystone), and both call
 * api_request.c (the request and answer helpers and the token file),
 * which calls none of them. */
#ifndef SLOTCTL_API_H
#define SLOTCTL_API_H

#include <jansson.h>

#include "keystone.h"
#include "slotctl.h"

#define API_TOKEN_MAX 4096
#define API_INSTANCES_ARGS_MAX 64	/* --instances given this often at most */

struct api_call {
	const char *api, *token_file, *tenant;
	char token[API_TOKEN_MAX + 1];
	char tenant_buf[KEYSTONE_ID_MAX + 1];	/* the token's project, when no --tenant */
	const char *instance, *version, *location, *strategy, *sha256, *id, *state, *limit;
	const char *instances[API_INSTANCES_ARGS_MAX];	/* each "ID[,ID...]" */
	int instances_count;
	const char *below, *waves, *rate, *max_failure_rate, *probation, *timeout;
	const char *operand, *operand2;		/* "rollout" takes two */
	int json;
};

/* api_request.c.  One request (body NULL: none); *status set (0: no
 * answer); the answer's JSON (or NULL) returned. */
json_t *api_request(const struct api_call *call, const char *method, const char *path,
		    const char *body, long *status);
/* The API's error body as one line on stderr; returns 1 (the exit status). */
int api_refused(const char *what, long status, json_t *answer);
/* A string member, or "-" when absent or empty. */
const char *api_text(json_t *object, const char *key);

/* api_request.c.  The token file's token into call->token; -1 on error
 * (said on stderr). */
int api_read_token(struct api_call *call);
/* api_auth.c.  call->token, and call->tenant when absent, from the token
 * file or Keystone (options override OS_* variables); 0 or an exit status. */
int api_auth(struct api_call *call, const struct api_options *options);

/* slotctl ... rollout SUBCOMMAND [ID] (api_rollout.c); the exit status. */
int api_rollout(const struct api_call *call);

#endif
