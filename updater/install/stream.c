/* stream.c: fetch -> verify -> extract on three threads (see
 * updater/install/install_stream.h); the download itself runs in a confined
 * child process (updater/fetch/fetch_child.h). */
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fetch/fetch_child.h"
#include "extract/extract_worker.h"
#include "install/install_delta.h"
#include "install/install_stream.h"
#include "log.h"
#include "sock.h"
#include "version.h"

/* Socket buffers between the stages: large enough that no stage waits on
 * the next for every block. */
#define STREAM_BUFFER (1 << 20)

/* One stage boundary: a socketpair, [0] read by the next stage. */
struct pipe_pair {
	int fd[2];
};

struct stream {
	const struct config *config;
	struct slots *slots;
	int slot;
	const char *strategy, *location;
	const struct install_stream_checks *checks;
	const struct install_progress *progress;
	struct install_stream_result *result;
	EVP_MD_CTX *sha256;
	struct pipe_pair download;
	struct extract_worker worker;
	int slot_fd;
	int began;			/* slots_begin_install succeeded: slot must end clean */
	int fetching, extracting;	/* threads running */
	pthread_t fetch_thread;
	int fetch_rc, fetch_stopped;
	struct error fetch_err;
};

static void stream_step(struct stream *st, enum history_state state, const char *detail)
{
	if (st->progress && st->progress->step)
		st->progress->step(st->progress->context, state, detail);
}

static int stream_pair(struct pipe_pair *p, struct error *err)
{
	int size = STREAM_BUFFER;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p->fd) < 0)
		return error_errno(err, "socketpair");
	setsockopt(p->fd[1], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
	setsockopt(p->fd[0], SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
	return 0;
}

static void stream_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* A failed send means the next stage quit: say which, keep errno. */
static int stream_send(int fd, const void *data, size_t len, const char *who, struct error *err)
{
	if (sock_send_all(fd, data, len) < 0)
		return error_errno(err, "%s stopped", who);
	return 0;
}

/* --- fetch thread: relays what the confined fetch process downloads --- */

static int stream_fetch_sink(const void *data, size_t len, void *context, struct error *err)
{
	struct stream *st = context;

	if (EVP_DigestUpdate(st->sha256, data, len) != 1)
		return error_set(err, "sha256 update failed");
	if (stream_send(st->download.fd[1], data, len, "verification", err) < 0) {
		st->fetch_stopped = 1;
		return -1;
	}
	st->result->bundle_bytes += len;
	st->result->fetched_bytes += len;
	return 0;
}

static void stream_fetch_progress(void *context, unsigned long long done, unsigned long long total)
{
	struct stream *st = context;

	if (st->progress && st->progress->bytes)
		st->progress->bytes(st->progress->context, done, total);
}

static void *stream_fetch_main(void *arg)
{
	struct stream *st = arg;
	struct fetch_job job = {
		.config = st->config, .location = st->location,
		.file_beneath = st->checks->file_beneath, .sink = stream_fetch_sink,
		.ctx = st, .progress = stream_fetch_progress,
		.instance_version = st->checks->expected_version,
		.sha256 = st->checks->expected_sha256, .metadata = st->checks->metadata,
	};

	st->fetch_rc = fetch_child_run(st->strategy, &job, &st->fetch_err);
	shutdown(st->download.fd[1], SHUT_WR);	/* end of file for the verifier */
	return NULL;
}

/* --- verifier callbacks, on the calling thread --- */

/* 0 for a manifest to install, -1 for one that must not be installed here,
 * 1 for the running slot's own bundle (nothing to do). */
static int stream_check_manifest(struct stream *st, const struct bundle_manifest *m,
				 struct error *err)
{
	const struct install_stream_checks *c = st->checks;
	int order;

	if (!st->config->slots.compatible[0])
		return error_set(err, "[slots] compatible is not configured: refusing every bundle");
	if (strcmp(m->compatible, st->config->slots.compatible) != 0)
		return error_set(err, "bundle is for '%s', this guest is '%s' (compatible)",
				 m->compatible, st->config->slots.compatible);
	if (c->expected_version && c->expected_version[0] &&
	    strcmp(c->expected_version, m->version) != 0)
		return error_set(err, "bundle holds version %s, the request asked for version %s",
				 m->version, c->expected_version);
	if (c->running_digest[0] && strcmp(c->running_digest, m->digest) == 0)
		return 1;
	if (c->running_version[0]) {
		if (version_compare_text(m->version, c->running_version, &order, err) < 0)
			return -1;
		if (order < 0 && !c->allow_downgrade)
			return error_set(err, "downgrade from %s to %s refused (anti-rollback; "
					 "an admin rollback may allow it)", c->running_version,
					 m->version);
	}
	return 0;
}

/* The checks, and their result kept: 0 install, 1 identical, -1 refused. */
static int stream_checked(const struct bundle_manifest *m, void *context, struct error *err)
{
	struct stream *st = context;
	int rc = stream_check_manifest(st, m, err);

	if (rc < 0)
		return -1;
	st->result->manifest = *m;
	st->result->manifest_ok = 1;
	if (rc > 0)
		st->result->outcome = INSTALL_STREAM_IDENTICAL;
	return rc;
}

/* Only now, with a manifest that passed every check, is the slot touched. */
static int stream_begin(const struct bundle_manifest *m, void *context, struct error *err)
{
	struct stream *st = context;
	struct extract_limits limits = {
		.max_bytes = st->config->updater.max_bytes,
		.max_entries = st->config->updater.max_entries,
		.allow_setuid = st->config->updater.allow_setuid,
		.compression = m->compression,
		.chunk_size = m->format != BUNDLE_FORMAT_BLOCKS ? m->chunk_size : 0,
		.members_short = m->format == BUNDLE_FORMAT_DELTA,
	};
	char detail[512];

	snprintf(detail, sizeof detail, "version %s signed by %s, %u blocks", m->version,
		 m->signer, m->block_count);
	stream_step(st, HISTORY_VERIFYING, detail);
	if (slots_begin_install(st->slots, st->slot, err) < 0)
		return -1;
	st->began = 1;
	st->slot_fd = layout_open_slot_dir(&st->slots->layout, st->slot, err);
	if (st->slot_fd < 0 || extract_clear(st->slot_fd, err) < 0 ||
	    extract_worker_start(&st->worker, st->slot_fd, &limits, err) < 0)
		return -1;
	st->extracting = 1;
	return 0;
}

static int stream_on_manifest(const struct bundle_manifest *m, void *context, struct error *err)
{
	int rc = stream_checked(m, context, err);

	if (rc != 0)
		return rc;	/* refused, or bundle_read stops here: the rest is not needed */
	return stream_begin(m, context, err);
}

static int stream_on_plain(const void *data, size_t len, void *context, struct error *err)
{
	struct stream *st = context;

	return extract_worker_feed_plain(&st->worker, data, len, err);
}

static int stream_on_payload(const void *data, size_t len, void *context, struct error *err)
{
	struct stream *st = context;

	return extract_worker_feed(&st->worker, data, len, err);
}

/* The bundle file's SHA-256 against the request's metadata, if it gave one. */
static int stream_check_file_digest(struct stream *st, struct error *err)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	unsigned len;

	if (!st->checks->expected_sha256 || !st->checks->expected_sha256[0])
		return 0;
	if (EVP_DigestFinal_ex(st->sha256, digest, &len) != 1)
		return error_set(err, "sha256 final failed");
	bundle_hex(digest, len, hex);
	if (strcasecmp(hex, st->checks->expected_sha256) != 0)
		return error_set(err, "bundle sha256 %s does not match the request's %s", hex,
				 st->checks->expected_sha256);
	return 0;
}

