/* keystone.c: [api] auth = keystone (see api/fleet_keystone.h): a token
 * checked against the cache, else validated with Keystone using
 * slotfleet's own token, which this file gets and renews. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/fleet_keystone.h"
#include "api/fleet_keystone_cache.h"
#include "atomic.h"
#include "keystone.h"
#include "log.h"

#define KS_ROLES_MAX 16

/* slotfleet's own token; its lock is taken with the request's deadline. */
struct ks_service {
	pthread_mutex_t lock;
	char token[KEYSTONE_TOKEN_MAX + 1];	/* "" : none yet, or dropped */
	int64_t renew_at_us;			/* monotonic */
	int64_t retry_at_us;			/* after a failed issue, none before */
	uint64_t generation;			/* bumped at each issue */
};

struct fleet_keystone {
	const struct fleet_config *config;
	struct fleet_metrics *metrics;
	struct keystone_auth auth;
	char password[256];
	char admin_roles[KS_ROLES_MAX][KEYSTONE_NAME_MAX + 1];
	size_t admin_role_count;
	struct fleet_keystone_cache *cache;
	struct ks_service service;
	pthread_mutex_t log_lock;		/* the three below */
	int64_t logged_at_us;			/* last failure logged; 0: none */
	unsigned long suppressed;		/* failures not logged since */
	int failing;				/* a failure logged, no success since */
};

