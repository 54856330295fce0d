/* test_control.c: control_exchange and control_call against a scripted fake slotd (a forked
 * child on a real unix socket): the reply line, refusals sent before the
 * request is read, silent closes, deadlines and requests refused locally. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "control.h"
#include "support.h"

enum fake_script {
	FAKE_ECHO,		/* read the request line, reply "ok got <line>" */
	FAKE_REFUSE_FIRST,	/* reply and close before reading anything */
	FAKE_CLOSE_SILENT,	/* read the request, close without a reply */
	FAKE_HANG,		/* read the request, never answer; wait for the client to go */
	FAKE_LONG_REPLY,	/* a reply longer than the client's buffer */
};

struct fake {
	char root[256];
	char path[300];
	pid_t pid;
};

/* Reads one request line (up to '\n' or EOF) into buf. */
static size_t fake_read_line(int fd, char *buf, size_t len)
{
	size_t used = 0;
	ssize_t n;

	while (used + 1 < len) {
		n = read(fd, buf + used, 1);
		if (n <= 0 || buf[used] == '\n')
			break;
		used++;
	}
	buf[used] = '\0';
	return used;
}

static void fake_serve(int listen_fd, enum fake_script script)
{
	char line[CONTROL_LINE_MAX], reply[CONTROL_LINE_MAX + 64];
	int fd = accept(listen_fd, NULL, NULL);

	if (fd < 0)
		_exit(1);
	switch (script) {
	case FAKE_ECHO:
		fake_read_line(fd, line, sizeof line);
		snprintf(reply, sizeof reply, "ok got %s\n", line);
		if (write(fd, reply, strlen(reply)) < 0)
			_exit(1);
		break;
	case FAKE_REFUSE_FIRST:
		snprintf(reply, sizeof reply, "error refused uid 65534 is not allowed\n");
		if (write(fd, reply, strlen(reply)) < 0)
			_exit(1);
		break;
	case FAKE_CLOSE_SILENT:
		fake_read_line(fd, line, sizeof line);
		break;
	case FAKE_HANG:
		fake_read_line(fd, line, sizeof line);
		fake_read_line(fd, line, sizeof line);	/* returns at the client's close */
		break;
	case FAKE_LONG_REPLY:
		fake_read_line(fd, line, sizeof line);
		memset(reply, 'x', 100);
		memcpy(reply, "ok ", 3);
		reply[100] = '\n';
		if (write(fd, reply, 101) < 0)
			_exit(1);
		break;
	}
	close(fd);
	_exit(0);
}

/* Binds and listens in the parent, so the client can connect as soon as
 * this returns; the child serves exactly one connection. */
static void fake_start(struct fake *fake, enum fake_script script)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	support_tmpdir(fake->root, sizeof fake->root);
	snprintf(fake->path, sizeof fake->path, "%s/control.sock", fake->root);
	assert_true(strlen(fake->path) < sizeof addr.sun_path);
	strcpy(addr.sun_path, fake->path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
	assert_int_equal(listen(fd, 1), 0);
	fake->pid = fork();
	assert_true(fake->pid >= 0);
	if (fake->pid == 0)
		fake_serve(fd, script);
	close(fd);
}

