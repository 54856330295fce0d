/* slotd-httpcheck: the check of health = http, run by slotd as a child.
 *
 *   slotd-httpcheck [--timeout MS] URL
 *
 * One HTTP/1.0 GET of URL (include/http_url.h: http:// to an IP literal or
 * localhost) over TCP, the whole exchange bounded by --timeout milliseconds
 * (default 10000).  Exit 0 when the status line says 2xx, 1 for any other answer, no
 * answer, a refused connection or the timeout, 2 for a usage error.  It
 * prints one line on stdout saying what it saw ("HTTP 200 OK", "connection
 * refused", "no status line within 800 ms"), sanitised: slotd records it as
 * the reason of a failed trial.  Only the status line is read (at most 1 KiB);
 * the body is never looked at.  libc only, so slotd stays free of network code
 * in its own address space: the parsing of a peer's bytes happens here. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http_url.h"
#include "number.h"
#include "text.h"

#define STATUS_LINE_MAX 1024

struct check {
	struct http_url url;
	int fd;
	long long deadline;	/* monotonic ms */
	unsigned timeout_ms;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One line on stdout: what slotd records.  Returns the exit code. */
static int verdict(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int verdict(int code, const char *fmt, ...)
{
	char line[300], clean[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	printf("%s\n", text_sanitize(line, clean, sizeof clean));
	return code;
}

/* Waits for `events` on the socket until the deadline: 1 ready, 0 timed out. */
static int wait_fd(struct check *c, short events)
{
	struct pollfd p = { .fd = c->fd, .events = events };
	long long left;
	int n;

	for (;;) {
		left = c->deadline - now_ms();
		if (left <= 0)
			return 0;
		n = poll(&p, 1, (int)left);
		if (n > 0)
			return 1;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

static int connect_to(struct check *c)
{
	int error = 0;
	socklen_t len = sizeof error;

	c->fd = socket(c->url.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return verdict(1, "socket: %s", strerror(errno));
	if (connect(c->fd, (struct sockaddr *)&c->url.addr, c->url.addr_len) < 0 &&
	    errno != EINPROGRESS)
		return verdict(1, "connect to %s: %s", c->url.host, strerror(errno));
	if (wait_fd(c, POLLOUT) <= 0)
		return verdict(1, "no connection to %s within %u ms", c->url.host, c->timeout_ms);
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0 || error)
		return verdict(1, "connect to %s: %s", c->url.host, strerror(error ? error : errno));
	return 0;
}

static int send_request(struct check *c)
{
	char request[HTTP_URL_PATH_MAX + HTTP_URL_HOST_MAX + 128];
	size_t used = 0;
	ssize_t n;
	int len;

	len = snprintf(request, sizeof request,
		       "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: slotd-httpcheck\r\n"
		       "Connection: close\r\n\r\n", c->url.path, c->url.host);
	while (used < (size_t)len) {
		if (wait_fd(c, POLLOUT) <= 0)
			return verdict(1, "request not sent within %u ms", c->timeout_ms);
		n = send(c->fd, request + used, (size_t)len - used, MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return verdict(1, "send: %s", strerror(errno));
		if (n > 0)
			used += (size_t)n;
	}
	return 0;
}

/* "HTTP/1.x NNN reason": 0 for 2xx. */
static int judge_status_line(const char *line)
{
	int code = 0, skip = 0;

	if (sscanf(line, "HTTP/1.%*1[01] %3d%n", &code, &skip) != 1 || skip != 12 ||
	    (line[12] != ' ' && line[12] != '\0') || code < 100)
		return verdict(1, "not an HTTP status line: %.80s", line);
	return verdict(code / 100 == 2 ? 0 : 1, "HTTP %.100s", line + 9);
}

static int read_status(struct check *c)
{
	char line[STATUS_LINE_MAX + 1];
	size_t used = 0;
	char *end;
	ssize_t n;

	for (;;) {
		if (wait_fd(c, POLLIN) <= 0)
			return verdict(1, "no status line within %u ms", c->timeout_ms);
		n = recv(c->fd, line + used, STATUS_LINE_MAX - used, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0)
			return verdict(1, "recv: %s", strerror(errno));
		if (n == 0)
			return verdict(1, used ? "connection closed within the status line" :
						 "connection closed without an answer");
		used += (size_t)n;
		line[used] = '\0';
		end = strstr(line, "\r\n");
		if (end) {
			*end = '\0';
			return judge_status_line(line);
		}
		if (memchr(line, '\0', used) || used == STATUS_LINE_MAX)
			return verdict(1, "status line longer than %d bytes or not text",
				       STATUS_LINE_MAX);
	}
}

static void usage(FILE *out)
{
	fprintf(out, "usage: slotd-httpcheck [--timeout MS] http://IP[:PORT][/PATH]\n");
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct check c = { .fd = -1, .timeout_ms = 10000 };
	struct error err = { "" };
	unsigned long long ms;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "t:", options, NULL)) != -1) {
		switch (opt) {
		case 't':
			if (number_parse(optarg, 3600000, &ms) < 0 || ms == 0) {
				fprintf(stderr, "slotd-httpcheck: --timeout: not a number of "
					"milliseconds from 1 to 3600000\n");
				return 2;
			}
			c.timeout_ms = (unsigned)ms;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	if (http_url_parse(argv[optind], &c.url, &err) < 0) {
		fprintf(stderr, "slotd-httpcheck: %s\n", err.text);
		return 2;
	}
	c.deadline = now_ms() + c.timeout_ms;
	rc = connect_to(&c);
	if (rc == 0)
		rc = send_request(&c);
	if (rc == 0)
		rc = read_status(&c);
	if (c.fd >= 0)
		close(c.fd);
	return rc;
}
