/* extract.c: reads a tar stream with libarchive and creates its entries
 * beneath a slot directory with *at syscalls (see updater/extract/extract.h). */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "extract/extract.h"
#include "extract/extract_internal.h"
#include "text.h"

#define EXTRACT_RESOLVE (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | \
			 RESOLVE_NO_XDEV)

/* A directory whose mode and times are applied after the last entry. */
struct extract_dirfix {
	char *path;
	unsigned long seq;
	mode_t mode;
	struct timespec times[2];
};

struct extract_ctx {
	int slot_fd;
	const struct extract_limits *limits;
	struct extract_stats st;
	int parent_fd;                  /* cached fd of parent_path, -1 if none */
	char parent_path[PATH_MAX];
	struct extract_dirfix *dirs;
	size_t ndirs, dirs_cap;
	struct error *err;
};

/* One openat2 beneath dirfd; refuses symlinks anywhere in path. */
static int extract_open_beneath(int dirfd, const char *path, int flags)
{
	struct open_how how = { .flags = (unsigned long long)(flags | O_CLOEXEC),
				.resolve = EXTRACT_RESOLVE };
	int fd, tries = 0;

	do
		fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
	while (fd < 0 && (errno == EINTR || (errno == EAGAIN && ++tries < 8)));
	return fd;
}

static int extract_parent_error(const char *raw, struct error *err)
{
	if (errno == ELOOP)
		return error_set(err, "entry '%s': a parent path is a symlink", raw);
	if (errno == ENOTDIR)
		return error_set(err, "entry '%s': a parent path is not a directory", raw);
	if (errno == EXDEV)
		return error_set(err, "entry '%s': path escapes the slot", raw);
	return error_errno(err, "entry '%s': opening parent directory", raw);
}

/* A directory whose mode lacks owner rwx: fixed after the last entry. */
static int extract_dirfix_add(struct extract_ctx *c, const char *path, mode_t mode,
			      const struct timespec times[2])
{
	struct extract_dirfix *d;
	char shown[256];

	if (c->ndirs == EXTRACT_LOCKED_DIRS_MAX)
		return error_set(c->err, "directory '%s': more than %d directories without owner "
				 "rwx (EXTRACT_LOCKED_DIRS_MAX)",
				 text_sanitize(path, shown, sizeof shown),
				 EXTRACT_LOCKED_DIRS_MAX);
	if (c->ndirs == c->dirs_cap) {
		size_t cap = c->dirs_cap ? c->dirs_cap * 2 : 16;

		d = reallocarray(c->dirs, cap, sizeof *d);
		if (!d)
			return error_errno(c->err, "directory '%s'", path);
		c->dirs = d;
		c->dirs_cap = cap;
	}
	d = &c->dirs[c->ndirs];
	d->path = strdup(path);
	if (!d->path)
		return error_errno(c->err, "directory '%s'", path);
	d->seq = c->ndirs++;
	d->mode = mode;
	d->times[0] = times[0];
	d->times[1] = times[1];
	return 0;
}

/* Creates the missing directories of parent one by one (tar need not list
 * them), mode 0755.  Returns an fd of parent or -1. */
static int extract_make_parents(struct extract_ctx *c, const char *parent, const char *raw)
{
	char prefix[PATH_MAX];
	const char *p = parent;
	int cur = c->slot_fd, next;

	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - parent) : strlen(parent);

		memcpy(prefix, parent, n);
		prefix[n] = '\0';
		if (mkdirat(cur, prefix + (p - parent), 0755) == 0) {
			/* implied directories count as entries: one deep path
			 * must not buy thousands of inodes */
			if (++c->st.entries > c->limits->max_entries) {
				error_set(c->err, "entry '%s': more than %llu entries with its "
					  "implied directories", raw, c->limits->max_entries);
				goto fail;
			}
			/* 0755 whatever the umask */
			if (fchmodat(cur, prefix + (p - parent), 0755, AT_SYMLINK_NOFOLLOW) < 0) {
				error_errno(c->err, "entry '%s': chmod of a parent directory", raw);
				goto fail;
			}
		} else if (errno != EEXIST) {
			if (errno == ENOTDIR || errno == ENOENT)
				errno = ENOTDIR;
			extract_parent_error(raw, c->err);
			goto fail;
		}
		next = extract_open_beneath(cur, prefix + (p - parent), O_PATH | O_DIRECTORY);
		if (next < 0) {
			extract_parent_error(raw, c->err);
			goto fail;
		}
		if (cur != c->slot_fd)
			close(cur);
		cur = next;
		if (!slash)
			return cur;
		p = slash + 1;
	}
