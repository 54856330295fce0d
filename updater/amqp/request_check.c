/* request_check.c: the guest's rules for a request, for its senders (see
 * include/request_check.h). */
#include <stdio.h>
#include <string.h>

#include "fetch/fetch.h"
#include "request_check.h"
#include "version.h"

#define REQUEST_ID_CHARS "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-"

int request_id_ok(const char *id, size_t max)
{
	size_t len = strnlen(id, max + 1);

	return len > 0 && len <= max && strspn(id, REQUEST_ID_CHARS) == len;
}

int request_check_id(const char *field, const char *id, size_t max, struct error *err)
{
	if (request_id_ok(id, max))
		return 0;
	/* The id itself is not echoed: it is hostile and may hold anything. */
	return error_set(err, "%s: want 1 to %zu of [0-9A-Za-z_-]", field, max);
}

int request_check_version(const char *field, const char *version, struct error *err)
{
	struct version parsed;

	if (version_parse(version, &parsed, err) < 0)
		return error_prefix(err, "%s: ", field);
	return 0;
}

int request_check_location(const char *field, const char *strategy, const char *location,
			   struct error *err)
{
	if (fetch_validate_relayed(strategy, location, err) < 0)
		return error_prefix(err, "%s: ", field);
	return 0;
}

int request_check_sha256(const char *field, const char *sha256, struct error *err)
{
	if (strlen(sha256) != 64 || strspn(sha256, "0123456789abcdef") != 64)
		return error_set(err, "%s: want 64 lower-case hex digits", field);
	return 0;
}

json_t *request_upgrade_args(const struct request_upgrade *req)
{
	json_t *args = json_pack("{s:s, s:s, s:s, s:s}", "upgrade_id", req->upgrade_id,
				 "instance_id", req->instance_id, "instance_version", req->version,
				 "location", req->location);
	json_t *metadata = req->metadata ? json_deep_copy(req->metadata) : json_object();

	if (!args || !metadata) {
		json_decref(args);
		json_decref(metadata);
		return NULL;
	}
	if (req->strategy)
		json_object_set_new(args, "strategy", json_string(req->strategy));
	if (req->sha256)
		json_object_set_new(metadata, "sha256", json_string(req->sha256));
	json_object_set_new(args, "metadata", metadata);
	return args;
}

json_t *request_rollback_args(const char *upgrade_id)
{
	return json_pack("{s:s}", "upgrade_id", upgrade_id);
}
