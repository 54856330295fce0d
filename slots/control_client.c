/* control_client.c: one request, one reply line (see include/control.h).
 * The transport only: the lines are formatted and parsed by control_proto.c
 * and control_status.c. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "sock.h"

static long long control_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads up to the first newline, waiting at most until deadline (0 = forever).
 * Returns the line's length, newline stripped (NUL bytes in it included). */
static int control_read_line(int fd, char *reply, size_t len, long long deadline,
			     const char *path, struct error *err)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t used = 0;
	char *newline = NULL;
	ssize_t n;
	int timeout, ready;

	while (used + 1 < len && !newline) {
		timeout = deadline ? (int)(deadline - control_now_ms()) : -1;
		if (deadline && timeout <= 0)
			return error_set(err, "%s: no reply in time", path);
		ready = poll(&pfd, 1, timeout);
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready < 0)
			return error_errno(err, "%s: poll", path);
		if (ready == 0)
			continue;
		n = read(fd, reply + used, len - 1 - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return error_errno(err, "%s: read", path);
		if (n == 0)
			break;
		newline = memchr(reply + used, '\n', (size_t)n);
		used += (size_t)n;
	}
	if (used == 0)
		return error_set(err, "%s: slotd closed the connection without a reply", path);
	if (newline)
		used = (size_t)(newline - reply);
	reply[used] = '\0';
	return (int)used;
}

int control_exchange(const char *socket_path, const char *request, char *reply, size_t reply_len,
		     unsigned timeout_ms, struct error *err)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char line[CONTROL_LINE_MAX];
	long long deadline = timeout_ms ? control_now_ms() + timeout_ms : 0;
	int fd, n, rc = -1;

	if (strlen(socket_path) >= sizeof addr.sun_path)
		return error_set(err, "%s: socket path too long", socket_path);
	strcpy(addr.sun_path, socket_path);
	n = snprintf(line, sizeof line, "%s\n", request);
	if (n < 0 || (size_t)n >= sizeof line || strchr(request, '\n'))
		return error_set(err, "control request too long or multi-line");
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return error_errno(err, "%s: socket", socket_path);
	if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
		error_errno(err, "cannot reach slotd at %s", socket_path);
		goto out;
	}
	/* slotd may answer (a refusal) and close before reading our request:
	 * then sending fails, but its reply is waiting for us to read. */
	if (sock_send_all(fd, line, (size_t)n) < 0 && errno != EPIPE && errno != ECONNRESET) {
		error_errno(err, "%s: send", socket_path);
		goto out;
	}
	rc = control_read_line(fd, reply, reply_len, deadline, socket_path, err);
out:
	close(fd);
	return rc;
}

int control_call(const char *socket_path, const struct control_request *request,
		 struct control_reply *reply, unsigned timeout_ms, struct error *err)
{
	char words[32], line[CONTROL_LINE_MAX + 1];	/* +1: an over-long reply shows */
	int len;

	if (control_request_format(request, words, sizeof words, err) < 0)
		return -1;
	len = control_exchange(socket_path, words, line, sizeof line, timeout_ms, err);
	if (len < 0)
		return -1;
	if (control_reply_parse(line, (size_t)len, reply, err) < 0)
		return error_prefix(err, "slotd's answer to '%s': ", words);
	return 0;
}

int control_call_status(const char *socket_path, struct control_status *status,
			struct control_reply *reply, unsigned timeout_ms, struct error *err)
{
	char line[CONTROL_LINE_MAX + 1];
	int len;

	len = control_exchange(socket_path, "status", line, sizeof line, timeout_ms, err);
	if (len < 0)
		return -1;
	if (control_status_parse(line, (size_t)len, status, reply, err) < 0)
		return error_prefix(err, "slotd's answer to 'status': ");
	return 0;
}
