/* report.c: decode a guest's report (see broker/fleet_report.h). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/fleet_report.h"
#include "store/fleet_text.h"
#include "request_check.h"
#include "rpc_message.h"
#include "trove_crypto.h"

/* sent is a float UNIX time; outside 2001..2286 it is not believed. */
#define REPORT_SENT_MIN 1e9
#define REPORT_SENT_MAX 1e10
/* A heartbeat's rpc_api_version when it has none. */
#define REPORT_RPC_API_UNSAID "1.0"

/* A string arg copied whole, or refused naming it. */
static int report_string(json_t *object, const char *where, const char *key, int required,
			 char *out, size_t len, struct error *err)
{
	json_t *value = json_object_get(object, key);

	out[0] = '\0';
	if (!value || json_is_null(value))
		return required ? error_set(err, "%s.%s: missing", where, key) : 0;
	if (!json_is_string(value))
		return error_set(err, "%s.%s: not a string", where, key);
	if (json_string_length(value) >= len || strlen(json_string_value(value)) != json_string_length(value))
		return error_set(err, "%s.%s: longer than %zu bytes or has a NUL byte", where, key,
				 len - 1);
	memcpy(out, json_string_value(value), json_string_length(value) + 1);
	return 0;
}

static int report_id(json_t *args, const char *key, size_t max, char *out, size_t len,
		     struct error *err)
{
	char field[48];

	snprintf(field, sizeof field, "args.%s", key);
	if (report_string(args, "args", key, 1, out, len, err) < 0)
		return -1;
	return request_check_id(field, out, max, err);
}

/* Versions are data, but printable and without blanks. */
static int report_version(json_t *args, const char *where, const char *key, char *out,
			  size_t len, struct error *err)
{
	size_t i;

	if (report_string(args, where, key, 0, out, len, err) < 0)
		return -1;
	for (i = 0; out[i]; i++)
		if ((unsigned char)out[i] <= 0x20 || (unsigned char)out[i] >= 0x7f)
			return error_set(err, "%s.%s: not a version", where, key);
	return 0;
}

static int64_t report_sent(json_t *args)
{
	json_t *sent = json_object_get(args, "sent");
	double t = json_is_number(sent) ? json_number_value(sent) : 0;

	return t >= REPORT_SENT_MIN && t <= REPORT_SENT_MAX ? (int64_t)(t * 1e6) : 0;
}

static int report_outcome(json_t *args, struct fleet_msg *msg, struct error *err)
{
	json_t *reason = json_object_get(args, "reason");
	char state[32];

	if (report_id(args, "upgrade_id", REQUEST_ID_MAX, msg->upgrade_id, sizeof msg->upgrade_id,
		      err) < 0 ||
	    report_version(args, "args", "from_version", msg->from_version, sizeof msg->from_version, err) < 0 ||
	    report_version(args, "args", "to_version", msg->to_version, sizeof msg->to_version, err) < 0 ||
	    report_string(args, "args", "state", 1, state, sizeof state, err) < 0)
		return -1;
	if (fleet_state_parse(state, &msg->state) < 0)
		return error_set(err, "args.state: not a state name");
	if (reason && !json_is_null(reason) && !json_is_string(reason))
		return error_set(err, "args.reason: not a string");
	/* A reason is the guest's words: kept as data, cut to fit, cleaned. */
	fleet_text_clean(msg->reason, sizeof msg->reason,
			 json_is_string(reason) ? json_string_value(reason) : "");
	msg->kind = FLEET_MSG_OUTCOME;
	return 0;
}

/* wire.md: a guest from before API versions (older slotupd) speaks 1.0
 * and does not say so; storing that, rather than "", keeps "" for what the
 * store has not heard (instances from before schema v3, never heartbeated). */
static int report_rpc_api(json_t *payload, char *out, size_t len, struct error *err)
{
	json_t *value = json_object_get(payload, "rpc_api_version");
	unsigned major, minor;

	if (!value || json_is_null(value)) {
		snprintf(out, len, "%s", REPORT_RPC_API_UNSAID);
		return 0;
	}
	if (report_string(payload, "args.payload", "rpc_api_version", 1, out, len, err) < 0)
		return -1;
	if (rpc_api_version_parse(out, strlen(out), &major, &minor) < 0)
		return error_set(err, "args.payload.rpc_api_version: not MAJOR.MINOR");
	return 0;
}

