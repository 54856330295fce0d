/* file.c: the `file` strategy: a local path, read in large chunks. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fetch.h"

static const char *file_path(const char *location)
{
	if (!strncmp(location, "file://", 7))
		return location + 7;
	return location;
}

int fetch_file_check(const char *location, struct error *err)
{
	const char *path = file_path(location);

	if (path[0] != '/')
		return error_set(err, "'%s' is not an absolute path or file:/// URL", location);
	return 0;
}

int fetch_file_open(const char *location, struct error *err)
{
	const char *path = file_path(location);
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return error_errno(err, "file: %s", path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return error_set(err, "file: %s: not a regular file", path);
	}
	return fd;
}

int fetch_file_read(int fd, const struct fetch_job *job, struct error *err)
{
	const char *path = file_path(job->location);
	/* 128 KiB: large enough for few syscalls, small beside the updater's
	 * 16 MiB peak RSS budget (tests/integration/hostile.sh) */
	enum { CHUNK = 128 << 10 };
	unsigned long long done = 0;
	struct stat st;
	char *buf;
	ssize_t n;
	int rc = -1;

	if (fstat(fd, &st) < 0)
		return error_errno(err, "file: %s", path);
	buf = malloc(CHUNK);
	if (!buf)
		return error_errno(err, "file: %s", path);
	for (;;) {
		n = read(fd, buf, CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error_errno(err, "file: %s: read", path);
			goto out;
		}
		if (n == 0)
			break;
		if (job->sink(buf, (size_t)n, job->ctx, err) < 0)
			goto out;
		done += (unsigned long long)n;
		if (job->progress)
			job->progress(job->ctx, done, (unsigned long long)st.st_size);
	}
	rc = 0;
out:
	free(buf);
	return rc;
}

int fetch_file(const struct fetch_job *job, struct error *err)
{
	int fd = fetch_file_open(job->location, err), rc;

	if (fd < 0)
		return -1;
	rc = fetch_file_read(fd, job, err);
	close(fd);
	return rc;
}
