/* auth.c: the token file and the token check (see api/fleet_auth.h). */
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "atomic.h"
#include "api/fleet_auth.h"
#include "request_check.h"

struct fleet_token {
	unsigned char hash[32];
	char tenant[REQUEST_ID_MAX + 1];
	int admin;
};

struct fleet_auth {
	struct fleet_token *tokens;
	size_t count;
};

static int auth_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int auth_parse_hash(const char *hex, unsigned char hash[32])
{
	int hi, lo, i;

	if (strlen(hex) != 64)
		return -1;
	for (i = 0; i < 32; i++) {
		hi = auth_hex_digit(hex[2 * i]);
		lo = auth_hex_digit(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		hash[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

/* One line, comment already cut: "HASH TENANT ROLE". */
static int auth_parse_line(char *line, struct fleet_token *token, struct error *err)
{
	char *save = NULL, *hash = strtok_r(line, " \t", &save);
	char *tenant = strtok_r(NULL, " \t", &save), *role = strtok_r(NULL, " \t", &save);

	if (!hash || !tenant || !role || strtok_r(NULL, " \t", &save))
		return error_set(err, "want three fields: SHA256HEX TENANT ROLE");
	if (auth_parse_hash(hash, token->hash) < 0)
		return error_set(err, "the hash is not 64 lower-case hex digits");
	if (request_check_id("tenant", tenant, REQUEST_ID_MAX, err) < 0)
		return -1;
	memcpy(token->tenant, tenant, strlen(tenant) + 1);
	if (!strcmp(role, "admin"))
		token->admin = 1;
	else if (!strcmp(role, "member"))
		token->admin = 0;
	else
		return error_set(err, "role: want admin or member");
	return 0;
}

static int auth_add(struct fleet_auth *auth, char *line, struct error *err)
{
	struct fleet_token *grown;

	if (auth->count == FLEET_AUTH_TOKENS_MAX)
		return error_set(err, "more than %d tokens", FLEET_AUTH_TOKENS_MAX);
	grown = realloc(auth->tokens, (auth->count + 1) * sizeof *grown);
	if (!grown)
		return error_set(err, "out of memory");
	auth->tokens = grown;
	memset(&grown[auth->count], 0, sizeof *grown);
	if (auth_parse_line(line, &grown[auth->count], err) < 0)
		return -1;
	auth->count++;
	return 0;
}

int fleet_auth_load_string(struct fleet_auth **out, const char *text, const char *name,
			   struct error *err)
{
	struct fleet_auth *auth = calloc(1, sizeof *auth);
	char *copy = strdup(text), *line, *next, *end;
	unsigned number = 0;
	int rc = -1;

	*out = NULL;
	if (!auth || !copy) {
		error_set(err, "out of memory");
		goto out;
	}
	for (line = copy; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		number++;
		line[strcspn(line, "#")] = '\0';
		for (end = line + strlen(line); end > line && strchr(" \t\r", end[-1]); end--)
			end[-1] = '\0';
		if (strspn(line, " \t") == strlen(line))
			continue;
		if (auth_add(auth, line, err) < 0) {
			error_prefix(err, "%s:%u: ", name, number);
			goto out;
		}
	}
	rc = 0;
	*out = auth;
	auth = NULL;
out:
	if (copy)
		OPENSSL_cleanse(copy, strlen(text));
	free(copy);
	fleet_auth_free(auth);
	return rc;
}

int fleet_auth_load(struct fleet_auth **auth, const char *path, struct error *err)
{
	char *text = NULL;
	size_t len;
	int rc;

	*auth = NULL;
	if (atomic_read_file(AT_FDCWD, path, 4 << 20, &text, &len, err) < 0)
		return -1;
	if (strlen(text) != len)
		rc = error_set(err, "%s: NUL byte in the token file", path);
	else
		rc = fleet_auth_load_string(auth, text, path, err);
	free(text);
	return rc;
}

void fleet_auth_free(struct fleet_auth *auth)
{
	if (!auth)
		return;
	free(auth->tokens);
	free(auth);
}

size_t fleet_auth_count(const struct fleet_auth *auth)
{
	return auth->count;
}

enum fleet_auth_result fleet_auth_check(const struct fleet_auth *auth, const char *token,
					size_t token_len, const char *tenant)
{
	unsigned char hash[32];
	unsigned int hash_len = 0;
	size_t i, found = SIZE_MAX;

	if (!token || !token_len)
		return FLEET_AUTH_MISSING;
	if (!EVP_Digest(token, token_len, hash, &hash_len, EVP_sha256(), NULL) || hash_len != 32)
		return FLEET_AUTH_UNKNOWN;
	/* Every entry is compared: the time does not depend on where (or
	 * whether) the token is. */
	for (i = 0; i < auth->count; i++)
		if (CRYPTO_memcmp(hash, auth->tokens[i].hash, sizeof hash) == 0)
			found = i;
	OPENSSL_cleanse(hash, sizeof hash);
	if (found == SIZE_MAX)
		return FLEET_AUTH_UNKNOWN;
	if (strcmp(auth->tokens[found].tenant, tenant) != 0)
		return FLEET_AUTH_OTHER_TENANT;
	if (!auth->tokens[found].admin)
		return FLEET_AUTH_NOT_ADMIN;
	return FLEET_AUTH_OK;
}

unsigned fleet_auth_status(enum fleet_auth_result result)
{
	switch (result) {
	case FLEET_AUTH_OK:
		return 200;
	case FLEET_AUTH_MISSING:
	case FLEET_AUTH_UNKNOWN:
		return 401;
	case FLEET_AUTH_UNAVAILABLE:
		return 503;
	default:
		return 403;
	}
}

const char *fleet_auth_message(enum fleet_auth_result result)
{
	switch (result) {
	case FLEET_AUTH_OK:
		return "ok";
	case FLEET_AUTH_MISSING:
		return "no X-Auth-Token";
	case FLEET_AUTH_UNKNOWN:
		return "unknown token";
	case FLEET_AUTH_NOT_ADMIN:
		return "this token is not an admin's";
	case FLEET_AUTH_UNAVAILABLE:
		return "the identity service (Keystone) cannot be reached; retry later";
	default:
		return "this token belongs to another tenant";
	}
}
