/* extract_clear.c: durability and removal of an extracted slot tree.
 *
 * extract_clear() must work on any tree the filesystem holds, not only on
 * what extract_stream() would create: a slot left `installing` by a crash
 * (or made by hand) is cleared by the next install, with no human.  So it
 * keeps no state per level: one directory stream is open at a time (plus
 * one fd while stepping down), it never builds a path, and it climbs back
 * with "..".  Each pass over a directory unlinks what it can (files,
 * symlinks, empty directories) and steps into the first non-empty
 * subdirectory; back up, the parent is rescanned, and the now empty child
 * goes with the rest.  Descriptors: 2 beyond slot_fd, whatever the depth;
 * memory: one DIR buffer. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "extract/extract.h"
#include "extract/extract_internal.h"
#include "text.h"

int extract_sync(int slot_fd, struct error *err)
{
	if (syncfs(slot_fd) < 0)
		return error_errno(err, "slot: syncfs");
	return 0;
}

/* Opens a subdirectory without following a symlink or crossing a mount:
 * a bind mount inside the slot is refused, never emptied. */
static int clear_open_child(int dirfd, const char *name)
{
	struct open_how how = {
		.flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
			   RESOLVE_NO_XDEV,
	};
	int fd;

	do
		fd = (int)syscall(SYS_openat2, dirfd, name, &how, sizeof how);
	while (fd < 0 && (errno == EINTR || errno == EAGAIN));
	return fd;
}

/* Removes one entry: 0 gone, 1 a non-empty directory (left), -1 error. */
static int clear_unlink(int dirfd, const char *name, unsigned char type, struct error *err)
{
	char shown[256];

	if (type != DT_DIR) {
		if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
			return 0;
		if (errno != EISDIR)
			return error_errno(err, "slot: removing '%s'",
					   text_sanitize(name, shown, sizeof shown));
	}
	if (unlinkat(dirfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
		return 0;
	if (errno == ENOTEMPTY || errno == EEXIST)
		return 1;
	return error_errno(err, "slot: removing directory '%s'",
			   text_sanitize(name, shown, sizeof shown));
}

/* One pass over dir from its start.  Returns 0 when dir is empty, 1 with
 * the first non-empty subdirectory in sub, -1 on error. */
static int clear_pass(DIR *dir, char sub[NAME_MAX + 1], struct error *err)
{
	struct dirent *de;
	int rc;

	rewinddir(dir);
	for (;;) {
		errno = 0;
		de = readdir(dir);
		if (!de)
			return errno ? error_errno(err, "slot: reading a directory") : 0;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		rc = clear_unlink(dirfd(dir), de->d_name, de->d_type, err);
		if (rc != 0) {
			if (rc > 0)
				snprintf(sub, NAME_MAX + 1, "%s", de->d_name);
			return rc;
		}
	}
}

/* Replaces *dir with a stream on fd (closing the old one). */
static int clear_switch(DIR **dir, int fd, struct error *err)
{
	DIR *next = fd >= 0 ? fdopendir(fd) : NULL;

	if (!next) {
		error_errno(err, "slot: opening a directory");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	closedir(*dir);
	*dir = next;
	return 0;
}

/* Steps into sub, made writable first (we own the tree). */
static int clear_down(DIR **dir, const char *sub, struct error *err)
{
	char shown[256];
	int fd;

	if (fchmodat(dirfd(*dir), sub, 0700, AT_SYMLINK_NOFOLLOW) < 0 ||
	    (fd = clear_open_child(dirfd(*dir), sub)) < 0)
		return error_errno(err, "slot: entering '%s'",
				   text_sanitize(sub, shown, sizeof shown));
	return clear_switch(dir, fd, err);
}

/* Climbs to the parent; it must be on the slot's filesystem, and at the top
 * it must be the slot itself (nothing moved the tree meanwhile). */
static int clear_up(DIR **dir, unsigned long depth, const struct stat *top, struct error *err)
{
	int fd = openat(dirfd(*dir), "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return error_errno(err, "slot: climbing back");
	if (fstat(fd, &st) < 0 || st.st_dev != top->st_dev ||
	    (depth == 1 && st.st_ino != top->st_ino)) {
		close(fd);
		return error_set(err, "slot: the tree moved while it was being cleared");
	}
	return clear_switch(dir, fd, err);
}

int extract_clear(int slot_fd, struct error *err)
{
	char sub[NAME_MAX + 1];
	unsigned long depth = 0;
	struct stat top;
	DIR *dir;
	int fd, rc;

	fd = openat(slot_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &top) < 0 || !(dir = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return error_errno(err, "slot: opening");
	}
	for (;;) {
		rc = clear_pass(dir, sub, err);
		if (rc > 0) {
			rc = clear_down(&dir, sub, err);
			if (rc < 0)
				break;
			depth++;
			continue;
		}
		if (rc < 0 || depth == 0)
			break;		/* an error, or the slot is empty */
		rc = clear_up(&dir, depth, &top, err);
		if (rc < 0)
			break;
		depth--;
	}
	closedir(dir);
	return rc;
}
