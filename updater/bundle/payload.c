/* payload.c: a slot tree as a reproducible tar (gzip, xz or zstd), as one
 * compressed stream (format 1) or one member per chunk (format 2, chunker.c),
 * cut at entry boundaries with an index (format 3, docs/delta.md).
 *
 * Reproducible: entries in byte order of their names (not the locale's),
 * owner 0:0 with no names, every mtime set to the given one, no atime or
 * ctime, no gzip timestamp.  Refused: device nodes, fifos, sockets, and
 * symlinks that are absolute or climb out of the tree. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle/bundle.h"
#include "bundle/bundle_delta.h"
#include "extract/extract.h"

struct payload {
	struct archive *archive;
	struct bundle_chunker *chunker;	/* format 2 */
	struct error chunker_err;
	int delta;			/* format 3: entries announced to the chunker */
	uint64_t written;		/* tar bytes out, format 3 */
	unsigned char header[BUNDLE_TAR_HEADER_MAX];
	int64_t mtime;
	char buffer[64 << 10];
};

static int payload_by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Format 3: tells the chunker where the entry starts and how long its tar
 * representation is, from the header tar_entry.c builds, which must be what
 * libarchive then writes (a guest rebuilds it the same way). */
static int payload_announce(struct payload *p, const char *name, const struct stat *st,
			    const char *link_target, size_t *header_len, struct error *err)
{
	uint64_t size = S_ISREG(st->st_mode) ? (uint64_t)st->st_size : 0;

	if (archive_write_finish_entry(p->archive) != ARCHIVE_OK)
		return error_set(err, "%s: %s", name, archive_error_string(p->archive));
	if (bundle_tar_header(name, st->st_mode, size, p->mtime, link_target, p->header,
			      header_len, err) < 0)
		return -1;
	return bundle_chunker_entry(p->chunker, name, *header_len + size + (512 - size % 512) % 512,
				    err);
}

static int payload_write_header(struct payload *p, const char *name, const struct stat *st,
				const char *link_target, struct error *err)
{
	struct archive_entry *entry = archive_entry_new();
	uint64_t before = p->written;
	size_t header_len = 0;
	int rc = 0;

	if (!entry)
		return error_errno(err, "%s", name);
	if (p->delta && payload_announce(p, name, st, link_target, &header_len, err) < 0) {
		archive_entry_free(entry);
		return -1;
	}
	before = p->written;
	bundle_tar_entry_fill(entry, name, st->st_mode,
			      S_ISREG(st->st_mode) ? (uint64_t)st->st_size : 0, p->mtime, link_target);
	if (archive_write_header(p->archive, entry) != ARCHIVE_OK)
		rc = error_set(err, "%s: %s", name, archive_error_string(p->archive));
	else if (p->delta && p->written - before != header_len)
		rc = error_set(err, "%s: libarchive wrote a header of %llu bytes, %zu expected", name,
			       (unsigned long long)(p->written - before), header_len);
	archive_entry_free(entry);
	return rc;
}

static int payload_write_file(struct payload *p, int dirfd, const char *leaf, const char *name,
			      struct error *err)
{
	ssize_t n;
	int fd, rc = 0;

	fd = openat(dirfd, leaf, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return error_errno(err, "%s", name);
	while ((n = read(fd, p->buffer, sizeof p->buffer)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = error_errno(err, "%s: read", name);
			break;
		}
		if (archive_write_data(p->archive, p->buffer, (size_t)n) != n) {
			rc = error_set(err, "%s: %s", name, archive_error_string(p->archive));
			break;
		}
	}
	close(fd);
	return rc;
}

static int payload_walk(struct payload *p, int dirfd, const char *prefix, struct error *err);

static int payload_entry(struct payload *p, int dirfd, const char *prefix, const char *leaf,
			 struct error *err)
{
	char name[PATH_MAX], target[PATH_MAX];
	struct stat st;
	ssize_t n;
	int subfd, rc;

