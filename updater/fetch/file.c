/* file.c: the `file` strategy: a local path, read in large chunks. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fetch/fetch.h"

static const char *file_path(const char *location)
{
	if (!strncmp(location, "file://", 7))
		return location + 7;
	return location;
}

int fetch_file_check(const char *location, struct error *err)
{
	const char *path = file_path(location);
	char shown[FETCH_SHOWN_MAX];

	if (path[0] == '/')
		return 0;
	fetch_location_shown(location, shown, sizeof shown);
	return error_set(err, "'%s' is not an absolute path or file:/// URL", shown);
}

/* dir's length without trailing slashes ("/srv/b/" is "/srv/b"). */
static size_t file_dir_len(const char *dir)
{
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	return n;
}

int fetch_file_beneath(const char *location, const char *dir, struct error *err)
{
	const char *path = file_path(location), *p;
	size_t n = file_dir_len(dir);

	if (!n)
		return error_set(err, "file: not accepted over AMQP unless [amqp] file_dir is set");
	if (strncmp(path, dir, n) != 0 || path[n] != '/' || !path[n + 1])
		return error_set(err, "file: location is not beneath [amqp] file_dir");
	for (p = path + n; (p = strstr(p, "/..")) != NULL; p += 3)
		if (p[3] == '/' || !p[3])
			return error_set(err, "file: location has a '..' component");
	return 0;
}

/* The path below dir, opened by the kernel's rules for staying beneath it. */
static int file_open_beneath(const char *path, const char *dir, struct error *err)
{
	struct open_how how = {
		.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	size_t n = file_dir_len(dir);	/* path passed fetch_file_beneath() */
	int dirfd, fd;

	dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return error_errno(err, "file: [amqp] file_dir %s", dir);
	fd = (int)syscall(SYS_openat2, dirfd, path + n + 1, &how, sizeof how);
	if (fd < 0 && errno == EXDEV)	/* a symlink or ".." resolved outside */
		error_set(err, "file: %s: leads out of [amqp] file_dir", path);
	else if (fd < 0)
		error_errno(err, "file: %s", path);
	close(dirfd);
	return fd;
}

int fetch_file_open(const char *location, const char *beneath, struct error *err)
{
	const char *path = file_path(location);
	struct stat st;
	int fd;

	if (beneath && fetch_file_beneath(location, beneath, err) < 0)
		return -1;
	/* O_NONBLOCK: opening a FIFO must not hang; a regular file ignores it */
	fd = beneath ? file_open_beneath(path, beneath, err) :
		       open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return beneath ? -1 : error_errno(err, "file: %s", path);
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
	int fd = fetch_file_open(job->location, job->file_beneath, err), rc;

	if (fd < 0)
		return -1;
	rc = fetch_file_read(fd, job, err);
	close(fd);
	return rc;
}