static void fake_finish(struct fake *fake)
{
	int status;

	assert_int_equal(waitpid(fake->pid, &status, 0), fake->pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	support_rmtree(fake->root);
}

static void test_control_reply_line_without_newline(void **unused)
{
	struct fake fake;
	struct error err = { 0 };
	char reply[256];

	(void)unused;
	fake_start(&fake, FAKE_ECHO);
	assert_int_equal(control_exchange(fake.path, "rollback --force", reply,
					 sizeof reply, 5000, &err), strlen("ok got rollback --force"));
	/* The fake saw exactly our request; the client stripped the newline. */
	assert_string_equal(reply, "ok got rollback --force");
	fake_finish(&fake);
}

static void test_control_reads_refusal_sent_before_request(void **unused)
{
	struct fake fake;
	struct error err = { 0 };
	char reply[256];

	(void)unused;
	/* The fake never reads: our send may hit a closed peer (EPIPE) or
	 * land in its queue; either way the refusal must be read. */
	fake_start(&fake, FAKE_REFUSE_FIRST);
	assert_int_equal(control_exchange(fake.path, "mark-bad", reply, sizeof reply,
					 5000, &err), strlen("error refused uid 65534 is not allowed"));
	assert_string_equal(reply, "error refused uid 65534 is not allowed");
	fake_finish(&fake);
}

static void test_control_silent_close_is_an_error(void **unused)
{
	struct fake fake;
	struct error err = { 0 };
	char reply[256];

	(void)unused;
	fake_start(&fake, FAKE_CLOSE_SILENT);
	assert_int_equal(control_exchange(fake.path, "status", reply, sizeof reply,
					 5000, &err), -1);
	assert_non_null(strstr(err.text, "without a reply"));
	assert_non_null(strstr(err.text, fake.path));
	fake_finish(&fake);
}

static void test_control_deadline_bounds_the_wait(void **unused)
{
	struct fake fake;
	struct error err = { 0 };
	char reply[256];

	(void)unused;
	fake_start(&fake, FAKE_HANG);
	assert_int_equal(control_exchange(fake.path, "status", reply, sizeof reply,
					 200, &err), -1);
	assert_non_null(strstr(err.text, "no reply in time"));
	fake_finish(&fake);	/* the fake exits once the client has closed */
}

static void test_control_long_reply_truncated_and_terminated(void **unused)
{
	struct fake fake;
	struct error err = { 0 };
	char reply[16];

	(void)unused;
	fake_start(&fake, FAKE_LONG_REPLY);
	memset(reply, '#', sizeof reply);
	assert_int_equal(control_exchange(fake.path, "status", reply, sizeof reply,
					 5000, &err), sizeof reply - 1);
	assert_int_equal(strlen(reply), sizeof reply - 1);
	assert_memory_equal(reply, "ok xxxxxxxxxxxx", sizeof reply);
	fake_finish(&fake);
}

static void test_control_refuses_bad_requests_locally(void **unused)
{
	struct error err = { 0 };
	char reply[64], big[CONTROL_LINE_MAX + 8], longpath[200];

	(void)unused;
	/* Nothing listens at these paths: an error naming the request shape
	 * proves the check happened before any connect. */
	assert_int_equal(control_exchange("/nonexistent/control.sock", "status\nmark-bad",
					 reply, sizeof reply, 1000, &err), -1);
	assert_non_null(strstr(err.text, "multi-line"));
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(control_exchange("/nonexistent/control.sock", big, reply,
					 sizeof reply, 1000, &err), -1);
	assert_non_null(strstr(err.text, "too long"));
	memset(longpath, 'p', sizeof longpath - 1);
	longpath[0] = '/';
	longpath[sizeof longpath - 1] = '\0';
	assert_int_equal(control_exchange(longpath, "status", reply, sizeof reply,
					 1000, &err), -1);
	assert_non_null(strstr(err.text, "socket path too long"));
}

static void test_control_no_daemon_names_the_socket(void **unused)
{
	struct error err = { 0 };
	char root[256], path[300], reply[64];

	(void)unused;
	support_tmpdir(root, sizeof root);
	snprintf(path, sizeof path, "%s/control.sock", root);
	assert_int_equal(control_exchange(path, "status", reply, sizeof reply, 1000, &err), -1);
	assert_non_null(strstr(err.text, "cannot reach slotd"));
	assert_non_null(strstr(err.text, path));
	support_rmtree(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_control_reply_line_without_newline),
		cmocka_unit_test(test_control_reads_refusal_sent_before_request),
		cmocka_unit_test(test_control_silent_close_is_an_error),
		cmocka_unit_test(test_control_deadline_bounds_the_wait),
		cmocka_unit_test(test_control_long_reply_truncated_and_terminated),
		cmocka_unit_test(test_control_refuses_bad_requests_locally),
		cmocka_unit_test(test_control_no_daemon_names_the_socket),
	};

	/* A refusal closes the socket under a pending send: the client must
	 * survive that even if SIGPIPE were not ignored. */
	signal(SIGPIPE, SIG_DFL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
