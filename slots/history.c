/* history.c: the append-only upgrade history (format in include/history.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "crash.h"
#include "crc32.h"
#include "history.h"
#include "text.h"

#define HISTORY_FILE "history"
#define HISTORY_LINE_MAX 8192

static const char *const history_state_names[] = {
	[HISTORY_NEW] = "NEW",		   [HISTORY_DEFERRED] = "DEFERRED",
	[HISTORY_DOWNLOADING] = "DOWNLOADING", [HISTORY_VERIFYING] = "VERIFYING",
	[HISTORY_INSTALLING] = "INSTALLING", [HISTORY_ACTIVATING] = "ACTIVATING",
	[HISTORY_SUCCESS] = "SUCCESS",	   [HISTORY_FAILED] = "FAILED",
};

const char *history_state_name(enum history_state state)
{
	if ((unsigned)state >= sizeof history_state_names / sizeof history_state_names[0])
		return "?";
	return history_state_names[state];
}

int history_state_parse(const char *name, enum history_state *state)
{
	unsigned i;

	for (i = 0; i < sizeof history_state_names / sizeof history_state_names[0]; i++) {
		if (!strcasecmp(name, history_state_names[i])) {
			*state = (enum history_state)i;
			return 0;
		}
	}
	return -1;
}

int history_state_final(enum history_state state)
{
	return state == HISTORY_SUCCESS || state == HISTORY_FAILED;
}

int history_new_id(char *id, size_t len, struct error *err)
{
	unsigned char raw[16];
	ssize_t n;
	size_t i;

	if (len < 33)
		return error_set(err, "history id buffer too small");
	do
		n = getrandom(raw, sizeof raw, 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof raw)
		return error_errno(err, "getrandom");
	for (i = 0; i < sizeof raw; i++)
		snprintf(id + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

/* The fields of a record, in line order: one table for writing and reading. */
enum history_field_type { FIELD_TEXT, FIELD_TIME, FIELD_STATE };
static const struct history_field {
	const char *key;
	enum history_field_type type;
	size_t offset;
	size_t size;
} history_fields[] = {
#define FIELD(key, type, member) \
	{ key, type, offsetof(struct history_record, member), \
	  sizeof(((struct history_record *)0)->member) }
	FIELD("id", FIELD_TEXT, id),
	FIELD("kind", FIELD_TEXT, kind),
	FIELD("instance", FIELD_TEXT, instance),
	FIELD("from", FIELD_TEXT, from_version),
	FIELD("to", FIELD_TEXT, to_version),
	FIELD("strategy", FIELD_TEXT, strategy),
	FIELD("location", FIELD_TEXT, location),
	FIELD("slot", FIELD_TEXT, slot),
	FIELD("state", FIELD_STATE, state),
	FIELD("started", FIELD_TIME, started),
	FIELD("updated", FIELD_TIME, updated),
	FIELD("error", FIELD_TEXT, error),
	FIELD("fetched", FIELD_TIME, fetched),	/* a number, as times are */
	FIELD("reused", FIELD_TIME, reused),
#undef FIELD
};
#define HISTORY_FIELD_COUNT (sizeof history_fields / sizeof history_fields[0])

static size_t history_encode(const char *in, char *out, size_t len)
{
	size_t used = 0;

	for (; *in; in++) {
		unsigned char c = (unsigned char)*in;
		if (c < 0x20 || c == 0x7f || c == '%') {
			if (used + 4 > len)
				break;
			used += (size_t)snprintf(out + used, 4, "%%%02x", c);
		} else {
			if (used + 2 > len)
				break;
			out[used++] = (char)c;
		}
	}
	out[used] = '\0';
	return used;
}

static int history_decode(const char *in, size_t in_len, char *out, size_t len)
{
	size_t i, used = 0;
	unsigned value;

	for (i = 0; i < in_len; i++) {
		if (used + 1 >= len)
			return -1;
		if (in[i] != '%') {
			out[used++] = in[i];
			continue;
		}
		if (i + 2 >= in_len || sscanf(in + i + 1, "%2x", &value) != 1)
			return -1;
		out[used++] = (char)value;
		i += 2;
	}
	out[used] = '\0';
	return 0;
}

