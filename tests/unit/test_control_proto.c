/* test_control_proto.c: the control protocol's one owner (control.h).
 * Every request, every reply kind and the status struct survive format ->
 * parse unchanged, including values with blanks, '%', control bytes and at
 * their maximum lengths; and malformed lines (unknown or extra words,
 * over-long lines, bad %xx, missing or repeated keys, NUL bytes) are refused
 * with an error naming what was wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "control.h"

/* --- requests --- */

static void test_request_round_trip(void **unused)
{
	static const struct {
		struct control_request request;
		const char *wire;
	} cases[] = {
		{ { CONTROL_STATUS, SLOT_NONE }, "status" },
		{ { CONTROL_ACTIVATE, SLOT_A }, "activate a" },
		{ { CONTROL_ACTIVATE, SLOT_B }, "activate b" },
		{ { CONTROL_ROLLBACK, SLOT_NONE }, "rollback" },
		{ { CONTROL_ROLLBACK_FORCE, SLOT_NONE }, "rollback --force" },
		{ { CONTROL_MARK_GOOD, SLOT_NONE }, "mark-good" },
		{ { CONTROL_MARK_BAD, SLOT_NONE }, "mark-bad" },
		{ { CONTROL_RESTART, SLOT_NONE }, "restart" },
	};
	struct control_request parsed;
	struct error err = { "" };
	char line[64];
	size_t i;

	(void)unused;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(control_request_format(&cases[i].request, line, sizeof line, &err),
				 0);
		assert_string_equal(line, cases[i].wire);
		memset(&parsed, 0x5a, sizeof parsed);
		assert_int_equal(control_request_parse(line, strlen(line), &parsed, &err), 0);
		assert_int_equal(parsed.command, cases[i].request.command);
		assert_int_equal(parsed.slot, cases[i].request.slot);
	}
}

static void test_request_blanks_tabs_and_cr(void **unused)
{
	static const char line[] = " \tactivate \t b\r";
	struct control_request r;
	struct error err = { "" };

	(void)unused;
	assert_int_equal(control_request_parse(line, strlen(line), &r, &err), 0);
	assert_int_equal(r.command, CONTROL_ACTIVATE);
	assert_int_equal(r.slot, SLOT_B);
}

static void test_request_longest_line(void **unused)
{
	char line[CONTROL_LINE_MAX + 1];
	struct control_request r;
	struct error err = { "" };

	(void)unused;
	/* "status" and blanks up to the limit: 4095 bytes pass, 4096 do not. */
	memset(line, ' ', sizeof line);
	memcpy(line, "status", 6);
	assert_int_equal(control_request_parse(line, CONTROL_LINE_MAX - 1, &r, &err), 0);
	assert_int_equal(r.command, CONTROL_STATUS);
	assert_int_equal(control_request_parse(line, CONTROL_LINE_MAX, &r, &err), -1);
	assert_non_null(strstr(err.text, "request longer than 4095 bytes"));
}

static void test_request_format_refuses(void **unused)
{
	struct control_request activate_none = { CONTROL_ACTIVATE, SLOT_NONE };
	struct control_request bogus = { (enum control_command)42, SLOT_NONE };
	struct control_request force = { CONTROL_ROLLBACK_FORCE, SLOT_NONE };
	struct error err = { "" };
	char line[64];

	(void)unused;
	assert_int_equal(control_request_format(&activate_none, line, sizeof line, &err), -1);
	assert_non_null(strstr(err.text, "activate needs slot a or b"));
	assert_int_equal(control_request_format(&bogus, line, sizeof line, &err), -1);
	assert_non_null(strstr(err.text, "unknown command 42"));
	/* "rollback --force" needs 17 bytes with its NUL */
	assert_int_equal(control_request_format(&force, line, 16, &err), -1);
	assert_int_equal(control_request_format(&force, line, 17, &err), 0);
}

