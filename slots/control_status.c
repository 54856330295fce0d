/* control_status.c: the status reply of the control protocol, as a struct
 * (see include/control.h).  One table of keys drives both directions, so
 * what slotd writes and what its clients read cannot drift apart. */
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "control.h"
#include "number.h"

static const char *const control_agent_states[] = {
	[CONTROL_AGENT_STOPPED] = "stopped", [CONTROL_AGENT_RUNNING] = "running",
	[CONTROL_AGENT_STOPPING] = "stopping", [CONTROL_AGENT_BACKOFF] = "backoff",
	[CONTROL_AGENT_UNSUPERVISED] = "not supervised",
};

#define CONTROL_AGENT_STATES (sizeof control_agent_states / sizeof control_agent_states[0])

const char *control_agent_state_name(enum control_agent_state state)
{
	return (unsigned)state < CONTROL_AGENT_STATES ? control_agent_states[state] : "?";
}

int control_agent_state_parse(const char *name, enum control_agent_state *state)
{
	unsigned i;

	for (i = 0; i < CONTROL_AGENT_STATES; i++) {
		if (!strcmp(name, control_agent_states[i])) {
			*state = (enum control_agent_state)i;
			return 0;
		}
	}
	return -1;
}

enum control_field_type {
	CF_SLOT,	/* int: SLOT_A, SLOT_B, SLOT_NONE as a, b, none */
	CF_PID,		/* int >= 0 */
	CF_AGENT,	/* enum control_agent_state */
	CF_FLAG,	/* int: 0 or 1 */
	CF_TEXT,	/* char[size], %-encoded */
	CF_STATUS,	/* enum slot_status */
	CF_COUNT	/* unsigned */
};

struct control_field {
	const char *key;
	enum control_field_type type;
	size_t offset, size;
	int optional;	/* added after the first slotd: may be missing (zero) */
};

#define CF(key, type, member) \
	{ key, type, offsetof(struct control_status, member), \
	  sizeof ((struct control_status *)0)->member, 0 }
#define CF_OPTIONAL(key, type, member) \
	{ key, type, offsetof(struct control_status, member), \
	  sizeof ((struct control_status *)0)->member, 1 }
#define CF_SLOT_FIELDS(name, i) \
	CF(name ".status", CF_STATUS, slot[i].status), \
	CF(name ".version", CF_TEXT, slot[i].version), \
	CF(name ".attempts", CF_COUNT, slot[i].attempts), \
	CF(name ".reason", CF_TEXT, slot[i].reason)

/* The keys in the order slotd sends them. */
static const struct control_field control_fields[] = {
	CF("current", CF_SLOT, current),
	CF("agent.pid", CF_PID, agent.pid),
	CF("agent.state", CF_AGENT, agent.state),
	CF("agent.healthy", CF_FLAG, agent.healthy),
	CF("agent.slot", CF_SLOT, agent.slot),
	CF("agent.status", CF_TEXT, agent.status),
	CF("trial", CF_FLAG, trial),
	CF_SLOT_FIELDS("a", SLOT_A),
	CF_SLOT_FIELDS("b", SLOT_B),
	CF_OPTIONAL("agent.leftover", CF_TEXT, agent.leftover),
};

#define CONTROL_FIELDS (sizeof control_fields / sizeof control_fields[0])

/* The widest decoded value: a reason. */
#define CONTROL_VALUE_MAX STATE_REASON_MAX

_Static_assert(sizeof(enum slot_status) == sizeof(int) &&
	       sizeof(enum control_agent_state) == sizeof(int),
	       "every field but texts and counts is read as an int");

/* The word of a named value; NULL when value has no name. */
static const char *control_value_name(enum control_field_type type, int value)
{
	switch (type) {
	case CF_SLOT:
		return value == SLOT_NONE ? "none" : layout_slot_name(value);
	case CF_AGENT:
		return (unsigned)value < CONTROL_AGENT_STATES ? control_agent_states[value] : NULL;
	case CF_STATUS:
		return strcmp(state_status_name((enum slot_status)value), "?") ?
		       state_status_name((enum slot_status)value) : NULL;
	default:
		return NULL;
	}
}

/* One value as its word; -1 when the struct holds something the protocol
 * cannot say (a slot 7, a text without its NUL). */
static int control_field_format(const struct control_field *f, const struct control_status *s,
				char *out, size_t len)
{
	const char *at = (const char *)s + f->offset, *name;
	unsigned count;
	int value, n;

	if (f->type == CF_TEXT)
		return memchr(at, '\0', f->size) ? control_encode(at, 1, out, len) : -1;
	if (f->type == CF_COUNT) {
		memcpy(&count, at, sizeof count);
		n = snprintf(out, len, "%u", count);
		return n < 0 || (size_t)n >= len ? -1 : 0;
	}
	memcpy(&value, at, sizeof value);
	if (f->type == CF_PID || f->type == CF_FLAG) {
		if (value < 0 || (f->type == CF_FLAG && value > 1))
			return -1;
		n = snprintf(out, len, "%d", value);
		return n < 0 || (size_t)n >= len ? -1 : 0;
	}
	name = control_value_name(f->type, value);
	return name ? control_encode(name, 1, out, len) : -1;
}

int control_status_format(const struct control_status *s, char *line, size_t len,
			  struct error *err)
{
	char value[3 * CONTROL_VALUE_MAX];
	size_t i, used = 0;
	int n;

