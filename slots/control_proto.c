/* control_proto.c: requests, replies and the escaping rule of the control
 * protocol (see include/control.h).  Pure functions: no I/O, no state. */
#include <stdio.h>
#include <string.h>

#include "control.h"

static const char *const control_kinds[] = {
	[CONTROL_OK] = "ok", [CONTROL_USAGE] = "usage", [CONTROL_REFUSED] = "refused",
	[CONTROL_BUSY] = "busy", [CONTROL_HEALTH] = "health", [CONTROL_STATE] = "state",
};

#define CONTROL_KINDS (sizeof control_kinds / sizeof control_kinds[0])

const char *control_kind_name(enum control_kind kind)
{
	return (unsigned)kind < CONTROL_KINDS ? control_kinds[kind] : "?";
}

static int control_is_control(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

int control_encode(const char *in, int word, char *out, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t used = 0;
	unsigned char c;

	for (; *in; in++) {
		c = (unsigned char)*in;
		if (!control_is_control(c) && c != '%' && !(word && c == ' ')) {
			if (used + 1 >= len)
				return -1;
			out[used++] = (char)c;
			continue;
		}
		if (used + 3 >= len)
			return -1;
		out[used++] = '%';
		out[used++] = hex[c >> 4];
		out[used++] = hex[c & 15];
	}
	if (used >= len)
		return -1;
	out[used] = '\0';
	return 0;
}

static int control_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int control_decode(const char *in, size_t len, char *out, size_t out_len, const char *what,
		   struct error *err)
{
	size_t i, used = 0;
	int high, low;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (control_is_control(c))
			return error_set(err, "%s: raw control byte 0x%02x", what, c);
		if (c == '%') {
			high = i + 2 < len ? control_hex(in[i + 1]) : -1;
			low = i + 2 < len ? control_hex(in[i + 2]) : -1;
			if (high < 0 || low < 0)
				return error_set(err, "%s: '%%' without two hex digits", what);
			c = (unsigned char)(high << 4 | low);
			if (c == 0)
				return error_set(err, "%s: %%00 (a NUL byte)", what);
			i += 2;
		}
		if (used + 1 >= out_len)
			return error_set(err, "%s: longer than %zu bytes", what, out_len - 1);
		out[used++] = (char)c;
	}
	out[used] = '\0';
	return 0;
}

/* --- requests --- */

static const char *const control_commands[] = {
	[CONTROL_STATUS] = "status", [CONTROL_ACTIVATE] = "activate",
	[CONTROL_ROLLBACK] = "rollback", [CONTROL_ROLLBACK_FORCE] = "rollback",
	[CONTROL_MARK_GOOD] = "mark-good", [CONTROL_MARK_BAD] = "mark-bad",
	[CONTROL_RESTART] = "restart",
};

#define CONTROL_COMMANDS (sizeof control_commands / sizeof control_commands[0])

int control_request_format(const struct control_request *r, char *line, size_t len,
			   struct error *err)
{
	const char *arg = NULL;
	int n;

	if ((unsigned)r->command >= CONTROL_COMMANDS)
		return error_set(err, "control request: unknown command %d", (int)r->command);
	if (r->command == CONTROL_ACTIVATE && !(arg = layout_slot_name(r->slot)))
		return error_set(err, "control request: activate needs slot a or b");
	if (r->command == CONTROL_ROLLBACK_FORCE)
		arg = "--force";
	n = snprintf(line, len, "%s%s%s", control_commands[r->command], arg ? " " : "",
		     arg ? arg : "");
	if (n < 0 || (size_t)n >= len)
		return error_set(err, "control request: buffer too small");
	return 0;
}

/* Splits at most 4 words on blanks and tabs; the 4th only says "too many". */
static int control_split(char *line, char *word[4])
{
	char *save = NULL, *w;
	int count = 0;

	for (w = strtok_r(line, " \t", &save); w && count < 4; w = strtok_r(NULL, " \t", &save))
		word[count++] = w;
	return count;
}

/* The usage error of a known command with the wrong arguments. */
static int control_usage(enum control_command command, struct error *err)
{
	switch (command) {
	case CONTROL_ACTIVATE: return error_set(err, "activate a|b");
	case CONTROL_ROLLBACK: return error_set(err, "rollback [--force]");
	default: return error_set(err, "%s takes no argument", control_commands[command]);
	}
}

