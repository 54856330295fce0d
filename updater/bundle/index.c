/* index.c: format 3's delta.index, read record by record under its bounds
 * and written item by item (see updater/bundle/bundle_index.h). */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bundle/bundle_index.h"

static uint64_t index_be(const unsigned char *p, unsigned n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | *p++;
	return v;
}

static void index_put_be(unsigned char *p, uint64_t v, unsigned n)
{
	while (n--) {
		p[n] = (unsigned char)v;
		v >>= 8;
	}
}

/* Exactly len bytes of the index into out; a short index is an error. */
static int index_read(struct bundle_index_reader *r, void *out, size_t len, struct error *err)
{
	unsigned char *dst = out;
	ssize_t n;

	while (len > 0) {
		if (r->pos == r->len) {
			size_t want = sizeof r->buf;

			if (r->left == 0)
				return error_set(err, "delta.index: truncated");
			if (want > r->left)
				want = (size_t)r->left;
			do
				n = read(r->fd, r->buf, want);
			while (n < 0 && errno == EINTR);
			if (n < 0)
				return error_errno(err, "delta.index: read");
			if (n == 0)
				return error_set(err, "delta.index: truncated");
			r->left -= (uint64_t)n;
			r->pos = 0;
			r->len = (size_t)n;
		}
		size_t take = r->len - r->pos < len ? r->len - r->pos : len;
		memcpy(dst, r->buf + r->pos, take);
		r->pos += take;
		dst += take;
		len -= take;
	}
	return 0;
}

int bundle_index_open(struct bundle_index_reader *r, int fd, uint64_t size,
		      uint32_t block_count, uint32_t chunk_size, struct error *err)
{
	unsigned char magic[8];

	memset(r, 0, offsetof(struct bundle_index_reader, buf));
	r->fd = fd;
	r->left = size;
	r->blocks = r->blocks_left = block_count;
	r->chunk_size = chunk_size;
	if (lseek(fd, 0, SEEK_SET) < 0)
		return error_errno(err, "delta.index: seek");
	if (index_read(r, magic, sizeof magic, err) < 0)
		return -1;
	if (memcmp(magic, BUNDLE_INDEX_MAGIC, sizeof magic))
		return error_set(err, "delta.index: not an index (bad magic)");
	return 0;
}

int bundle_index_block(struct bundle_index_reader *r, struct bundle_index_block *b,
		       struct error *err)
{
	unsigned char head[38];
	uint32_t n = r->blocks - r->blocks_left;

	if (r->items_left)
		return error_set(err, "delta.index: block %u: items left unread", n - 1);
	if (r->blocks_left == 0)
		return error_set(err, "delta.index: more blocks asked for than it has");
	if (index_read(r, head, sizeof head, err) < 0)
		return error_prefix(err, "block %u: ", n);
	b->plain_len = (uint32_t)index_be(head, 4);
	memcpy(b->sha256, head + 4, 32);
	b->items = (uint16_t)index_be(head + 36, 2);
	if (b->plain_len == 0 || b->plain_len > r->chunk_size)
		return error_set(err, "delta.index: block %u: %u tar bytes, not 1 to %u", n,
				 b->plain_len, r->chunk_size);
	if (b->items == 0 || b->items > BUNDLE_INDEX_ITEMS_MAX)
		return error_set(err, "delta.index: block %u: %u items, not 1 to %u", n, b->items,
				 BUNDLE_INDEX_ITEMS_MAX);
	r->blocks_left--;
	r->items_left = b->items;
	r->bytes_left = b->plain_len;
	return 0;
}

/* Relative, no empty, "." or ".." component: what payload.c writes. */
static int index_path_ok(const char *p, size_t len)
{
	const char *c = p, *end = p + len, *slash;

	if (memchr(p, '\0', len))
		return 0;
	while (c < end) {
		slash = memchr(c, '/', (size_t)(end - c));
		size_t n = (size_t)((slash ? slash : end) - c);
		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return 0;
		if (!slash)
			return 1;
		c = slash + 1;
	}
	return 0;	/* a trailing slash */
}

