/* serve_wire.c: checking the records between `slotupd serve` and its AMQP
 * process (see updater/amqp/serve_wire.h). */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "fetch/fetch.h"
#include "request_check.h"
#include "amqp/serve_wire.h"

/* NUL-terminated within size, printable ASCII before it; empty unless allowed. */
static int wire_string(const char *field, const char *s, size_t size, int want,
		       struct error *err)
{
	const char *end = memchr(s, '\0', size);
	const char *p;

	if (!end)
		return error_set(err, "%s: not terminated within %zu bytes", field, size);
	for (p = s; p < end; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			return error_set(err, "%s: byte 0x%02x at offset %zu", field,
					 (unsigned char)*p, (size_t)(p - s));
	if (!want && end != s)
		return error_set(err, "%s: not allowed in this record", field);
	return 0;
}

/* An object within its bound, re-read here (the child is not trusted), whose
 * sha256 is the request's: the fetcher and the verifier see one value. */
static int wire_metadata(const struct serve_wire_request *r, struct error *err)
{
	json_t *metadata = request_metadata_decode("request.metadata", r->metadata, err);
	json_t *sha256;
	int rc = -1;

	if (!metadata)
		return -1;
	sha256 = json_object_get(metadata, "sha256");
	if (sha256 && (!json_is_string(sha256) || strcmp(json_string_value(sha256), r->sha256)))
		error_set(err, "request.metadata: its sha256 is not request.sha256");
	else
		rc = 0;
	json_decref(metadata);
	return rc;
}

/* The fields of an upgrade, with the rules the guest applies to a cast. */
static int wire_upgrade(const struct serve_wire_request *r, const struct config *config,
			struct error *err)
{
	const char *strategy = r->strategy[0] ? r->strategy : config->updater.strategy;

	if (request_check_version("request.version", r->version, err) < 0)
		return -1;
	if (fetch_validate(config, strategy, r->location, err) < 0)
		return error_prefix(err, "request.location: ");
	/* A caster may name local files only where the operator said (gap 10). */
	if (!strcmp(strategy, "file") &&
	    fetch_file_beneath(r->location, config->amqp.file_dir, err) < 0)
		return error_prefix(err, "request.location: ");
	if (r->sha256[0] && request_check_sha256("request.sha256", r->sha256, err) < 0)
		return -1;
	return wire_metadata(r, err);
}

int serve_wire_request_check(const struct serve_wire_request *r, const struct config *config,
			     struct error *err)
{
	int up = r->type == SERVE_REQ_UPGRADE, refused = r->type == SERVE_REQ_REFUSED;
	int link = r->type == SERVE_REQ_LINK_UP || r->type == SERVE_REQ_LINK_DOWN;