fail:
	if (cur != c->slot_fd)
		close(cur);
	return -1;
}

/* The fd of the entry's parent directory (slot_fd for top-level entries),
 * cached while consecutive entries share it.  Not to be closed by callers. */
static int extract_parent(struct extract_ctx *c, const char *parent, const char *raw)
{
	int fd;

	if (parent[0] == '\0')
		return c->slot_fd;
	if (c->parent_fd >= 0 && strcmp(parent, c->parent_path) == 0)
		return c->parent_fd;
	if (c->parent_fd >= 0)
		close(c->parent_fd);
	c->parent_fd = -1;
	fd = extract_open_beneath(c->slot_fd, parent, O_PATH | O_DIRECTORY);
	if (fd < 0 && errno == ENOENT)
		fd = extract_make_parents(c, parent, raw);
	else if (fd < 0)
		extract_parent_error(raw, c->err);
	if (fd < 0)
		return -1;
	c->parent_fd = fd;
	strcpy(c->parent_path, parent);   /* both PATH_MAX: normalised paths fit */
	return fd;
}

/* name exists in dirfd: unlink it so a non-directory entry can replace it;
 * a directory is never replaced. */
static int extract_replace(int dirfd, const char *name, const char *raw, struct error *err)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return error_errno(err, "entry '%s'", raw);
	if (S_ISDIR(st.st_mode))
		return error_set(err, "entry '%s': refusing to replace an existing directory", raw);
	if (unlinkat(dirfd, name, 0) < 0)
		return error_errno(err, "entry '%s': removing the earlier entry", raw);
	return 0;
}

static void extract_times(struct archive_entry *e, struct timespec times[2])
{
	times[0].tv_sec = archive_entry_atime(e);
	times[0].tv_nsec = archive_entry_atime_is_set(e) ? archive_entry_atime_nsec(e) : UTIME_OMIT;
	times[1].tv_sec = archive_entry_mtime(e);
	times[1].tv_nsec = archive_entry_mtime_is_set(e) ? archive_entry_mtime_nsec(e) : UTIME_OMIT;
}

static mode_t extract_mode(const struct extract_ctx *c, struct archive_entry *e)
{
	mode_t mode = archive_entry_perm(e) & 07777;

	return c->limits->allow_setuid ? mode : (mode & 0777);
}

static int extract_pwrite_all(int fd, const char *buf, size_t len, off_t off)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, buf, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		buf += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* Copies the entry's data blocks at their offsets (holes stay holes). */
static int extract_data(struct archive *a, int fd, long long size, const char *raw,
			struct error *err)
{
	const void *buf;
	size_t len;
	la_int64_t off;
	long long end = 0;
	int r;

	while ((r = archive_read_data_block(a, &buf, &len, &off)) != ARCHIVE_EOF) {
		if (r != ARCHIVE_OK)
			return error_set(err, "entry '%s': reading data: %s", raw,
					 archive_error_string(a));
		if (off < 0 || (unsigned long long)off + len > (unsigned long long)size)
			return error_set(err, "entry '%s': data beyond its declared size", raw);
		if (extract_pwrite_all(fd, buf, len, off) < 0)
			return error_errno(err, "entry '%s': writing", raw);
		if (off + (long long)len > end)
			end = off + (long long)len;
	}
	if (end < size && ftruncate(fd, size) < 0)
		return error_errno(err, "entry '%s': setting size", raw);
	return 0;
}

