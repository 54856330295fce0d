/* fuzz_rpc_message.c: rpc_message_parse() on hostile AMQP message bodies.
 *
 * Each body is parsed with two configs: one with an [amqp] rpc_key (sealed
 * messages are decrypted) and one without (they are refused).  Mutating a
 * sealed seed cannot produce new ciphertext, so the harness also seals what
 * it is given: the method and args of a body that is a message are built
 * into a cast with rpc_cast_build(), once plain and once sealed with the
 * key, and both are parsed.  Oracle beyond the sanitizers: sealing does not
 * change what a message means (when both are accepted, they agree field by
 * field), and accepted fields are NUL-terminated ids and strings. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rpc_message.h"
#include "support_fuzz.h"

#define FUZZ_RPC_KEY "0123456789abcdef0123456789abcdef"
#define FUZZ_INSTANCE "27e25b73-88a1-4526-b2b9-919a28b8b33f"

static struct config fuzz_plain, fuzz_keyed;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct error err = { "" };

	(void)argc;
	(void)argv;
	if (config_load_string(&fuzz_plain, "[amqp]\ninstance_id = " FUZZ_INSTANCE "\n", "fuzz",
			       &err) < 0)
		fuzz_fail("config: %s", err.text);
	fuzz_keyed = fuzz_plain;
	strcpy(fuzz_keyed.amqp.rpc_key, FUZZ_RPC_KEY);
	return 0;
}

static int fuzz_parse(const char *body, size_t len, const struct config *config,
		      struct rpc_request *req)
{
	struct error err = { "" };
	int rc = rpc_message_parse(body, len, config, req, &err);

	fuzz_check_terminated(err.text, sizeof err.text, "error text");
	fuzz_check_terminated(req->unique_id, sizeof req->unique_id, "unique_id");
	if (req->unique_id[0] &&
	    strspn(req->unique_id, "0123456789abcdefghijklmnopqrstuvwxyz"
				   "ABCDEFGHIJKLMNOPQRSTUVWXYZ_-") != strlen(req->unique_id))
		fuzz_fail("unique_id '%s' is not an id", req->unique_id);
	if (rc == 0 && req->kind == RPC_UPGRADE && (!req->location[0] || !req->instance_version[0]))
		fuzz_fail("an upgrade without location or version was accepted");
	if (rc == 0 && req->kind == RPC_ROLLBACK && !req->is_admin)
		fuzz_fail("a rollback without an admin context was accepted");
	return rc;
}

static int fuzz_build_parse(const char *method, json_t *args, const struct config *config,
			    struct rpc_request *req)
{
	struct error err = { "" };
	char *body = NULL;
	int rc;

	if (rpc_cast_build(method, json_deep_copy(args), config, RPC_TO_GUEST, &body, &err) < 0)
		fuzz_fail("rpc_cast_build: %s", err.text);
	rc = fuzz_parse(body, strlen(body), config, req);
	free(body);
	return rc;
}

#define SAME(field) (strcmp(plain.field, sealed.field) == 0)

static void fuzz_reseal(const uint8_t *data, size_t size)
{
	json_t *inner = fuzz_json_inner(data, size), *method, *args;
	struct rpc_request plain, sealed;

	method = json_object_get(inner, "method");
	args = json_object_get(inner, "args");
	if (json_is_string(method) && json_is_object(args) &&
	    fuzz_build_parse(json_string_value(method), args, &fuzz_plain, &plain) == 0 &&
	    fuzz_build_parse(json_string_value(method), args, &fuzz_keyed, &sealed) == 0 &&
	    (plain.kind != sealed.kind || plain.is_admin != sealed.is_admin || !SAME(instance_id) ||
	     !SAME(instance_version) || !SAME(location) || !SAME(strategy) || !SAME(sha256)))
		fuzz_fail("sealing changed the meaning of a message (kind %d/%d, location '%s'/'%s')",
			  plain.kind, sealed.kind, plain.location, sealed.location);
	json_decref(inner);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rpc_request req;

	fuzz_parse((const char *)data, size, &fuzz_plain, &req);
	fuzz_parse((const char *)data, size, &fuzz_keyed, &req);
	fuzz_reseal(data, size);
	return 0;
}
