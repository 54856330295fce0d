/* message.c: parse, decrypt and check control-plane messages (see include/rpc_message.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fetch/fetch.h"
#include "history.h"
#include "request_check.h"
#include "rpc_message.h"
#include "trove_crypto.h"

/* Copies a string member, or refuses naming it. */
static int rpc_string(json_t *object, const char *key, const char *where, int required,
		      char *out, size_t len, struct error *err)
{
	json_t *value = json_object_get(object, key);

	out[0] = '\0';
	if (!value)
		return required ? error_set(err, "%s.%s: missing", where, key) : 0;
	if (!json_is_string(value))
		return error_set(err, "%s.%s: not a string", where, key);
	if (json_string_length(value) >= len || strlen(json_string_value(value)) != json_string_length(value))
		return error_set(err, "%s.%s: too long or has a NUL byte", where, key);
	memcpy(out, json_string_value(value), json_string_length(value) + 1);
	return 0;
}

json_t *rpc_message_unwrap(const char *body, size_t len, struct error *err)
{
	json_error_t jerr;
	json_t *outer, *inner, *text;

	outer = json_loadb(body, len, 0, &jerr);
	if (!outer || !json_is_object(outer)) {
		error_set(err, "body: not a JSON object (%s)", outer ? "other JSON" : jerr.text);
		json_decref(outer);
		return NULL;
	}
	text = json_object_get(outer, "oslo.message");
	if (!text)
		return outer;	/* a bare message */
	inner = json_is_string(text) ? json_loads(json_string_value(text), 0, &jerr) : NULL;
	json_decref(outer);
	if (!inner || !json_is_object(inner)) {
		/* found by fuzz_rpc_message: a non-object was freed here and
		 * then returned ({"oslo.message": "[]"}: a use after free) */
		json_decref(inner);
		error_set(err, "oslo.message: not a JSON object");
		return NULL;
	}
	return inner;
}

/* Decrypts every arg value and the context in place (Trove's SecureSerializer).
 * Admin rights come from the sealed context only: plaintext _context_* keys
 * beside it are anyone's words. */
static int rpc_decrypt(json_t *message, json_t *args, const struct config *config,
		       struct rpc_request *req, struct error *err)
{
	json_t *context = json_object_get(message, "_context_context"), *plain, *value;
	const char *key;
	char *text;

	if (!config->amqp.rpc_key[0])
		return error_set(err, "message is encrypted and no [amqp] rpc_key is configured");
	json_object_foreach(args, key, value) {
		if (!json_is_string(value))
			return error_set(err, "args.%s: not sealed with this instance's rpc_key", key);
		if (trove_decrypt(config->amqp.rpc_key, json_string_value(value), &text, err) < 0)
			return error_prefix(err, "args.%s: ", key);
		plain = json_loads(text, JSON_DECODE_ANY, NULL);
		free(text);
		if (!plain)
			return error_set(err, "args.%s: sealed text is not JSON", key);
		json_object_set_new(args, key, plain);
	}
	if (!json_is_string(context) ||
	    trove_decrypt(config->amqp.rpc_key, json_string_value(context), &text, err) < 0)
		return error_prefix(err, "_context_context: ");
	plain = json_loads(text, 0, NULL);
	free(text);
	if (!json_is_object(plain)) {
		json_decref(plain);
		return error_set(err, "_context_context: not a JSON object");
	}
	req->is_admin = json_is_true(json_object_get(plain, "is_admin"));
	req->sealed = 1;
	json_decref(plain);
	return 0;
}

/* With [amqp] max_age, a request must say when it was sent (args.sent, UNIX
 * seconds, sealed with the rest on a keyed guest) and be no older than that:
 * a captured cast cannot be replayed under a fresh _unique_id later. */
