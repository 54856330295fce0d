/* fuzz_control_request.c: slotd's control socket reading hostile requests.
 *
 * Drives supervisor/slotd/control.c's control_readable() (line assembly and
 * request parsing) with a supervisor whose slots live in a temporary root:
 * slot a good and current, slot b installed.  The rest of slotd (the state
 * machine and the event loop) is stubbed below: every command is answered
 * at once, an activation too.  The first input byte is the chunk size
 * the request arrives in (0: all at once); the slots are restored after
 * every input.  Oracle beyond the sanitizers: at most one reply line per
 * connection, starting "ok" or "error ", with no control characters. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "flip.h"
#include "inhibit.h"
#include "slotd.h"
#include "support_fuzz.h"

static struct config fuzz_config;
static struct supervisor fuzz_s;
static struct slot_state fuzz_baseline;

/* --- the parts of slotd that control.c calls, stubbed --- */
int64_t clock_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The state machine answers every command at once: status with the status
 * line, the others "ok" (what a command does to the slots is the machine's
 * and slots' business, tested in test_machine and test_slots). */
static void fuzz_feed(struct supervisor *s, enum machine_event_kind kind, int value)
{
	if (kind == ME_COMMAND)
		control_reply(s, value == MC_STATUS ? MR_STATUS : MR_OK);
}

void leftover_describe(const struct leftover *left, int64_t now, char *buf, size_t len)
{
	(void)left;
	(void)now;
	snprintf(buf, len, "%s", "");
}

void reason_text(enum machine_reason why, int value, char *buf, size_t len)
{
	snprintf(buf, len, "reason %d/%d", (int)why, value);
}

const char *machine_agent_state(const struct machine *m)
{
	(void)m;
	return "running";
}

int machine_agent_running(const struct machine *m)
{
	(void)m;
	return 1;
}

int machine_agent_healthy(const struct machine *m)
{
	(void)m;
	return 1;
}

/* --- set-up --- */
static void fuzz_restore(void)
{
	struct slot_state state = fuzz_baseline;
	struct error err = { "" };

	if (state_save(&fuzz_s.slots.layout, &state, &err) < 0 ||
	    slot_flip(&fuzz_s.slots.layout, SLOT_A, &err) < 0 || slots_reload(&fuzz_s.slots, &err) < 0)
		fuzz_fail("restoring the slots: %s", err.text);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char root[4096], text[4200];
	struct error err = { "" };
	int i;

	(void)argc;
	(void)argv;
	fuzz_tmpdir(root, sizeof root);
	snprintf(text, sizeof text, "[slots]\nroot = %s\n[amqp]\ninstance_id = fuzz\n", root);
	if (config_load_string(&fuzz_config, text, "fuzz", &err) < 0 ||
	    slots_open(&fuzz_s.slots, root, 3, &err) < 0)
		fuzz_fail("set-up: %s", err.text);
	fuzz_s.config = &fuzz_config;
	fuzz_s.feed = fuzz_feed;
	fuzz_baseline.slot[SLOT_A] = (struct slot_info){ .status = SLOT_GOOD, .version = "1.0.0" };
	fuzz_baseline.slot[SLOT_B] = (struct slot_info){ .status = SLOT_INSTALLED,
							 .version = "2.0.0" };
	fuzz_s.inhibit_fd = inhibit_open(&fuzz_s.slots.layout, &err);
	fuzz_s.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (fuzz_s.inhibit_fd < 0 || fuzz_s.epoll_fd < 0)
		fuzz_fail("set-up: %s %s", err.text, strerror(errno));
	fuzz_s.control_fd = fuzz_s.signal_fd = fuzz_s.timer_fd = fuzz_s.notify_fd = -1;
	fuzz_s.activate_fd = -1;
	fuzz_s.waiter_pid = -1;
	for (i = 0; i < CLIENT_MAX; i++)
		fuzz_s.clients[i].fd = -1;
	fuzz_restore();
	return 0;
}

/* --- one connection --- */
static void fuzz_check_replies(int fd)
{
	char buf[8192];
	ssize_t n = read(fd, buf, sizeof buf - 1);
	char *newline;
	size_t i;

	if (n <= 0)
		return;	/* no complete request, no reply */
	buf[n] = '\0';
	newline = memchr(buf, '\n', (size_t)n);
	if (!newline || newline != buf + n - 1)
		fuzz_fail("not exactly one reply line: '%s'", buf);
	if (strncmp(buf, "ok", 2) && strncmp(buf, "error ", 6))
		fuzz_fail("reply neither ok nor error: '%s'", buf);
	for (i = 0; i + 1 < (size_t)n; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			fuzz_fail("reply has control character 0x%02x at %zu: '%s'",
				  (unsigned char)buf[i], i, buf);
}

static int fuzz_changed(void)
{
	return memcmp(fuzz_s.slots.state.slot, fuzz_baseline.slot, sizeof fuzz_baseline.slot) ||
	       fuzz_s.slots.current != SLOT_A;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct client *c = &fuzz_s.clients[0];
	size_t chunk, sent = 0, n;
	int pair[2], rounds = 0;

	if (size < 1 || size > 2048)
		return -1;
	chunk = data[0] ? data[0] : size;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) < 0)
		fuzz_fail("socketpair: %s", strerror(errno));
	c->fd = pair[1];
	c->used = 0;
	c->deadline = clock_now() + 5000;
	data++, size--;
	while (c->fd >= 0 && rounds++ < 4096) {
		n = size - sent < chunk ? size - sent : chunk;
		if (n && send(pair[0], data + sent, n, MSG_NOSIGNAL) != (ssize_t)n)
			fuzz_fail("send: %s", strerror(errno));
		sent += n;
		if (!n)
			shutdown(pair[0], SHUT_WR);	/* the client hangs up */
		control_readable(&fuzz_s, 0);
	}
	if (c->fd >= 0)
		fuzz_fail("the connection is still open after the client hung up");
	if (fuzz_s.activate_fd >= 0) {
		control_send_reply(fuzz_s.activate_fd, CONTROL_OK, "good (fuzz: the trial passed)");
		close(fuzz_s.activate_fd);
		fuzz_s.activate_fd = -1;
	}
	fuzz_check_replies(pair[0]);
	close(pair[0]);
	unlinkat(fuzz_s.slots.layout.root_fd, "history", 0);
	if (fuzz_changed())
		fuzz_restore();
	if (fuzz_s.inhibit_held)
		control_release_inhibitor(&fuzz_s);
	return 0;
}
