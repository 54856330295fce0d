/* fuzz_history.c: history_read() / history_find() on a hostile <root>/history.
 *
 * Each input is written as the history file of a scratch layout and read
 * twice: as it is, and with every line given its correct CRC prefix, so
 * mutations reach the field parser behind the checksum.  Oracle beyond the
 * sanitizers: every record handed out has an id, a known state and
 * NUL-terminated fields; the first attempt is found again by its id. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc32.h"
#include "history.h"
#include "support_fuzz.h"

#define FUZZ_HISTORY_MAX (64u << 10)

static struct layout fuzz_layout;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char root[4096];
	struct error err = { "" };

	(void)argc;
	(void)argv;
	fuzz_tmpdir(root, sizeof root);
	if (layout_open(&fuzz_layout, root, 1, &err) < 0)
		fuzz_fail("layout_open: %s", err.text);
	return 0;
}

static void fuzz_history_write(const char *text, size_t len)
{
	int fd = openat(fuzz_layout.root_fd, "history", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			0644);

	if (fd < 0 || write(fd, text, len) != (ssize_t)len)
		fuzz_fail("writing history: %s", strerror(errno));
	close(fd);
}

struct fuzz_seen {
	unsigned count;
	char first[HISTORY_ID_MAX];
};

static int fuzz_visit(const struct history_record *r, void *context)
{
	struct fuzz_seen *seen = context;

	fuzz_check_terminated(r->id, sizeof r->id, "id");
	fuzz_check_terminated(r->kind, sizeof r->kind, "kind");
	fuzz_check_terminated(r->instance, sizeof r->instance, "instance");
	fuzz_check_terminated(r->from_version, sizeof r->from_version, "from");
	fuzz_check_terminated(r->to_version, sizeof r->to_version, "to");
	fuzz_check_terminated(r->strategy, sizeof r->strategy, "strategy");
	fuzz_check_terminated(r->location, sizeof r->location, "location");
	fuzz_check_terminated(r->slot, sizeof r->slot, "slot");
	fuzz_check_terminated(r->error, sizeof r->error, "error");
	if (!r->id[0])
		fuzz_fail("a record without an id");
	if (!strcmp(history_state_name(r->state), "?"))
		fuzz_fail("record %s has state %d", r->id, (int)r->state);
	if (seen->count++ == 0)
		snprintf(seen->first, sizeof seen->first, "%s", r->id);
	return 0;
}

static void fuzz_history_read(void)
{
	struct history_filter failed = { .state = "FAILED" };
	struct history_record record;
	struct history_stats stats;
	struct fuzz_seen seen = { 0 };
	struct error err = { "" };

	if (history_read(&fuzz_layout, NULL, fuzz_visit, &seen, &stats, &err) < 0)
		fuzz_fail("history_read: %s", err.text);
	if (stats.records != seen.count)
		fuzz_fail("%u records counted, %u visited", stats.records, seen.count);
	if (history_read(&fuzz_layout, &failed, NULL, NULL, &stats, &err) < 0)
		fuzz_fail("history_read (filtered): %s", err.text);
	if (stats.records > seen.count)
		fuzz_fail("a filter matched more records than there are");
	if (seen.count && history_find(&fuzz_layout, seen.first, &record, &err) != 1)
		fuzz_fail("history_find does not find '%s' again", seen.first);
}

/* Each line prefixed with the CRC-32 of its content, as history_append writes. */
static size_t fuzz_with_crcs(const uint8_t *data, size_t size, char *out)
{
	size_t start = 0, end, used = 0;

	while (start < size) {
		const uint8_t *nl = memchr(data + start, '\n', size - start);

		end = nl ? (size_t)(nl - data) : size;
		used += (size_t)sprintf(out + used, "%08" PRIx32 " ",
					crc32_compute(data + start, end - start));
		memcpy(out + used, data + start, end - start);
		used += end - start;
		out[used++] = '\n';
		start = end + 1;
	}
	return used;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *fixed;

	if (size > FUZZ_HISTORY_MAX)
		return -1;
	fuzz_history_write((const char *)data, size);
	fuzz_history_read();
	fixed = malloc(size * 10 + 16);	/* 9 bytes of prefix per line, at most */
	if (!fixed)
		fuzz_fail("out of memory");
	fuzz_history_write(fixed, fuzz_with_crcs(data, size, fixed));
	fuzz_history_read();
	free(fixed);
	return 0;
}