static void test_request_malformed(void **unused)
{
	static const struct {
		const char *line;
		size_t len;	/* 0: strlen */
		const char *error;
	} cases[] = {
		{ "", 0, "empty request" },
		{ " \t ", 0, "empty request" },
		{ "\r", 0, "empty request" },
		{ "bogus", 0, "unknown request 'bogus'" },
		{ "Status", 0, "unknown request 'Status'" },
		{ "rollback--force", 0, "unknown request 'rollback--force'" },
		{ "sta\x01tus", 0, "unknown request 'sta\\x01tus'" },
		{ "activate", 0, "activate a|b" },
		{ "activate c", 0, "activate a|b" },
		{ "activate none", 0, "activate a|b" },
		{ "activate a b", 0, "activate a|b" },
		{ "activate a b c d e", 0, "activate a|b" },
		{ "rollback --sideways", 0, "rollback [--force]" },
		{ "rollback --force now", 0, "rollback [--force]" },
		{ "status now", 0, "status takes no argument" },
		{ "mark-good now", 0, "mark-good takes no argument" },
		{ "mark-bad a", 0, "mark-bad takes no argument" },
		{ "restart 1", 0, "restart takes no argument" },
		{ "status\0", 7, "NUL byte" },
		{ "\0status", 7, "NUL byte" },
	};
	struct control_request r;
	struct error err;
	size_t i, len;

	(void)unused;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		len = cases[i].len ? cases[i].len : strlen(cases[i].line);
		memset(&err, 0, sizeof err);
		if (control_request_parse(cases[i].line, len, &r, &err) != -1 ||
		    !strstr(err.text, cases[i].error))
			fail_msg("request %zu: want '%s', got '%s'", i, cases[i].error, err.text);
	}
}

static void test_request_unknown_word_is_cut(void **unused)
{
	char line[200], want[80];
	struct control_request r;
	struct error err = { "" };

	(void)unused;
	memset(line, 'x', sizeof line);
	assert_int_equal(control_request_parse(line, sizeof line, &r, &err), -1);
	snprintf(want, sizeof want, "unknown request '%.*s'", CONTROL_WORD_SHOWN, line);
	assert_string_equal(err.text, want);
}

/* --- replies --- */

/* Formats, checks the line is one protocol line, parses, compares. */
static void reply_round_trip(enum control_kind kind, const char *text, const char *wire)
{
	struct control_reply r = { .kind = kind }, parsed;
	struct error err = { "" };
	char line[CONTROL_LINE_MAX];
	size_t i, len;

	snprintf(r.text, sizeof r.text, "%s", text);
	assert_int_equal(control_reply_format(&r, line, sizeof line, &err), 0);
	len = strlen(line);
	assert_true(len <= CONTROL_LINE_MAX - 1);
	for (i = 0; i < len; i++)
		assert_true((unsigned char)line[i] >= 0x20 && line[i] != 0x7f);
	if (wire)
		assert_string_equal(line, wire);
	memset(&parsed, 0x5a, sizeof parsed);
	if (control_reply_parse(line, len, &parsed, &err) < 0)
		fail_msg("'%s': %s", line, err.text);
	assert_int_equal(parsed.kind, kind);
	assert_string_equal(parsed.text, text);
}

static void test_reply_round_trip(void **unused)
{
	static const char *const texts[] = {
		"", "plain", "with  two blanks", " leading and trailing ", " ", "100% sure",
		"%41 is not A", "tab\there, newline\nhere, DEL\x7f, ESC\x1b[2J", "caf\xc3\xa9 \xff",
		"current=a", "good v1.0.0",
	};
	char every[256], longest[CONTROL_TEXT_MAX];
	size_t i, k;

	(void)unused;
	for (i = 1; i < 256; i++)
		every[i - 1] = (char)i;
	every[255] = '\0';
	memset(longest, '%', sizeof longest - 1);	/* 3 bytes each on the wire */
	longest[sizeof longest - 1] = '\0';
	for (k = CONTROL_OK; k <= CONTROL_STATE; k++) {
		for (i = 0; i < sizeof texts / sizeof texts[0]; i++)
			reply_round_trip((enum control_kind)k, texts[i], NULL);
		reply_round_trip((enum control_kind)k, every, NULL);
		reply_round_trip((enum control_kind)k, longest, NULL);
	}
	reply_round_trip(CONTROL_OK, "", "ok");
	reply_round_trip(CONTROL_OK, "current=b", "ok current=b");
	reply_round_trip(CONTROL_REFUSED, "uid 65534 is not allowed",
			 "error refused uid 65534 is not allowed");
	reply_round_trip(CONTROL_BUSY, "", "error busy");
	reply_round_trip(CONTROL_HEALTH, "100%\tdone\n", "error health 100%25%09done%0a");
}

