/* test_serve_wire.c: the records between `slotupd serve` and its AMQP
 * process (updater/amqp/serve_wire.h).  The parent decodes what the child sends
 * as hostile: a record of the wrong size, an unterminated or unprintable
 * string, an unknown type or flag, a field a type may not carry, or a value
 * the guest's own rules refuse is named and refused; a good record passes
 * unchanged.  The same for the parent's replies, and both over a real
 * SOCK_SEQPACKET pair, where a longer record shows its real length. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "amqp/serve_wire.h"

#define SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

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


static void good_upgrade(struct serve_wire_request *r)
{
	memset(r, 0, sizeof *r);
	r->magic = SERVE_WIRE_MAGIC;
	r->type = SERVE_REQ_UPGRADE;
	r->flags = SERVE_FLAG_SEALED | SERVE_FLAG_ADMIN;
	r->seq = 7;
	strcpy(r->id, "up-1");
	strcpy(r->version, "v1.2.0");
	strcpy(r->location, "https://example.net/agent.bundle");
	strcpy(r->sha256, SHA);
}

/* Decodes r as the parent does; returns the error text ("" when accepted). */
static const char *decode(const struct serve_wire_request *r, size_t len, struct error *err)
{
	struct serve_wire_request out;
	char buf[sizeof *r + 16];

	memset(buf, 0, sizeof buf);
	memcpy(buf, r, sizeof *r);
	err->text[0] = '\0';
	if (serve_wire_request_decode(buf, len, wire_config("http", "/srv/bundles"), &out, err) == 0) {
		assert_memory_equal(&out, r, sizeof out);
		return "";
	}
	assert_true(err->text[0] != '\0');
	return err->text;
}

/* The request refused, with `what` in the reason. */
static void refused(const struct serve_wire_request *r, const char *what)
{
	struct error err;

	assert_non_null(strstr(decode(r, sizeof *r, &err), what));
}

static void test_good_requests_pass(void **state)
{
	struct serve_wire_request r;
	struct error err;

	(void)state;
	good_upgrade(&r);
	assert_string_equal(decode(&r, sizeof r, &err), "");
	r.sha256[0] = '\0';
	strcpy(r.strategy, "swift");
	assert_string_equal(decode(&r, sizeof r, &err), "");

	memset(&r, 0, sizeof r);
	r.magic = SERVE_WIRE_MAGIC;
	r.type = SERVE_REQ_ROLLBACK;
	r.flags = SERVE_FLAG_ADMIN;
	r.seq = 1;
	strcpy(r.id, "back-5");
	assert_string_equal(decode(&r, sizeof r, &err), "");

	r.type = SERVE_REQ_REFUSED;	/* a refusal: a reason, and an id or none */
	r.flags = 0;
	strcpy(r.reason, "args.location: missing");
	assert_string_equal(decode(&r, sizeof r, &err), "");
	r.id[0] = '\0';
	assert_string_equal(decode(&r, sizeof r, &err), "");

	memset(&r, 0, sizeof r);
	r.magic = SERVE_WIRE_MAGIC;
	r.type = SERVE_REQ_LINK_DOWN;
	assert_string_equal(decode(&r, sizeof r, &err), "");
}

static void test_wrong_sizes_are_refused(void **state)
{
	struct serve_wire_request r;
	struct error err;

	(void)state;
	good_upgrade(&r);
	assert_non_null(strstr(decode(&r, sizeof r - 1, &err), "bytes, want"));
	assert_non_null(strstr(decode(&r, sizeof r + 1, &err), "bytes, want"));
	assert_non_null(strstr(decode(&r, 0, &err), "0 bytes"));
	assert_non_null(strstr(decode(&r, 4, &err), "4 bytes"));
}