static int report_heartbeat(json_t *args, struct fleet_msg *msg, struct error *err)
{
	json_t *payload = json_object_get(args, "payload");

	if (!json_is_object(payload))
		return error_set(err, "args.payload: %s", payload ? "not an object" : "missing");
	if (report_version(payload, "args.payload", "agent_version", msg->agent_version,
			   sizeof msg->agent_version, err) < 0 ||
	    report_string(payload, "args.payload", "agent_slot", 0, msg->agent_slot,
			  sizeof msg->agent_slot, err) < 0 ||
	    report_rpc_api(payload, msg->rpc_api_version, sizeof msg->rpc_api_version, err) < 0)
		return -1;
	if (msg->agent_slot[0] && strcmp(msg->agent_slot, "a") && strcmp(msg->agent_slot, "b"))
		return error_set(err, "args.payload.agent_slot: not a or b");
	if (!msg->agent_version[0]) {
		snprintf(msg->why_ignored, sizeof msg->why_ignored,
			 "heartbeat without agent_version (not slotupd's)");
		return 0;
	}
	msg->kind = FLEET_MSG_HEARTBEAT;
	return 0;
}

/* One sealed arg: {"entity": b64, "csz-instance-id": id} as JSON text. */
static json_t *report_unseal_value(json_t *value, const char *key_name, const char *instance,
				   const char *rpc_key, struct error *err)
{
	json_t *wrapper = json_is_string(value) ? json_loads(json_string_value(value), 0, NULL) : NULL;
	json_t *entity = json_object_get(wrapper, "entity"), *id = json_object_get(wrapper, "csz-instance-id");
	json_t *plain = NULL;
	char *text = NULL;

	if (!json_is_string(entity) || !json_is_string(id))
		error_set(err, "args.%s: not a sealed value", key_name);
	else if (strcmp(json_string_value(id), instance) != 0)
		error_set(err, "args.%s: sealed for another instance", key_name);
	else if (trove_decrypt(rpc_key, json_string_value(entity), &text, err) < 0)
		error_prefix(err, "args.%s: ", key_name);
	else if (!(plain = json_loads(text, JSON_DECODE_ANY, NULL)))
		error_set(err, "args.%s: not JSON once unsealed", key_name);
	free(text);
	json_decref(wrapper);
	return plain;
}

/* Unseals every arg in place; plain reports must not name a keyed instance. */
static int report_unseal(json_t *message, json_t *args, const struct rpc_keys *keys,
			 struct fleet_msg *msg, struct error *err)
{
	json_t *csz = json_object_get(message, "_context_csz-instance-id"), *value, *plain;
	const char *key_name, *rpc_key;
	json_t *instance = json_object_get(args, "instance_id");

	if (!csz) {
		if (json_is_string(instance) && rpc_keys_find(keys, json_string_value(instance)))
			return error_set(err, "args.instance_id: a plain report for an instance "
					 "whose reports must be sealed");
		return 0;
	}
	if (!json_is_string(csz) || !request_id_ok(json_string_value(csz), REQUEST_INSTANCE_MAX))
		return error_set(err, "_context_csz-instance-id: not an instance id");
	rpc_key = rpc_keys_find(keys, json_string_value(csz));
	if (!rpc_key)
		return error_set(err, "_context_csz-instance-id: sealed by %s, which has no key "
				 "in [amqp] rpc_keys", json_string_value(csz));
	json_object_foreach(args, key_name, value) {
		plain = report_unseal_value(value, key_name, json_string_value(csz), rpc_key, err);
		if (!plain)
			return -1;
		json_object_set_new(args, key_name, plain);
	}
	msg->sealed = 1;
	instance = json_object_get(args, "instance_id");
	if (!json_is_string(instance) || strcmp(json_string_value(instance), json_string_value(csz)))
		return error_set(err, "args.instance_id: not the instance that sealed the report");
	return 0;
}

int fleet_report_parse(const char *body, size_t len, const struct rpc_keys *keys,
		       struct fleet_msg *msg, struct error *err)
{
	json_t *message, *args, *method;
	int rc = -1;

	memset(msg, 0, sizeof *msg);
	if (len > RPC_BODY_MAX)
		return error_set(err, "body: %zu bytes, more than %u", len, RPC_BODY_MAX);
	message = rpc_message_unwrap(body, len, err);
	if (!message)
		return -1;
	method = json_object_get(message, "method");
	args = json_object_get(message, "args");
	if (!json_is_string(method) ||
	    (strcmp(json_string_value(method), "guest_upgrade_outcome") &&
	     strcmp(json_string_value(method), "heartbeat"))) {
		snprintf(msg->why_ignored, sizeof msg->why_ignored, "not a report of ours");
		rc = 0;
		goto out;
	}
	if (!json_is_object(args)) {
		error_set(err, "args: %s", args ? "not an object" : "missing");
		goto out;
	}
	if (report_unseal(message, args, keys, msg, err) < 0 ||
	    report_id(args, "instance_id", REQUEST_INSTANCE_MAX, msg->instance_id,
		      sizeof msg->instance_id, err) < 0)
		goto out;
	msg->sent_us = report_sent(args);
	rc = strcmp(json_string_value(method), "heartbeat") == 0 ? report_heartbeat(args, msg, err) :
	     report_outcome(args, msg, err);
out:
	json_decref(message);
	return rc;
}