static int rpc_check_age(json_t *args, const struct config *config, struct error *err)
{
	json_t *sent = json_object_get(args, "sent");
	double now, at;

	if (!config->amqp.max_age_ms)
		return 0;
	if (!json_is_number(sent))
		return error_set(err, "args.sent: %s; [amqp] max_age needs it",
				 sent ? "not a number" : "missing");
	at = json_number_value(sent);
	now = (double)time(NULL);
	if (at > now + RPC_CLOCK_SKEW_S)
		return error_set(err, "args.sent: %.0f s in the future", at - now);
	if (now - at > config->amqp.max_age_ms / 1000.0)
		return error_set(err, "args.sent: cast is %.0f s old, more than [amqp] max_age (%u s)",
				 now - at, config->amqp.max_age_ms / 1000);
	return 0;
}

/* sscanf alone would take blanks and signs ("+1. 2"): the text must be
 * digits and one dot only, all of it read. */
int rpc_api_version_parse(const char *text, size_t len, unsigned *major, unsigned *minor)
{
	int end = 0;

	if (sscanf(text, "%4u.%4u%n", major, minor, &end) != 2 || (size_t)end != len ||
	    strspn(text, "0123456789.") != (size_t)end)
		return -1;
	return 0;
}

/* oslo.messaging's rule: the same major, a minor at most ours; a cast
 * without a version is from before versions (1.0). */
static int rpc_check_version(json_t *message, struct error *err)
{
	json_t *value = json_object_get(message, "version");
	unsigned major, minor;

	if (!value)
		return 0;
	if (!json_is_string(value))
		return error_set(err, "message.version: not a string");
	if (rpc_api_version_parse(json_string_value(value), json_string_length(value), &major,
				  &minor) < 0)
		return error_set(err, "message.version: not MAJOR.MINOR");
	if (major != RPC_API_MAJOR || minor > RPC_API_MINOR)
		return error_set(err, "RPC API %u.%u not supported (this guest: %s)", major, minor,
				 RPC_API_VERSION);
	return 0;
}

/* 1.1: a policy's cast says so; a guest may refuse those. */
static int rpc_automatic(json_t *args, const struct config *config, struct rpc_request *req,
			 struct error *err)
{
	json_t *automatic = json_object_get(args, "automatic");

	if (automatic && !json_is_boolean(automatic))
		return error_set(err, "args.automatic: not true or false");
	req->automatic = json_is_true(automatic);
	if (req->automatic && !config->updater.automatic)
		return error_set(err, "automatic upgrades disabled on this guest "
				      "([updater] automatic = no)");
	return 0;
}

static int rpc_upgrade(json_t *args, const struct config *config, struct rpc_request *req,
		       struct error *err)
{
	json_t *metadata = json_object_get(args, "metadata");
	char upgrade_id[64];

	if (rpc_string(args, "instance_version", "args", 1, req->instance_version,
		       sizeof req->instance_version, err) < 0 ||
	    rpc_string(args, "location", "args", 1, req->location, sizeof req->location, err) < 0 ||
	    rpc_string(args, "instance_id", "args", 0, req->instance_id, sizeof req->instance_id, err) < 0 ||
	    rpc_string(args, "strategy", "args", 0, req->strategy, sizeof req->strategy, err) < 0 ||
	    rpc_string(args, "upgrade_id", "args", 0, upgrade_id, sizeof upgrade_id, err) < 0)
		return -1;
	/* From here a refusal is recorded, and its outcome cast, under the
	 * sender's upgrade_id: slotfleet waits for that id. */
	if (upgrade_id[0])
		memcpy(req->unique_id, upgrade_id, sizeof upgrade_id);
	if (request_metadata_encode("args.metadata", metadata, req->metadata,
				    sizeof req->metadata, err) < 0)
		return -1;
	if (json_is_object(metadata) &&
	    rpc_string(metadata, "sha256", "args.metadata", 0, req->sha256, sizeof req->sha256, err) < 0)
		return -1;
	/* Present is not enough: an empty or ill-formed version would only be
	 * refused later, by serve_wire's check (found by fuzz_rpc_message).  The
	 * sha256's form is left to that check: the shared wire capture abridges
	 * it ("0f1e..."), and this parser must read the capture. */
	if (request_check_version("args.instance_version", req->instance_version, err) < 0)
		return -1;
	if (req->instance_id[0] && config->amqp.instance_id[0] &&
	    strcmp(req->instance_id, config->amqp.instance_id) != 0)
		return error_set(err, "args.instance_id: '%.64s' is not this instance", req->instance_id);
	if (fetch_validate(config, req->strategy[0] ? req->strategy : config->updater.strategy,
			   req->location, err) < 0)
		return error_prefix(err, "args: ");
	if (rpc_check_age(args, config, err) < 0 || rpc_automatic(args, config, req, err) < 0)
		return -1;
	req->kind = RPC_UPGRADE;
	return 0;
}