static void test_unterminated_and_unprintable_strings(void **state)
{
	struct serve_wire_request r;

	(void)state;
	good_upgrade(&r);
	memset(r.id, 'a', sizeof r.id);
	refused(&r, "request.id: not terminated within 64 bytes");
	good_upgrade(&r);
	memset(r.location, 'x', sizeof r.location);
	refused(&r, "request.location: not terminated");
	good_upgrade(&r);
	memset(r.sha256, 'a', sizeof r.sha256);
	refused(&r, "request.sha256: not terminated");
	good_upgrade(&r);
	strcpy(r.version, "v1\n2");
	refused(&r, "request.version: byte 0x0a at offset 2");
	good_upgrade(&r);
	r.location[5] = (char)0xc3;
	refused(&r, "request.location: byte 0xc3");
	good_upgrade(&r);
	r.type = SERVE_REQ_REFUSED;
	memset(r.version, 0, sizeof r.version);
	memset(r.location, 0, sizeof r.location);
	memset(r.sha256, 0, sizeof r.sha256);
	memset(r.reason, 'r', sizeof r.reason);
	refused(&r, "request.reason: not terminated");
}

static void test_out_of_range_fields(void **state)
{
	struct serve_wire_request r;

	(void)state;
	good_upgrade(&r);
	r.magic = 0x41414141;
	refused(&r, "bad magic");
	good_upgrade(&r);
	r.type = 0;
	refused(&r, "unknown type 0");
	r.type = SERVE_REQ_LINK_DOWN + 1;
	refused(&r, "unknown type");
	good_upgrade(&r);
	r.flags = 0x80;
	refused(&r, "unknown flags 0x80");
	good_upgrade(&r);
	r.seq = 0;
	refused(&r, "sequence number 0");
	good_upgrade(&r);
	strcpy(r.id, "../../etc");
	refused(&r, "request.id: want 1 to 63");
	good_upgrade(&r);
	r.id[0] = '\0';
	refused(&r, "request.id");
	good_upgrade(&r);
	strcpy(r.version, "latest");
	refused(&r, "request.version");
	good_upgrade(&r);
	strcpy(r.strategy, "ftp");
	refused(&r, "unknown strategy 'ftp' (known: http, swift, file, jenkins)");
	/* the guest's own [strategy.jenkins]: an opaque location */
	good_upgrade(&r);
	strcpy(r.strategy, "jenkins");
	strcpy(r.location, "agent/job #42");
	{
		struct error ok_err;

		assert_string_equal(decode(&r, sizeof r, &ok_err), "");
	}
	good_upgrade(&r);
	strcpy(r.location, "http://x/a b");
	refused(&r, "request.location");
	good_upgrade(&r);
	strcpy(r.sha256, "ABC");
	refused(&r, "request.sha256: want 64 lower-case hex digits");
}

/* args.metadata whole: the parent reads it again, an object within the
 * bound whose sha256 is the request's, in printable ASCII. */
static void test_metadata(void **state)
{
	struct serve_wire_request r;
	struct error err;

	(void)state;
	good_upgrade(&r);
	snprintf(r.metadata, sizeof r.metadata, "{\"build\":\"1234\",\"sha256\":\"%s\"}", SHA);
	assert_string_equal(decode(&r, sizeof r, &err), "");
	strcpy(r.metadata, "{\"build\":\"1234\"}");
	assert_string_equal(decode(&r, sizeof r, &err), "");
	strcpy(r.metadata, "{\"sha256\":\"0000\"}");
	refused(&r, "request.metadata: its sha256 is not request.sha256");
	strcpy(r.metadata, "[\"build\"]");
	refused(&r, "request.metadata: not an object");
	strcpy(r.metadata, "{\"a\":1}{");
	refused(&r, "request.metadata: not JSON");
	strcpy(r.metadata, "{\"a\":\"\xc3\xa4\"}");
	refused(&r, "request.metadata: byte 0xc3");
	memset(r.metadata, ' ', sizeof r.metadata);
	refused(&r, "request.metadata: not terminated");
	/* within the wire's field, over the bound once unescaped */
	memset(r.metadata, 0, sizeof r.metadata);
	memcpy(r.metadata, "{\"k\":\"", 6);
	memset(r.metadata + 6, 'x', REQUEST_METADATA_MAX);
	memcpy(r.metadata + 6 + REQUEST_METADATA_MAX, "\"}", 2);
	refused(&r, "request.metadata: 2056 bytes as JSON, more than 2048");
	good_upgrade(&r);
	r.type = SERVE_REQ_ROLLBACK;
	r.version[0] = r.location[0] = r.sha256[0] = '\0';
	strcpy(r.metadata, "{}");
	refused(&r, "request.metadata: not allowed");
}

