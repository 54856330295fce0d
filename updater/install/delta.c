/* delta.c: a format 3 bundle from the running slot and ranges of the
 * bundle (see updater/install/install_delta.h). */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "atomic.h"
#include "bundle/bundle_delta.h"
#include "fetch/fetch_child.h"
#include "install/install_delta.h"
#include "sock.h"

#define DELTA_BUFFER (1 << 20)

static const struct {
	const char *name;
	uint64_t max;
} delta_members[] = {
	{ "manifest.ini", BUNDLE_MANIFEST_MAX },
	{ "manifest.sig", BUNDLE_SIGNATURE_MAX },
	{ "blocks.sha256", (uint64_t)BUNDLE_BLOCKS_MAX * BUNDLE_ENTRY_CHUNKED },
	{ "delta.index", BUNDLE_INDEX_MAX },
	{ "payload", BUNDLE_PAYLOAD_MAX },
};

struct delta {
	const struct config *config;
	const char *strategy, *location;
	const struct install_delta_io *io;
	struct install_delta_stats *stats;
	int cache_fd, head_fd, index_fd, tree_fd;
	int other_fd, stash_fd;		/* the slot to be overwritten, and what it gave */
	struct bundle_head head;
	struct bundle_plan plan;
	int sock[2];			/* ranges: [1] written by the fetch thread */
	pthread_t thread;
	int fetching, fetch_rc, starved;
	struct error fetch_err;
	struct fetch_range *ranges;
};

/* --- the head ---------------------------------------------------------- */

static int delta_to_fd(const void *data, size_t len, void *ctx, struct error *err)
{
	struct delta *d = ctx;

	if (atomic_write_all(d->head_fd, data, len) < 0)
		return error_errno(err, "delta: head: write");
	d->stats->fetched += len;
	return 0;
}

/* ranges of the bundle appended to the head file, in the confined child */
static int delta_fetch_head(struct delta *d, uint64_t from, uint64_t len, int open_end,
			    struct error *err)
{
	struct fetch_range range = { from, len };
	struct fetch_job job = {
		.config = d->config, .location = d->location, .sink = delta_to_fd, .ctx = d,
		.ranges = &range, .range_count = 1, .range_open_end = open_end,
	};

	return fetch_child_run(d->strategy, &job, err);
}

/* An octal ustar number field. */
static int delta_octal(const unsigned char *p, size_t n, uint64_t *v)
{
	*v = 0;
	for (size_t i = 0; i < n && p[i] && p[i] != ' '; i++) {
		if (p[i] < '0' || p[i] > '7' || *v >> 60)
			return -1;
		*v = *v * 8 + (uint64_t)(p[i] - '0');
	}
	return 0;
}

/* Walks the container's headers in the head file's first `have` bytes: 0
 * with *payload_offset once the payload's header is in, else 1 with *need,
 * how far the head must go for the next header.  Only sizes are read here,
 * each bounded by its member's maximum, to know what to ask for; the bytes
 * are verified by bundle_read_head(). */
static int delta_head_need(struct delta *d, uint64_t have, uint64_t *need,
			   uint64_t *payload_offset, struct error *err)
{
	unsigned char h[512];
	uint64_t off = 0, size;

	for (unsigned i = 0; i < 5; i++) {
		if (off + 512 > have) {
			*need = off + 512;
			return 1;
		}
		if (pread(d->head_fd, h, sizeof h, (off_t)off) != (ssize_t)sizeof h)
			return error_errno(err, "delta: head: read");
		/* formats 1 and 2 have no index: their payload is the 4th member */
		if (i == 3 && !strncmp((const char *)h, "payload", 100))
			i = 4;
		if (strncmp((const char *)h, delta_members[i].name, 100) ||
		    delta_octal(h + 124, 12, &size) < 0 || size > delta_members[i].max)
			return error_set(err, "delta: head: member %u is not %s of at most %llu "
					 "bytes", i + 1, delta_members[i].name,
					 (unsigned long long)delta_members[i].max);
		if (i == 4) {
			*payload_offset = off + 512;
			return 0;
		}
		off += 512 + (size + 511) / 512 * 512;
	}
	return 0;
}