static int rpc_rollback(json_t *args, const struct config *config, struct rpc_request *req,
			struct error *err)
{
	char upgrade_id[64];

	if (rpc_string(args, "upgrade_id", "args", 0, upgrade_id, sizeof upgrade_id, err) < 0)
		return -1;
	if (upgrade_id[0])
		memcpy(req->unique_id, upgrade_id, sizeof upgrade_id);
	if (!req->is_admin)
		return error_set(err, "rollback: refused: _context_is_admin is not true");
	if (rpc_check_age(args, config, err) < 0)
		return -1;
	req->kind = RPC_ROLLBACK;
	return 0;
}

/* On a keyed guest only a message sealed with its key is read further; its
 * plaintext _unique_id is then dropped on refusal, so a forgery can never
 * name (and so overwrite) the record of a real attempt. */
static int rpc_authenticate(json_t *message, json_t *args, const struct config *config,
			    struct rpc_request *req, struct error *err)
{
	int sealed = json_object_get(message, "_context_context") != NULL;

	if (!sealed && !config->amqp.rpc_key[0]) {
		req->is_admin = json_is_true(json_object_get(message, "_context_is_admin"));
		return 0;
	}
	if (!sealed)
		error_set(err, "message: not sealed with this instance's rpc_key (a guest with "
			       "[amqp] rpc_key obeys sealed casts only)");
	if (!sealed || rpc_decrypt(message, args, config, req, err) < 0) {
		req->unique_id[0] = '\0';
		return -1;
	}
	return 0;
}

int rpc_message_parse(const char *body, size_t len, const struct config *config,
		      struct rpc_request *req, struct error *err)
{
	char method[64];
	json_t *message, *args;
	int rc = -1;

	memset(req, 0, sizeof *req);
	if (len > RPC_BODY_MAX)
		return error_set(err, "body: %zu bytes, more than %u", len, RPC_BODY_MAX);
	message = rpc_message_unwrap(body, len, err);
	if (!message)
		return -1;
	if (rpc_string(message, "_unique_id", "message", 0, req->unique_id, sizeof req->unique_id,
		       err) < 0 || rpc_string(message, "method", "message", 1, method, sizeof method, err) < 0)
		goto out;
	args = json_object_get(message, "args");
	if (!json_is_object(args)) {
		error_set(err, "message.args: %s", args ? "not an object" : "missing");
		goto out;
	}
	if (rpc_authenticate(message, args, config, req, err) < 0)
		goto out;
	if (!strcmp(method, "upgrade") && json_object_get(args, "upgrade_info") &&
	    !json_object_get(args, "location")) {
		snprintf(req->why_ignored, sizeof req->why_ignored, "Trove datastore upgrade (upgrade_info)");
		rc = 0;
	} else if (!strcmp(method, "upgrade")) {
		rc = rpc_check_version(message, err) < 0 ? -1 : rpc_upgrade(args, config, req, err);
	} else if (!strcmp(method, "rollback")) {
		rc = rpc_check_version(message, err) < 0 ? -1 : rpc_rollback(args, config, req, err);
	} else {
		snprintf(req->why_ignored, sizeof req->why_ignored, "method '%.60s' is not ours", method);
		rc = 0;
	}
out:
	/* also on refusals: the caller logs and records the refusal under this id */
	if (req->unique_id[0] && !request_id_ok(req->unique_id, REQUEST_ID_MAX)) {
		req->unique_id[0] = '\0';
		if (rc == 0)
			rc = error_set(err, "message._unique_id: not an id of [0-9A-Za-z_-]");
	}
	json_decref(message);
	return rc;
}