static void test_reply_format_refuses(void **unused)
{
	struct control_reply r = { .kind = CONTROL_REFUSED, .text = "no" };
	struct error err = { "" };
	char line[CONTROL_LINE_MAX];

	(void)unused;
	assert_int_equal(control_reply_format(&r, line, strlen("error refused no"), &err), -1);
	assert_int_equal(control_reply_format(&r, line, strlen("error refused no") + 1, &err), 0);
	r.kind = (enum control_kind)9;
	assert_int_equal(control_reply_format(&r, line, sizeof line, &err), -1);
	assert_non_null(strstr(err.text, "unknown kind 9"));
}

static void test_reply_malformed(void **unused)
{
	static const struct {
		const char *line;
		size_t len;	/* 0: strlen */
		const char *error;
	} cases[] = {
		{ "", 0, "neither 'ok' nor 'error KIND'" },
		{ "o", 0, "neither" },
		{ "okay", 0, "neither" },
		{ "OK", 0, "neither" },
		{ "error", 0, "neither" },
		{ "error ", 0, "neither" },
		{ "ok ", 0, "a blank and no text" },
		{ "error busy ", 0, "a blank and no text" },
		{ "error bogus it broke", 0, "unknown error kind 'bogus'" },
		{ "error ok fine", 0, "unknown error kind 'ok'" },
		{ "error  refused x", 0, "unknown error kind ''" },
		{ "error Refused x", 0, "unknown error kind 'Refused'" },
		{ "ok %zz", 0, "'%' without two hex digits" },
		{ "ok %4", 0, "'%' without two hex digits" },
		{ "ok 100%", 0, "'%' without two hex digits" },
		{ "ok %00", 0, "%00" },
		{ "ok a\tb", 0, "raw control byte 0x09" },
		{ "error health a\x1b[2J", 0, "raw control byte 0x1b" },
		{ "ok a\x7f", 0, "raw control byte 0x7f" },
		{ "ok a\0b", 6, "NUL byte" },
	};
	struct control_reply r;
	struct error err;
	size_t i, len;

	(void)unused;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		len = cases[i].len ? cases[i].len : strlen(cases[i].line);
		memset(&err, 0, sizeof err);
		if (control_reply_parse(cases[i].line, len, &r, &err) != -1 ||
		    !strstr(err.text, cases[i].error))
			fail_msg("reply %zu: want '%s', got '%s'", i, cases[i].error, err.text);
	}
}

static void test_reply_lengths(void **unused)
{
	char line[CONTROL_LINE_MAX + 1];
	struct control_reply r;
	struct error err = { "" };

	(void)unused;
	/* The line limit: 4095 bytes parse (if the text fits), 4096 do not. */
	memset(line, 'x', sizeof line);
	memcpy(line, "ok ", 3);
	assert_int_equal(control_reply_parse(line, CONTROL_LINE_MAX, &r, &err), -1);
	assert_non_null(strstr(err.text, "longer than 4095 bytes"));
	/* The text limit: 1023 decoded bytes, whatever the encoding. */
	assert_int_equal(control_reply_parse(line, 3 + CONTROL_TEXT_MAX - 1, &r, &err), 0);
	assert_int_equal(strlen(r.text), CONTROL_TEXT_MAX - 1);
	assert_int_equal(control_reply_parse(line, 3 + CONTROL_TEXT_MAX, &r, &err), -1);
	assert_non_null(strstr(err.text, "longer than 1023 bytes"));
}

/* --- the escaping rule --- */

