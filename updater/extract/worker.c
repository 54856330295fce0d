/* worker.c: see updater/extract/extract_worker.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "extract/extract_worker.h"
#include "sock.h"

/* Large enough that the feeder does not wait on the worker for every block. */
#define WORKER_BUFFER (1 << 20)

static void *extract_worker_main(void *arg)
{
	struct extract_worker *w = arg;
	char drain[65536];
	ssize_t n;

	if (w->pool) {
		w->rc = extract_stream_input(extract_pool_next, w->pool, w->slot_fd, &w->limits,
					     &w->stats, &w->err);
		extract_pool_cancel(w->pool);	/* a feeder still at it stops */
		return NULL;
	}
	w->rc = extract_stream(w->fd[0], w->slot_fd, &w->limits, &w->stats, &w->err);
	while (w->rc == 0 && ((n = read(w->fd[0], drain, sizeof drain)) > 0 ||
			      (n < 0 && errno == EINTR)))
		;
	shutdown(w->fd[0], SHUT_RDWR);
	return NULL;
}

int extract_worker_start(struct extract_worker *w, int slot_fd,
			 const struct extract_limits *limits, struct error *err)
{
	int size = WORKER_BUFFER;

	memset(w, 0, sizeof *w);
	w->fd[0] = w->fd[1] = -1;
	w->slot_fd = slot_fd;
	w->limits = *limits;
	/* the caller's string may not outlive this call: keep a copy */
	snprintf(w->compression, sizeof w->compression, "%s",
		 limits->compression ? limits->compression : "none");
	w->limits.compression = w->compression;
	if (limits->chunk_size) {
		w->pool = extract_pool_new(w->compression, limits->chunk_size, 0, err);
		if (!w->pool)
			return -1;
		if (limits->members_short)
			extract_pool_allow_short(w->pool);
	} else {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, w->fd) < 0)
			return error_errno(err, "extraction: socketpair");
		setsockopt(w->fd[1], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
		setsockopt(w->fd[0], SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
	}
	errno = pthread_create(&w->thread, NULL, extract_worker_main, w);
	if (errno) {
		error_errno(err, "extraction thread");
		extract_worker_finish(w, NULL);
		return -1;
	}
	w->running = 1;
	return 0;
}

int extract_worker_feed(struct extract_worker *w, const void *data, size_t len,
			struct error *err)
{
	if (w->pool) {
		if (extract_pool_submit(w->pool, data, len, err) < 0) {
			w->stopped = 1;
			return -1;
		}
		return 0;
	}
	if (sock_send_all(w->fd[1], data, len) < 0) {
		w->stopped = 1;
		return error_errno(err, "extraction stopped");
	}
	return 0;
}

int extract_worker_feed_plain(struct extract_worker *w, const void *data, size_t len,
			      struct error *err)
{
	if (!w->pool)
		return error_set(err, "extraction: plain chunks need a chunked payload");
	if (extract_pool_submit_plain(w->pool, data, len, err) < 0) {
		w->stopped = 1;
		return -1;
	}
	return 0;
}

int extract_worker_finish(struct extract_worker *w, struct error *err)
{
	int i;

	if (w->fd[1] >= 0)
		close(w->fd[1]);	/* end of input */
	w->fd[1] = -1;
	if (w->pool)
		extract_pool_close(w->pool);
	if (w->running) {
		pthread_join(w->thread, NULL);
		w->running = 0;
		if (w->rc < 0 && err)
			*err = w->err;
	}
	for (i = 0; i < 2; i++) {
		if (w->fd[i] >= 0)
			close(w->fd[i]);
		w->fd[i] = -1;
	}
	extract_pool_free(w->pool);
	w->pool = NULL;
	return w->rc;
}
