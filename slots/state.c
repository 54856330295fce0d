/* state.c: the slot state file (format in include/state.h). */
#include <errno.h>
#include <inttypes.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic.h"
#include "crc32.h"
#include "ini_text.h"
#include "number.h"
#include "state.h"
#include "version.h"

#define STATE_FILE "state"
#define STATE_FORMAT 1
#define STATE_TEXT_MAX 8192
/* "reason = " and the text must fit ini_text_check's line limit. */
#define STATE_REASON_LINE_MAX (INI_TEXT_LINE_MAX - (int)sizeof "reason = " + 1)

static const char *const state_status_names[] = {
	[SLOT_EMPTY] = "empty",	    [SLOT_INSTALLING] = "installing", [SLOT_INSTALLED] = "installed",
	[SLOT_TRIAL] = "trial",	    [SLOT_GOOD] = "good",	      [SLOT_BAD] = "bad",
};

const char *state_status_name(enum slot_status status)
{
	if ((unsigned)status >= sizeof state_status_names / sizeof state_status_names[0])
		return "?";
	return state_status_names[status];
}

int state_status_parse(const char *name, enum slot_status *status)
{
	unsigned i;

	for (i = 0; i < sizeof state_status_names / sizeof state_status_names[0]; i++) {
		if (!strcmp(name, state_status_names[i])) {
			*status = (enum slot_status)i;
			return 0;
		}
	}
	return -1;
}

void state_init_fresh(struct slot_state *state)
{
	memset(state, 0, sizeof *state);
}

void state_set_status(struct slot_info *info, enum slot_status status, int64_t now)
{
	info->status = status;
	info->updated = now;
	if (status != SLOT_BAD)
		info->reason[0] = '\0';
}

/* Free text must survive an INI round trip: no line breaks, no inline
 * comment markers, no leading/trailing blanks that inih would strip. */
static void state_clean_text(const char *in, char *out, size_t len)
{
	size_t i;

	for (i = 0; in[i] && i + 1 < len; i++) {
		unsigned char c = (unsigned char)in[i];
		out[i] = (c < 0x20 || c == 0x7f || c == ';' || c == '#') ? '_' : (char)c;
	}
	out[i] = '\0';
	while (i > 0 && out[i - 1] == ' ')
		out[--i] = '\0';
}

int state_format(const struct slot_state *state, char *buf, size_t len)
{
	char reason[STATE_REASON_MAX];
	size_t used;
	int slot, n;

	n = snprintf(buf, len, "# slot state, written atomically by slotd and slotupd\n"
		     "[state]\nformat = %d\ngeneration = %" PRIu64 "\n",
		     STATE_FORMAT, state->generation);
	if (n < 0 || (size_t)n >= len)
		return -1;
	used = (size_t)n;
	for (slot = 0; slot < SLOT_COUNT; slot++) {
		const struct slot_info *info = &state->slot[slot];

		/* cut to what one INI line holds, or the file would not load back */
		state_clean_text(info->reason, reason, STATE_REASON_LINE_MAX + 1);
		n = snprintf(buf + used, len - used,
			     "[slot %s]\nstatus = %s\nversion = %s\ndigest = %s\nattempts = %u\n"
			     "updated = %" PRId64 "\nreason = %s\n",
			     layout_slot_name(slot), state_status_name(info->status),
			     info->version, info->digest, info->attempts, info->updated,
			     reason + strspn(reason, " "));
		if (n < 0 || (size_t)n >= len - used)
			return -1;
		used += (size_t)n;
	}
	n = snprintf(buf + used, len - used, "[end]\ncrc32 = %08" PRIx32 "\n",
		     crc32_compute(buf, used));
	if (n < 0 || (size_t)n >= len - used)
		return -1;
	return (int)(used + (size_t)n);
}

struct state_parse {
	struct slot_state *state;
	struct error *err;
	int failed;
	unsigned seen;	/* bit per (section, key) that is required */
};

enum { SEEN_FORMAT = 1, SEEN_GENERATION = 2, SEEN_SLOT_A = 4, SEEN_SLOT_B = 8 };

static int state_valid_digest(const char *value)
{
	size_t n = strspn(value, "0123456789abcdef");

	return value[n] == '\0' && (n == 0 || n == 64);
}

/* Returns a complaint, or NULL when stored. */
static const char *state_store_slot(struct slot_info *info, const char *name, const char *value)
{
	struct version version;
	unsigned long long number;

	if (!strcmp(name, "status"))
		return state_status_parse(value, &info->status) < 0 ? "unknown status" : NULL;
	if (!strcmp(name, "version")) {
		if (value[0] && version_parse(value, &version, NULL) < 0)
			return "bad version string";
		if (strlen(value) >= sizeof info->version)
			return "too long";
		strcpy(info->version, value);
		return NULL;
	}
	if (!strcmp(name, "digest")) {
		if (!state_valid_digest(value))
			return "not a SHA-256 hex digest";
		strcpy(info->digest, value);
		return NULL;
	}
	if (!strcmp(name, "attempts")) {
		if (number_parse(value, 1000000, &number) < 0)
			return "not a count";
		info->attempts = (unsigned)number;
		return NULL;
	}
	if (!strcmp(name, "updated")) {
		if (number_parse(value, INT64_MAX, &number) < 0)
			return "not a UNIX time";
		info->updated = (int64_t)number;
		return NULL;
	}
	if (!strcmp(name, "reason")) {
		if (strlen(value) >= sizeof info->reason)
			return "too long";
		strcpy(info->reason, value);
		return NULL;
	}
	return "unknown key";
}

