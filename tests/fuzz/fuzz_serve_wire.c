/* fuzz_serve_wire.c: the records `slotupd serve` (root) takes from its AMQP
 * process, which it does not trust (updater/amqp/serve_wire.h).
 *
 * serve_wire_request_decode() and serve_wire_reply_decode() on hostile
 * records.  A record must have an exact size and magic, which mutations
 * rarely hit, so the first input byte chooses: odd, the rest is the record
 * as it came (any length); even, the rest fills a zeroed record of the right
 * size whose magic is set, so the fuzzer works on the fields.  Oracle beyond
 * the sanitizers: an accepted request has a known type and flags, printable
 * NUL-terminated fields, a version and location for an upgrade, the admin
 * flag for a rollback; the error text of a refusal is printable too. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "amqp/serve_wire.h"
#include "support_fuzz.h"

static void fuzz_printable(const char *text, size_t size, const char *what)
{
	fuzz_check_terminated(text, size, what);
	for (const char *c = text; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
			fuzz_fail("a byte 0x%02x in %s", (unsigned char)*c, what);
}

#define PRINTABLE(r, field) fuzz_printable((r)->field, sizeof (r)->field, #field)

/* A guest's configuration: [updater] strategy, [amqp] file_dir, and a
 * [strategy.jenkins] section. */
static const struct config *wire_config(const char *strategy, const char *file_dir)
{
	static struct config c;

	config_defaults(&c);
	snprintf(c.updater.strategy, sizeof c.updater.strategy, "%s", strategy);
	snprintf(c.amqp.file_dir, sizeof c.amqp.file_dir, "%s", file_dir);
	snprintf(c.strategies.list[0].name, sizeof c.strategies.list[0].name, "jenkins");
	snprintf(c.strategies.list[0].fetch, sizeof c.strategies.list[0].fetch, "/bin/true");
	c.strategies.count = 1;
	return &c;
}

static void fuzz_request(const void *buf, size_t len)
{
	struct serve_wire_request r;
	struct error err = { "" };

	if (serve_wire_request_decode(buf, len, wire_config("http", "/srv/bundles"), &r, &err) < 0) {
		fuzz_printable(err.text, sizeof err.text, "error text");
		return;
	}
	if (r.type < SERVE_REQ_UPGRADE || r.type > SERVE_REQ_LINK_DOWN ||
	    (r.flags & ~SERVE_FLAGS_ALL))
		fuzz_fail("accepted type %u flags %u", r.type, r.flags);
	PRINTABLE(&r, id);
	PRINTABLE(&r, version);
	PRINTABLE(&r, location);
	PRINTABLE(&r, strategy);
	PRINTABLE(&r, sha256);
	PRINTABLE(&r, reason);
	if (r.type == SERVE_REQ_UPGRADE && (!r.version[0] || !r.location[0] || !r.id[0]))
		fuzz_fail("an upgrade without id, version or location was accepted");
	if (r.type == SERVE_REQ_ROLLBACK && !(r.flags & SERVE_FLAG_ADMIN))
		fuzz_fail("a rollback without an admin context was accepted");
}

static void fuzz_reply(const void *buf, size_t len)
{
	struct serve_wire_reply r;
	struct error err = { "" };

	if (serve_wire_reply_decode(buf, len, &r, &err) < 0) {
		fuzz_printable(err.text, sizeof err.text, "error text");
		return;
	}
	if (r.type < SERVE_REPLY_ACK || r.type > SERVE_REPLY_HEARTBEAT)
		fuzz_fail("accepted reply type %u", r.type);
	fuzz_check_terminated(r.id, sizeof r.id, "id");
	fuzz_check_terminated(r.reason, sizeof r.reason, "reason");
	fuzz_check_terminated(r.agent_version, sizeof r.agent_version, "agent_version");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct serve_wire_request req;
	struct serve_wire_reply rep;

	if (size < 1)
		return 0;
	if (data[0] & 1) {
		fuzz_request(data + 1, size - 1);
		fuzz_reply(data + 1, size - 1);
		return 0;
	}
	memset(&req, 0, sizeof req);
	memcpy(&req, data + 1, size - 1 < sizeof req ? size - 1 : sizeof req);
	req.magic = SERVE_WIRE_MAGIC;
	fuzz_request(&req, sizeof req);
	memset(&rep, 0, sizeof rep);
	memcpy(&rep, data + 1, size - 1 < sizeof rep ? size - 1 : sizeof rep);
	rep.magic = SERVE_WIRE_MAGIC;
	fuzz_reply(&rep, sizeof rep);
	return 0;
}
