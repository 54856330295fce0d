/* fuzz_extract.c: extract_stream() of a hostile payload into a scratch slot.
 *
 * One temporary "box" directory per process holds the slot directory; each
 * input is extracted into the empty slot, checked, and cleared with
 * extract_clear().  Oracles beyond the sanitizers, the promises of
 * updater/extract/extract.h:
 *   - nothing but the slot appears in the box (nothing written outside);
 *   - the tree holds only directories, regular files and symlinks, no
 *     setuid/setgid/sticky bit, and no symlink extract_link_escapes() refuses;
 *   - the limits hold (entries, bytes);
 *   - extract_clear() empties the slot whatever the tree. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "extract/extract.h"
#include "support_fuzz.h"

#define FUZZ_MAX_BYTES (4u << 20)
#define FUZZ_MAX_ENTRIES 256u

static char fuzz_box[4096], fuzz_slot[4096 + 8];
static int fuzz_box_fd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_tmpdir(fuzz_box, sizeof fuzz_box);
	snprintf(fuzz_slot, sizeof fuzz_slot, "%s/slot", fuzz_box);
	if (mkdir(fuzz_slot, 0755) < 0)
		fuzz_fail("mkdir %s: %s", fuzz_slot, strerror(errno));
	fuzz_box_fd = open(fuzz_box, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fuzz_box_fd < 0)
		fuzz_fail("open %s: %s", fuzz_box, strerror(errno));
	return 0;
}

/* Names in dir other than . and ..; the first one into name. */
static unsigned fuzz_count_entries(int dirfd, char *name, size_t len)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *d;
	unsigned n = 0;

	if (!dir)
		fuzz_fail("opendir: %s", strerror(errno));
	while ((d = readdir(dir)) != NULL) {
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		if (n++ == 0)
			snprintf(name, len, "%s", d->d_name);
	}
	closedir(dir);
	return n;
}

static int fuzz_check_node(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	const char *rel = path + strlen(fuzz_slot) + 1;
	char target[PATH_MAX];
	ssize_t n;

	(void)flag;
	if (ftw->level == 0)
		return 0;
	if (!S_ISDIR(st->st_mode) && !S_ISREG(st->st_mode) && !S_ISLNK(st->st_mode))
		fuzz_fail("extracted a special file: %s (mode %o)", rel, st->st_mode);
	if (st->st_mode & 07000)
		fuzz_fail("extracted %s with mode %o despite allow_setuid = 0", rel, st->st_mode);
	if (S_ISLNK(st->st_mode)) {
		n = readlink(path, target, sizeof target - 1);
		if (n < 0)
			fuzz_fail("readlink %s: %s", rel, strerror(errno));
		target[n] = '\0';
		if (extract_link_escapes(rel, target))
			fuzz_fail("extracted a symlink that escapes: %s -> %s", rel, target);
	}
	return 0;
}

static void fuzz_check_tree(const struct extract_stats *st)
{
	char name[256] = "";

	if (fuzz_count_entries(fuzz_box_fd, name, sizeof name) != 1 || strcmp(name, "slot"))
		fuzz_fail("something was created outside the slot (first: '%s')", name);
	if (st->entries > FUZZ_MAX_ENTRIES || st->bytes > FUZZ_MAX_BYTES)
		fuzz_fail("limits exceeded: %llu entries, %llu bytes", st->entries, st->bytes);
	if (nftw(fuzz_slot, fuzz_check_node, 16, FTW_PHYS) < 0)
		fuzz_fail("walking %s: %s", fuzz_slot, strerror(errno));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct extract_limits limits = { .max_bytes = FUZZ_MAX_BYTES,
					 .max_entries = FUZZ_MAX_ENTRIES };
	struct extract_stats st;
	struct error err = { "" };
	char name[256] = "";
	int in = fuzz_memfd(data, size), slot_fd;

	slot_fd = open(fuzz_slot, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (slot_fd < 0)
		fuzz_fail("open %s: %s", fuzz_slot, strerror(errno));
	fchmod(slot_fd, 0755);	/* a "./" entry may have changed it */
	extract_stream(in, slot_fd, &limits, &st, &err);
	close(in);
	fuzz_check_terminated(err.text, sizeof err.text, "error text");
	fuzz_check_tree(&st);
	if (extract_clear(slot_fd, &err) < 0)
		fuzz_fail("extract_clear: %s", err.text);
	if (fuzz_count_entries(slot_fd, name, sizeof name) != 0)
		fuzz_fail("extract_clear left '%s' in the slot", name);
	close(slot_fd);
	return 0;
}
