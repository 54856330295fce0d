/* tar_entry.c: one slot entry's tar header (see updater/bundle/bundle_delta.h):
 * the single place that says what slotpack puts in a header, so that a
 * guest rebuilding a block writes the same bytes. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "bundle/bundle_delta.h"

void bundle_tar_entry_fill(struct archive_entry *entry, const char *name, mode_t mode,
			   uint64_t size, int64_t mtime, const char *target)
{
	archive_entry_set_pathname(entry, name);
	archive_entry_set_mode(entry, mode & (S_IFMT | 07777));
	archive_entry_set_uid(entry, 0);
	archive_entry_set_gid(entry, 0);
	archive_entry_set_mtime(entry, mtime, 0);
	archive_entry_set_size(entry, S_ISREG(mode) ? (la_int64_t)size : 0);
	if (target)
		archive_entry_set_symlink(entry, target);
}

struct tar_capture {
	unsigned char *buf;
	size_t len;
	int done;			/* the header is in: refuse the rest */
};

static la_ssize_t tar_capture_write(struct archive *a, void *context, const void *data,
				    size_t len)
{
	struct tar_capture *c = context;

	if (c->done || c->len + len > BUNDLE_TAR_HEADER_MAX) {
		archive_set_error(a, EFBIG, "header capture closed");
		return -1;
	}
	memcpy(c->buf + c->len, data, len);
	c->len += len;
	return (la_ssize_t)len;
}

int bundle_tar_header(const char *name, mode_t mode, uint64_t size, int64_t mtime,
		      const char *target, unsigned char *buf, size_t *len, struct error *err)
{
	struct tar_capture c = { .buf = buf };
	struct archive *a = archive_write_new();
	struct archive_entry *entry = archive_entry_new();
	int rc = -1;

	if (!a || !entry) {
		error_set(err, "tar header: out of memory");
		goto out;
	}
	/* unblocked, as payload.c writes format 3: every byte reaches the
	 * callback when it is written */
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(a, 0) != ARCHIVE_OK ||
	    archive_write_open2(a, &c, NULL, tar_capture_write, NULL, NULL) != ARCHIVE_OK) {
		error_set(err, "tar header: %s", archive_error_string(a));
		goto out;
	}
	bundle_tar_entry_fill(entry, name, mode, size, mtime, target);
	if (archive_write_header(a, entry) != ARCHIVE_OK) {
		error_set(err, "tar header of %s: %s", name, archive_error_string(a));
		goto out;
	}
	c.done = 1;	/* closing would pad the data: nothing more is wanted */
	*len = c.len;
	rc = 0;
out:
	if (a)
		archive_write_free(a);
	archive_entry_free(entry);
	return rc;
}
