/* notify.c: the sd_notify-compatible datagram socket, <root>/run/notify.sock.
 *
 * Accepted: datagrams whose SCM_CREDENTIALS pid is the agent or one of its
 * descendants (walking /proc/PID/stat parents), so a process outside the
 * agent's tree cannot declare a trial healthy.  Understood: READY=1,
 * STATUS=text, WATCHDOG=1 (accepted, not enforced); other lines ignored. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "slotd.h"

int notify_open(struct supervisor *s, struct error *err)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int one = 1;

	if (layout_path(&s->slots.layout, "run/notify.sock", addr.sun_path, sizeof addr.sun_path) < 0)
		return error_set(err, "%s/run/notify.sock: path too long", s->slots.layout.root);
	s->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->notify_fd < 0)
		return error_errno(err, "notify socket");
	unlink(addr.sun_path);	/* a stale socket from a previous slotd */
	if (bind(s->notify_fd, (struct sockaddr *)&addr, sizeof addr) < 0 ||
	    setsockopt(s->notify_fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0)
		return error_errno(err, "%s", addr.sun_path);
	/* The sender is checked by pid, so any local user may send. */
	chmod(addr.sun_path, 0666);
	return 0;
}

/* The sender is the agent or, where /proc shows our PID namespace, one of
 * its descendants: under another namespace's /proc, /proc/PID is some other
 * process, whose parents prove nothing. */
static int notify_from_agent(const struct supervisor *s, pid_t pid)
{
	struct proc_stat ps;
	int depth;

	if (s->pid <= 0)
		return 0;
	if (!proc_is_own())
		return pid == s->pid;
	for (depth = 0; depth < 64 && pid > 1; depth++) {
		if (pid == s->pid)
			return 1;
		pid = proc_stat_read(pid, &ps) < 0 ? -1 : ps.ppid;
	}
	return 0;
}

static void notify_line(struct supervisor *s, const char *line)
{
	if (!strcmp(line, "READY=1")) {
		if (s->machine.state == MS_TRIAL && !s->machine.ready)
			log_info("agent is ready after %lld ms",
				 (long long)(clock_now() - s->machine.started));
		s->feed(s, ME_READY, 0);
	}
	else if (!strncmp(line, "STATUS=", 7))
		snprintf(s->status_text, sizeof s->status_text, "%s", line + 7);
}

/* Descriptors nobody asked for would pile up in PID 1: close them. */
static void notify_close_passed_fds(struct cmsghdr *cmsg)
{
	size_t count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int), i;
	int fd;

	for (i = 0; i < count; i++) {
		memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof fd, sizeof fd);
		close(fd);
	}
}

void notify_receive(struct supervisor *s)
{
	char buf[4096], control[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(16 * sizeof(int))];
	struct iovec iov = { buf, sizeof buf - 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
			      .msg_controllen = sizeof control };
	struct cmsghdr *cmsg;
	struct ucred *cred = NULL;
	char *line, *next;
	ssize_t n;

	for (;;) {
		msg.msg_controllen = sizeof control;
		n = recvmsg(s->notify_fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0)
			return;	/* EAGAIN: drained */
		cred = NULL;
		for (cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
			if (cmsg->cmsg_level != SOL_SOCKET)
				continue;
			if (cmsg->cmsg_type == SCM_CREDENTIALS)
				cred = (struct ucred *)(void *)CMSG_DATA(cmsg);
			else if (cmsg->cmsg_type == SCM_RIGHTS)
				notify_close_passed_fds(cmsg);
		}
		if (!cred || !notify_from_agent(s, cred->pid)) {
			log_warn("notify: ignored a message from pid %d, not the agent's",
				 cred ? (int)cred->pid : -1);
			continue;
		}
		buf[n] = '\0';
		for (line = buf; line; line = next) {
			next = strchr(line, '\n');
			if (next)
				*next++ = '\0';
			notify_line(s, line);
		}
	}
}