/* "scheme://user:secret@host/x" becomes "scheme://(3 stars)@host/x": a location may
 * carry credentials, and the history is readable by admins. */
void history_redact_location(char *location, size_t size)
{
	char *scheme = strstr(location, "://"), *at, *slash;
	size_t head, tail;

	if (!scheme)
		return;
	scheme += 3;
	slash = strchr(scheme, '/');
	at = strchr(scheme, '@');
	if (!at || (slash && at > slash))
		return;
	/* "***" may be longer than what it replaces ("http://@h"): the tail is
	 * then cut to fit size (found by fuzz_serve_wire) */
	head = (size_t)(scheme - location) + 3;
	if (head >= size) {
		*scheme = '\0';
		return;
	}
	tail = strlen(at);
	if (head + tail >= size)
		tail = size - head - 1;
	memmove(scheme + 3, at, tail);
	scheme[3 + tail] = '\0';
	memcpy(scheme, "***", 3);
}

static int history_format(const struct history_record *record, char *line, size_t len)
{
	size_t used = 9, i;	/* room for "crc32hex " */
	const char *base = (const char *)record;
	char value[HISTORY_LOCATION_MAX * 3 + 1];

	for (i = 0; i < HISTORY_FIELD_COUNT; i++) {
		const struct history_field *f = &history_fields[i];

		if (f->type == FIELD_TEXT)
			history_encode(base + f->offset, value, sizeof value);
		else if (f->type == FIELD_TIME)
			snprintf(value, sizeof value, "%" PRId64,
				 *(const int64_t *)(const void *)(base + f->offset));
		else
			snprintf(value, sizeof value, "%s", history_state_name(record->state));
		used += (size_t)snprintf(line + used, len > used ? len - used : 0, "%s%s=%s",
					 i ? "\t" : "", f->key, value);
		if (used + 2 >= len)
			return -1;
	}
	snprintf(line, 10, "%08" PRIx32, crc32_compute(line + 9, used - 9));
	line[8] = ' ';
	line[used++] = '\n';
	return (int)used;
}

/* Appends a '\n' first if a crash left the file ending mid-line, so the torn
 * line cannot swallow the record written after it. */
static int history_needs_newline(int fd)
{
	struct stat st;
	char last;

	if (fstat(fd, &st) < 0 || st.st_size == 0)
		return 0;
	return pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n';
}

/* The text fields as recorded: outside data (locations, versions, errors
 * naming bundle members) never carries a control byte into the history. */
static void history_sanitize(const struct history_record *record, struct history_record *clean)
{
	*clean = *record;
	for (size_t i = 0; i < HISTORY_FIELD_COUNT; i++) {
		const struct history_field *f = &history_fields[i];

		if (f->type == FIELD_TEXT)
			text_sanitize((const char *)record + f->offset, (char *)clean + f->offset,
				      f->size);
	}
}

static int history_compact(const struct layout *layout, const char *line, size_t len,
			   struct error *err);

/* Opens the history for appending and takes its lock.  A compaction
 * replaces the file (rename) while holding the old one's lock, so after
 * the lock is ours the descriptor must still be the file at the path; if
 * not, the new file is opened and locked instead. */
