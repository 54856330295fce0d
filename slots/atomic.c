/* atomic.c: durable replace-by-rename (see include/atomic.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "crash.h"

int atomic_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int atomic_fsync_dir(int dirfd, const char *what, struct error *err)
{
	crash_point("fsync-dir");
	while (fsync(dirfd) < 0) {
		if (errno != EINTR)
			return error_errno(err, "%s: fsync of directory", what);
	}
	return 0;
}

int atomic_replace_file(int dirfd, const char *name, const void *data, size_t len,
			mode_t mode, struct error *err)
{
	char tmp[256];
	int fd = -1, rc = -1;

	if (snprintf(tmp, sizeof tmp, "%s.tmp", name) >= (int)sizeof tmp) {
		errno = ENAMETOOLONG;
		return error_errno(err, "%s", name);
	}
	/* A stale .tmp from a crash is garbage by definition: replace it. */
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0) {
		error_errno(err, "%s: create", tmp);
		goto out;
	}
	crash_point("write-tmp");
	if (atomic_write_all(fd, data, len) < 0) {
		error_errno(err, "%s: write", tmp);
		goto out;
	}
	if (fchmod(fd, mode) < 0) {
		error_errno(err, "%s: chmod", tmp);
		goto out;
	}
	crash_point("fsync-tmp");
	while (fsync(fd) < 0) {
		if (errno != EINTR) {
			error_errno(err, "%s: fsync", tmp);
			goto out;
		}
	}
	crash_point("rename");
	if (renameat(dirfd, tmp, dirfd, name) < 0) {
		error_errno(err, "%s: rename to %s", tmp, name);
		goto out;
	}
	rc = atomic_fsync_dir(dirfd, name, err);
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

int atomic_read_file(int dirfd, const char *name, size_t max, char **out, size_t *out_len,
		     struct error *err)
{
	struct stat st;
	char *buf = NULL;
	size_t used = 0;
	ssize_t n;
	int fd, rc = -1;

	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return error_errno(err, "%s: open", name);
	if (fstat(fd, &st) < 0) {
		error_errno(err, "%s: stat", name);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		error_set(err, "%s: not a regular file", name);
		goto out;
	}
	if ((unsigned long long)st.st_size > max) {
		errno = EFBIG;
		error_set(err, "%s: larger than %zu bytes", name, max);
		goto out;
	}
	buf = malloc(max + 1);
	if (!buf) {
		error_errno(err, "%s: read", name);
		goto out;
	}
	for (;;) {
		n = read(fd, buf + used, max + 1 - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error_errno(err, "%s: read", name);
			goto out;
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used > max) {
			errno = EFBIG;
			error_set(err, "%s: larger than %zu bytes", name, max);
			goto out;
		}
	}
	buf[used] = '\0';
	*out = buf;
	*out_len = used;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	close(fd);
	return rc;
}
