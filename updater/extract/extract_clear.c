/* extract_clear.c: durability and removal of an extracted slot tree. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "extract.h"

int extract_sync(int slot_fd, struct error *err)
{
	if (syncfs(slot_fd) < 0)
		return error_errno(err, "slot: syncfs");
	return 0;
}

static int clear_dir(int dirfd, const char *what, struct error *err);

/* Removes dirfd/name, descending into it when it is a real directory. */
static int clear_entry(int dirfd, const char *name, unsigned char type, struct error *err)
{
	int fd, rc;

	if (type != DT_DIR) {
		if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
			return 0;
		if (errno != EISDIR)
			return error_errno(err, "slot: removing '%s'", name);
	}
	/* a directory: make it writable (we own it) and empty it first */
	if (fchmodat(dirfd, name, 0700, AT_SYMLINK_NOFOLLOW) < 0)
		return error_errno(err, "slot: chmod '%s'", name);
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return error_errno(err, "slot: opening '%s'", name);
	rc = clear_dir(fd, name, err);
	if (rc == 0 && unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		rc = error_errno(err, "slot: removing directory '%s'", name);
	return rc;
}

/* Empties the directory open at dirfd; always closes dirfd. */
static int clear_dir(int dirfd, const char *what, struct error *err)
{
	struct dirent *de;
	DIR *dir = fdopendir(dirfd);
	int rc = 0;

	if (!dir) {
		error_errno(err, "slot: reading '%s'", what);
		close(dirfd);
		return -1;
	}
	for (;;) {
		errno = 0;
		de = readdir(dir);
		if (!de)
			break;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		rc = clear_entry(dirfd, de->d_name, de->d_type, err);
		if (rc < 0)
			break;
	}
	if (rc == 0 && errno != 0)
		rc = error_errno(err, "slot: reading '%s'", what);
	closedir(dir);
	return rc;
}

int extract_clear(int slot_fd, struct error *err)
{
	int fd = openat(slot_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return error_errno(err, "slot: opening");
	return clear_dir(fd, ".", err);
}