static void test_escaping_rule(void **unused)
{
	struct error err = { "" };
	char out[64];

	(void)unused;
	assert_int_equal(control_encode("a b%\x01\x7f\xc3\xa9", 1, out, sizeof out), 0);
	assert_string_equal(out, "a%20b%25%01%7f\xc3\xa9");
	assert_int_equal(control_encode("a b%\x01\x7f\xc3\xa9", 0, out, sizeof out), 0);
	assert_string_equal(out, "a b%25%01%7f\xc3\xa9");
	/* An escape is never cut: "%25" needs 4 bytes with the NUL. */
	assert_int_equal(control_encode("%", 1, out, 3), -1);
	assert_int_equal(control_encode("%", 1, out, 4), 0);
	/* Either case decodes; the encoder writes lower case. */
	assert_int_equal(control_decode("%4A%4a", 6, out, sizeof out, "x", &err), 0);
	assert_string_equal(out, "JJ");
	assert_int_equal(control_decode("abc", 3, out, 3, "the key", &err), -1);
	assert_string_equal(err.text, "the key: longer than 2 bytes");
}

/* --- the status reply --- */

static const char sample_wire[] =
	"ok current=a agent.pid=4242 agent.state=running agent.healthy=1 agent.slot=a "
	"agent.status=serving trial=0 a.status=good a.version=v1.0.0 a.attempts=0 a.reason= "
	"b.status=bad b.version=v1.2.0 b.attempts=1 "
	"b.reason=agent%20exited%20with%20status%203%20during%20its%20trial agent.leftover=";

static void sample_status(struct control_status *s)
{
	memset(s, 0, sizeof *s);
	s->current = SLOT_A;
	s->agent.pid = 4242;
	s->agent.state = CONTROL_AGENT_RUNNING;
	s->agent.healthy = 1;
	s->agent.slot = SLOT_A;
	strcpy(s->agent.status, "serving");
	s->slot[SLOT_A].status = SLOT_GOOD;
	strcpy(s->slot[SLOT_A].version, "v1.0.0");
	s->slot[SLOT_B].status = SLOT_BAD;
	strcpy(s->slot[SLOT_B].version, "v1.2.0");
	s->slot[SLOT_B].attempts = 1;
	strcpy(s->slot[SLOT_B].reason, "agent exited with status 3 during its trial");
}

static void assert_status_equal(const struct control_status *a, const struct control_status *b)
{
	int i;

	assert_int_equal(a->current, b->current);
	assert_int_equal(a->agent.pid, b->agent.pid);
	assert_int_equal(a->agent.state, b->agent.state);
	assert_int_equal(a->agent.healthy, b->agent.healthy);
	assert_int_equal(a->agent.slot, b->agent.slot);
	assert_string_equal(a->agent.status, b->agent.status);
	assert_string_equal(a->agent.leftover, b->agent.leftover);
	assert_int_equal(a->trial, b->trial);
	for (i = 0; i < SLOT_COUNT; i++) {
		assert_int_equal(a->slot[i].status, b->slot[i].status);
		assert_string_equal(a->slot[i].version, b->slot[i].version);
		assert_int_equal(a->slot[i].attempts, b->slot[i].attempts);
		assert_string_equal(a->slot[i].reason, b->slot[i].reason);
	}
}

static void status_round_trip(const struct control_status *s, char *line, size_t len)
{
	struct control_status parsed;
	struct control_reply reply;
	struct error err = { "" };
	size_t i;

	assert_int_equal(control_status_format(s, line, len, &err), 0);
	for (i = 0; line[i]; i++)
		assert_true((unsigned char)line[i] > 0x20 || line[i] == ' ');
	memset(&parsed, 0x5a, sizeof parsed);
	if (control_status_parse(line, strlen(line), &parsed, &reply, &err) < 0)
		fail_msg("'%s': %s", line, err.text);
	assert_int_equal(reply.kind, CONTROL_OK);
	assert_status_equal(&parsed, s);
}

static void test_status_wire(void **unused)
{
	struct control_status s;
	char line[CONTROL_LINE_MAX];

	(void)unused;
	sample_status(&s);
	status_round_trip(&s, line, sizeof line);
	assert_string_equal(line, sample_wire);
}

static void fill(char *buf, size_t size, char c)
{
	memset(buf, c, size - 1);
	buf[size - 1] = '\0';
}