/* Stops both threads and keeps the error that explains the failure.  rc 1:
 * the verifier stopped reading on purpose, so the fetch's end is no error. */
static int stream_join(struct stream *st, int rc, struct error *err)
{
	if (st->fetching) {
		shutdown(st->download.fd[0], SHUT_RDWR);	/* unblocks a sending fetcher */
		pthread_join(st->fetch_thread, NULL);
		st->fetching = 0;
		if (st->fetch_rc < 0 && !st->fetch_stopped && rc != 1) {
			*err = st->fetch_err;
			rc = -1;
		}
	}
	if (st->extracting) {
		struct error worker_err = { "" };
		int worker_rc = extract_worker_finish(&st->worker, &worker_err);

		st->extracting = 0;
		st->result->stats = st->worker.stats;
		/* The extractor's error explains the failure only if it quit on its
		 * own; if the verifier stopped feeding it, the verifier's does. */
		if (worker_rc < 0 && (rc == 0 || st->worker.stopped)) {
			*err = worker_err;
			error_prefix(err, "unpack: ");
			rc = -1;
		}
	}
	return rc;
}

static void stream_discard(struct stream *st, struct error *err);

/* A delta update is tried for http and swift when a slot runs and the
 * request pins no whole-file SHA-256, which a delta never sees (D30). */
static int stream_delta_eligible(const struct stream *st)
{
	return (!strcmp(st->strategy, "http") || !strcmp(st->strategy, "swift")) &&
	       slots_bootable(st->slots) && st->config->updater.delta &&
	       !(st->checks->expected_sha256 && st->checks->expected_sha256[0]);
}

/* install_delta(): 0 or 1 as stream_run; 3 when the verified manifest was
 * refused (in err); -1 when it did not work out, said in one log line, with
 * everything it touched undone (the slot cleared and empty), so the whole
 * bundle can be fetched next. */
static int stream_delta(struct stream *st, const struct bundle_reader_options *options,
			struct error *err)
{
	struct install_delta_io io = { stream_checked, stream_begin, stream_on_payload,
				       stream_on_plain, st };
	struct install_delta_stats stats;
	struct error why = { "" };
	int rc;

