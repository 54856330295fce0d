/* fleet_keystone.h: [api] auth = keystone, who may call slotfleet's API
 * when Keystone says so (docs/fleet.md, "Keystone").
 *
 * Each request's X-Auth-Token is validated with Keystone v3 (GET
 * /v3/auth/tokens, X-Subject-Token: the caller's token, X-Auth-Token:
 * slotfleet's own token, got with the [keystone] service user's password
 * scoped to its project, re-issued when three quarters of its life are
 * gone, and once when Keystone answers 401; after a failure, not again for
 * FLEET_KEYSTONE_ISSUE_BACKOFF_S).  The token's project id must
 * be the path's {tenant} (else 403) and it must hold one of [keystone]
 * admin_roles (else 403); Keystone's 404 or 401 is a 401.
 *
 * Validations are cached (api/fleet_keystone_cache.h) by the token's
 * SHA-256, never longer than [keystone] cache_ttl nor the token's expiry:
 * a token revoked in Keystone is refused within cache_ttl.  Only valid
 * answers are cached.
 *
 * Keystone unreachable, slower than [keystone] timeout, answering 5xx (or
 * refusing slotfleet's own credentials or its validation rights, or
 * garbled JSON) is FLEET_AUTH_UNAVAILABLE: 503 with Retry-After, never
 * 401; a request waits at most [keystone] timeout in all, lock waits
 * included; cached tokens keep working.  Such failures are counted
 * (fleet_metrics_keystone) and logged at most once per
 * FLEET_KEYSTONE_LOG_INTERVAL_S, then once when Keystone answers again.
 *
 * Thread-safe: the cache and the service token each have their mutex, in
 * the structure slotfleet's main owns.  Tokens and passwords are never
 * logged; they are wiped from memory once used. */
#ifndef SLOTFLEET_KEYSTONE_H
#define SLOTFLEET_KEYSTONE_H

#include <stddef.h>

#include "api/fleet_auth.h"
#include "config/fleet_config.h"
#include "error.h"
#include "metrics/fleet_metrics.h"

#define FLEET_KEYSTONE_LOG_INTERVAL_S 30
#define FLEET_KEYSTONE_RETRY_AFTER_S 5
#define FLEET_KEYSTONE_ISSUE_BACKOFF_S 2	/* after a failed POST /v3/auth/tokens */

struct fleet_keystone;

/* Reads [keystone] password_file if set.  config and metrics (may be NULL)
 * must outlive it.  Calls curl_global_init(): before any thread starts. */
int fleet_keystone_new(struct fleet_keystone **ks, const struct fleet_config *config,
		       struct fleet_metrics *metrics, struct error *err);
void fleet_keystone_free(struct fleet_keystone *ks);
/* Gets slotfleet's own token now, so that a wrong password shows at start
 * (err says why; slotfleet starts anyway: Keystone may come later). */
int fleet_keystone_prime(struct fleet_keystone *ks, struct error *err);
/* token NULL: none sent.  Only tokens of the path's tenant holding an
 * admin role pass; *retry_after (seconds) is set for UNAVAILABLE. */
enum fleet_auth_result fleet_keystone_check(struct fleet_keystone *ks, const char *token,
					    size_t token_len, const char *tenant,
					    unsigned *retry_after);

#endif
