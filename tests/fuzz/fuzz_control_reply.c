/* fuzz_control_reply.c: control_request() reading a hostile reply line.
 *
 * The slotctl/slotupd side of the control protocol (include/control.h): a
 * thread plays slotd on a unix socket in a temporary directory, reads the
 * request line and answers with the input bytes, then closes.  The first
 * input byte picks the caller's reply buffer size (1 to 256 bytes, or
 * CONTROL_LINE_MAX).  Oracle beyond the sanitizers: a reply is exactly the
 * bytes before the first newline (or NUL), cut to fit the buffer. */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "sock.h"
#include "support_fuzz.h"

static char fuzz_socket[4096 + 16];
static pthread_mutex_t fuzz_lock = PTHREAD_MUTEX_INITIALIZER;
static const uint8_t *fuzz_reply;	/* the current input's reply, under fuzz_lock */
static size_t fuzz_reply_len;
static sem_t fuzz_done;			/* posted when a connection is over */

/* Reads the request line, so closing does not reset the connection. */
static void fuzz_read_request(int fd)
{
	char line[CONTROL_LINE_MAX];
	size_t used = 0;
	ssize_t n;

	while (used < sizeof line && (n = read(fd, line + used, sizeof line - used)) > 0) {
		used += (size_t)n;
		if (memchr(line, '\n', used))
			return;
	}
}

static void *fuzz_slotd(void *arg)
{
	int listener = *(int *)arg, fd;

	for (;;) {
		fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR)
				continue;
			fuzz_fail("accept: %s", strerror(errno));
		}
		fuzz_read_request(fd);
		pthread_mutex_lock(&fuzz_lock);
		/* the client stops reading once its buffer is full */
		if (fuzz_reply_len && sock_send_all(fd, fuzz_reply, fuzz_reply_len) < 0 &&
		    errno != EPIPE && errno != ECONNRESET)
			fuzz_fail("send: %s", strerror(errno));
		pthread_mutex_unlock(&fuzz_lock);
		close(fd);
		sem_post(&fuzz_done);
	}
	return NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static int listener;
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char dir[4096];
	pthread_t thread;

	(void)argc;
	(void)argv;
	fuzz_tmpdir(dir, sizeof dir);
	snprintf(fuzz_socket, sizeof fuzz_socket, "%s/control.sock", dir);
	if (strlen(fuzz_socket) >= sizeof addr.sun_path)
		fuzz_fail("%s: path too long for a socket", fuzz_socket);
	strcpy(addr.sun_path, fuzz_socket);
	listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0 ||
	    listen(listener, 8) < 0)
		fuzz_fail("%s: %s", fuzz_socket, strerror(errno));
	if (sem_init(&fuzz_done, 0, 0) < 0)
		fuzz_fail("sem_init: %s", strerror(errno));
	if (pthread_create(&thread, NULL, fuzz_slotd, &listener) != 0)
		fuzz_fail("pthread_create failed");
	pthread_detach(thread);
	return 0;
}

/* What the caller must see: the first line, up to a NUL, cut to fit. */
static size_t fuzz_expected(const uint8_t *reply, size_t len, size_t reply_size)
{
	size_t n = 0;

	while (n < len && n + 1 < reply_size && reply[n] != '\n')
		n++;
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char reply[CONTROL_LINE_MAX];
	struct error err = { "" };
	size_t reply_size, expect;
	int rc;

	if (size < 1 || size > 2 * CONTROL_LINE_MAX)
		return -1;
	reply_size = data[0] == 0xff ? sizeof reply : (size_t)data[0] + 1;
	pthread_mutex_lock(&fuzz_lock);
	fuzz_reply = data + 1;
	fuzz_reply_len = size - 1;
	pthread_mutex_unlock(&fuzz_lock);
	memset(reply, 0x55, sizeof reply);
	rc = control_exchange(fuzz_socket, "status", reply, reply_size, 10000, &err);
	/* the input must outlive the server's send: it may still be sending */
	while (sem_wait(&fuzz_done) < 0)
		if (errno != EINTR)
			fuzz_fail("sem_wait: %s", strerror(errno));
	fuzz_check_terminated(err.text, sizeof err.text, "error text");
	if (rc < 0 && size > 1 && reply_size > 1)
		fuzz_fail("no reply read: %s", err.text);
	if (rc < 0)
		return 0;
	if (!memchr(reply, '\0', reply_size))
		fuzz_fail("reply not terminated within its %zu bytes", reply_size);
	expect = fuzz_expected(data + 1, size - 1, reply_size);
	if ((size_t)rc != expect || memcmp(reply, data + 1, expect) != 0)
		fuzz_fail("reply '%s' is not the first %zu bytes sent", reply, expect);
	/* What a client makes of it: the parsers take any bytes. */
	{
		struct control_reply parsed;
		struct control_status status;

		control_reply_parse(reply, (size_t)rc, &parsed, &err);
		control_status_parse(reply, (size_t)rc, &status, &parsed, &err);
	}
	return 0;
}