/* Each type carries its own fields only. */
static void test_fields_a_type_may_not_carry(void **state)
{
	struct serve_wire_request r;

	(void)state;
	good_upgrade(&r);
	strcpy(r.reason, "why");
	refused(&r, "request.reason: not allowed");
	good_upgrade(&r);
	r.type = SERVE_REQ_ROLLBACK;
	refused(&r, "request.version: not allowed");
	memset(&r, 0, sizeof r);
	r.magic = SERVE_WIRE_MAGIC;
	r.type = SERVE_REQ_ROLLBACK;
	r.seq = 3;
	strcpy(r.id, "back-1");
	refused(&r, "rollback without an admin context");
	r.type = SERVE_REQ_REFUSED;
	refused(&r, "request.reason: missing");
	memset(&r, 0, sizeof r);
	r.magic = SERVE_WIRE_MAGIC;
	r.type = SERVE_REQ_LINK_UP;
	r.seq = 4;
	refused(&r, "sequence number not 0");
	r.seq = 0;
	strcpy(r.id, "x");
	refused(&r, "request.id: not allowed");
	r.id[0] = '\0';
	r.flags = SERVE_FLAG_ADMIN;
	refused(&r, "flags on a link event");
}

static void good_outcome(struct serve_wire_reply *r)
{
	memset(r, 0, sizeof *r);
	r->magic = SERVE_WIRE_MAGIC;
	r->type = SERVE_REPLY_OUTCOME;
	strcpy(r->id, "up-1");
	strcpy(r->from, "v1.0.0");
	strcpy(r->to, "v1.2.0");
	strcpy(r->state, "SUCCESS");
}

static const char *reply(const struct serve_wire_reply *r, size_t len, struct error *err)
{
	struct serve_wire_reply out;

	err->text[0] = '\0';
	return serve_wire_reply_decode(r, len, &out, err) == 0 ? "" : err->text;
}

/* `file` names a local path: only beneath [amqp] file_dir (here
 * /srv/bundles), never with a ".." component; none when it is unset. */
static void test_file_only_beneath_file_dir(void **state)
{
	struct serve_wire_request r, out;
	struct error err;

	(void)state;
	good_upgrade(&r);
	strcpy(r.strategy, "file");
	strcpy(r.location, "/srv/bundles/agent.bundle");
	assert_string_equal(decode(&r, sizeof r, &err), "");
	strcpy(r.location, "file:///srv/bundles/v2/agent.bundle");
	assert_string_equal(decode(&r, sizeof r, &err), "");
	strcpy(r.location, "/etc/shadow");
	refused(&r, "request.location: file: location is not beneath [amqp] file_dir");
	strcpy(r.location, "/srv/bundles-old/agent.bundle");
	refused(&r, "not beneath");
	strcpy(r.location, "/srv/bundles/../../etc/shadow");
	refused(&r, "'..'");
	strcpy(r.location, "/srv/bundles/");
	refused(&r, "not beneath");
	/* file_dir unset: no local path at all, whatever the strategy's source */
	strcpy(r.location, "/srv/bundles/agent.bundle");
	assert_int_equal(serve_wire_request_decode(&r, sizeof r, wire_config("http", ""), &out, &err), -1);
	assert_non_null(strstr(err.text, "file_dir is set"));
	r.strategy[0] = '\0';
	assert_int_equal(serve_wire_request_decode(&r, sizeof r, wire_config("file", ""), &out, &err), -1);
	assert_non_null(strstr(err.text, "file_dir is set"));
}

