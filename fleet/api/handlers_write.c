/* handlers_write.c: the API's writes, POST .../mgmt/upgrade and
 * POST .../mgmt/instances/{id}/action {"rollback": {}}.
 *
 * A request is checked whole with the guest's own rules (request_check.h)
 * before anything happens: malformed JSON, a wrong type, an unknown field,
 * a bad id, version, strategy, location or sha256 is a 400 naming the
 * field.  Then the record is inserted (NEW, with the caller's tenant) and,
 * in the same transaction, its cast queued in the outbox
 * (store/fleet_store_outbox.h); 202 with Location and the record (cast
 * "pending") once that has committed, without waiting for the broker: the
 * outbox's publisher (broker/fleet_outbox.h) sends it.  A cast the broker
 * then refuses makes the record FAILED "cast not queued: ..."; one it
 * cannot take yet stays pending.  A store that cannot record is a 503; a
 * client-chosen upgrade_id that exists already is a 409. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "api/fleet_http.h"
#include "store/fleet_pool.h"
#include "broker/fleet_outbox.h"
#include "store/fleet_store_outbox.h"
#include "api/fleet_view.h"
#include "history.h"
#include "request_check.h"

struct write_upgrade {
	const char *instance_id, *version, *strategy, *location, *sha256, *upgrade_id;
	json_t *metadata;
};

static int64_t write_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The body as a JSON object (new reference), or a 400 naming "body". */
json_t *write_body(const struct fleet_request *req, struct fleet_response *res)
{
	json_error_t jerr;
	json_t *body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);

	if (!body) {
		fleet_reply_error(res, 400, "body", "not JSON: %s (at byte %d)", jerr.text,
				  jerr.position);
		return NULL;
	}
	if (!json_is_object(body)) {
		json_decref(body);
		fleet_reply_error(res, 400, "body", "not a JSON object");
		return NULL;
	}
	return body;
}

/* Every key must be one of allowed. */
int write_known_fields(json_t *object, const char *prefix, const char *const *allowed,
		       struct fleet_response *res)
{
	const char *key;
	char field[96];
	json_t *value;
	size_t i;

	json_object_foreach(object, key, value) {
		for (i = 0; allowed[i] && strcmp(allowed[i], key); i++)
			;
		if (!allowed[i]) {
			snprintf(field, sizeof field, "%s%s", prefix, key);
			return fleet_reply_error(res, 400, field, "unknown field");
		}
	}
	return 0;
}

int write_action(json_t *body, const char *const *names, size_t count, const char *list,
		 struct fleet_response *res)
{
	static const char *const none[] = { NULL };
	const char *key;
	char prefix[40];
	json_t *value;
	size_t i;

	if (json_object_size(body) != 1)
		return fleet_reply_error(res, 400, "body", "want one action: %s", list);
	json_object_foreach(body, key, value) {
		for (i = 0; i < count && strcmp(key, names[i]); i++)
			;
		if (i == count)
			return fleet_reply_error(res, 400, key, "unknown action (%s)", list);
		if (!json_is_object(value))
			return fleet_reply_error(res, 400, key, "not an object");
		snprintf(prefix, sizeof prefix, "%s.", key);
		return write_known_fields(value, prefix, none, res) < 0 ? -1 : (int)i;
	}
	return -1;
}

/* A string member (NULL when absent and optional). */
int write_string(json_t *object, const char *key, const char *field, int required,
		 const char **out, struct fleet_response *res)
{
	json_t *value = json_object_get(object, key);

	*out = NULL;
	if (!value)
		return required ? fleet_reply_error(res, 400, field, "missing") : 0;
	if (!json_is_string(value))
		return fleet_reply_error(res, 400, field, "not a string");
	if (strlen(json_string_value(value)) != json_string_length(value))
		return fleet_reply_error(res, 400, field, "has a NUL byte");
	*out = json_string_value(value);
	return 0;
}