static void test_status_round_trip_extremes(void **unused)
{
	struct control_status s;
	char line[CONTROL_LINE_MAX];
	int state;

	(void)unused;
	memset(&s, 0, sizeof s);
	s.current = SLOT_NONE;
	s.agent.pid = INT_MAX;
	s.agent.state = CONTROL_AGENT_UNSUPERVISED;	/* "not supervised": a blank */
	s.agent.slot = SLOT_B;
	s.trial = 1;
	/* Every value at its longest, every byte encoded: the widest line. */
	fill(s.agent.status, sizeof s.agent.status, ' ');
	fill(s.agent.leftover, sizeof s.agent.leftover, '\t');
	fill(s.slot[SLOT_A].version, sizeof s.slot[SLOT_A].version, '%');
	fill(s.slot[SLOT_A].reason, sizeof s.slot[SLOT_A].reason, '\x01');
	fill(s.slot[SLOT_B].version, sizeof s.slot[SLOT_B].version, '\x7f');
	fill(s.slot[SLOT_B].reason, sizeof s.slot[SLOT_B].reason, '\n');
	s.slot[SLOT_A].attempts = UINT_MAX;
	for (state = SLOT_EMPTY; state <= SLOT_BAD; state++) {
		s.slot[SLOT_A].status = (enum slot_status)state;
		s.slot[SLOT_B].status = (enum slot_status)(SLOT_BAD - state);
		status_round_trip(&s, line, sizeof line);
	}
	assert_non_null(strstr(line, " agent.state=not%20supervised "));
	assert_true(strlen(line) < CONTROL_LINE_MAX - 1);
	for (state = CONTROL_AGENT_STOPPED; state <= CONTROL_AGENT_UNSUPERVISED; state++) {
		s.agent.state = (enum control_agent_state)state;
		status_round_trip(&s, line, sizeof line);
	}
	/* Mixed text with every printable and control byte class. */
	strcpy(s.agent.status, "50% done\tstep 3/4 caf\xc3\xa9");
	strcpy(s.slot[SLOT_B].reason, "health check exited with status 1 (100%)");
	status_round_trip(&s, line, sizeof line);
}

static void test_status_format_refuses(void **unused)
{
	struct control_status s;
	struct error err = { "" };
	char line[CONTROL_LINE_MAX];

	(void)unused;
	sample_status(&s);
	s.current = 7;
	assert_int_equal(control_status_format(&s, line, sizeof line, &err), -1);
	assert_non_null(strstr(err.text, "status: current:"));
	sample_status(&s);
	s.agent.healthy = 2;
	assert_int_equal(control_status_format(&s, line, sizeof line, &err), -1);
	assert_non_null(strstr(err.text, "agent.healthy"));
	sample_status(&s);
	s.agent.pid = -1;
	assert_int_equal(control_status_format(&s, line, sizeof line, &err), -1);
	assert_non_null(strstr(err.text, "agent.pid"));
	sample_status(&s);
	s.agent.state = (enum control_agent_state)99;
	assert_int_equal(control_status_format(&s, line, sizeof line, &err), -1);
	assert_non_null(strstr(err.text, "agent.state"));
	sample_status(&s);
	memset(s.slot[SLOT_B].version, 'v', sizeof s.slot[SLOT_B].version);	/* no NUL */
	assert_int_equal(control_status_format(&s, line, sizeof line, &err), -1);
	assert_non_null(strstr(err.text, "b.version"));
	sample_status(&s);
	assert_int_equal(control_status_format(&s, line, strlen(sample_wire), &err), -1);
	assert_int_equal(control_status_format(&s, line, strlen(sample_wire) + 1, &err), 0);
}

static void test_status_error_reply(void **unused)
{
	struct control_status s, before;
	struct control_reply reply;
	struct error err = { "" };
	static const char line[] = "error state /var/lib/slotd/state: bad crc%0a";

	(void)unused;
	sample_status(&s);
	before = s;
	assert_int_equal(control_status_parse(line, strlen(line), &s, &reply, &err), 0);
	assert_int_equal(reply.kind, CONTROL_STATE);
	assert_string_equal(reply.text, "/var/lib/slotd/state: bad crc\n");
	assert_status_equal(&s, &before);
	assert_int_equal(control_status_parse("okay", 4, &s, &reply, &err), -1);
	assert_non_null(strstr(err.text, "neither"));
}