	if (r->magic != SERVE_WIRE_MAGIC)
		return error_set(err, "request: bad magic 0x%08x", r->magic);
	if (r->type < SERVE_REQ_UPGRADE || r->type > SERVE_REQ_LINK_DOWN)
		return error_set(err, "request: unknown type %u", r->type);
	if (r->flags & ~SERVE_FLAGS_ALL)
		return error_set(err, "request: unknown flags 0x%x", r->flags);
	if (link != !r->seq)
		return error_set(err, "request: sequence number %s", link ? "not 0" : "0");
	if (link && r->flags)
		return error_set(err, "request: flags on a link event");
	if (wire_string("request.id", r->id, sizeof r->id, !link, err) < 0 ||
	    wire_string("request.version", r->version, sizeof r->version, up, err) < 0 ||
	    wire_string("request.location", r->location, sizeof r->location, up, err) < 0 ||
	    wire_string("request.strategy", r->strategy, sizeof r->strategy, up, err) < 0 ||
	    wire_string("request.sha256", r->sha256, sizeof r->sha256, up, err) < 0 ||
	    wire_string("request.metadata", r->metadata, sizeof r->metadata, up, err) < 0 ||
	    wire_string("request.reason", r->reason, sizeof r->reason, refused, err) < 0)
		return -1;
	if (refused && !r->reason[0])
		return error_set(err, "request.reason: missing");
	if ((r->id[0] || !refused) && !link &&
	    request_check_id("request.id", r->id, REQUEST_ID_MAX, err) < 0)
		return -1;
	if (r->type == SERVE_REQ_ROLLBACK && !(r->flags & SERVE_FLAG_ADMIN))
		return error_set(err, "request: a rollback without an admin context");
	return up ? wire_upgrade(r, config, err) : 0;
}

int serve_wire_request_decode(const void *buf, size_t len, const struct config *config,
			      struct serve_wire_request *out, struct error *err)
{
	memset(out, 0, sizeof *out);
	if (len != sizeof *out)
		return error_set(err, "request: %zu bytes, want %zu", len, sizeof *out);
	memcpy(out, buf, sizeof *out);
	return serve_wire_request_check(out, config, err);
}

static int wire_outcome(const struct serve_wire_reply *r, struct error *err)
{
	enum history_state state;

	if (request_check_id("reply.id", r->id, REQUEST_ID_MAX, err) < 0)
		return -1;
	if (history_state_parse(r->state, &state) < 0)
		return error_set(err, "reply.state: not a state");
	return 0;
}

int serve_wire_reply_decode(const void *buf, size_t len, struct serve_wire_reply *out,
			    struct error *err)
{
	int verdict, outcome, beat;

	memset(out, 0, sizeof *out);
	if (len != sizeof *out)
		return error_set(err, "reply: %zu bytes, want %zu", len, sizeof *out);
	memcpy(out, buf, sizeof *out);
	if (out->magic != SERVE_WIRE_MAGIC)
		return error_set(err, "reply: bad magic 0x%08x", out->magic);
	if (out->type < SERVE_REPLY_ACK || out->type > SERVE_REPLY_HEARTBEAT)
		return error_set(err, "reply: unknown type %u", out->type);
	verdict = out->type == SERVE_REPLY_ACK || out->type == SERVE_REPLY_DROP;
	outcome = out->type == SERVE_REPLY_OUTCOME;
	beat = out->type == SERVE_REPLY_HEARTBEAT;
	if (verdict != (out->seq != 0))
		return error_set(err, "reply: sequence number %s", verdict ? "0" : "not 0");
	if (wire_string("reply.id", out->id, sizeof out->id, outcome, err) < 0 ||
	    wire_string("reply.from", out->from, sizeof out->from, outcome, err) < 0 ||
	    wire_string("reply.to", out->to, sizeof out->to, outcome, err) < 0 ||
	    wire_string("reply.state", out->state, sizeof out->state, outcome, err) < 0 ||
	    wire_string("reply.reason", out->reason, sizeof out->reason, outcome, err) < 0 ||
	    wire_string("reply.agent_version", out->agent_version, sizeof out->agent_version,
			beat, err) < 0 ||
	    wire_string("reply.agent_slot", out->agent_slot, sizeof out->agent_slot, beat, err) < 0)
		return -1;
	if (outcome)
		return wire_outcome(out, err);
	if (beat && (!out->agent_version[0] || (strcmp(out->agent_slot, "a") &&
						strcmp(out->agent_slot, "b"))))
		return error_set(err, "reply: a heartbeat without a version or slot a|b");
	return 0;
}

int serve_wire_send(int fd, const void *record, size_t len, int flags, struct error *err)
{
	ssize_t n;

	do
		n = send(fd, record, len, flags | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)len)
		return error_errno(err, "socketpair: send");
	return 0;
}

ssize_t serve_wire_recv(int fd, void *buf, size_t len, struct error *err)
{
	ssize_t n;

	do
		n = recv(fd, buf, len + 1, MSG_TRUNC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return error_errno(err, "socketpair: recv");	/* keeps errno */
	return n;
}
