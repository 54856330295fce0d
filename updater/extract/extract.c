/* extract.c: hardened extraction into a slot (see include/extract.h). */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "extract.h"

#define EXTRACT_FLAGS (ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | \
		       ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT | \
		       ARCHIVE_EXTRACT_UNLINK | ARCHIVE_EXTRACT_SPARSE)

struct extract {
	struct archive *in, *out;
	const struct extract_limits *limits;
	struct extract_stats *stats;
	char slot[PATH_MAX];	/* absolute path of the slot directory */
};

/* "slot/relative" into buf; -1 if it does not fit. */
static int extract_join(const struct extract *x, const char *relative, char *buf, size_t len)
{
	while (relative[0] == '.' && relative[1] == '/')
		relative += 2;
	return snprintf(buf, len, "%s/%s", x->slot, relative) >= (int)len ? -1 : 0;
}

/* Checks one header and rewrites its paths to absolute ones inside the slot. */
static int extract_check(struct extract *x, struct archive_entry *entry, struct error *err)
{
	const char *name = archive_entry_pathname(entry), *hardlink = archive_entry_hardlink(entry);
	const char *symlink = archive_entry_symlink(entry);
	mode_t type = archive_entry_filetype(entry);
	char path[PATH_MAX];

	if (++x->stats->entries > x->limits->max_entries)
		return error_set(err, "entry '%s': more than %llu entries", name,
				 x->limits->max_entries);
	if (extract_path_unsafe(name))
		return error_set(err, "entry '%s': path is absolute or climbs out of the slot", name);
	if (hardlink) {
		if (extract_path_unsafe(hardlink))
			return error_set(err, "entry '%s': hardlink to '%s' leaves the slot", name,
					 hardlink);
		if (extract_join(x, hardlink, path, sizeof path) < 0)
			return error_set(err, "entry '%s': path too long", name);
		archive_entry_set_hardlink(entry, path);
		x->stats->hardlinks++;
	} else if (type == AE_IFLNK) {
		if (!symlink || extract_link_escapes(name, symlink))
			return error_set(err, "entry '%s': symlink to '%s' leaves the slot", name,
					 symlink ? symlink : "");
		x->stats->symlinks++;
	} else if (type == AE_IFREG) {
		x->stats->bytes += (unsigned long long)archive_entry_size(entry);
		if (x->stats->bytes > x->limits->max_bytes)
			return error_set(err, "entry '%s': unpacked size exceeds %llu bytes", name,
					 x->limits->max_bytes);
		x->stats->files++;
	} else if (type == AE_IFDIR) {
		x->stats->directories++;
	} else {
		return error_set(err, "entry '%s': %s not allowed in a slot", name,
				 type == AE_IFCHR || type == AE_IFBLK ? "device node" :
				 type == AE_IFIFO ? "fifo" : type == AE_IFSOCK ? "socket" :
				 "file type");
	}
	archive_entry_set_perm(entry, archive_entry_perm(entry) &
					      (x->limits->allow_setuid ? 07777 : 0777));
	if (extract_join(x, name, path, sizeof path) < 0)
		return error_set(err, "entry '%s': path too long", name);
	archive_entry_set_pathname(entry, path);
	return 0;
}

static int extract_data(struct extract *x, const char *name, struct error *err)
{
	const void *block;
	size_t size;
	la_int64_t offset;
	int rc;

	for (;;) {
		rc = archive_read_data_block(x->in, &block, &size, &offset);
		if (rc == ARCHIVE_EOF)
			return 0;
		if (rc != ARCHIVE_OK)
			return error_set(err, "entry '%s': %s", name, archive_error_string(x->in));
		if (archive_write_data_block(x->out, block, size, offset) != ARCHIVE_OK)
			return error_set(err, "entry '%s': %s", name, archive_error_string(x->out));
	}
}

