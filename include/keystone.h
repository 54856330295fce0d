/* keystone.h: a client of OpenStack Keystone's v3 token API, shared by
 * slotfleet (validating its callers' tokens) and slotctl (getting one).
 *
 *   keystone_issue():    POST {auth_url}/auth/tokens?nocatalog, password
 *                        authentication scoped to a project; the token
 *                        (X-Subject-Token) and what it grants.
 *   keystone_validate(): GET {auth_url}/auth/tokens?nocatalog with
 *                        X-Auth-Token (the caller's own token) and
 *                        X-Subject-Token (the token to check).
 *
 * auth_url is Keystone's identity endpoint as OpenStack writes it
 * (http://HOST:5000/v3 or http://HOST:5000; "/v3" is added when missing),
 * http or https only; redirects are not followed; ca_file (NULL or "":
 * the system's CAs) verifies https.  Each call takes at most timeout_ms in
 * all (connect included) and reads at most KEYSTONE_ANSWER_MAX bytes.
 *
 * Keystone's answer is outside input: the body must be a JSON object with
 * the members' types as documented, the project id an id of at most
 * KEYSTONE_ID_MAX bytes of [0-9A-Za-z_-], at most KEYSTONE_ROLES_MAX role
 * names of at most KEYSTONE_NAME_MAX bytes, expires_at an ISO 8601 UTC time;
 * anything else is KEYSTONE_FAILED.  Tokens are never logged nor put in an
 * error. */
#ifndef SLOTD_KEYSTONE_H
#define SLOTD_KEYSTONE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define KEYSTONE_TOKEN_MAX 4096		/* bytes of a token (fernet: about 200) */
#define KEYSTONE_ID_MAX 64
#define KEYSTONE_NAME_MAX 64
#define KEYSTONE_ROLES_MAX 64
#define KEYSTONE_ANSWER_MAX (1u << 20)

struct keystone_auth {
	const char *auth_url;
	const char *username, *password, *user_domain_name;
	const char *project_name, *project_domain_name;
	const char *ca_file;
};

/* What a token grants. */
struct keystone_token {
	char project_id[KEYSTONE_ID_MAX + 1];		/* "" : not scoped to a project */
	char roles[KEYSTONE_ROLES_MAX][KEYSTONE_NAME_MAX + 1];
	size_t role_count;
	int64_t expires_at;				/* Unix seconds */
};

enum keystone_status {
	KEYSTONE_OK,
	KEYSTONE_NOT_FOUND,	/* 404: the subject token is not valid (validate) */
	KEYSTONE_UNAUTHORIZED,	/* 401: the credentials or X-Auth-Token are refused */
	KEYSTONE_FAILED,	/* unreachable, timed out, 5xx, 403, malformed answer */
};

/* token (token_size bytes at least KEYSTONE_TOKEN_MAX + 1) receives the
 * new token; info what it grants.  err says why on anything but OK. */
enum keystone_status keystone_issue(const struct keystone_auth *auth, long timeout_ms,
				    char *token, size_t token_size, struct keystone_token *info,
				    struct error *err);
enum keystone_status keystone_validate(const char *auth_url, const char *ca_file, long timeout_ms,
				       const char *own_token, const char *subject,
				       struct keystone_token *info, struct error *err);

/* keystone_token.c.  A token's bytes fit in a header: 1 to
 * KEYSTONE_TOKEN_MAX bytes of printable ASCII without space.  0 or -1. */
int keystone_token_check(const char *token, size_t len);
/* The body of a token answer ({"token": {...}}) checked and read. */
int keystone_token_parse(const char *json, size_t len, struct keystone_token *info,
			 struct error *err);
/* The password authentication request's body; malloc'd, NULL on no memory. */
char *keystone_auth_body(const struct keystone_auth *auth);
/* 1 when the token holds the role named role. */
int keystone_token_has_role(const struct keystone_token *info, const char *role);
/* {auth_url}/auth/tokens?nocatalog into url; -1 if too long or not http(s). */
int keystone_tokens_url(const char *auth_url, char *url, size_t size);

#endif
