/* extract.c: a verified bundle unpacked into a directory, as on a guest: the
 * payload handed block by block to the hardened extractor on a second
 * thread (`slotpack extract`, and `slotpack diff`'s old tree). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "extract/extract_worker.h"
#include "slotpack.h"

struct extraction {
	struct extract_worker worker;
	int slot_fd, started;
};

/* The worker starts once the manifest verified: it decodes what it declares. */
static int extraction_start(const struct bundle_manifest *m, void *ctx, struct error *err)
{
	struct extraction *x = ctx;
	struct extract_limits limits = {
		.max_bytes = UINT64_MAX, .max_entries = UINT64_MAX, .compression = m->compression,
		.chunk_size = m->format != BUNDLE_FORMAT_BLOCKS ? m->chunk_size : 0,
		.members_short = m->format == BUNDLE_FORMAT_DELTA,
	};

	if (extract_worker_start(&x->worker, x->slot_fd, &limits, err) < 0)
		return -1;
	x->started = 1;
	return 0;
}

static int extraction_feed(const void *data, size_t len, void *ctx, struct error *err)
{
	struct extraction *x = ctx;

	return extract_worker_feed(&x->worker, data, len, err);
}

/* The verified payload of `bundle` unpacked into dir_fd by the hardened
 * extractor on a second thread, as on a guest; errors printed. */
int slotpack_extract_into(const char *bundle, const struct bundle_reader_options *o, int dir_fd)
{
	struct extraction x = { .slot_fd = dir_fd };
	struct error err = { "" }, unpack_err = { "" };
	int fd, read_rc, unpack_rc = 0;

	fd = open(bundle, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "slotpack: %s: %s\n", bundle, strerror(errno));
		return -1;
	}
	read_rc = bundle_read(fd, o, extraction_start, extraction_feed, &x, &err);
	if (x.started)
		unpack_rc = extract_worker_finish(&x.worker, &unpack_err);
	if (unpack_rc < 0 && (read_rc == 0 || x.worker.stopped))
		fprintf(stderr, "slotpack: %s: unpack: %s\n", bundle, unpack_err.text);
	else if (read_rc < 0)
		fprintf(stderr, "slotpack: %s: %s\n", bundle, err.text);
	close(fd);
	return read_rc < 0 || unpack_rc < 0 ? -1 : 0;
}