/* The verified head: fetched in up to five rounds, then read as a bundle. */
static int delta_head(struct delta *d, const struct bundle_reader_options *trust,
		      struct error *err)
{
	uint64_t have, need = 0, payload_offset = 0;
	int rc;

	if (delta_fetch_head(d, 0, BUNDLE_DELTA_HEAD_GUESS, 1, err) < 0)
		return -1;
	for (;;) {
		have = d->stats->fetched;
		rc = delta_head_need(d, have, &need, &payload_offset, err);
		if (rc < 0)
			return -1;
		if (rc == 0)
			break;
		if (have < BUNDLE_DELTA_HEAD_GUESS)
			return error_set(err, "delta: head: the bundle ends after %llu bytes",
					 (unsigned long long)have);
		if (delta_fetch_head(d, have, need - have, 0, err) < 0)
			return -1;
	}
	if (lseek(d->head_fd, 0, SEEK_SET) < 0)
		return error_errno(err, "delta: head: seek");
	if (bundle_read_head(d->head_fd, trust, d->index_fd, &d->head, err) < 0)
		return -1;
	if (d->head.payload_offset != payload_offset)
		return error_set(err, "delta: head: the payload starts at %llu, not %llu",
				 (unsigned long long)d->head.payload_offset,
				 (unsigned long long)payload_offset);
	d->stats->format = d->head.manifest.format;
	return d->head.manifest.format == BUNDLE_FORMAT_DELTA ? 0 : 2;
}

/* --- the ranges, relayed by a thread ----------------------------------- */

static int delta_to_sock(const void *data, size_t len, void *ctx, struct error *err)
{
	struct delta *d = ctx;

	if (sock_send_all(d->sock[1], data, len) < 0)
		return error_errno(err, "delta: the installer stopped reading");
	d->stats->fetched += len;
	return 0;
}

static void *delta_fetch_main(void *arg)
{
	struct delta *d = arg;
	struct fetch_job job = {
		.config = d->config, .location = d->location, .sink = delta_to_sock, .ctx = d,
		.ranges = d->ranges, .range_count = d->plan.range_count,
	};

	d->fetch_rc = fetch_child_run(d->strategy, &job, &d->fetch_err);
	shutdown(d->sock[1], SHUT_WR);
	return NULL;
}

