/* rebuild.c: a format 3 block's tar bytes from a tree the guest already has
 * (see updater/bundle/bundle_delta.h).  Nothing here is trusted: the result
 * counts only when its SHA-256 is the signed one; anything missing or
 * different makes the block one to fetch. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bundle/bundle_delta.h"

void bundle_rebuild_init(struct bundle_rebuild *rb, int tree_fd, int64_t mtime)
{
	rb->tree_fd = tree_fd;
	rb->mtime = mtime;
	rb->path[0] = '\0';
	rb->found = 0;
	rb->file_fd = -1;
}

void bundle_rebuild_end(struct bundle_rebuild *rb)
{
	if (rb->file_fd >= 0)
		close(rb->file_fd);
	rb->file_fd = -1;
	rb->path[0] = '\0';
}

/* path beneath the tree, never through a symlink or out of it */
static int rebuild_open(int tree_fd, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
			   RESOLVE_NO_XDEV,
	};

	return (int)syscall(SYS_openat2, tree_fd, path, &how, sizeof how);
}

/* Looks path up (once for consecutive items of one entry) and writes its
 * header as slotpack would; rb->found 0 when it cannot be had. */
static void rebuild_entry(struct bundle_rebuild *rb, const char *path)
{
	char target[BUNDLE_INDEX_PATH_MAX + 1];
	struct error ignored;
	struct stat st, again;
	ssize_t n;
	int fd;

	if (!strcmp(rb->path, path))
		return;
	bundle_rebuild_end(rb);
	snprintf(rb->path, sizeof rb->path, "%s", path);
	rb->found = 0;
	fd = rebuild_open(rb->tree_fd, path, O_PATH);
	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) ||
				    S_ISLNK(st.st_mode)))
		goto out;
	target[0] = '\0';
	if (S_ISLNK(st.st_mode)) {
		n = readlinkat(fd, "", target, sizeof target - 1);
		if (n < 0)
			goto out;
		target[n] = '\0';
	}
	if (S_ISREG(st.st_mode)) {
		/* the same file, now for reading: O_PATH reads nothing */
		rb->file_fd = rebuild_open(rb->tree_fd, path, O_RDONLY | O_NONBLOCK);
		if (rb->file_fd < 0 || fstat(rb->file_fd, &again) < 0 ||
		    again.st_ino != st.st_ino || again.st_dev != st.st_dev)
			goto out;
	}
	rb->size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
	if (bundle_tar_header(path, st.st_mode, rb->size, rb->mtime,
			      S_ISLNK(st.st_mode) ? target : NULL, rb->header, &rb->header_len,
			      &ignored) < 0)
		goto out;
	rb->found = 1;
out:
	if (!rb->found && rb->file_fd >= 0) {
		close(rb->file_fd);
		rb->file_fd = -1;
	}
	close(fd);
}

/* Bytes [from, from+len) of the entry's tar representation: header, data,
 * zero padding to 512.  0, or -1 when the tree does not have them. */
static int rebuild_piece(struct bundle_rebuild *rb, uint64_t from, uint32_t len,
			 unsigned char *out)
{
	uint64_t data_end = rb->header_len + rb->size, end = data_end + (512 - rb->size % 512) % 512;
	size_t n;
	ssize_t got;

	if (!rb->found || from > end || len > end - from)
		return -1;
	while (len > 0) {
		if (from < rb->header_len) {
			n = rb->header_len - from < len ? (size_t)(rb->header_len - from) : len;
			memcpy(out, rb->header + from, n);
		} else if (from < data_end) {
			n = data_end - from < len ? (size_t)(data_end - from) : len;
			do
				got = pread(rb->file_fd, out, n, (off_t)(from - rb->header_len));
			while (got < 0 && errno == EINTR);
			if (got <= 0)
				return -1;	/* shorter than it said, or unreadable */
			n = (size_t)got;
		} else {
			n = len;
			memset(out, 0, n);
		}
		out += n;
		from += n;
		len -= (uint32_t)n;
	}
	return 0;
}

int bundle_rebuild_trees(struct bundle_rebuild *const *rbs, unsigned n,
			 struct bundle_index_reader *r, const struct bundle_index_block *b,
			 unsigned char *const *outs, int *matches, struct error *err)
{
	struct bundle_index_item item;
	unsigned char digest[32];
	uint32_t at = 0;
	int ok[2] = { 1, 1 };

	if (n < 1 || n > 2)
		return error_set(err, "delta: %u trees to rebuild from", n);
	for (unsigned i = 0; i < b->items; i++) {
		if (bundle_index_item(r, &item, err) < 0)
			return -1;
		for (unsigned t = 0; t < n; t++) {
			if (!ok[t])
				continue;	/* the items are consumed all the same */
			if (item.zeros) {
				memset(outs[t] + at, 0, item.len);
				continue;
			}
			rebuild_entry(rbs[t], item.path);
			ok[t] = rebuild_piece(rbs[t], item.from, item.len, outs[t] + at) == 0;
		}
		at += item.len;
	}
	for (unsigned t = 0; t < n; t++)
		matches[t] = ok[t] && EVP_Digest(outs[t], b->plain_len, digest, NULL, EVP_sha256(),
						 NULL) == 1 &&
			     CRYPTO_memcmp(digest, b->sha256, 32) == 0;
	return 0;
}

int bundle_rebuild_block(struct bundle_rebuild *rb, struct bundle_index_reader *r,
			 const struct bundle_index_block *b, unsigned char *out, int *match,
			 struct error *err)
{
	return bundle_rebuild_trees(&rb, 1, r, b, &out, match, err);
}