static void test_status_unknown_key_skipped(void **unused)
{
	struct control_status s, want;
	struct control_reply reply;
	struct error err = { "" };
	char line[CONTROL_LINE_MAX];

	(void)unused;
	sample_status(&want);
	snprintf(line, sizeof line, "%s agent.restarts=3 probation.until=12%%20s", sample_wire);
	assert_int_equal(control_status_parse(line, strlen(line), &s, &reply, &err), 0);
	assert_status_equal(&s, &want);
}

/* agent.leftover came after the first slotd: a line without it (an older
 * slotd's) reads as no leftover; one with it carries the text. */
static void test_status_leftover_optional(void **unused)
{
	struct control_status s, want;
	struct control_reply reply;
	struct error err = { "" };
	char line[CONTROL_LINE_MAX];

	(void)unused;
	sample_status(&want);
	snprintf(line, sizeof line, "%.*s", (int)(strlen(sample_wire) - strlen(" agent.leftover=")),
		 sample_wire);
	memset(&s, 0x5a, sizeof s);
	assert_int_equal(control_status_parse(line, strlen(line), &s, &reply, &err), 0);
	assert_status_equal(&s, &want);
	strcpy(want.agent.leftover, "pid 84 of a previous slotd survived 3 SIGKILLs");
	status_round_trip(&want, line, sizeof line);
	assert_non_null(strstr(line, " agent.leftover=pid%2084%20of%20a%20previous"));
}

/* The sample line with `old` replaced by `new` (first occurrence). */
static void mutate(char *line, size_t size, const char *old, const char *new)
{
	const char *at = strstr(sample_wire, old);

	assert_non_null(at);
	snprintf(line, size, "%.*s%s%s", (int)(at - sample_wire), sample_wire, new,
		 at + strlen(old));
}

static void test_status_malformed(void **unused)
{
	static const struct {
		const char *old, *new, *error;
	} cases[] = {
		{ " trial=0", "", "trial is missing" },
		{ "ok current=a", "ok", "current is missing" },
		{ " b.reason=agent%20exited%20with%20status%203%20during%20its%20trial", "",
		  "b.reason is missing" },
		{ " trial=0", " trial=0 trial=0", "trial given twice" },
		{ " a.status=good", " a.status=good a.status=bad", "a.status given twice" },
		{ " trial=0", " trial", "'trial' is not key=value" },
		{ " trial=0", " =0", "'=0' is not key=value" },
		{ " trial=0", " Trial=0", "'Trial=0' is not key=value" },
		{ " trial=0", " tri\x01l=0", "is not key=value" },
		{ " trial=0", "  trial=0", "an empty word" },
		{ "its%20trial", "its%20trial ", "an empty word" },
		{ "current=a", "current=c", "current: unknown value 'c'" },
		{ "current=a", "current=A", "current: unknown value 'A'" },
		{ "agent.pid=4242", "agent.pid=-1", "agent.pid: not a pid" },
		{ "agent.pid=4242", "agent.pid=2147483648", "agent.pid: not a pid" },
		{ "agent.pid=4242", "agent.pid=", "agent.pid: not a pid" },
		{ "agent.healthy=1", "agent.healthy=2", "agent.healthy: not 0 or 1" },
		{ "trial=0", "trial=no", "trial: not 0 or 1" },
		{ "agent.state=running", "agent.state=sleeping", "agent.state: unknown value" },
		{ "agent.state=running", "agent.state=not supervised",
		  "agent.state: unknown value 'not'" },
		{ "a.status=good", "a.status=great", "a.status: unknown value 'great'" },
		{ "a.attempts=0", "a.attempts=4294967296", "a.attempts: not a count" },
		{ "a.attempts=0", "a.attempts=+1", "a.attempts: not a count" },
		{ "a.version=v1.0.0", "a.version=v1%zz", "a.version: '%' without two hex" },
		{ "a.version=v1.0.0", "a.version=v1%0", "a.version: '%' without two hex" },
		{ "a.reason=", "a.reason=%00", "a.reason: %00" },
		{ "a.version=v1.0.0", "a.version=v1\x1b", "a.version: raw control byte 0x1b" },
		{ "a.version=v1.0.0", "a.version=v1\t", "a.version: raw control byte 0x09" },
		{ "agent.status=serving", "agent.status=serving\x7f", "raw control byte 0x7f" },
		{ "a.version=v1.0.0",
		  "a.version=0123456789012345678901234567890123456789012345678901234567890123",
		  "a.version: longer than 63 bytes" },
	};
	struct control_status s;
	struct control_reply reply;
	struct error err;
	char line[CONTROL_LINE_MAX];
	size_t i;

	(void)unused;
	assert_int_equal(control_status_parse(sample_wire, strlen(sample_wire), &s, &reply, &err),
			 0);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		mutate(line, sizeof line, cases[i].old, cases[i].new);
		memset(&err, 0, sizeof err);
		if (control_status_parse(line, strlen(line), &s, &reply, &err) != -1 ||
		    !strstr(err.text, cases[i].error))
			fail_msg("status %zu: want '%s', got '%s'", i, cases[i].error, err.text);
	}
}