static int state_handle(void *user, const char *section, const char *name, const char *value)
{
	struct state_parse *parse = user;
	const char *complaint = "unknown section";
	unsigned long long number;

	if (parse->failed)
		return 0;
	if (!strcmp(section, "state")) {
		if (!strcmp(name, "format")) {
			complaint = number_parse(value, UINT32_MAX, &number) < 0 ?
				    "not a number" :
				    number != STATE_FORMAT ? "unsupported format" : NULL;
			parse->seen |= SEEN_FORMAT;
		} else if (!strcmp(name, "generation")) {
			complaint = number_parse(value, UINT64_MAX, &number) < 0 ?
				    "not a number" : NULL;
			parse->state->generation = number;
			parse->seen |= SEEN_GENERATION;
		} else {
			complaint = "unknown key";
		}
	} else if (!strcmp(section, "slot a") || !strcmp(section, "slot b")) {
		int slot = section[5] == 'a' ? SLOT_A : SLOT_B;

		complaint = state_store_slot(&parse->state->slot[slot], name, value);
		parse->seen |= slot == SLOT_A ? SEEN_SLOT_A : SEEN_SLOT_B;
	}
	if (!complaint)
		return 1;
	parse->failed = 1;
	error_set(parse->err, "[%s] %s: %s", section, name, complaint);
	return 0;
}

/* Splits off and checks the "[end]\ncrc32 = X\n" trailer; returns the body length. */
static int state_check_trailer(const char *text, size_t len, const char *path, size_t *body,
			       struct error *err)
{
	const char *end = NULL, *p = text;
	unsigned long crc;
	char tail[32];

	while ((p = memmem(p, len - (size_t)(p - text), "\n[end]\n", 7)) != NULL)
		end = p++;
	if (!end)
		return error_set(err, "%s: corrupt: no [end] trailer (truncated?)", path);
	*body = (size_t)(end - text) + 1;
	if (len - *body > sizeof tail - 1)
		return error_set(err, "%s: corrupt: garbage after the trailer", path);
	memcpy(tail, text + *body, len - *body);
	tail[len - *body] = '\0';
	if (sscanf(tail, "[end]\ncrc32 = %8lx\n", &crc) != 1 ||
	    strlen(tail) != strlen("[end]\ncrc32 = 12345678\n"))
		return error_set(err, "%s: corrupt: malformed trailer", path);
	if ((uint32_t)crc != crc32_compute(text, *body))
		return error_set(err, "%s: corrupt: checksum mismatch (torn or edited)", path);
	return 0;
}

int state_parse(const char *text, size_t len, struct slot_state *state, const char *path,
		struct error *err)
{
	struct state_parse parse = { .state = state, .err = err };
	size_t body = 0;
	char *copy;
	int line;

	state_init_fresh(state);
	if (ini_text_check(text, len, path, err) < 0)
		return -1;
	if (state_check_trailer(text, len, path, &body, err) < 0)
		return -1;
	copy = strndup(text, body);
	if (!copy)
		return error_errno(err, "%s", path);
	line = ini_parse_string(copy, state_handle, &parse);
	free(copy);
	if (line != 0) {
		if (!parse.failed)
			error_set(err, "syntax error");
		return error_prefix(err, "%s:%d: corrupt: ", path, line);
	}
	if (parse.seen != (SEEN_FORMAT | SEEN_GENERATION | SEEN_SLOT_A | SEEN_SLOT_B))
		return error_set(err, "%s: corrupt: a required section or key is missing", path);
	return 0;
}

int state_load(const struct layout *layout, struct slot_state *state, int *fresh,
	       struct error *err)
{
	char path[PATH_MAX];
	char *text = NULL;
	size_t len;
	int rc;

	*fresh = 0;
	layout_path(layout, STATE_FILE, path, sizeof path);
	if (atomic_read_file(layout->root_fd, STATE_FILE, STATE_TEXT_MAX, &text, &len, err) < 0) {
		if (errno == ENOENT) {
			state_init_fresh(state);
			*fresh = 1;
			return 0;
		}
		return error_prefix(err, "%s/", layout->root);
	}
	rc = state_parse(text, len, state, path, err);
	free(text);
	return rc;
}

int state_save(const struct layout *layout, struct slot_state *state, struct error *err)
{
	char text[STATE_TEXT_MAX];
	int len;

	state->generation++;
	len = state_format(state, text, sizeof text);
	if (len < 0)
		return error_set(err, "%s/state: state does not fit %d bytes", layout->root,
				 STATE_TEXT_MAX);
	if (atomic_replace_file(layout->root_fd, STATE_FILE, text, (size_t)len, 0644, err) < 0)
		return error_prefix(err, "%s/", layout->root);
	return 0;
}