static int write_upgrade_fields(json_t *body, struct write_upgrade *f, struct fleet_response *res)
{
	static const char *const fields[] = { "instance_id", "instance_version", "strategy",
		"location", "metadata", "sha256", "upgrade_id", NULL };

	if (write_known_fields(body, "", fields, res) < 0 ||
	    write_string(body, "instance_id", "instance_id", 1, &f->instance_id, res) < 0 ||
	    write_string(body, "instance_version", "instance_version", 1, &f->version, res) < 0 ||
	    write_string(body, "strategy", "strategy", 0, &f->strategy, res) < 0 ||
	    write_string(body, "location", "location", 1, &f->location, res) < 0 ||
	    write_string(body, "sha256", "sha256", 0, &f->sha256, res) < 0 ||
	    write_string(body, "upgrade_id", "upgrade_id", 0, &f->upgrade_id, res) < 0)
		return -1;
	f->metadata = json_object_get(body, "metadata");
	return write_metadata(f->metadata, res);
}

/* A cast the guests would refuse is never sent: their bound, checked here. */
int write_metadata(json_t *metadata, struct fleet_response *res)
{
	char text[REQUEST_METADATA_WIRE_MAX + 1];
	struct error err = { "" };

	if (metadata && !json_is_object(metadata))
		return fleet_reply_error(res, 400, "metadata", "not an object");
	if (request_metadata_encode("metadata", metadata, text, sizeof text, &err) < 0)
		return fleet_reply_error(res, 400, "metadata", "%s", err.text);
	return 0;
}

/* metadata.sha256 and sha256 are one value: both given must agree. */
int write_sha256(json_t *metadata, const char **sha256, struct fleet_response *res)
{
	const char *inner = NULL;
	struct error err = { "" };

	if (metadata && write_string(metadata, "sha256", "metadata.sha256", 0, &inner, res) < 0)
		return -1;
	if (inner && request_check_sha256("metadata.sha256", inner, &err) < 0)
		return fleet_reply_error(res, 400, "metadata.sha256", "%s", err.text);
	if (*sha256 && request_check_sha256("sha256", *sha256, &err) < 0)
		return fleet_reply_error(res, 400, "sha256", "%s", err.text);
	if (inner && *sha256 && strcmp(inner, *sha256))
		return fleet_reply_error(res, 400, "sha256", "differs from metadata.sha256");
	if (!*sha256)
		*sha256 = inner;
	return 0;
}

/* The guest's rules, field by field. */
static int write_check_upgrade(struct write_upgrade *f, struct fleet_response *res)
{
	struct error err = { "" };

	if (!f->strategy)
		f->strategy = "http";
	if (request_check_id("instance_id", f->instance_id, REQUEST_INSTANCE_MAX, &err) < 0)
		return fleet_reply_error(res, 400, "instance_id", "%s", err.text);
	if (request_check_version("instance_version", f->version, &err) < 0)
		return fleet_reply_error(res, 400, "instance_version", "%s", err.text);
	/* any well-formed name: the guest knows its own [strategy.NAME]s */
	if (!config_strategy_name_ok(f->strategy))
		return fleet_reply_error(res, 400, "strategy", "want 1 to %d of [a-z0-9_-] "
					 "(built in: http, swift, file)", CONFIG_STRATEGY_NAME_MAX);
	if (request_check_location("location", f->strategy, f->location, &err) < 0)
		return fleet_reply_error(res, 400, "location", "%s", err.text);
	if (f->upgrade_id &&
	    request_check_id("upgrade_id", f->upgrade_id, REQUEST_ID_MAX, &err) < 0)
		return fleet_reply_error(res, 400, "upgrade_id", "%s", err.text);
	return write_sha256(f->metadata, &f->sha256, res);
}

/* up->id set by the caller or made here: 0 recorded (NEW, its cast
 * pending in the outbox, in the pool's next group commit with the other
 * requests of the moment) and the outbox kicked; 1 the id exists (nothing
 * recorded); -1 not recorded (err).  Steals args. */
int write_record(struct fleet_request *req, struct fleet_upgrade *up, const char *method,
		 json_t *args, struct error *err)
{
	char *text = args ? json_dumps(args, JSON_COMPACT) : NULL;
	struct fleet_outbox_cast cast = { .method = method, .args = text };
	struct fleet_batch_item item = { .insert = up, .cast = &cast };
	int rc = -1;

	json_decref(args);
	if (!text) {
		error_set(err, "cannot build the cast");
		goto out;
	}
	if (!up->id[0] && history_new_id(up->id, sizeof up->id, err) < 0)
		goto out;
	snprintf(up->tenant, sizeof up->tenant, "%s", req->tenant);
	up->state = FLEET_NEW;
	up->created_us = up->updated_us = write_now_us();
	up->cast = FLEET_CAST_STATE_PENDING;
	if (fleet_pool_write(req->deps->pool, &item, err) < 0)
		goto out;
	if (item.result < 0) {
		*err = item.err;
		goto out;
	}
	rc = item.result == 0;
	if (item.result == 1)
		fleet_outbox_kick(req->deps->outbox);
out:
	free(text);
	return rc;
}