static int extract_file(struct extract_ctx *c, struct archive *a, struct archive_entry *e,
			int dirfd, const char *name, const char *raw)
{
	long long size = archive_entry_size(e);
	struct timespec times[2];
	int fd = -1, rc = -1;

	if (!archive_entry_size_is_set(e) || size < 0)
		return error_set(c->err, "entry '%s': no valid size", raw);
	/* the gate refuses the headers that make one; kept as a second line */
	if (archive_entry_sparse_count(e) > 0)
		return error_set(c->err, "entry '%s': sparse files are not allowed", raw);
	if ((unsigned long long)size > c->limits->max_bytes - c->st.bytes)
		return error_set(c->err, "entry '%s': %lld bytes would exceed the limit of %llu bytes",
				 raw, size, c->limits->max_bytes);
	c->st.bytes += (unsigned long long)size;
	for (int tries = 0; fd < 0; tries++) {
		fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0)
			break;
		if (errno != EEXIST || tries > 0) {
			error_errno(c->err, "entry '%s': creating", raw);
			goto out;
		}
		if (extract_replace(dirfd, name, raw, c->err) < 0)
			goto out;
	}
	if (extract_data(a, fd, size, raw, c->err) < 0)
		goto out;
	if (fchmod(fd, extract_mode(c, e)) < 0) {
		error_errno(c->err, "entry '%s': chmod", raw);
		goto out;
	}
	extract_times(e, times);
	if (futimens(fd, times) < 0) {
		error_errno(c->err, "entry '%s': setting times", raw);
		goto out;
	}
	c->st.files++;
	rc = 0;
out:
	if (fd >= 0 && close(fd) < 0 && rc == 0)
		rc = error_errno(c->err, "entry '%s': close", raw);
	return rc;
}

static int extract_dir(struct extract_ctx *c, struct archive_entry *e, int dirfd,
		       const char *name, const char *path, const char *raw)
{
	struct timespec times[2];
	struct stat st;
	mode_t mode;

	if (mkdirat(dirfd, name, 0700) < 0) {
		if (errno != EEXIST)
			return error_errno(c->err, "entry '%s': mkdir", raw);
		if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return error_errno(c->err, "entry '%s'", raw);
		if (!S_ISDIR(st.st_mode))
			return error_set(c->err, "entry '%s': directory over an existing non-directory",
					 raw);
	}
	extract_times(e, times);
	mode = extract_mode(c, e);
	if ((mode & S_IRWXU) != S_IRWXU) {
		if (extract_dirfix_add(c, path, mode, times) < 0)
			return -1;
	} else if (fchmodat(dirfd, name, mode, AT_SYMLINK_NOFOLLOW) < 0 ||
		   utimensat(dirfd, name, times, AT_SYMLINK_NOFOLLOW) < 0) {
		return error_errno(c->err, "entry '%s': setting mode and times", raw);
	}
	c->st.directories++;
	return 0;
}

static int extract_symlink(struct extract_ctx *c, struct archive_entry *e, int dirfd,
			   const char *name, const char *path, const char *raw)
{
	const char *target = archive_entry_symlink(e);
	struct timespec times[2];
	char shown[256];

	if (!target)
		return error_set(c->err, "entry '%s': symlink without a readable target", raw);
	if (!extract_path_link_inside(path, target))
		return error_set(c->err, "entry '%s': symlink target '%s' escapes the slot", raw,
				 text_sanitize(target, shown, sizeof shown));
	if (symlinkat(target, dirfd, name) < 0) {
		if (errno != EEXIST)
			return error_errno(c->err, "entry '%s': symlink", raw);
		if (extract_replace(dirfd, name, raw, c->err) < 0)
			return -1;
		if (symlinkat(target, dirfd, name) < 0)
			return error_errno(c->err, "entry '%s': symlink", raw);
	}
	extract_times(e, times);
	if (utimensat(dirfd, name, times, AT_SYMLINK_NOFOLLOW) < 0)
		return error_errno(c->err, "entry '%s': setting times", raw);
	c->st.symlinks++;
	return 0;
}

