/* fuzz_fleet_report.c: slotfleet reading hostile guest reports.
 *
 * fleet_report_parse() (fleet/broker/report.c) on each input twice: with no RPC
 * keys, and with a key for FUZZ_INSTANCE (sealed reports are unsealed, plain
 * ones from that instance refused).  Mutations cannot make new ciphertext, so
 * the method and args of an input that is a message are also built into a
 * conductor cast by the guest's own builder (rpc_cast_build), once plain and
 * once sealed with the key, and both parsed.  Oracle beyond the sanitizers:
 * every field is NUL-terminated; an accepted report has ids, versions and a
 * reason without control characters and a state that is a state; sealing
 * does not change what a report means. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker/fleet_report.h"
#include "rpc_message.h"
#include "support_fuzz.h"

#define FUZZ_RPC_KEY "0123456789abcdef0123456789abcdef"
#define FUZZ_INSTANCE "27e25b73-88a1-4526-b2b9-919a28b8b33f"

static struct rpc_keys *fuzz_none, *fuzz_keyed;
static struct config fuzz_guest_plain, fuzz_guest_sealed;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char keys[] = FUZZ_INSTANCE " " FUZZ_RPC_KEY "\n";
	struct error err = { "" };

	(void)argc;
	(void)argv;
	if (rpc_keys_parse(&fuzz_none, "", 0, "none", &err) < 0 ||
	    rpc_keys_parse(&fuzz_keyed, keys, strlen(keys), "keys", &err) < 0 ||
	    config_load_string(&fuzz_guest_plain, "[amqp]\ninstance_id = " FUZZ_INSTANCE "\n",
			       "fuzz", &err) < 0)
		fuzz_fail("setup: %s", err.text);
	fuzz_guest_sealed = fuzz_guest_plain;
	strcpy(fuzz_guest_sealed.amqp.rpc_key, FUZZ_RPC_KEY);
	return 0;
}

static void fuzz_printable(const char *text, size_t size, const char *what)
{
	fuzz_check_terminated(text, size, what);
	for (const char *c = text; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			fuzz_fail("a control character in %s: '%s'", what, text);
}

#define PRINTABLE(msg, field) fuzz_printable((msg)->field, sizeof (msg)->field, #field)

static int fuzz_parse(const char *body, size_t len, const struct rpc_keys *keys,
		      struct fleet_msg *msg)
{
	struct error err = { "" };
	int rc;

	memset(msg, 0, sizeof *msg);
	rc = fleet_report_parse(body, len, keys, msg, &err);
	fuzz_check_terminated(err.text, sizeof err.text, "error text");
	PRINTABLE(msg, why_ignored);
	if (rc < 0 || msg->kind == FLEET_MSG_IGNORE)
		return rc;
	PRINTABLE(msg, instance_id);
	PRINTABLE(msg, reason);
	if (!msg->instance_id[0])
		fuzz_fail("a report without an instance was accepted");
	if (msg->kind == FLEET_MSG_OUTCOME) {
		PRINTABLE(msg, upgrade_id);
		PRINTABLE(msg, from_version);
		PRINTABLE(msg, to_version);
		if (!msg->upgrade_id[0] || (unsigned)msg->state >= FLEET_STATE_COUNT)
			fuzz_fail("an outcome without an upgrade id or state was accepted");
	} else {
		PRINTABLE(msg, agent_version);
		PRINTABLE(msg, agent_slot);
	}
	return rc;
}

static int fuzz_build_parse(const char *method, json_t *args, const struct config *guest,
			    const struct rpc_keys *keys, struct fleet_msg *msg)
{
	struct error err = { "" };
	char *body = NULL;
	int rc;

	if (rpc_cast_build(method, json_deep_copy(args), guest, RPC_TO_CONDUCTOR, &body, &err) < 0)
		return -1;	/* args the builder refuses (not an object it can seal) */
	rc = fuzz_parse(body, strlen(body), keys, msg);
	free(body);
	return rc;
}

#define SAME(field) (strcmp(plain.field, sealed.field) == 0)

static void fuzz_reseal(const uint8_t *data, size_t size)
{
	json_t *inner = fuzz_json_inner(data, size), *method, *args;
	struct fleet_msg plain, sealed;

	method = json_object_get(inner, "method");
	args = json_object_get(inner, "args");
	if (json_is_string(method) && json_is_object(args) &&
	    fuzz_build_parse(json_string_value(method), args, &fuzz_guest_plain, fuzz_none,
			     &plain) == 0 &&
	    fuzz_build_parse(json_string_value(method), args, &fuzz_guest_sealed, fuzz_keyed,
			     &sealed) == 0 &&
	    (plain.kind != sealed.kind ||
	     (plain.kind != FLEET_MSG_IGNORE &&
	      (!sealed.sealed || plain.state != sealed.state || !SAME(instance_id) ||
	       !SAME(upgrade_id) || !SAME(to_version) || !SAME(reason) || !SAME(agent_version)))))
		fuzz_fail("sealing changed the meaning of a report (kind %d/%d, instance '%s'/'%s')",
			  plain.kind, sealed.kind, plain.instance_id, sealed.instance_id);
	json_decref(inner);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fleet_msg msg;

	fuzz_parse((const char *)data, size, fuzz_none, &msg);
	fuzz_parse((const char *)data, size, fuzz_keyed, &msg);
	fuzz_reseal(data, size);
	return 0;
}
