/* keystone_token.c: Keystone's token answers read and checked, and the
 * password request written (see keystone.h).  No I/O: keystone.c does the
 * HTTP and calls this, never the other way. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "keystone.h"

int keystone_token_check(const char *token, size_t len)
{
	size_t i;

	if (!token || len == 0 || len > KEYSTONE_TOKEN_MAX)
		return -1;
	for (i = 0; i < len; i++)
		if (token[i] <= ' ' || token[i] > '~')
			return -1;
	return 0;
}

/* "2026-12-07T04:47:21.000000Z" or "...:21Z": Keystone writes UTC. */
static int keystone_parse_time(const char *text, int64_t *out)
{
	struct tm tm = { 0 };
	const char *rest = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);

	if (!rest)
		return -1;
	if (*rest == '.') {
		rest++;
		if (strspn(rest, "0123456789") == 0 || strspn(rest, "0123456789") > 9)
			return -1;
		rest += strspn(rest, "0123456789");
	}
	if (strcmp(rest, "Z") && strcmp(rest, "+00:00") && *rest)
		return -1;
	*out = (int64_t)timegm(&tm);
	return 0;
}

/* A bounded string of [0-9A-Za-z_-] (ids) or printable ASCII (names). */
static int keystone_copy(json_t *value, char *out, size_t size, int id)
{
	const char *text = json_string_value(value);
	size_t len, i;

	if (!text)
		return -1;
	len = json_string_length(value);
	if (len == 0 || len >= size || strlen(text) != len)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		if (id ? !(strchr("_-", c) || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
			   (c >= 'A' && c <= 'Z')) : (c < ' ' || c > '~'))
			return -1;
	}
	memcpy(out, text, len + 1);
	return 0;
}

static int keystone_parse_roles(json_t *roles, struct keystone_token *info, struct error *err)
{
	size_t i;

	if (!roles)
		return 0;	/* an unscoped token has none */
	if (!json_is_array(roles) || json_array_size(roles) > KEYSTONE_ROLES_MAX)
		return error_set(err, "keystone: token.roles: not an array of at most %d",
				 KEYSTONE_ROLES_MAX);
	for (i = 0; i < json_array_size(roles); i++) {
		json_t *role = json_array_get(roles, i);

		if (!json_is_object(role) ||
		    keystone_copy(json_object_get(role, "name"), info->roles[i], sizeof info->roles[i], 0) < 0)
			return error_set(err, "keystone: token.roles[%zu].name: not a short printable name", i);
	}
	info->role_count = json_array_size(roles);
	return 0;
}

int keystone_token_parse(const char *json, size_t len, struct keystone_token *info,
			 struct error *err)
{
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *token = json_object_get(root, "token"), *project;
	const char *expires = json_string_value(json_object_get(token, "expires_at"));
	int rc = -1;

	memset(info, 0, sizeof *info);
	if (!json_is_object(token)) {
		error_set(err, "keystone: the answer is not {\"token\": {...}}");
		goto out;
	}
	if (!expires || keystone_parse_time(expires, &info->expires_at) < 0) {
		error_set(err, "keystone: token.expires_at: not an ISO 8601 UTC time");
		goto out;
	}
	project = json_object_get(token, "project");
	if (project && (!json_is_object(project) ||
			keystone_copy(json_object_get(project, "id"), info->project_id,
				      sizeof info->project_id, 1) < 0)) {
		error_set(err, "keystone: token.project.id: not an id of at most %d bytes",
			  KEYSTONE_ID_MAX);
		goto out;
	}
	rc = keystone_parse_roles(json_object_get(token, "roles"), info, err);
out:
	json_decref(root);
	return rc;
}

char *keystone_auth_body(const struct keystone_auth *a)
{
	json_t *body = json_pack("{s:{s:{s:[s], s:{s:{s:s, s:{s:s}, s:s}}}, s:{s:{s:s, s:{s:s}}}}}",
		"auth", "identity", "methods", "password", "password", "user",
		"name", a->username, "domain", "name", a->user_domain_name, "password", a->password,
		"scope", "project", "name", a->project_name, "domain", "name", a->project_domain_name);
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;

	json_decref(body);
	return text;
}

int keystone_token_has_role(const struct keystone_token *info, const char *role)
{
	size_t i;

	for (i = 0; i < info->role_count; i++)
		if (!strcmp(info->roles[i], role))
			return 1;
	return 0;
}

int keystone_tokens_url(const char *auth_url, char *url, size_t size)
{
	size_t len = strlen(auth_url);
	int n;

	if (strncmp(auth_url, "http://", 7) && strncmp(auth_url, "https://", 8))
		return -1;
	while (len > 0 && auth_url[len - 1] == '/')
		len--;
	if (len >= 3 && !strncmp(auth_url + len - 3, "/v3", 3))
		len -= 3;
	n = snprintf(url, size, "%.*s/v3/auth/tokens?nocatalog", (int)len, auth_url);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}