	if (snprintf(name, sizeof name, "%s%s", prefix, leaf) >= (int)sizeof name)
		return error_set(err, "%s%s: path too long", prefix, leaf);
	if (fstatat(dirfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return error_errno(err, "%s", name);
	if (S_ISLNK(st.st_mode)) {
		n = readlinkat(dirfd, leaf, target, sizeof target - 1);
		if (n < 0)
			return error_errno(err, "%s", name);
		target[n] = '\0';
		if (extract_link_escapes(name, target))
			return error_set(err, "%s: symlink to '%s' leaves the tree", name, target);
		return payload_write_header(p, name, &st, target, err);
	}
	if (S_ISREG(st.st_mode))
		return payload_write_header(p, name, &st, NULL, err) ||
		       payload_write_file(p, dirfd, leaf, name, err) ? -1 : 0;
	if (!S_ISDIR(st.st_mode))
		return error_set(err, "%s: %s not allowed in a slot tree", name,
				 S_ISFIFO(st.st_mode) ? "fifo" : S_ISSOCK(st.st_mode) ? "socket" :
				 "device node");
	if (payload_write_header(p, name, &st, NULL, err) < 0)
		return -1;
	subfd = openat(dirfd, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (subfd < 0)
		return error_errno(err, "%s", name);
	strcat(name, "/");
	rc = payload_walk(p, subfd, name, err);
	close(subfd);
	return rc;
}

/* Collects the names of a directory, sorted bytewise, then visits them. */
static int payload_walk(struct payload *p, int dirfd, const char *prefix, struct error *err)
{
	char **names = NULL, **grown;
	size_t count = 0, capacity = 0, i;
	struct dirent *d;
	DIR *dir;
	int fd, rc = 0;

	fd = dup(dirfd);
	dir = fd >= 0 ? fdopendir(fd) : NULL;
	if (!dir) {
		if (fd >= 0)
			close(fd);
		return error_errno(err, "%s", prefix[0] ? prefix : ".");
	}
	while (rc == 0 && (errno = 0, d = readdir(dir)) != NULL) {
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		if (count == capacity) {
			capacity = capacity ? 2 * capacity : 32;
			grown = realloc(names, capacity * sizeof *names);
			if (!grown) {
				rc = error_errno(err, "%s", prefix);
				break;
			}
			names = grown;
		}
		names[count] = strdup(d->d_name);
		if (!names[count])
			rc = error_errno(err, "%s", prefix);
		else
			count++;
	}
	if (rc == 0 && count > 1)
		qsort(names, count, sizeof *names, payload_by_name);
	for (i = 0; i < count && rc == 0; i++)
		rc = payload_entry(p, dirfd, prefix, names[i], err);
	for (i = 0; i < count; i++)
		free(names[i]);
	free(names);
	closedir(dir);
	return rc;
}

static int payload_add_filter(struct archive *a, const char *compression, struct error *err)
{
	int rc;

	if (!compression || !strcmp(compression, "gzip")) {
		rc = archive_write_add_filter_gzip(a);
		if (rc == ARCHIVE_OK)
			rc = archive_write_set_filter_option(a, "gzip", "timestamp", NULL);
	} else if (!strcmp(compression, "xz")) {
		/* xz -2: a 2 MiB dictionary, under a guest's EXTRACT_XZ_MEMLIMIT */
		rc = archive_write_add_filter_xz(a);
		if (rc == ARCHIVE_OK)
			rc = archive_write_set_filter_option(a, "xz", "compression-level", "2");
	} else if (!strcmp(compression, "zstd")) {
		/* level 3: a 2 MiB window, EXTRACT_ZSTD_WINDOW_LOG_MAX */
		rc = archive_write_add_filter_zstd(a);
		if (rc == ARCHIVE_OK)
			rc = archive_write_set_filter_option(a, "zstd", "compression-level", "3");
	} else {
		return error_set(err, "compression '%s': not one of gzip, xz, zstd", compression);
	}
	if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
		return error_set(err, "compression %s: %s", compression, archive_error_string(a));
	return 0;
}

/* libarchive's write callback in format 2: the plain tar to the chunker. */
static la_ssize_t payload_chunk_write(struct archive *a, void *context, const void *data,
				      size_t len)
{
	struct payload *p = context;

	if (bundle_chunker_write(p->chunker, data, len, &p->chunker_err) < 0) {
		archive_set_error(a, EIO, "%s", p->chunker_err.text);
		return -1;
	}
	p->written += len;
	return (la_ssize_t)len;
}

static int payload_open(struct payload *p, int fd, const char *compression,
			uint32_t chunk_size, int index_fd, struct error *err)
{
	p->archive = archive_write_new();
	if (!p->archive || archive_write_set_format_pax_restricted(p->archive) != ARCHIVE_OK)
		return error_set(err, "payload: out of memory");
	/* format 3: no blocking, so the chunker sees each entry's first byte
	 * when it is written and the tar ends right after its marker */
	if (index_fd >= 0 && archive_write_set_bytes_per_block(p->archive, 0) != ARCHIVE_OK)
		return error_set(err, "payload: %s", archive_error_string(p->archive));
	if (chunk_size) {
		p->chunker = bundle_chunker_new(fd, compression, chunk_size, err);
		if (!p->chunker)
			return -1;
		if (index_fd >= 0) {
			bundle_chunker_index(p->chunker, index_fd);
			p->delta = 1;
		}
		if (archive_write_open2(p->archive, p, NULL, payload_chunk_write, NULL, NULL) !=
		    ARCHIVE_OK)
			return error_set(err, "payload: %s", archive_error_string(p->archive));
		return 0;
	}
	if (payload_add_filter(p->archive, compression, err) < 0)
		return -1;
	if (archive_write_open_fd(p->archive, fd) != ARCHIVE_OK)
		return error_set(err, "payload: %s", archive_error_string(p->archive));
	return 0;
}

int bundle_payload_write(int fd, const char *directory, const char *compression,
			 int64_t mtime, uint32_t chunk_size, int index_fd, uint32_t **members,
			 uint32_t *count, struct error *err)
{
	struct payload *p;
	int dirfd = -1, rc = -1;

	p = calloc(1, sizeof *p);
	if (!p)
		return error_errno(err, "payload");
	p->mtime = mtime;
	if (payload_open(p, fd, compression ? compression : "gzip", chunk_size, index_fd, err) < 0)
		goto out;
	dirfd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		error_errno(err, "%s", directory);
		goto out;
	}
	if (payload_walk(p, dirfd, "", err) < 0)
		goto out;
	if (archive_write_close(p->archive) != ARCHIVE_OK) {
		error_set(err, "payload: %s", archive_error_string(p->archive));
		goto out;
	}
	if (p->chunker && bundle_chunker_finish(p->chunker, members, count, err) < 0)
		goto out;
	rc = 0;
out:
	if (dirfd >= 0)
		close(dirfd);
	if (p->archive)
		archive_write_free(p->archive);
	bundle_chunker_free(p->chunker);
	free(p);
	return rc;
}