static int control_command_parse(const char *word, enum control_command *command)
{
	unsigned i;

	for (i = 0; i < CONTROL_COMMANDS; i++) {
		if (i != CONTROL_ROLLBACK_FORCE && !strcmp(word, control_commands[i])) {
			*command = (enum control_command)i;
			return 0;
		}
	}
	return -1;
}

/* The words of a request, already split: word[0] names a known command. */
static int control_request_words(char **word, int count, struct control_request *r,
				 struct error *err)
{
	r->slot = SLOT_NONE;
	if (r->command == CONTROL_ACTIVATE) {
		if (count != 2 || (r->slot = layout_slot_parse(word[1])) == SLOT_NONE)
			return control_usage(r->command, err);
		return 0;
	}
	if (r->command == CONTROL_ROLLBACK && count == 2 && !strcmp(word[1], "--force")) {
		r->command = CONTROL_ROLLBACK_FORCE;
		return 0;
	}
	return count == 1 ? 0 : control_usage(r->command, err);
}

int control_request_parse(const char *line, size_t len, struct control_request *r,
			  struct error *err)
{
	char copy[CONTROL_LINE_MAX], *word[4];
	int count;

	if (len > CONTROL_LINE_MAX - 1)
		return error_set(err, "request longer than %d bytes", CONTROL_LINE_MAX - 1);
	if (memchr(line, '\0', len))
		return error_set(err, "request contains a NUL byte");
	if (len && line[len - 1] == '\r')
		len--;
	memcpy(copy, line, len);
	copy[len] = '\0';
	count = control_split(copy, word);
	if (count == 0)
		return error_set(err, "empty request");
	if (control_command_parse(word[0], &r->command) < 0)
		return error_set(err, "unknown request '%.*s'", CONTROL_WORD_SHOWN, word[0]);
	return control_request_words(word, count, r, err);
}

/* --- replies --- */

int control_reply_format(const struct control_reply *r, char *line, size_t len,
			 struct error *err)
{
	char text[CONTROL_LINE_MAX];
	int n;

	if ((unsigned)r->kind >= CONTROL_KINDS)
		return error_set(err, "control reply: unknown kind %d", (int)r->kind);
	if (control_encode(r->text, 0, text, sizeof text) < 0)
		return error_set(err, "control reply: text too long");
	n = snprintf(line, len, "%s%s%s%s", r->kind == CONTROL_OK ? "ok" : "error ",
		     r->kind == CONTROL_OK ? "" : control_kinds[r->kind], text[0] ? " " : "", text);
	if (n < 0 || (size_t)n >= len || n > CONTROL_LINE_MAX - 1)
		return error_set(err, "control reply: longer than its buffer");
	return 0;
}

/* The kind word at the start of an error reply ("refused" of "refused ..."). */
static int control_kind_parse(const char *word, size_t len, enum control_kind *kind)
{
	unsigned i;

	for (i = CONTROL_OK + 1; i < CONTROL_KINDS; i++) {
		if (strlen(control_kinds[i]) == len && !memcmp(word, control_kinds[i], len)) {
			*kind = (enum control_kind)i;
			return 0;
		}
	}
	return -1;
}

int control_reply_parse(const char *line, size_t len, struct control_reply *r,
			struct error *err)
{
	size_t head = 6;

	if (len > CONTROL_LINE_MAX - 1)
		return error_set(err, "reply longer than %d bytes", CONTROL_LINE_MAX - 1);
	if (memchr(line, '\0', len))
		return error_set(err, "reply contains a NUL byte");
	if (len >= 2 && !memcmp(line, "ok", 2) && (len == 2 || line[2] == ' ')) {
		r->kind = CONTROL_OK;
		head = 2;
	} else if (len > 6 && !memcmp(line, "error ", 6)) {
		while (head < len && line[head] != ' ')
			head++;
		if (control_kind_parse(line + 6, head - 6, &r->kind) < 0)
			return error_set(err, "reply: unknown error kind '%.*s'",
					 (int)(head - 6 < 20 ? head - 6 : 20), line + 6);
	} else {
		return error_set(err, "reply: neither 'ok' nor 'error KIND': '%.*s'",
				 (int)(len < 40 ? len : 40), line);
	}
	r->text[0] = '\0';
	if (head == len)
		return 0;
	if (head + 1 == len)
		return error_set(err, "reply: a blank and no text after '%s'",
				 control_kind_name(r->kind));
	return control_decode(line + head + 1, len - head - 1, r->text, sizeof r->text,
			      "reply text", err);
}