static void test_status_nul_and_length(void **unused)
{
	char line[CONTROL_LINE_MAX + 1];
	struct control_status s;
	struct control_reply reply;
	struct error err = { "" };
	size_t len = strlen(sample_wire);

	(void)unused;
	memcpy(line, sample_wire, len + 1);
	line[5] = '\0';	/* "ok cu\0rent=a ..." */
	assert_int_equal(control_status_parse(line, len, &s, &reply, &err), -1);
	assert_non_null(strstr(err.text, "NUL byte"));
	/* Padded with an unknown key to 4095 bytes: parses; 4096: too long. */
	memcpy(line, sample_wire, len);
	memcpy(line + len, " x=", 3);
	memset(line + len + 3, 'y', sizeof line - len - 3);
	assert_int_equal(control_status_parse(line, CONTROL_LINE_MAX - 1, &s, &reply, &err), 0);
	assert_int_equal(control_status_parse(line, CONTROL_LINE_MAX, &s, &reply, &err), -1);
	assert_non_null(strstr(err.text, "longer than 4095 bytes"));
}

static void test_names(void **unused)
{
	enum control_agent_state state;

	(void)unused;
	assert_string_equal(control_kind_name(CONTROL_OK), "ok");
	assert_string_equal(control_kind_name(CONTROL_USAGE), "usage");
	assert_string_equal(control_kind_name(CONTROL_REFUSED), "refused");
	assert_string_equal(control_kind_name(CONTROL_BUSY), "busy");
	assert_string_equal(control_kind_name(CONTROL_HEALTH), "health");
	assert_string_equal(control_kind_name(CONTROL_STATE), "state");
	assert_string_equal(control_kind_name((enum control_kind)77), "?");
	assert_int_equal(control_agent_state_parse("not supervised", &state), 0);
	assert_int_equal(state, CONTROL_AGENT_UNSUPERVISED);
	assert_int_equal(control_agent_state_parse("backoff", &state), 0);
	assert_int_equal(state, CONTROL_AGENT_BACKOFF);
	assert_int_equal(control_agent_state_parse("probation", &state), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_round_trip),
		cmocka_unit_test(test_request_blanks_tabs_and_cr),
		cmocka_unit_test(test_request_longest_line),
		cmocka_unit_test(test_request_format_refuses),
		cmocka_unit_test(test_request_malformed),
		cmocka_unit_test(test_request_unknown_word_is_cut),
		cmocka_unit_test(test_reply_round_trip),
		cmocka_unit_test(test_reply_format_refuses),
		cmocka_unit_test(test_reply_malformed),
		cmocka_unit_test(test_reply_lengths),
		cmocka_unit_test(test_escaping_rule),
		cmocka_unit_test(test_status_wire),
		cmocka_unit_test(test_status_round_trip_extremes),
		cmocka_unit_test(test_status_format_refuses),
		cmocka_unit_test(test_status_error_reply),
		cmocka_unit_test(test_status_unknown_key_skipped),
		cmocka_unit_test(test_status_leftover_optional),
		cmocka_unit_test(test_status_malformed),
		cmocka_unit_test(test_status_nul_and_length),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
