/* fleet_auth.h: who may call slotfleet's API (docs/fleet.md, "API contract").
 *
 * The token file holds one token a line, "SHA256HEX TENANT ROLE": the
 * SHA-256 of the token's bytes in lower-case hex, the tenant id
 * ([0-9A-Za-z_-], at most 63 bytes) and "admin" or "member"; '#' starts a
 * comment, blank lines are skipped.  Anything else is an error
 * "PATH:LINE: what" (the line's text is never echoed).  The file keeps no
 * token, only hashes, and slotfleet never logs a token.
 *
 * fleet_auth_check() hashes the X-Auth-Token value and compares it with
 * every entry in constant time (no early exit, CRYPTO_memcmp), so the
 * answer's timing does not tell how much of a hash matched. */
#ifndef SLOTFLEET_AUTH_H
#define SLOTFLEET_AUTH_H

#include <stddef.h>

#include "error.h"

#define FLEET_AUTH_TOKENS_MAX 10000

enum fleet_auth_result {
	FLEET_AUTH_OK,
	FLEET_AUTH_MISSING,		/* 401: no X-Auth-Token */
	FLEET_AUTH_UNKNOWN,		/* 401: not in the file */
	FLEET_AUTH_NOT_ADMIN,		/* 403: a member token */
	FLEET_AUTH_OTHER_TENANT,	/* 403: the path names another tenant */
	FLEET_AUTH_UNAVAILABLE,		/* 503: Keystone cannot say (fleet_keystone.h) */
};

struct fleet_auth;

int fleet_auth_load(struct fleet_auth **auth, const char *path, struct error *err);
/* Same, from text (tests); name is used in messages. */
int fleet_auth_load_string(struct fleet_auth **auth, const char *text, const char *name,
			   struct error *err);
void fleet_auth_free(struct fleet_auth *auth);
size_t fleet_auth_count(const struct fleet_auth *auth);

/* token NULL: none sent.  Only admins of the path's tenant pass. */
enum fleet_auth_result fleet_auth_check(const struct fleet_auth *auth, const char *token,
					size_t token_len, const char *tenant);
/* The HTTP status for a result (200 for OK). */
unsigned fleet_auth_status(enum fleet_auth_result result);
const char *fleet_auth_message(enum fleet_auth_result result);

#endif