static void test_replies(void **state)
{
	struct serve_wire_reply r;
	struct error err;

	(void)state;
	good_outcome(&r);
	assert_string_equal(reply(&r, sizeof r, &err), "");
	assert_non_null(strstr(reply(&r, sizeof r - 1, &err), "bytes, want"));
	strcpy(r.state, "DONE");
	assert_non_null(strstr(reply(&r, sizeof r, &err), "reply.state: not a state"));
	good_outcome(&r);
	memset(r.reason, 'x', sizeof r.reason);
	assert_non_null(strstr(reply(&r, sizeof r, &err), "reply.reason: not terminated"));
	good_outcome(&r);
	r.type = SERVE_REPLY_HEARTBEAT + 1;
	assert_non_null(strstr(reply(&r, sizeof r, &err), "unknown type"));

	memset(&r, 0, sizeof r);
	r.magic = SERVE_WIRE_MAGIC;
	r.type = SERVE_REPLY_ACK;
	r.seq = 9;
	assert_string_equal(reply(&r, sizeof r, &err), "");
	r.seq = 0;
	assert_non_null(strstr(reply(&r, sizeof r, &err), "sequence number 0"));
	r.seq = 9;
	strcpy(r.id, "up-1");
	assert_non_null(strstr(reply(&r, sizeof r, &err), "reply.id: not allowed"));

	memset(&r, 0, sizeof r);
	r.magic = SERVE_WIRE_MAGIC;
	r.type = SERVE_REPLY_HEARTBEAT;
	strcpy(r.agent_version, "v1.0.0");
	strcpy(r.agent_slot, "b");
	assert_string_equal(reply(&r, sizeof r, &err), "");
	strcpy(r.agent_slot, "c");
	assert_non_null(strstr(reply(&r, sizeof r, &err), "slot a|b"));
}

/* Over the real socketpair: one record is one message, and a longer one
 * is seen at its real length (and refused by decode), not cut to fit. */
static void test_socketpair_lengths(void **state)
{
	struct serve_wire_request r, out;
	char buf[sizeof r + 1], big[sizeof r + 100];
	struct error err = { "" };
	int pair[2];
	ssize_t n;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, pair), 0);
	good_upgrade(&r);
	assert_int_equal(serve_wire_send(pair[0], &r, sizeof r, 0, &err), 0);
	n = serve_wire_recv(pair[1], buf, sizeof r, &err);
	assert_int_equal(n, sizeof r);
	assert_int_equal(serve_wire_request_decode(buf, (size_t)n, wire_config("http", "/srv/bundles"), &out, &err), 0);
	assert_string_equal(out.location, r.location);

	memset(big, 'a', sizeof big);
	assert_int_equal(serve_wire_send(pair[0], big, sizeof big, 0, &err), 0);
	n = serve_wire_recv(pair[1], buf, sizeof r, &err);
	assert_int_equal(n, sizeof big);
	assert_int_equal(serve_wire_request_decode(buf, (size_t)n, wire_config("http", "/srv/bundles"), &out, &err), -1);

	assert_int_equal(serve_wire_recv(pair[1], buf, sizeof r, &err), -1);
	assert_int_equal(errno, EAGAIN);	/* nothing there: the caller polls */
	close(pair[0]);
	assert_int_equal(serve_wire_recv(pair[1], buf, sizeof r, &err), 0);
	close(pair[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_requests_pass),
		cmocka_unit_test(test_wrong_sizes_are_refused),
		cmocka_unit_test(test_unterminated_and_unprintable_strings),
		cmocka_unit_test(test_out_of_range_fields),
		cmocka_unit_test(test_fields_a_type_may_not_carry),
		cmocka_unit_test(test_metadata),
		cmocka_unit_test(test_file_only_beneath_file_dir),
		cmocka_unit_test(test_replies),
		cmocka_unit_test(test_socketpair_lengths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