static int extract_hardlink(struct extract_ctx *c, const char *link, int dirfd,
			    const char *name, const char *raw)
{
	char target[PATH_MAX], tparent[PATH_MAX], shown[256];
	const char *why, *tname, *link_raw = text_sanitize(link, shown, sizeof shown);
	int tfd, rc = -1;

	if (extract_path_normalize(link, target, sizeof target, &why) < 0)
		return error_set(c->err, "entry '%s': hardlink target '%s': %s", raw, link_raw, why);
	if (target[0] == '\0' || extract_path_split(target, tparent, sizeof tparent, &tname) < 0)
		return error_set(c->err, "entry '%s': invalid hardlink target '%s'", raw, link_raw);
	tfd = tparent[0] ? extract_open_beneath(c->slot_fd, tparent, O_PATH | O_DIRECTORY)
			 : c->slot_fd;
	if (tfd < 0) {
		error_errno(c->err, "entry '%s': hardlink target '%s' is not in the slot", raw,
			    link_raw);
		goto out;
	}
	for (int tries = 0;; tries++) {
		if (linkat(tfd, tname, dirfd, name, 0) == 0)
			break;
		if (errno == ENOENT) {
			error_set(c->err, "entry '%s': hardlink target '%s' was not extracted", raw,
				  link_raw);
			goto out;
		}
		if (errno != EEXIST || tries > 0) {
			error_errno(c->err, "entry '%s': hardlink to '%s'", raw, link_raw);
			goto out;
		}
		if (extract_replace(dirfd, name, raw, c->err) < 0)
			goto out;
	}
	c->st.hardlinks++;
	rc = 0;
out:
	if (tfd >= 0 && tfd != c->slot_fd)
		close(tfd);
	return rc;
}

static const char *extract_type_name(unsigned int type)
{
	switch (type) {
	case AE_IFCHR: return "character device";
	case AE_IFBLK: return "block device";
	case AE_IFIFO: return "fifo";
	case AE_IFSOCK: return "socket";
	default: return "unknown file type";
	}
}

/* Slashes in a normalised path: its depth below the slot, minus one. */
static size_t extract_depth(const char *path)
{
	size_t n = 0;

	for (; *path; path++)
		n += *path == '/';
	return n;
}

/* raw is the entry's name for messages only, made printable. */
static int extract_entry(struct extract_ctx *c, struct archive *a, struct archive_entry *e)
{
	const char *pathname = archive_entry_pathname(e), *raw, *why, *name, *link;
	char path[PATH_MAX], parent[PATH_MAX], shown[256];
	unsigned int type = archive_entry_filetype(e);
	int dirfd;

	if (++c->st.entries > c->limits->max_entries)
		return error_set(c->err, "entry #%llu: more than %llu entries", c->st.entries,
				 c->limits->max_entries);
	if (!pathname)
		return error_set(c->err, "entry #%llu: unreadable path name", c->st.entries);
	raw = text_sanitize(pathname, shown, sizeof shown);
	if (extract_path_normalize(pathname, path, sizeof path, &why) < 0)
		return error_set(c->err, "entry '%s': %s", raw, why);
	if (extract_depth(path) >= EXTRACT_DEPTH_MAX)
		return error_set(c->err, "entry '%s': more than %d levels deep (EXTRACT_DEPTH_MAX)",
				 raw, EXTRACT_DEPTH_MAX);
	link = archive_entry_hardlink(e);
	if (!link && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)
		return error_set(c->err, "entry '%s': %s not allowed", raw, extract_type_name(type));
	if (path[0] == '\0')
		return type == AE_IFDIR && !link ? 0 :
			error_set(c->err, "entry '%s': not a directory but names the slot", raw);
	if (extract_path_split(path, parent, sizeof parent, &name) < 0)
		return error_set(c->err, "entry '%s': path too long", raw);
	dirfd = extract_parent(c, parent, raw);
	if (dirfd < 0)
		return -1;
	if (link)
		return extract_hardlink(c, link, dirfd, name, raw);
	if (type == AE_IFDIR)
		return extract_dir(c, e, dirfd, name, path, raw);
	if (type == AE_IFLNK)
		return extract_symlink(c, e, dirfd, name, path, raw);
	return extract_file(c, a, e, dirfd, name, raw);
}

/* Deepest first, so a 0500 parent is set after its children; equal depth in
 * archive order, so a later duplicate wins. */