	n = snprintf(line, len, "ok");
	for (i = 0; i < CONTROL_FIELDS && n >= 0 && (size_t)n < len - used; i++) {
		used += (size_t)n;
		if (control_field_format(&control_fields[i], s, value, sizeof value) < 0)
			return error_set(err, "status: %s: a value the protocol cannot carry",
					 control_fields[i].key);
		n = snprintf(line + used, len - used, " %s=%s", control_fields[i].key, value);
	}
	if (n < 0 || (size_t)n >= len - used || used + (size_t)n > CONTROL_LINE_MAX - 1)
		return error_set(err, "status: longer than its buffer");
	return 0;
}

/* Reads a decoded value into its field; -1 (err set) if it is not one. */
static int control_field_parse(const struct control_field *f, const char *text,
			       struct control_status *s, struct error *err)
{
	char *at = (char *)s + f->offset;
	unsigned long long number;
	unsigned count;
	int value;

	switch (f->type) {
	case CF_TEXT:
		memcpy(at, text, strlen(text) + 1);	/* fits: decoded into f->size */
		return 0;
	case CF_COUNT:
		if (number_parse(text, UINT_MAX, &number) < 0)
			return error_set(err, "status: %s: not a count: '%s'", f->key, text);
		count = (unsigned)number;
		memcpy(at, &count, sizeof count);
		return 0;
	case CF_PID:
	case CF_FLAG:
		if (number_parse(text, f->type == CF_FLAG ? 1 : INT_MAX, &number) < 0)
			return error_set(err, "status: %s: not %s: '%s'", f->key,
					 f->type == CF_FLAG ? "0 or 1" : "a pid", text);
		value = (int)number;
		memcpy(at, &value, sizeof value);
		return 0;
	default:
		break;
	}
	for (value = SLOT_NONE; value < 16; value++) {
		if (control_value_name(f->type, value) &&
		    !strcmp(control_value_name(f->type, value), text)) {
			memcpy(at, &value, sizeof value);
			return 0;
		}
	}
	return error_set(err, "status: %s: unknown value '%s'", f->key, text);
}

static const struct control_field *control_field_find(const char *key, size_t len)
{
	const char *name;
	size_t i;

	for (i = 0; i < CONTROL_FIELDS; i++) {
		name = control_fields[i].key;
		if (strlen(name) == len && !memcmp(name, key, len))
			return &control_fields[i];
	}
	return NULL;
}

/* One key=value word of len bytes; `seen` marks the keys already read. */
static int control_status_word(const char *word, size_t len, struct control_status *s,
			       unsigned *seen, struct error *err)
{
	char value[CONTROL_VALUE_MAX];
	const char *eq = memchr(word, '=', len);
	const struct control_field *f;
	size_t key_len = eq ? (size_t)(eq - word) : 0, i;

	if (!eq || key_len == 0 ||
	    strspn(word, "abcdefghijklmnopqrstuvwxyz0123456789._-") < key_len)
		return error_set(err, "status: '%.*s' is not key=value", (int)(len < 40 ? len : 40),
				 word);
	f = control_field_find(word, key_len);
	if (!f)
		return 0;	/* a newer slotd's key */
	i = (size_t)(f - control_fields);
	if (*seen & (1u << i))
		return error_set(err, "status: %s given twice", f->key);
	*seen |= 1u << i;
	if (control_decode(eq + 1, len - key_len - 1, value,
			   f->type == CF_TEXT ? f->size : sizeof value, f->key, err) < 0) {
		error_prefix(err, "status: ");
		return -1;
	}
	return control_field_parse(f, value, s, err);
}

/* The words after "ok", separated by single blanks. */
static int control_status_words(const char *line, size_t len, struct control_status *s,
				struct error *err)
{
	unsigned seen = 0;
	size_t start = 2, end, i;

	_Static_assert(CONTROL_FIELDS <= 32, "seen is a 32-bit mask");
	while (start < len) {
		start++;	/* the blank */
		for (end = start; end < len && line[end] != ' '; end++)
			;
		if (end == start)
			return error_set(err, "status: an empty word (two blanks, or one last)");
		if (control_status_word(line + start, end - start, s, &seen, err) < 0)
			return -1;
		start = end;
	}
	for (i = 0; i < CONTROL_FIELDS; i++)
		if (!(seen & (1u << i)) && !control_fields[i].optional)
			return error_set(err, "status: %s is missing", control_fields[i].key);
	return 0;
}

int control_status_parse(const char *line, size_t len, struct control_status *s,
			 struct control_reply *reply, struct error *err)
{
	struct control_status parsed;

	if (len > CONTROL_LINE_MAX - 1)
		return error_set(err, "status: reply longer than %d bytes", CONTROL_LINE_MAX - 1);
	if (memchr(line, '\0', len))
		return error_set(err, "status: reply contains a NUL byte");
	if (len < 2 || memcmp(line, "ok", 2) || (len > 2 && line[2] != ' '))
		return control_reply_parse(line, len, reply, err);
	memset(&parsed, 0, sizeof parsed);
	if (control_status_words(line, len, &parsed, err) < 0)
		return -1;
	*s = parsed;
	reply->kind = CONTROL_OK;
	reply->text[0] = '\0';
	return 0;
}
