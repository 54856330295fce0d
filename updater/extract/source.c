/* source.c: the payload's bytes as libarchive reads them: decompressed with
 * the one filter the manifest declares, under a memory ceiling, and passed
 * through the tar gate (updater/extract/tar_gate.h) before libarchive sees them.
 *
 * Why not libarchive's own filters: in libarchive 3.6 the xz reader decodes
 * with no memory limit (a stream may ask for a 1.5 GiB dictionary) and the
 * zstd reader takes any window up to 128 MiB; neither has an option.  So
 * zlib, liblzma and libzstd are called here, each with its limit, and
 * libarchive is left with the tar format only.  Declared is enforced: a
 * plain tar declared gzip, or a gzip inside a gzip, is refused (the gate
 * sees no ustar header), and nothing may follow the compressed stream.
 * Memory: two 64 KiB buffers, the decoder's state under its ceiling, the
 * gate.  A format 2 payload comes decoded already (extract_pool.h): its
 * bytes only pass the gate here (SOURCE_INPUT), handed to libarchive where
 * they lie, without a copy. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd_errors.h>

#include "extract/extract.h"
#include "extract/extract_internal.h"

static int source_fail(struct extract_source *s, struct error *err)
{
	s->failed = 1;
	s->err = *err;
	return -1;
}

int extract_source_open(struct extract_source *s, int fd, const char *compression,
			struct error *err)
{
	memset(s, 0, sizeof *s);
	s->fd = fd;
	tar_gate_init(&s->gate, TAR_GATE_PAYLOAD, TAR_GATE_TRAILER_MAX);
	if (!compression || !strcmp(compression, "none")) {
		s->kind = SOURCE_NONE;
	} else if (!strcmp(compression, "gzip")) {
		s->kind = SOURCE_GZIP;
		if (inflateInit2(&s->z, 16 + MAX_WBITS) != Z_OK)	/* gzip wrapper only */
			return error_set(err, "payload: cannot set up gzip");
	} else if (!strcmp(compression, "xz")) {
		lzma_stream init = LZMA_STREAM_INIT;

		s->kind = SOURCE_XZ;
		s->x = init;
		/* no LZMA_CONCATENATED: one stream, nothing after it */
		if (lzma_stream_decoder(&s->x, EXTRACT_XZ_MEMLIMIT, 0) != LZMA_OK)
			return error_set(err, "payload: cannot set up xz");
	} else if (!strcmp(compression, "zstd")) {
		s->kind = SOURCE_ZSTD;
		s->zs = ZSTD_createDCtx();
		if (!s->zs || ZSTD_isError(ZSTD_DCtx_setParameter(s->zs, ZSTD_d_windowLogMax,
								   EXTRACT_ZSTD_WINDOW_LOG_MAX)))
			return error_set(err, "payload: cannot set up zstd");
	} else {
		return error_set(err, "payload: compression '%s' is not one of gzip, xz, zstd",
				 compression);
	}
	s->open = 1;
	return 0;
}

void extract_source_open_input(struct extract_source *s, extract_input_fn next, void *ctx)
{
	memset(s, 0, sizeof *s);
	s->fd = -1;
	tar_gate_init(&s->gate, TAR_GATE_PAYLOAD, TAR_GATE_TRAILER_MAX);
	s->kind = SOURCE_INPUT;
	s->input = next;
	s->input_ctx = ctx;
}

void extract_source_close(struct extract_source *s)
{
	if (!s->open)
		return;
	if (s->kind == SOURCE_GZIP)
		inflateEnd(&s->z);
	else if (s->kind == SOURCE_XZ)
		lzma_end(&s->x);
	else if (s->kind == SOURCE_ZSTD)
		ZSTD_freeDCtx(s->zs);
	s->open = 0;
}

/* Refills the input buffer; 0 at EOF. */
static int source_fill(struct extract_source *s, struct error *err)
{
	ssize_t n;

	if (s->in_pos < s->in_len || s->in_eof)
		return (int)(s->in_len - s->in_pos);
	do
		n = read(s->fd, s->in, sizeof s->in);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return error_errno(err, "payload: read");
	s->in_pos = 0;
	s->in_len = (size_t)n;
	s->in_eof = n == 0;
	return (int)n;
}

static int source_xz_error(struct extract_source *s, lzma_ret ret, struct error *err)
{
	if (ret == LZMA_MEMLIMIT_ERROR)
		return error_set(err, "payload: the xz stream needs %llu KiB to decode, more than "
				 "EXTRACT_XZ_MEMLIMIT (%u KiB)",
				 (unsigned long long)(lzma_memusage(&s->x) >> 10),
				 EXTRACT_XZ_MEMLIMIT >> 10);
	if (ret == LZMA_FORMAT_ERROR)
		return error_set(err, "payload: not an xz stream (the manifest says xz)");
	return error_set(err, "payload: xz data is corrupt (liblzma error %d)", (int)ret);
}