static int extract_entries(struct extract *x, struct error *err)
{
	struct archive_entry *entry;
	char name[PATH_MAX];
	int rc;

	for (;;) {
		rc = archive_read_next_header(x->in, &entry);
		if (rc == ARCHIVE_EOF)
			return 0;
		if (rc != ARCHIVE_OK)
			return error_set(err, "archive: %s", archive_error_string(x->in));
		snprintf(name, sizeof name, "%s", archive_entry_pathname(entry));
		if (extract_check(x, entry, err) < 0)
			return -1;
		if (archive_write_header(x->out, entry) != ARCHIVE_OK)
			return error_set(err, "entry '%s': %s", name, archive_error_string(x->out));
		if (archive_entry_size(entry) > 0 && extract_data(x, name, err) < 0)
			return -1;
		if (archive_write_finish_entry(x->out) != ARCHIVE_OK)
			return error_set(err, "entry '%s': %s", name, archive_error_string(x->out));
	}
}

int extract_stream(int in_fd, int slot_fd, const struct extract_limits *limits,
		   struct extract_stats *stats, struct error *err)
{
	struct extract x = { .limits = limits, .stats = stats };
	char proc[64];
	ssize_t n;
	int rc = -1;

	memset(stats, 0, sizeof *stats);
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", slot_fd);
	n = readlink(proc, x.slot, sizeof x.slot - 1);
	if (n < 0)
		return error_errno(err, "slot directory");
	x.slot[n] = '\0';
	x.in = archive_read_new();
	x.out = archive_write_disk_new();
	if (!x.in || !x.out || archive_read_support_filter_gzip(x.in) != ARCHIVE_OK ||
	    archive_read_support_filter_xz(x.in) != ARCHIVE_OK ||
	    archive_read_support_filter_zstd(x.in) != ARCHIVE_OK ||
	    archive_read_support_format_tar(x.in) != ARCHIVE_OK ||
	    archive_write_disk_set_options(x.out, EXTRACT_FLAGS) != ARCHIVE_OK) {
		error_set(err, "archive: cannot set up libarchive");
		goto out;
	}
	if (archive_read_open_fd(x.in, in_fd, 256 << 10) != ARCHIVE_OK) {
		error_set(err, "archive: %s", archive_error_string(x.in));
		goto out;
	}
	if (extract_entries(&x, err) < 0)
		goto out;
	if (archive_write_close(x.out) != ARCHIVE_OK) {
		error_set(err, "archive: %s", archive_error_string(x.out));
		goto out;
	}
	rc = 0;
out:
	if (x.in)
		archive_read_free(x.in);
	if (x.out)
		archive_write_free(x.out);
	return rc;
}

int extract_sync(int slot_fd, struct error *err)
{
	if (syncfs(slot_fd) < 0)
		return error_errno(err, "slot: syncfs");
	return 0;
}

/* Removes the entries of dirfd recursively; links are unlinked, not followed. */
static int extract_clear_dir(int dirfd, struct error *err)
{
	struct dirent *d;
	DIR *dir;
	int fd, sub, rc = 0;

	fd = dup(dirfd);
	if (fd < 0)
		return error_errno(err, "slot: dup");
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return error_errno(err, "slot: opendir");
	}
	rewinddir(dir);
	while (rc == 0 && (errno = 0, d = readdir(dir)) != NULL) {
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		if (unlinkat(dirfd, d->d_name, 0) == 0 || errno == ENOENT)
			continue;
		if (errno != EISDIR && errno != EPERM) {
			rc = error_errno(err, "slot: remove '%s'", d->d_name);
			break;
		}
		sub = openat(dirfd, d->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0) {
			rc = error_errno(err, "slot: open '%s'", d->d_name);
			break;
		}
		rc = extract_clear_dir(sub, err);
		close(sub);
		if (rc == 0 && unlinkat(dirfd, d->d_name, AT_REMOVEDIR) < 0)
			rc = error_errno(err, "slot: rmdir '%s'", d->d_name);
	}
	closedir(dir);
	return rc;
}

int extract_clear(int slot_fd, struct error *err)
{
	return extract_clear_dir(slot_fd, err);
}