/* Records the upgrade or rollback with its cast (steals args) and answers
 * 202 at once: the outbox sends the cast; the broker is not waited for. */
static void write_accept(struct fleet_request *req, struct fleet_upgrade *up,
			 const char *method, json_t *args, struct fleet_response *res)
{
	struct error err = { "" };
	int rc = write_record(req, up, method, args, &err);

	if (rc < 0) {
		fleet_reply_error(res, 503, "", "not recorded: %s", err.text);
		return;
	}
	if (rc == 1) {
		fleet_reply_error(res, 409, "upgrade_id", "an upgrade with this id exists");
		return;
	}
	snprintf(res->location, sizeof res->location, "%s/v1.0/%s/mgmt/upgrades/%s", req->base,
		 req->tenant, up->id);
	fleet_reply(res, 202, json_pack("{s:o}", "upgrade", fleet_view_upgrade(up)));
}

void fleet_handle_upgrade(struct fleet_request *req, struct fleet_response *res)
{
	struct fleet_upgrade up = { .kind = "upgrade" };
	struct write_upgrade f = { 0 };
	struct request_upgrade cast;
	struct error err = { "" };
	json_t *body = write_body(req, res);

	if (!body || write_upgrade_fields(body, &f, res) < 0 || write_check_upgrade(&f, res) < 0)
		goto out;
	snprintf(up.id, sizeof up.id, "%s", f.upgrade_id ? f.upgrade_id : "");
	snprintf(up.instance_id, sizeof up.instance_id, "%s", f.instance_id);
	snprintf(up.to_version, sizeof up.to_version, "%s", f.version);
	snprintf(up.strategy, sizeof up.strategy, "%s", f.strategy);
	snprintf(up.location, sizeof up.location, "%s", f.location);
	snprintf(up.sha256, sizeof up.sha256, "%s", f.sha256 ? f.sha256 : "");
	/* The id goes into the cast: made now if the client gave none. */
	if (!up.id[0] && history_new_id(up.id, sizeof up.id, &err) < 0) {
		fleet_reply_error(res, 500, "", "%s", err.text);
		goto out;
	}
	cast = (struct request_upgrade){ .upgrade_id = up.id, .instance_id = up.instance_id,
		.version = up.to_version, .location = up.location, .strategy = up.strategy,
		.sha256 = f.sha256, .metadata = f.metadata };
	write_accept(req, &up, "upgrade", request_upgrade_args(&cast), res);
out:
	json_decref(body);
}

void fleet_handle_action(struct fleet_request *req, struct fleet_response *res)
{
	static const char *const actions[] = { "rollback", NULL }, *const none[] = { NULL };
	struct fleet_upgrade up = { .kind = "rollback" };
	struct error err = { "" };
	json_t *body, *rollback;

	if (request_check_id("instance_id", req->id, REQUEST_INSTANCE_MAX, &err) < 0) {
		fleet_reply_error(res, 400, "instance_id", "%s", err.text);
		return;
	}
	body = write_body(req, res);
	if (!body || write_known_fields(body, "", actions, res) < 0)
		goto out;
	rollback = json_object_get(body, "rollback");
	if (!rollback) {
		fleet_reply_error(res, 400, "rollback", "missing: the only action is rollback");
		goto out;
	}
	if (!json_is_object(rollback)) {
		fleet_reply_error(res, 400, "rollback", "not an object");
		goto out;
	}
	if (write_known_fields(rollback, "rollback.", none, res) < 0)
		goto out;
	snprintf(up.instance_id, sizeof up.instance_id, "%s", req->id);
	if (history_new_id(up.id, sizeof up.id, &err) < 0) {
		fleet_reply_error(res, 500, "", "%s", err.text);
		goto out;
	}
	write_accept(req, &up, "rollback", request_rollback_args(up.id), res);
out:
	json_decref(body);
}