/* One value sealed: towards a guest as SecureSerializer does (the bare
 * encrypted text), towards the conductor as ConductorGuestSerializer does
 * (wrapped with the instance id the conductor looks the key up by). */
static json_t *rpc_seal(const struct config *config, enum rpc_direction direction, json_t *value,
			struct error *err)
{
	char *text = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT), *b64 = NULL, *sealed = NULL;
	json_t *out = NULL, *wrapper;

	if (!text || trove_encrypt(config->amqp.rpc_key, text, &b64, err) < 0)
		goto out;
	if (direction == RPC_TO_GUEST) {
		out = json_string(b64);
		goto out;
	}
	wrapper = json_pack("{s:s, s:s}", "entity", b64, "csz-instance-id", config->amqp.instance_id);
	sealed = json_dumps(wrapper, JSON_COMPACT);
	json_decref(wrapper);
	out = sealed ? json_string(sealed) : NULL;
out:
	free(text);
	free(b64);
	free(sealed);
	return out;
}

static double rpc_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int rpc_cast_build(const char *method, json_t *args, const struct config *config,
		   enum rpc_direction direction, char **body, struct error *err)
{
	return rpc_cast_build_version(method, "1.0", args, config, direction, body, err);
}

int rpc_cast_build_version(const char *method, const char *version, json_t *args,
			   const struct config *config, enum rpc_direction direction, char **body,
			   struct error *err)
{
	json_t *message = NULL, *context, *sealed, *value, *outer = NULL;
	char id[HISTORY_ID_MAX], *text = NULL, *ctx_text = NULL, *ctx_b64 = NULL;
	const char *key;
	int rc = -1;

	*body = NULL;
	if (!args || history_new_id(id, sizeof id, err) < 0)
		goto out;
	/* A guest with [amqp] max_age needs to know when a cast was sent. */
	if (direction == RPC_TO_GUEST && !json_object_get(args, "sent"))
		json_object_set_new(args, "sent", json_real(rpc_now()));
	context = json_pack("{s:b, s:s, s:s}", "is_admin", 1, "request_id", "req-slotupd",
			    "project_id", "slotupd");
	message = json_pack("{s:s, s:s, s:s}", "method", method, "version", version, "_unique_id", id);
	if (!config->amqp.rpc_key[0]) {
		json_object_set_new(message, "_context_is_admin", json_true());
		json_object_set_new(message, "_context_request_id", json_string("req-slotupd"));
		json_object_set_new(message, "_context_project_id", json_string("slotupd"));
	} else {
		json_object_foreach(args, key, value) {
			sealed = rpc_seal(config, direction, value, err);
			if (!sealed) {
				json_decref(context);
				goto out;
			}
			json_object_set_new(args, key, sealed);
		}
		ctx_text = json_dumps(context, JSON_COMPACT);
		if (!ctx_text || trove_encrypt(config->amqp.rpc_key, ctx_text, &ctx_b64, err) < 0) {
			json_decref(context);
			goto out;
		}
		json_object_set_new(message, "_context_context", json_string(ctx_b64));
		if (direction == RPC_TO_CONDUCTOR)
			json_object_set_new(message, "_context_csz-instance-id",
					    json_string(config->amqp.instance_id));
	}
	json_decref(context);
	json_object_set(message, "args", args);
	text = json_dumps(message, JSON_COMPACT);
	outer = text ? json_pack("{s:s, s:s}", "oslo.version", "2.0", "oslo.message", text) : NULL;
	*body = outer ? json_dumps(outer, JSON_COMPACT) : NULL;
	rc = *body ? 0 : error_set(err, "cannot encode the %s cast", method);
out:
	json_decref(args);
	json_decref(message);
	json_decref(outer);
	free(text);
	free(ctx_text);
	free(ctx_b64);
	return rc;
}