static int delta_fetch_start(struct delta *d, struct error *err)
{
	int size = DELTA_BUFFER;

	if (d->plan.range_count == 0)
		return 0;
	d->ranges = calloc(d->plan.range_count, sizeof *d->ranges);
	if (!d->ranges)
		return error_errno(err, "delta");
	for (size_t i = 0; i < d->plan.range_count; i++) {
		d->ranges[i].offset = d->plan.ranges[i].offset;
		d->ranges[i].len = d->plan.ranges[i].len;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, d->sock) < 0)
		return error_errno(err, "delta: socketpair");
	setsockopt(d->sock[1], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
	setsockopt(d->sock[0], SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
	errno = pthread_create(&d->thread, NULL, delta_fetch_main, d);
	if (errno)
		return error_errno(err, "delta: fetch thread");
	d->fetching = 1;
	return 0;
}

/* Exactly len bytes of the ranges; -1 if they stop early (the fetch
 * thread's error then explains it: delta_fetch_join). */
static int delta_recv(struct delta *d, unsigned char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		do
			n = recv(d->sock[0], buf, len, 0);
		while (n < 0 && errno == EINTR);
		if (n <= 0) {
			d->starved = 1;	/* the fetch thread's error explains it */
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Stops the fetch thread.  Its error explains the failure when the ranges
 * stopped coming (or all else went well); when this side stopped first (a
 * bad block), the fetch failed only because nobody read on. */
static int delta_fetch_join(struct delta *d, int rc, struct error *err)
{
	unsigned char extra;

	if (!d->fetching)
		return rc;
	if (rc == 0 && recv(d->sock[0], &extra, 1, 0) > 0)
		rc = error_set(err, "delta: more bytes than the ranges asked for");
	shutdown(d->sock[0], SHUT_RDWR);	/* unblocks a sending relay */
	pthread_join(d->thread, NULL);
	d->fetching = 0;
	if (d->fetch_rc < 0 && (rc == 0 || d->starved)) {
		*err = d->fetch_err;
		rc = -1;
	}
	return rc;
}

/* --- the blocks, in order ---------------------------------------------- */

static int delta_fetched_block(struct delta *d, uint32_t i, unsigned char *buf,
			       struct error *err)
{
	uint32_t len = bundle_head_block_len(&d->head, i);
	const unsigned char *want = d->head.hashes + (size_t)i * BUNDLE_ENTRY_CHUNKED + 4;
	unsigned char digest[32];

	if (delta_recv(d, buf, len) < 0)
		return error_set(err, "delta: the ranges ended before block %u", i);
	/* the reader's words: a tampered block reads the same on both paths */
	if (EVP_Digest(buf, len, digest, NULL, EVP_sha256(), NULL) != 1 ||
	    CRYPTO_memcmp(digest, want, 32) != 0)
		return error_set(err, "bundle: payload block %u of %u does not match its signed hash",
				 i, d->head.manifest.block_count);
	return d->io->member(buf, len, d->io->ctx, err);
}

/* A block the other slot gave at planning time, from the stash, in order:
 * hashed again (it is a file on disk) before it is handed on. */
static int delta_stashed_block(struct delta *d, uint32_t i, const struct bundle_index_block *b,
			       unsigned char *buf, struct error *err)
{
	unsigned char digest[32];
	size_t got = 0;
	ssize_t n;

	while (got < b->plain_len) {
		n = read(d->stash_fd, buf + got, b->plain_len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return error_set(err, "delta: stash: block %u is short", i);
		got += (size_t)n;
	}
	if (EVP_Digest(buf, b->plain_len, digest, NULL, EVP_sha256(), NULL) != 1 ||
	    CRYPTO_memcmp(digest, b->sha256, 32) != 0)
		return error_set(err, "delta: stash: block %u changed on disk", i);
	d->stats->reused += bundle_head_block_len(&d->head, i);
	return d->io->plain(buf, b->plain_len, d->io->ctx, err);
}

static int delta_blocks(struct delta *d, struct error *err)
{
	const struct bundle_manifest *m = &d->head.manifest;
	struct bundle_index_reader *r = malloc(sizeof *r);
	struct bundle_rebuild *rb = malloc(sizeof *rb);
	unsigned char *plain = malloc(m->chunk_size), *member = malloc(BUNDLE_BLOCK_MAX);
	struct bundle_index_block b;
	int match, rc = -1;

	if (!r || !rb || !plain || !member) {
		error_set(err, "delta: out of memory");
		goto out;
	}
	bundle_rebuild_init(rb, d->tree_fd, m->created);
	if (bundle_index_open(r, d->index_fd, m->index_size, m->block_count, m->chunk_size,
			      err) < 0)
		goto done;
	for (uint32_t i = 0; i < m->block_count; i++) {
		if (bundle_index_block(r, &b, err) < 0)
			goto done;
		if (bundle_plan_stashed(&d->plan, i)) {
			if (bundle_index_skip(r, err) < 0 || delta_stashed_block(d, i, &b, plain, err) < 0)
				goto done;
			continue;
		}
		if (!bundle_plan_reused(&d->plan, i)) {
			if (bundle_index_skip(r, err) < 0 || delta_fetched_block(d, i, member, err) < 0)
				goto done;
			continue;
		}
		if (bundle_rebuild_block(rb, r, &b, plain, &match, err) < 0)
			goto done;
		if (!match) {
			error_set(err, "delta: block %u changed in the running slot since the plan", i);
			goto done;
		}
		d->stats->reused += bundle_head_block_len(&d->head, i);
		if (d->io->plain(plain, b.plain_len, d->io->ctx, err) < 0)
			goto done;
	}
	rc = bundle_index_end(r, err);
done:
	bundle_rebuild_end(rb);
out:
	free(r);
	free(rb);
	free(plain);
	free(member);
	return rc;
}

/* --- the whole --------------------------------------------------------- */

static int delta_open(struct delta *d, const struct slots *slots, struct error *err)
{
	d->cache_fd = openat(slots->layout.root_fd, "cache",
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (d->cache_fd < 0)
		return error_errno(err, "delta: %s/cache", slots->layout.root);
	d->head_fd = openat(d->cache_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	d->index_fd = openat(d->cache_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (d->head_fd < 0 || d->index_fd < 0)
		return error_errno(err, "delta: %s/cache: temporary file", slots->layout.root);
	d->stash_fd = openat(d->cache_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (d->stash_fd < 0)
		return error_errno(err, "delta: %s/cache: temporary file", slots->layout.root);
	d->tree_fd = layout_open_slot_dir(&slots->layout, slots->current, err);
	if (d->tree_fd < 0)
		return -1;
	/* the slot about to be overwritten: whatever of it hashes right is
	 * worth its bytes; its absence only costs them */
	struct error ignored;
	d->other_fd = layout_open_slot_dir(&slots->layout, layout_other_slot(slots->current),
					   &ignored);
	return 0;
}

static void delta_close(struct delta *d)
{
	int *fds[] = { &d->cache_fd, &d->head_fd, &d->index_fd, &d->tree_fd, &d->other_fd,
		       &d->stash_fd, &d->sock[0], &d->sock[1] };

	for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
		if (*fds[i] >= 0)
			close(*fds[i]);
	bundle_head_free(&d->head);
	bundle_plan_free(&d->plan);
	free(d->ranges);
}

static int delta_run(struct delta *d, const struct slots *slots,
		     const struct bundle_reader_options *trust, struct error *err)
{
	int rc;

	if (!slots_bootable(slots))
		return error_set(err, "delta: no running slot to build from");
	if (delta_open(d, slots, err) < 0)
		return -1;
	rc = delta_head(d, trust, err);
	if (rc != 0)
		return rc;
	rc = d->io->check(&d->head.manifest, d->io->ctx, err);
	if (rc != 0)
		return rc < 0 ? 3 : rc;	/* refused: a whole download would be too */
	if (bundle_plan_make(&d->head, d->index_fd, d->tree_fd, d->other_fd, d->stash_fd, &d->plan,
			     err) < 0 || lseek(d->stash_fd, 0, SEEK_SET) < 0)
		return -1;
	d->stats->blocks = d->plan.blocks;
	d->stats->blocks_reused = d->plan.reused + d->plan.stashed;
	d->stats->blocks_stashed = d->plan.stashed;
	d->stats->ranges = d->plan.range_count;
	if (d->io->begin(&d->head.manifest, d->io->ctx, err) < 0 || delta_fetch_start(d, err) < 0)
		return -1;
	rc = delta_blocks(d, err);
	return delta_fetch_join(d, rc, err);
}

int install_delta(const struct config *config, const char *strategy, const char *location,
		  const struct slots *slots, const struct bundle_reader_options *trust,
		  const struct install_delta_io *io, struct install_delta_stats *stats,
		  struct error *err)
{
	struct delta d = { .config = config, .strategy = strategy, .location = location,
			   .io = io, .stats = stats, .cache_fd = -1, .head_fd = -1,
			   .index_fd = -1, .tree_fd = -1, .other_fd = -1, .stash_fd = -1,
			   .sock = { -1, -1 } };
	int rc;

	memset(stats, 0, sizeof *stats);
	rc = delta_run(&d, slots, trust, err);
	rc = delta_fetch_join(&d, rc, err);
	delta_close(&d);
	return rc;
}