	rc = install_delta(st->config, st->strategy, st->location, st->slots, options, &io,
			   &stats, &why);
	st->result->fetched_bytes += stats.fetched;
	if (rc == 3) {
		*err = why;
		return 3;
	}
	if (rc == 0 || rc == 1) {
		st->result->reused_bytes = stats.reused;
		st->result->delta = 1;
		log_info("delta: %u of %u blocks from the running slot and %u from the other "
			 "(%llu bytes), %llu bytes fetched in %zu ranges",
			 stats.blocks_reused - stats.blocks_stashed, stats.blocks,
			 stats.blocks_stashed, stats.reused, stats.fetched, stats.ranges);
		return rc;
	}
	if (rc == 2)
		log_info("delta: a bundle of format %u: downloading it whole", stats.format);
	else
		log_warn("%s%s; downloading the whole bundle",
			 strncmp(why.text, "delta: ", 7) ? "delta: " : "", why.text);
	if (st->extracting) {
		extract_worker_finish(&st->worker, NULL);
		st->extracting = 0;
	}
	if (st->began) {
		stream_discard(st, &why);
		st->began = 0;
	}
	stream_close(&st->slot_fd);
	st->result->manifest_ok = 0;
	st->result->outcome = INSTALL_STREAM_INSTALLED;
	return -1;
}

/* 0: the bundle was read and verified whole; 1: it is the running slot's,
 * read up to its manifest only; -1: refused or failed. */
static int stream_run(struct stream *st, struct error *err)
{
	struct bundle_reader_options options = {
		.keyring_path = st->config->updater.keyring,
		.crl_path = st->config->updater.crl,
		.allowed_signers = st->config->updater.allowed_signers,
		.max_age_ms = st->config->updater.max_bundle_age_ms,
		.decrypt_key_path = st->config->updater.decrypt_key[0] ?
				    st->config->updater.decrypt_key : NULL,
	};
	char shown[HISTORY_LOCATION_MAX];
	int rc;

	if (!options.keyring_path[0])
		return error_set(err, "[updater] keyring is not configured: cannot verify bundles");
	if (stream_pair(&st->download, err) < 0)
		return -1;
	/* The step's text reaches logs and the conductor: never a URL's credentials. */
	snprintf(shown, sizeof shown, "%s", st->location);
	history_redact_location(shown, sizeof shown);
	stream_step(st, HISTORY_DOWNLOADING, shown);
	if (stream_delta_eligible(st)) {
		rc = stream_delta(st, &options, err);
		if (rc == 3)
			return -1;	/* refused as the whole bundle would be */
		if (rc >= 0)
			return rc;
	}
	errno = pthread_create(&st->fetch_thread, NULL, stream_fetch_main, st);
	if (errno)
		return error_errno(err, "fetch thread");
	st->fetching = 1;
	rc = bundle_read(st->download.fd[0], &options, stream_on_manifest, stream_on_payload, st,
			 err);
	rc = stream_join(st, rc, err);
	if (rc == 0)
		rc = stream_check_file_digest(st, err);
	return rc;
}

/* Leaves no half-written tree marked as anything but empty.  A failure here
 * is appended to the original error; the next run's recovery retries. */
static void stream_discard(struct stream *st, struct error *err)
{
	struct error cleanup_err = { "" };
	size_t used;

	if ((st->slot_fd >= 0 && extract_clear(st->slot_fd, &cleanup_err) < 0) ||
	    slots_abort_install(st->slots, st->slot, &cleanup_err) < 0) {
		used = strlen(err->text);
		snprintf(err->text + used, sizeof err->text - used, "; cleanup failed: %s",
			 cleanup_err.text);
	}
}

int install_stream(const struct config *config, const char *strategy, const char *location,
		   struct slots *slots, int slot, const struct install_stream_checks *checks,
		   const struct install_progress *progress, struct install_stream_result *result,
		   struct error *err)
{
	struct stream st = {
		.config = config, .slots = slots, .slot = slot, .strategy = strategy,
		.location = location, .checks = checks, .progress = progress, .result = result,
		.download = { { -1, -1 } }, .slot_fd = -1,
	};
	int rc = -1;

	memset(result, 0, sizeof *result);
	st.sha256 = EVP_MD_CTX_new();
	if (!st.sha256 || EVP_DigestInit_ex(st.sha256, EVP_sha256(), NULL) != 1) {
		error_set(err, "sha256 init failed");
		goto out;
	}
	rc = stream_run(&st, err);
	if (rc > 0) {
		rc = 0;		/* identical: result->outcome says so */
	} else if (rc == 0 && !st.began) {
		rc = error_set(err, "bundle ended before its payload");
	} else if (rc == 0) {
		stream_step(&st, HISTORY_INSTALLING, "syncing the slot");
		rc = extract_sync(st.slot_fd, err);
		if (rc == 0)
			rc = slots_finish_install(slots, slot, result->manifest.version,
						  result->manifest.digest, err);
	}
	if (rc < 0 && st.began)
		stream_discard(&st, err);
out:
	rc = stream_join(&st, rc, err);
	stream_close(&st.slot_fd);
	stream_close(&st.download.fd[0]);
	stream_close(&st.download.fd[1]);
	EVP_MD_CTX_free(st.sha256);
	return rc;
}
