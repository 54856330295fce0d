/* member.c: decodes one format 2 member (packaging/FORMAT.md): exactly one
 * complete gzip member, xz stream or zstd frame, whose bytes are all the
 * input, into at most chunk_size bytes.  Each decoder is one thread's.
 *
 * The member is whole in memory, so every decode is one call with the
 * output buffer as the window: zstd allocates no window buffer at all, and
 * xz's dictionary is touched only as far as it is filled.  The format's
 * ceilings still hold: a zstd frame declaring a window over
 * EXTRACT_ZSTD_WINDOW_LOG_MAX is refused from its header, xz decodes under
 * EXTRACT_XZ_MEMLIMIT.  Refused, naming the member's compression: bytes
 * after the end of the member (trailing garbage, a second member, xz stream
 * padding, skippable zstd frames), a member that ends early (truncated), more
 * decoded bytes than chunk_size, corrupt data. */
#define ZSTD_STATIC_LINKING_ONLY	/* ZSTD_getFrameHeader, ZSTD_isSkippableFrame */
#include <string.h>
#include <zstd_errors.h>

#include "extract/extract.h"
#include "extract/extract_internal.h"

int extract_member_init(struct extract_member *d, const char *compression, struct error *err)
{
	memset(d, 0, sizeof *d);
	if (!strcmp(compression, "gzip")) {
		d->kind = SOURCE_GZIP;
		if (inflateInit2(&d->z, 16 + MAX_WBITS) != Z_OK)	/* gzip wrapper only */
			return error_set(err, "payload: cannot set up gzip");
	} else if (!strcmp(compression, "xz")) {
		lzma_stream init = LZMA_STREAM_INIT;

		d->kind = SOURCE_XZ;
		d->x = init;
	} else if (!strcmp(compression, "zstd")) {
		d->kind = SOURCE_ZSTD;
		d->zs = ZSTD_createDCtx();
		if (!d->zs)
			return error_set(err, "payload: cannot set up zstd");
	} else {
		return error_set(err, "payload: compression '%s' is not one of gzip, xz, zstd",
				 compression);
	}
	d->open = 1;
	return 0;
}

void extract_member_end(struct extract_member *d)
{
	if (!d->open)
		return;
	if (d->kind == SOURCE_GZIP)
		inflateEnd(&d->z);
	else if (d->kind == SOURCE_XZ)
		lzma_end(&d->x);
	else
		ZSTD_freeDCtx(d->zs);
	d->open = 0;
}

/* The outcome of one decode call, in the words of every format. */
enum member_end { MEMBER_DONE, MEMBER_TRAILING, MEMBER_TOO_LONG, MEMBER_TRUNCATED };

static int member_explain(enum member_end end, const char *name, uint32_t chunk_size,
			  struct error *err)
{
	if (end == MEMBER_TRAILING)
		return error_set(err, "data after the end of its %s %s", name,
				 strcmp(name, "zstd") ? strcmp(name, "xz") ? "member" : "stream" :
				 "frame");
	if (end == MEMBER_TOO_LONG)
		return error_set(err, "decodes to more than the chunk size (%u bytes)", chunk_size);
	return error_set(err, "the %s data is truncated", name);
}

static int member_gzip(struct extract_member *d, const unsigned char *in, size_t len,
		       unsigned char *out, size_t cap, size_t *produced, struct error *err)
{
	int rc;

	if (inflateReset(&d->z) != Z_OK)
		return error_set(err, "cannot reset gzip");
	d->z.next_in = (unsigned char *)in;
	d->z.avail_in = (uInt)len;
	d->z.next_out = out;
	d->z.avail_out = (uInt)cap;
	rc = inflate(&d->z, Z_FINISH);
	*produced = cap - d->z.avail_out;
	if (rc == Z_STREAM_END)
		return d->z.avail_in ? MEMBER_TRAILING : MEMBER_DONE;
	if (rc == Z_BUF_ERROR && d->z.avail_out == 0)
		return MEMBER_TOO_LONG;
	if (rc == Z_BUF_ERROR)
		return MEMBER_TRUNCATED;
	return error_set(err, "%s (the manifest says gzip)", d->z.msg ? d->z.msg :
			 "not a gzip member");
}