/* Decodes what is in the input buffer into out; sets *produced. */
static int source_decode(struct extract_source *s, size_t *produced, struct error *err)
{
	size_t avail = s->in_len - s->in_pos;

	if (s->kind == SOURCE_NONE) {
		*produced = avail < sizeof s->out ? avail : sizeof s->out;
		memcpy(s->out, s->in + s->in_pos, *produced);
		s->in_pos += *produced;
		return 0;
	}
	if (s->kind == SOURCE_GZIP) {
		int rc;

		s->z.next_in = s->in + s->in_pos;
		s->z.avail_in = (uInt)avail;
		s->z.next_out = s->out;
		s->z.avail_out = sizeof s->out;
		rc = inflate(&s->z, Z_NO_FLUSH);
		s->in_pos = s->in_len - s->z.avail_in;
		*produced = sizeof s->out - s->z.avail_out;
		if (rc == Z_STREAM_END)
			s->stream_end = 1;
		else if (rc != Z_OK && !(rc == Z_BUF_ERROR && *produced))
			return error_set(err, "payload: %s (the manifest says gzip)",
					 s->z.msg ? s->z.msg : "not a gzip stream");
		return 0;
	}
	if (s->kind == SOURCE_XZ) {
		lzma_ret rc;

		s->x.next_in = s->in + s->in_pos;
		s->x.avail_in = avail;
		s->x.next_out = s->out;
		s->x.avail_out = sizeof s->out;
		rc = lzma_code(&s->x, LZMA_RUN);
		s->in_pos = s->in_len - s->x.avail_in;
		*produced = sizeof s->out - s->x.avail_out;
		if (rc == LZMA_STREAM_END)
			s->stream_end = 1;
		else if (rc != LZMA_OK)
			return source_xz_error(s, rc, err);
		return 0;
	}
	ZSTD_inBuffer in = { s->in + s->in_pos, avail, 0 };
	ZSTD_outBuffer out = { s->out, sizeof s->out, 0 };
	size_t rc = ZSTD_decompressStream(s->zs, &out, &in);

	s->in_pos += in.pos;
	*produced = out.pos;
	if (ZSTD_isError(rc)) {
		if (ZSTD_getErrorCode(rc) == ZSTD_error_frameParameter_windowTooLarge)
			return error_set(err, "payload: the zstd frame's window is larger than "
					 "EXTRACT_ZSTD_WINDOW_LOG_MAX (2^%d bytes)",
					 EXTRACT_ZSTD_WINDOW_LOG_MAX);
		return error_set(err, "payload: %s (the manifest says zstd)", ZSTD_getErrorName(rc));
	}
	if (rc == 0)
		s->stream_end = 1;
	return 0;
}

/* Decoded bytes from the caller's input: the gate still sees all of them. */
static long source_next_input(struct extract_source *s, struct error *err)
{
	const void *data = NULL;
	long n;

	n = s->input(s->input_ctx, &data, err);
	if (n <= 0)
		return n;
	if (tar_gate_feed(&s->gate, data, (size_t)n, err) < 0) {
		error_prefix(err, "payload: ");
		return -1;
	}
	s->chunk = data;
	s->total += (uint64_t)n;
	return n;
}

/* The next decoded, gate-checked bytes: their count, 0 at the end. */
static long source_next(struct extract_source *s, struct error *err)
{
	size_t produced = 0;
	int n;

	if (s->kind == SOURCE_INPUT)
		return source_next_input(s, err);
	s->chunk = s->out;
	while (produced == 0) {
		n = source_fill(s, err);
		if (n < 0)
			return -1;
		if (s->stream_end) {
			if (n > 0)
				return error_set(err, "payload: data after the end of the %s stream",
						 s->kind == SOURCE_XZ ? "xz" : s->kind == SOURCE_ZSTD ?
						 "zstd" : "gzip");
			return 0;
		}
		if (n == 0) {
			if (s->kind != SOURCE_NONE)
				return error_set(err, "payload: the compressed stream is truncated");
			return 0;
		}
		if (source_decode(s, &produced, err) < 0)
			return -1;
	}
	if (tar_gate_feed(&s->gate, s->out, produced, err) < 0) {
		error_prefix(err, "payload: ");
		return -1;
	}
	s->total += produced;
	return (long)produced;
}

la_ssize_t extract_source_read(struct archive *a, void *context, const void **buf)
{
	struct extract_source *s = context;
	struct error err = { "" };
	long n;

	*buf = s->out;
	if (s->failed)
		return -1;
	n = source_next(s, &err);
	if (n < 0) {
		source_fail(s, &err);
		archive_set_error(a, EINVAL, "%s", err.text);
		return -1;
	}
	*buf = s->chunk;
	return n;
}

int extract_source_finish(struct extract_source *s, struct error *err)
{
	long n;

	if (s->failed) {
		*err = s->err;
		return -1;
	}
	while ((n = source_next(s, err)) > 0)
		;
	if (n < 0 || tar_gate_finish(&s->gate, err) < 0) {
		if (n == 0)
			error_prefix(err, "payload: ");
		return source_fail(s, err);
	}
	return 0;
}