static int history_open_locked(const struct layout *layout, struct error *err)
{
	struct stat held, now;
	int fd, tries;

	for (tries = 0; tries < 8; tries++) {
		fd = openat(layout->root_fd, HISTORY_FILE,
			    O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0)
			return error_errno(err, "%s/history: open", layout->root);
		while (flock(fd, LOCK_EX) < 0) {
			if (errno != EINTR) {
				error_errno(err, "%s/history: flock", layout->root);
				close(fd);
				return -1;
			}
		}
		if (fstat(fd, &held) == 0 &&
		    fstatat(layout->root_fd, HISTORY_FILE, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
		    held.st_dev == now.st_dev && held.st_ino == now.st_ino)
			return fd;
		close(fd);
	}
	return error_set(err, "%s/history: replaced while opening it, again and again",
			 layout->root);
}

/* Appends line[0..len) (with a leading '\n' at line[-1] available). */
static int history_append_line(const struct layout *layout, int fd, char *line, size_t len,
			       int created, struct error *err)
{
	int rc;

	crash_point("history-write");
	if (history_needs_newline(fd) ? atomic_write_all(fd, line - 1, len + 1) :
					atomic_write_all(fd, line, len))
		return error_errno(err, "%s/history: write", layout->root);
	crash_point("history-fsync");
	while ((rc = fdatasync(fd)) < 0 && errno == EINTR)
		;
	if (rc < 0)
		return error_errno(err, "%s/history: fdatasync", layout->root);
	return created ? atomic_fsync_dir(layout->root_fd, layout->root, err) : 0;
}

int history_append(const struct layout *layout, struct history_record *record,
		   struct error *err)
{
	char line[HISTORY_LINE_MAX + 1];
	struct history_record clean;
	struct stat st;
	int fd, len, created, rc;

	record->updated = (int64_t)time(NULL);
	if (!record->started)
		record->started = record->updated;
	history_redact_location(record->location, sizeof record->location);
	history_sanitize(record, &clean);
	line[0] = '\n';
	len = history_format(&clean, line + 1, sizeof line - 1);
	if (len < 0)
		return error_set(err, "%s/history: record %s too long", layout->root, record->id);
	created = faccessat(layout->root_fd, HISTORY_FILE, F_OK, AT_SYMLINK_NOFOLLOW) < 0;
	fd = history_open_locked(layout, err);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		rc = error_errno(err, "%s/history: fstat", layout->root);
	else if (st.st_size >= HISTORY_COMPACT_BYTES)
		rc = history_compact(layout, line + 1, (size_t)len, err);
	else
		rc = history_append_line(layout, fd, line + 1, (size_t)len, created, err);
	close(fd);	/* and the lock */
	return rc;
}

/* Parses one line (without '\n'); -1 when torn, corrupt or unknown. */
static int history_parse_line(char *line, size_t len, struct history_record *record)
{
	char *field, *next, *eq;
	unsigned long crc;
	size_t i;

	memset(record, 0, sizeof *record);
	if (len < 10 || line[8] != ' ' || sscanf(line, "%8lx", &crc) != 1 ||
	    (uint32_t)crc != crc32_compute(line + 9, len - 9))
		return -1;
	line[len] = '\0';
	for (field = line + 9; field; field = next) {
		next = strchr(field, '\t');
		if (next)
			*next++ = '\0';
		eq = strchr(field, '=');
		if (!eq)
			return -1;
		*eq++ = '\0';
		for (i = 0; i < HISTORY_FIELD_COUNT; i++)
			if (!strcmp(history_fields[i].key, field))
				break;
		if (i == HISTORY_FIELD_COUNT)
			continue;	/* a newer writer's field: ignore, keep the record */
		const struct history_field *f = &history_fields[i];
		char *dst = (char *)record + f->offset;
		if (f->type == FIELD_TEXT && history_decode(eq, strlen(eq), dst, f->size) < 0)
			return -1;
		if (f->type == FIELD_TIME)
			*(int64_t *)(void *)dst = strtoll(eq, NULL, 10);
		if (f->type == FIELD_STATE && history_state_parse(eq, &record->state) < 0)
			return -1;
	}
	return record->id[0] ? 0 : -1;
}

struct history_fold {
	struct history_record *records;
	size_t count, capacity;
};

/* Keeps the latest snapshot per id, in order of first appearance. */
static int history_fold_add(struct history_fold *fold, const struct history_record *record)
{
	struct history_record *grown;
	size_t i;

	for (i = fold->count; i-- > 0;) {
		if (!strcmp(fold->records[i].id, record->id)) {
			int64_t started = fold->records[i].started;
			fold->records[i] = *record;
			fold->records[i].started = started;
			return 0;
		}
	}
	if (fold->count == fold->capacity) {
		fold->capacity = fold->capacity ? fold->capacity * 2 : 64;
		grown = realloc(fold->records, fold->capacity * sizeof *grown);
		if (!grown)
			return -1;
		fold->records = grown;
	}
	fold->records[fold->count++] = *record;
	return 0;
}

static int history_matches(const struct history_record *record,
			   const struct history_filter *filter)
{
	if (!filter)
		return 1;
	if (filter->state && strcasecmp(filter->state, history_state_name(record->state)))
		return 0;
	if (filter->instance && strcmp(filter->instance, record->instance))
		return 0;
	if (filter->id && strcmp(filter->id, record->id))
		return 0;
	return 1;
}

static int history_load(const struct layout *layout, struct history_fold *fold, unsigned *torn,
			struct error *err)
{
	struct history_record record;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	FILE *file;
	int fd, rc = 0;

	fd = openat(layout->root_fd, HISTORY_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : error_errno(err, "%s/history: open", layout->root);
	file = fdopen(fd, "r");
	if (!file) {
		close(fd);
		return error_errno(err, "%s/history", layout->root);
	}
	while ((len = getline(&line, &cap, file)) > 0) {
		if (line[len - 1] != '\n' || len > HISTORY_LINE_MAX ||
		    history_parse_line(line, (size_t)len - 1, &record) < 0) {
			if (len > 1)
				(*torn)++;
			continue;
		}
		if (history_fold_add(fold, &record) < 0) {
			rc = error_errno(err, "%s/history", layout->root);
			break;
		}
	}
	if (!rc && ferror(file))
		rc = error_errno(err, "%s/history: read", layout->root);
	free(line);
	fclose(file);
	return rc;
}

/* Adds line[0..len) to a growing buffer. */
static int history_buffer_add(char **text, size_t *used, size_t *cap, const char *line,
			      size_t len)
{
	char *grown;

	if (*used + len > *cap) {
		*cap = (*used + len) * 2;
		grown = realloc(*text, *cap);
		if (!grown)
			return -1;
		*text = grown;
	}
	memcpy(*text + *used, line, len);
	*used += len;
	return 0;
}

/* Rewrites the history as the latest snapshot of its newest HISTORY_KEEP
 * attempts and of every unfinished older one (recovery needs those), in
 * their order, then line: one atomic replacement, so a crash (or a power
 * cut) leaves the old file or the new one.  Called with the lock held. */
static int history_compact(const struct layout *layout, const char *line, size_t len,
			   struct error *err)
{
	struct history_fold fold = { 0 };
	char kept[HISTORY_LINE_MAX + 1], *text = NULL;
	size_t first, used = 0, cap = 0, i;
	unsigned torn = 0;
	int n, rc;

	rc = history_load(layout, &fold, &torn, err);
	first = fold.count > HISTORY_KEEP ? fold.count - HISTORY_KEEP : 0;
	for (i = 0; rc == 0 && i < fold.count; i++) {
		if (i < first && history_state_final(fold.records[i].state))
			continue;
		n = history_format(&fold.records[i], kept, sizeof kept);
		if (n > 0 && history_buffer_add(&text, &used, &cap, kept, (size_t)n) < 0)
			rc = error_errno(err, "%s/history: compact", layout->root);
	}
	if (rc == 0 && history_buffer_add(&text, &used, &cap, line, len) < 0)
		rc = error_errno(err, "%s/history: compact", layout->root);
	if (rc == 0)
		rc = atomic_replace_file(layout->root_fd, HISTORY_FILE, text, used, 0644, err);
	free(text);
	free(fold.records);
	return rc;
}

int history_read(const struct layout *layout, const struct history_filter *filter,
		 history_visit_fn visit, void *context, struct history_stats *stats,
		 struct error *err)
{
	struct history_fold fold = { 0 };
	struct history_stats local = { 0 };
	size_t i;
	int rc;

	rc = history_load(layout, &fold, &local.torn, err);
	for (i = 0; rc == 0 && i < fold.count; i++) {
		if (!history_matches(&fold.records[i], filter))
			continue;
		local.records++;
		if (visit && visit(&fold.records[i], context))
			break;
	}
	free(fold.records);
	if (stats)
		*stats = local;
	return rc;
}

static int history_copy_visit(const struct history_record *record, void *context)
{
	*(struct history_record *)context = *record;
	return 1;
}

int history_find(const struct layout *layout, const char *id, struct history_record *record,
		 struct error *err)
{
	struct history_filter filter = { .id = id };
	struct history_stats stats;

	if (history_read(layout, &filter, history_copy_visit, record, &stats, err) < 0)
		return -1;
	return stats.records > 0;
}