static int member_xz(struct extract_member *d, const unsigned char *in, size_t len,
		     unsigned char *out, size_t cap, size_t *produced, struct error *err)
{
	lzma_ret rc;

	/* no LZMA_CONCATENATED: one stream, nothing after it */
	if (lzma_stream_decoder(&d->x, EXTRACT_XZ_MEMLIMIT, 0) != LZMA_OK)
		return error_set(err, "cannot set up xz");
	d->x.next_in = in;
	d->x.avail_in = len;
	d->x.next_out = out;
	d->x.avail_out = cap;
	do	/* LZMA_FINISH: it runs until the input, the output or the stream ends */
		rc = lzma_code(&d->x, LZMA_FINISH);
	while (rc == LZMA_OK && d->x.avail_in && d->x.avail_out);
	*produced = cap - d->x.avail_out;
	if (rc == LZMA_STREAM_END)
		return d->x.avail_in ? MEMBER_TRAILING : MEMBER_DONE;
	if ((rc == LZMA_OK || rc == LZMA_BUF_ERROR) && d->x.avail_out == 0)
		return MEMBER_TOO_LONG;
	if (rc == LZMA_OK || rc == LZMA_BUF_ERROR)
		return MEMBER_TRUNCATED;
	if (rc == LZMA_MEMLIMIT_ERROR)
		return error_set(err, "the xz stream needs %llu KiB to decode, more than "
				 "EXTRACT_XZ_MEMLIMIT (%u KiB)",
				 (unsigned long long)(lzma_memusage(&d->x) >> 10),
				 EXTRACT_XZ_MEMLIMIT >> 10);
	if (rc == LZMA_FORMAT_ERROR)
		return error_set(err, "not an xz stream (the manifest says xz)");
	return error_set(err, "xz data is corrupt (liblzma error %d)", (int)rc);
}

/* The frame's extent and header first: exactly one frame, a window the
 * format allows; then one call, into the chunk. */
static int member_zstd(struct extract_member *d, const unsigned char *in, size_t len,
		       unsigned char *out, size_t cap, size_t *produced, struct error *err)
{
	ZSTD_frameHeader h;
	size_t n = ZSTD_getFrameHeader(&h, in, len);

	*produced = 0;
	if (ZSTD_isError(n) || ZSTD_isSkippableFrame(in, len) || h.frameType != ZSTD_frame)
		return error_set(err, "not a zstd frame (the manifest says zstd)");
	if (n > 0)
		return MEMBER_TRUNCATED;
	if (h.windowSize > (1ull << EXTRACT_ZSTD_WINDOW_LOG_MAX))
		return error_set(err, "the zstd frame's window is larger than "
				 "EXTRACT_ZSTD_WINDOW_LOG_MAX (2^%d bytes)",
				 EXTRACT_ZSTD_WINDOW_LOG_MAX);
	n = ZSTD_findFrameCompressedSize(in, len);
	if (ZSTD_isError(n))
		return ZSTD_getErrorCode(n) == ZSTD_error_srcSize_wrong ? MEMBER_TRUNCATED :
		       error_set(err, "%s (the manifest says zstd)", ZSTD_getErrorName(n));
	if (n != len)
		return MEMBER_TRAILING;
	n = ZSTD_decompressDCtx(d->zs, out, cap, in, len);
	if (ZSTD_isError(n))
		return ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall ? MEMBER_TOO_LONG :
		       error_set(err, "%s (the manifest says zstd)", ZSTD_getErrorName(n));
	*produced = n;
	return MEMBER_DONE;
}

int extract_member_decode(struct extract_member *d, const void *in, size_t len, void *out,
			  uint32_t chunk_size, size_t *produced, struct error *err)
{
	static const char *const names[] = { "", "gzip", "xz", "zstd" };
	int end;

	*produced = 0;
	/* one byte of room past the chunk: a member that fills it is too long */
	if (d->kind == SOURCE_GZIP)
		end = member_gzip(d, in, len, out, (size_t)chunk_size + 1, produced, err);
	else if (d->kind == SOURCE_XZ)
		end = member_xz(d, in, len, out, (size_t)chunk_size + 1, produced, err);
	else
		end = member_zstd(d, in, len, out, (size_t)chunk_size + 1, produced, err);
	if (end == MEMBER_DONE && *produced > chunk_size)
		end = MEMBER_TOO_LONG;
	if (end == MEMBER_DONE && *produced == 0)
		return error_set(err, "decodes to nothing");
	if (end < 0 || end == MEMBER_DONE)
		return end < 0 ? -1 : 0;
	return member_explain((enum member_end)end, names[d->kind], chunk_size, err);
}