static int index_item_path(struct bundle_index_reader *r, struct bundle_index_item *item,
			   uint32_t n, struct error *err)
{
	unsigned char raw[12];
	size_t len;

	if (index_read(r, raw, 2, err) < 0)
		return -1;
	len = (size_t)index_be(raw, 2);
	if (len == 0 || len > BUNDLE_INDEX_PATH_MAX)
		return error_set(err, "delta.index: block %u: path of %zu bytes, not 1 to %u", n,
				 len, BUNDLE_INDEX_PATH_MAX);
	if (index_read(r, item->path, len, err) < 0)
		return -1;
	item->path[len] = '\0';
	if (!index_path_ok(item->path, len))
		return error_set(err, "delta.index: block %u: a path that is not a relative "
				 "path beneath the tree", n);
	if (index_read(r, raw, 12, err) < 0)
		return -1;
	item->from = index_be(raw, 8);
	item->len = (uint32_t)index_be(raw + 8, 4);
	if (item->from > BUNDLE_PAYLOAD_MAX * 2)
		return error_set(err, "delta.index: block %u: an entry offset out of range", n);
	return 0;
}

int bundle_index_item(struct bundle_index_reader *r, struct bundle_index_item *item,
		      struct error *err)
{
	uint32_t n = r->blocks - r->blocks_left - 1;
	unsigned char raw[4];
	int rc;

	if (r->items_left == 0)
		return error_set(err, "delta.index: block %u: no item left", n);
	if (index_read(r, raw, 1, err) < 0)
		return error_prefix(err, "block %u: ", n);
	if (raw[0] > 1)
		return error_set(err, "delta.index: block %u: item kind %u, not 0 or 1", n, raw[0]);
	item->zeros = raw[0];
	item->from = 0;
	item->path[0] = '\0';
	if (item->zeros) {
		rc = index_read(r, raw, 4, err);
		item->len = (uint32_t)index_be(raw, 4);
	} else {
		rc = index_item_path(r, item, n, err);
	}
	if (rc < 0)
		return -1;
	if (item->len == 0 || item->len > r->bytes_left)
		return error_set(err, "delta.index: block %u: an item of %u bytes where %u are left",
				 n, item->len, r->bytes_left);
	r->bytes_left -= item->len;
	if (--r->items_left == 0 && r->bytes_left)
		return error_set(err, "delta.index: block %u: items cover %u bytes too few", n,
				 r->bytes_left);
	return 0;
}

int bundle_index_skip(struct bundle_index_reader *r, struct error *err)
{
	struct bundle_index_item item;

	while (r->items_left)
		if (bundle_index_item(r, &item, err) < 0)
			return -1;
	return 0;
}

int bundle_index_end(struct bundle_index_reader *r, struct error *err)
{
	if (r->blocks_left || r->items_left)
		return error_set(err, "delta.index: %u blocks not read", r->blocks_left);
	if (r->left || r->pos != r->len)
		return error_set(err, "delta.index: bytes after its last block");
	return 0;
}

int bundle_index_put_item(unsigned char **buf, size_t *len, size_t *cap, const char *path,
			  uint64_t from, uint32_t len_)
{
	size_t plen = path ? strlen(path) : 0, need = *len + 1 + (path ? 2 + plen + 12 : 4);
	unsigned char *p;

	if (need > *cap) {
		size_t grown = *cap ? *cap * 2 : 4096;

		while (grown < need)
			grown *= 2;
		p = realloc(*buf, grown);
		if (!p)
			return -1;
		*buf = p;
		*cap = grown;
	}
	p = *buf + *len;
	*p++ = path ? 0 : 1;
	if (path) {
		index_put_be(p, plen, 2);
		memcpy(p + 2, path, plen);
		p += 2 + plen;
		index_put_be(p, from, 8);
		p += 8;
	}
	index_put_be(p, len_, 4);
	*len = need;
	return 0;
}

void bundle_index_put_block(unsigned char out[38], uint32_t plain_len,
			    const unsigned char sha256[32], uint16_t items)
{
	index_put_be(out, plain_len, 4);
	memcpy(out + 4, sha256, 32);
	index_put_be(out + 36, items, 2);
}
