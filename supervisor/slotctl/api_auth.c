/* api_auth.c: the token slotctl sends to slotfleet's API, and the tenant
 * it names, from either
 *   --token-file F --tenant T   (slotfleet's [api] auth = tokens), or
 *   Keystone credentials the way OpenStack's clients take them: --os-*
 *   options, else the OS_* environment variables (OS_AUTH_URL,
 *   OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME, OS_USER_DOMAIN_NAME and
 *   OS_PROJECT_DOMAIN_NAME, both "Default" when unset, OS_TOKEN,
 *   OS_CACERT).  With a password, slotctl gets a token (POST
 *   /v3/auth/tokens, keystone.h); with OS_TOKEN it uses that one, and asks
 *   Keystone what it is (the token validates itself) when the tenant is
 *   needed.  Without --tenant the tenant is the token's project id.
 * Called by api.c only; calls keystone.h.  Never prints a token or password. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "keystone.h"
#include "request_check.h"

#define API_AUTH_TIMEOUT_MS 30000L

/* The option if given, else the environment variable, else fallback. */
static const char *api_os(const char *option, const char *variable, const char *fallback)
{
	const char *value = option ? option : getenv(variable);

	return value && *value ? value : fallback;
}

/* The tenant from the token's project when --tenant is absent. */
static int api_take_tenant(struct api_call *call, const struct keystone_token *info)
{
	if (call->tenant)
		return 0;
	if (!info->project_id[0] || !request_id_ok(info->project_id, REQUEST_ID_MAX)) {
		fprintf(stderr, "slotctl: the Keystone token is not scoped to a project: give --tenant\n");
		return 2;
	}
	snprintf(call->tenant_buf, sizeof call->tenant_buf, "%s", info->project_id);
	call->tenant = call->tenant_buf;
	return 0;
}

/* OS_TOKEN: used as is, validated only to learn its project. */
static int api_os_token(struct api_call *call, const char *url, const char *token,
			const char *ca)
{
	struct keystone_token info;
	struct error err = { "" };

	if (keystone_token_check(token, strlen(token)) < 0 || strlen(token) >= sizeof call->token) {
		fprintf(stderr, "slotctl: OS_TOKEN: not a token\n");
		return 2;
	}
	snprintf(call->token, sizeof call->token, "%s", token);
	if (call->tenant)
		return 0;
	if (!url) {
		fprintf(stderr, "slotctl: OS_TOKEN without --tenant needs OS_AUTH_URL\n");
		return 2;
	}
	if (keystone_validate(url, ca, API_AUTH_TIMEOUT_MS, token, token, &info, &err) != KEYSTONE_OK) {
		fprintf(stderr, "slotctl: %s: %s\n", url, err.text);
		return 1;
	}
	return api_take_tenant(call, &info);
}

static int api_os_password(struct api_call *call, const struct api_options *o, const char *url,
			   const char *ca)
{
	struct keystone_auth auth = {
		.auth_url = url, .ca_file = ca,
		.username = api_os(o->os_username, "OS_USERNAME", NULL),
		.password = api_os(o->os_password, "OS_PASSWORD", NULL),
		.project_name = api_os(o->os_project_name, "OS_PROJECT_NAME", NULL),
		.user_domain_name = api_os(o->os_user_domain_name, "OS_USER_DOMAIN_NAME", "Default"),
		.project_domain_name = api_os(o->os_project_domain_name, "OS_PROJECT_DOMAIN_NAME",
					      "Default"),
	};
	struct keystone_token info;
	struct error err = { "" };

	if (!auth.username || !auth.password || !auth.project_name) {
		fprintf(stderr, "slotctl: Keystone needs OS_USERNAME, OS_PASSWORD and OS_PROJECT_NAME "
				"(or --os-username, --os-password, --os-project-name)\n");
		return 2;
	}
	if (keystone_issue(&auth, API_AUTH_TIMEOUT_MS, call->token, sizeof call->token, &info,
			   &err) != KEYSTONE_OK) {
		fprintf(stderr, "slotctl: %s: %s\n", url, err.text);
		return 1;
	}
	return api_take_tenant(call, &info);
}

int api_auth(struct api_call *call, const struct api_options *o)
{
	const char *url = api_os(o->os_auth_url, "OS_AUTH_URL", NULL);
	const char *token = api_os(o->os_token, "OS_TOKEN", NULL);
	const char *ca = api_os(o->os_cacert, "OS_CACERT", NULL);

	if (call->token_file) {
		if (!call->tenant) {
			fprintf(stderr, "slotctl: --token-file needs --tenant\n");
			return 2;
		}
		return api_read_token(call) < 0 ? 2 : 0;
	}
	if (url && strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) {
		fprintf(stderr, "slotctl: OS_AUTH_URL: want http://... or https://...\n");
		return 2;
	}
	if (token)
		return api_os_token(call, url, token, ca);
	if (!url) {
		fprintf(stderr, "slotctl: credentials: --token-file and --tenant, or OS_AUTH_URL "
				"(--os-auth-url) with a user or OS_TOKEN\n");
		return 2;
	}
	return api_os_password(call, o, url, ca);
}