static int extract_dirfix_cmp(const void *pa, const void *pb)
{
	const struct extract_dirfix *a = pa, *b = pb;
	size_t da = extract_depth(a->path), db = extract_depth(b->path);

	if (da != db)
		return da > db ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static int extract_dirfix_apply(struct extract_ctx *c)
{
	if (c->ndirs > 1)
		qsort(c->dirs, c->ndirs, sizeof *c->dirs, extract_dirfix_cmp);
	for (size_t i = 0; i < c->ndirs; i++) {
		struct extract_dirfix *d = &c->dirs[i];
		int fd = extract_open_beneath(c->slot_fd, d->path, O_RDONLY | O_DIRECTORY);
		int set_times = d->times[0].tv_nsec != UTIME_OMIT || d->times[1].tv_nsec != UTIME_OMIT;
		char shown[256];

		if (fd < 0 || fchmod(fd, d->mode) < 0 || (set_times && futimens(fd, d->times) < 0)) {
			error_errno(c->err, "directory '%s': setting mode and times",
				    text_sanitize(d->path, shown, sizeof shown));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		close(fd);
	}
	return 0;
}

/* Why libarchive failed: the gate's reason when it has one (it sees the
 * stream whole; libarchive gives up at its first look). */
static void extract_explain(struct extract_source *src, struct archive *a, const char *what,
			    struct error *err)
{
	struct error gate_err = { "" };

	if (src->failed)
		*err = src->err;
	else if (extract_source_finish(src, &gate_err) < 0)
		*err = gate_err;
	else
		error_set(err, "payload: %s%s", what, archive_error_string(a));
}

/* libarchive with the tar format only, reading from the source. */
static struct archive *extract_archive_new(struct extract_source *src, struct error *err)
{
	struct archive *a = archive_read_new();

	if (!a) {
		error_set(err, "payload: out of memory");
		return NULL;
	}
	if (archive_read_support_format_tar(a) != ARCHIVE_OK ||
	    archive_read_open(a, src, NULL, extract_source_read, NULL) != ARCHIVE_OK) {
		extract_explain(src, a, "", err);
		archive_read_free(a);
		return NULL;
	}
	return a;
}

/* Reads entries from the opened source until the end of the archive. */
static int extract_run(struct extract_ctx *c, struct extract_source *src, struct error *err)
{
	struct archive_entry *e;
	struct archive *a;
	int r, rc = -1;

	a = extract_archive_new(src, err);
	if (!a)
		return -1;
	while ((r = archive_read_next_header(a, &e)) != ARCHIVE_EOF) {
		if (r < ARCHIVE_WARN) {
			char what[64];

			snprintf(what, sizeof what, "after entry #%llu: ", c->st.entries);
			extract_explain(src, a, what, err);
			goto out;
		}
		if (extract_entry(c, a, e) < 0) {
			if (src->failed)	/* the gate stopped the data: its reason */
				*err = src->err;
			goto out;
		}
	}
	if (extract_source_finish(src, err) < 0 || extract_dirfix_apply(c) < 0)
		goto out;
	rc = 0;
out:
	archive_read_free(a);
	return rc;
}

/* extract_stream() and extract_stream_input(): without next, in_fd is read. */
static int extract_any(int in_fd, extract_input_fn next, void *ctx, int slot_fd,
		       const struct extract_limits *limits, struct extract_stats *stats,
		       struct error *err)
{
	struct extract_ctx c = { .slot_fd = slot_fd, .limits = limits, .parent_fd = -1,
				 .err = err };
	struct extract_source *src;
	int rc = -1;

	/* 130 KiB of buffers: on the heap, the worker's stack is the default */
	src = malloc(sizeof *src);
	if (!src) {
		if (stats)	/* callers read it on errors too */
			*stats = c.st;
		return error_errno(err, "payload");
	}
	if (next)
		extract_source_open_input(src, next, ctx);
	else if (extract_source_open(src, in_fd, limits->compression, err) < 0)
		goto out;
	rc = extract_run(&c, src, err);
out:
	if (c.parent_fd >= 0)
		close(c.parent_fd);
	for (size_t i = 0; i < c.ndirs; i++)
		free(c.dirs[i].path);
	free(c.dirs);
	extract_source_close(src);
	free(src);
	if (stats)
		*stats = c.st;
	return rc;
}

int extract_stream(int in_fd, int slot_fd, const struct extract_limits *limits,
		   struct extract_stats *stats, struct error *err)
{
	return extract_any(in_fd, NULL, NULL, slot_fd, limits, stats, err);
}

int extract_stream_input(extract_input_fn next, void *ctx, int slot_fd,
			 const struct extract_limits *limits, struct extract_stats *stats,
			 struct error *err)
{
	return extract_any(-1, next, ctx, slot_fd, limits, stats, err);
}