static int64_t ks_now_us(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Waits for lock until deadline_us (monotonic); 0 or -1 (timed out). */
static int ks_lock(pthread_mutex_t *lock, int64_t deadline_us)
{
	int64_t left = deadline_us - ks_now_us(CLOCK_MONOTONIC);
	int64_t at = ks_now_us(CLOCK_REALTIME) + (left > 0 ? left : 0);
	struct timespec until = { (time_t)(at / 1000000), (long)(at % 1000000) * 1000 };

	return pthread_mutex_timedlock(lock, &until) == 0 ? 0 : -1;
}

static long ks_left_ms(int64_t deadline_us)
{
	int64_t left = deadline_us - ks_now_us(CLOCK_MONOTONIC);

	return left > 1000 ? (long)(left / 1000) : 1;
}

/* admin_roles, checked by the config ("a, b,c"), split into names. */
static void ks_split_roles(struct fleet_keystone *ks, const char *text)
{
	const char *p = text;
	size_t len;

	while (*p && ks->admin_role_count < KS_ROLES_MAX) {
		p += strspn(p, " \t,");
		len = strcspn(p, ", \t");
		if (len == 0 || len > KEYSTONE_NAME_MAX)
			break;
		memcpy(ks->admin_roles[ks->admin_role_count], p, len);
		ks->admin_roles[ks->admin_role_count++][len] = '\0';
		p += len;
	}
}

/* password_file's first line, without its newline. */
static int ks_read_password(struct fleet_keystone *ks, const char *path, struct error *err)
{
	char *text = NULL;
	size_t len;
	int rc = 0;

	if (atomic_read_file(AT_FDCWD, path, 4096, &text, &len, err) < 0)
		return error_prefix(err, "[keystone] password_file: ");
	len = strcspn(text, "\r\n");
	if (len == 0 || len >= sizeof ks->password || memchr(text, '\0', len))
		rc = error_set(err, "[keystone] password_file %s: want one line of 1 to %zu bytes",
			       path, sizeof ks->password - 1);
	else
		memcpy(ks->password, text, len);
	OPENSSL_cleanse(text, len);
	free(text);
	return rc;
}

static void ks_set_auth(struct fleet_keystone *ks)
{
	const struct fleet_config *c = ks->config;

	ks->auth = (struct keystone_auth){
		.auth_url = c->keystone.auth_url, .username = c->keystone.username,
		.password = ks->password, .user_domain_name = c->keystone.user_domain_name,
		.project_name = c->keystone.project_name,
		.project_domain_name = c->keystone.project_domain_name,
		.ca_file = c->keystone.ca_file,
	};
}

int fleet_keystone_new(struct fleet_keystone **out, const struct fleet_config *config,
		       struct fleet_metrics *metrics, struct error *err)
{
	struct fleet_keystone *ks = calloc(1, sizeof *ks);

	*out = NULL;
	if (!ks)
		return error_set(err, "out of memory");
	ks->config = config;
	ks->metrics = metrics;
	pthread_mutex_init(&ks->service.lock, NULL);
	pthread_mutex_init(&ks->log_lock, NULL);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (config->keystone.password_file[0]) {
		if (ks_read_password(ks, config->keystone.password_file, err) < 0)
			goto fail;
	} else {
		snprintf(ks->password, sizeof ks->password, "%s", config->keystone.password);
	}
	ks_set_auth(ks);
	ks_split_roles(ks, config->keystone.admin_roles);
	if (fleet_keystone_cache_new(&ks->cache, FLEET_KEYSTONE_CACHE_MAX, err) < 0)
		goto fail;
	*out = ks;
	return 0;
fail:
	fleet_keystone_free(ks);
	return -1;
}

void fleet_keystone_free(struct fleet_keystone *ks)
{
	if (!ks)
		return;
	fleet_keystone_cache_free(ks->cache);
	pthread_mutex_destroy(&ks->service.lock);
	pthread_mutex_destroy(&ks->log_lock);
	OPENSSL_cleanse(ks->password, sizeof ks->password);
	OPENSSL_cleanse(ks->service.token, sizeof ks->service.token);
	free(ks);
	curl_global_cleanup();
}

/* A failure: counted always, logged once per interval (with how many were
 * not); a success after a logged failure is logged once too. */
static void ks_note(struct fleet_keystone *ks, int failed, const char *what)
{
	int64_t now = ks_now_us(CLOCK_MONOTONIC);

	pthread_mutex_lock(&ks->log_lock);
	if (failed && (!ks->logged_at_us ||
		       now - ks->logged_at_us >= FLEET_KEYSTONE_LOG_INTERVAL_S * 1000000LL)) {
		log_warn("keystone: %s; answering 503 to uncached tokens (%lu more failures since "
			 "the last message)", what, ks->suppressed);
		ks->logged_at_us = now;
		ks->suppressed = 0;
		ks->failing = 1;
	} else if (failed) {
		ks->suppressed++;
	} else if (ks->failing) {
		log_info("keystone: answering again (%lu failures not logged)", ks->suppressed);
		ks->failing = 0;
		ks->suppressed = 0;
		ks->logged_at_us = 0;
	}
	pthread_mutex_unlock(&ks->log_lock);
}

/* Gets a new service token, lock held; the old one stays until then.
 * Renewal at 3/4 of its life, so a validation never goes out with a
 * token about to expire. */
static enum keystone_status ks_issue(struct fleet_keystone *ks, int64_t deadline_us,
				     struct error *err)
{
	char fresh[KEYSTONE_TOKEN_MAX + 1];
	struct keystone_token info;
	enum keystone_status st;
	int64_t life_us;

	st = keystone_issue(&ks->auth, ks_left_ms(deadline_us), fresh, sizeof fresh, &info, err);
	if (st == KEYSTONE_OK)
		memcpy(ks->service.token, fresh, sizeof fresh);
	OPENSSL_cleanse(fresh, sizeof fresh);
	if (st != KEYSTONE_OK)
		return st;
	life_us = (info.expires_at * 1000000) - ks_now_us(CLOCK_REALTIME);
	if (life_us < 0)
		life_us = 0;
	ks->service.renew_at_us = ks_now_us(CLOCK_MONOTONIC) + life_us / 4 * 3;
	ks->service.generation++;
	fleet_metrics_keystone_issued(ks->metrics);
	log_info("keystone: got slotfleet's token as %s in project %s (expires in %lld s)",
		 ks->config->keystone.username, ks->config->keystone.project_name,
		 (long long)(life_us / 1000000));
	return KEYSTONE_OK;
}

/* The service token into out (KEYSTONE_TOKEN_MAX + 1 bytes), issued if
 * there is none or it is due for renewal; *generation says which.  After
 * a failed issue none is tried for FLEET_KEYSTONE_ISSUE_BACKOFF_S: a
 * refused password sent at each request would hammer Keystone and could
 * lock the service user out.  A renewal that fails keeps the old token. */
static int ks_service_token(struct fleet_keystone *ks, int64_t deadline_us, char *out,
			    uint64_t *generation, struct error *err)
{
	int64_t now = ks_now_us(CLOCK_MONOTONIC);
	int due, rc = 0;

	if (ks_lock(&ks->service.lock, deadline_us) < 0)
		return error_set(err, "keystone: timed out waiting for slotfleet's own token");
	due = !ks->service.token[0] || now >= ks->service.renew_at_us;
	if (due && now >= ks->service.retry_at_us && ks_issue(ks, deadline_us, err) != KEYSTONE_OK) {
		error_prefix(err, "slotfleet's own token (user %s): ", ks->config->keystone.username);
		ks->service.retry_at_us = now + FLEET_KEYSTONE_ISSUE_BACKOFF_S * 1000000LL;
	} else if (due && now < ks->service.retry_at_us) {
		error_set(err, "keystone: slotfleet's own token: the last attempt failed less than "
			  "%d s ago", FLEET_KEYSTONE_ISSUE_BACKOFF_S);
	}
	if (ks->service.token[0]) {
		memcpy(out, ks->service.token, sizeof ks->service.token);
		*generation = ks->service.generation;
	} else {
		rc = -1;
	}
	pthread_mutex_unlock(&ks->service.lock);
	return rc;
}

/* Keystone refused the service token: the next call issues a new one,
 * unless another thread already did. */
static void ks_service_drop(struct fleet_keystone *ks, int64_t deadline_us, uint64_t generation)
{
	if (ks_lock(&ks->service.lock, deadline_us) < 0)
		return;
	if (ks->service.generation == generation)
		ks->service.token[0] = '\0';
	pthread_mutex_unlock(&ks->service.lock);
}

int fleet_keystone_prime(struct fleet_keystone *ks, struct error *err)
{
	char token[KEYSTONE_TOKEN_MAX + 1];
	uint64_t generation;
	int64_t deadline = ks_now_us(CLOCK_MONOTONIC) + ks->config->keystone.timeout_ms * 1000LL;
	int rc = ks_service_token(ks, deadline, token, &generation, err);

	OPENSSL_cleanse(token, sizeof token);
	return rc;
}

/* Asks Keystone about subject; a 401 (slotfleet's own token refused: it
 * expired or was revoked early) gets a new service token and one retry. */
static enum keystone_status ks_validate(struct fleet_keystone *ks, const char *subject,
					int64_t deadline_us, struct keystone_token *info,
					struct error *err)
{
	const struct fleet_config *c = ks->config;
	char own[KEYSTONE_TOKEN_MAX + 1];
	enum keystone_status st = KEYSTONE_FAILED;
	uint64_t generation;

	for (int attempt = 0; attempt < 2; attempt++) {
		if (ks_service_token(ks, deadline_us, own, &generation, err) < 0) {
			st = KEYSTONE_FAILED;
			break;
		}
		st = keystone_validate(c->keystone.auth_url, c->keystone.ca_file,
				       ks_left_ms(deadline_us), own, subject, info, err);
		if (st != KEYSTONE_UNAUTHORIZED || attempt == 1)
			break;
		log_info("keystone: slotfleet's token refused (401): getting a new one");
		ks_service_drop(ks, deadline_us, generation);
	}
	OPENSSL_cleanse(own, sizeof own);
	/* A second 401 with a fresh token of ours: Keystone refuses the
	 * caller's token. */
	return st == KEYSTONE_UNAUTHORIZED ? KEYSTONE_NOT_FOUND : st;
}

/* What a valid token grants, and how long it may be trusted. */
static int64_t ks_grant(const struct fleet_keystone *ks, const struct keystone_token *info,
			int64_t now_us, struct fleet_keystone_grant *grant)
{
	int64_t ttl_us = ks->config->keystone.cache_ttl_ms * 1000LL;
	int64_t left_us = info->expires_at * 1000000 - ks_now_us(CLOCK_REALTIME);
	size_t i;

	memset(grant, 0, sizeof *grant);
	memcpy(grant->project_id, info->project_id, sizeof grant->project_id);
	for (i = 0; i < ks->admin_role_count; i++)
		if (keystone_token_has_role(info, ks->admin_roles[i]))
			grant->admin = 1;
	return now_us + (left_us < ttl_us ? left_us : ttl_us);
}

/* The grant for token (cache, else Keystone): OK, UNKNOWN or UNAVAILABLE. */
static enum fleet_auth_result ks_lookup(struct fleet_keystone *ks, const char *token,
					const unsigned char key[32],
					struct fleet_keystone_grant *grant)
{
	int64_t now = ks_now_us(CLOCK_MONOTONIC);
	int64_t deadline = now + ks->config->keystone.timeout_ms * 1000LL, until;
	struct error err = { "" };
	struct keystone_token info;
	enum keystone_status st;

	if (fleet_keystone_cache_get(ks->cache, key, now, grant)) {
		fleet_metrics_keystone(ks->metrics, FLEET_KEYSTONE_CACHED);
		return FLEET_AUTH_OK;
	}
	st = ks_validate(ks, token, deadline, &info, &err);
	if (st == KEYSTONE_FAILED) {
		fleet_metrics_keystone(ks->metrics, FLEET_KEYSTONE_UNAVAILABLE);
		ks_note(ks, 1, err.text);
		return FLEET_AUTH_UNAVAILABLE;
	}
	ks_note(ks, 0, NULL);
	if (st != KEYSTONE_OK) {
		fleet_metrics_keystone(ks->metrics, FLEET_KEYSTONE_INVALID);
		return FLEET_AUTH_UNKNOWN;
	}
	fleet_metrics_keystone(ks->metrics, FLEET_KEYSTONE_VALID);
	now = ks_now_us(CLOCK_MONOTONIC);
	until = ks_grant(ks, &info, now, grant);
	fleet_keystone_cache_put(ks->cache, key, grant, until, now);
	return FLEET_AUTH_OK;
}

enum fleet_auth_result fleet_keystone_check(struct fleet_keystone *ks, const char *token,
					    size_t token_len, const char *tenant,
					    unsigned *retry_after)
{
	char subject[KEYSTONE_TOKEN_MAX + 1];
	struct fleet_keystone_grant grant;
	enum fleet_auth_result result;
	unsigned char key[32];
	unsigned int key_len = 0;

	if (!token || !token_len)
		return FLEET_AUTH_MISSING;
	/* Not a token Keystone could have made: no need to ask it. */
	if (keystone_token_check(token, token_len) < 0 ||
	    !EVP_Digest(token, token_len, key, &key_len, EVP_sha256(), NULL) || key_len != 32)
		return FLEET_AUTH_UNKNOWN;
	memcpy(subject, token, token_len);
	subject[token_len] = '\0';
	result = ks_lookup(ks, subject, key, &grant);
	OPENSSL_cleanse(subject, sizeof subject);
	if (result == FLEET_AUTH_UNAVAILABLE)
		*retry_after = FLEET_KEYSTONE_RETRY_AFTER_S;
	if (result != FLEET_AUTH_OK)
		return result;
	if (strcmp(grant.project_id, tenant) != 0)
		return FLEET_AUTH_OTHER_TENANT;
	return grant.admin ? FLEET_AUTH_OK : FLEET_AUTH_NOT_ADMIN;
}
