/* control.c: the control socket (protocol in include/control.h).
 *
 * Peers are checked with SO_PEERCRED: uid 0, admin_uid or updater_uid.  A
 * client has 5 s to send its one line (at most CONTROL_LINE_MAX bytes with
 * its newline); a malformed line gets "error usage ..." and changes nothing.
 * Every request is parsed and every reply formatted by the protocol's module
 * (slots/control_proto.c, control_status.c): nothing here writes a reply
 * line by hand.  No client can block the loop: sockets are non-blocking and
 * replies are sent with MSG_DONTWAIT.  Only `activate` keeps its connection
 * open, until the trial's verdict.
 *
 * A well-formed command is an event for the state machine (machine.h), which
 * answers it in every state; here are the words of its replies and the slot
 * changes (FLIP) it asks for.  `activate` first takes the upgrade inhibitor
 * (waiting for the agent to release it, through a waiter child). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "history.h"
#include "inhibit.h"
#include "log.h"
#include "slotd.h"

#define CLIENT_TIMEOUT_MS 5000

/* Sends one line and its newline.  Best effort: a client that went away, or
 * whose buffer is full, loses its answer, nothing else. */
static void control_send_line(int fd, const char *line)
{
	char out[CONTROL_LINE_MAX];
	size_t n = strnlen(line, CONTROL_LINE_MAX - 1);

	memcpy(out, line, n);
	out[n++] = '\n';
	if (send(fd, out, n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_warn("control: reply lost: %s", strerror(errno));
}

void control_send_reply(int fd, enum control_kind kind, const char *fmt, ...)
{
	struct control_reply r = { .kind = kind };
	char line[CONTROL_LINE_MAX];
	struct error err = { "" };
	va_list ap;

	/* Cut at CONTROL_TEXT_MAX - 1 bytes, a text always fits its line. */
	va_start(ap, fmt);
	vsnprintf(r.text, sizeof r.text, fmt, ap);
	va_end(ap);
	if (control_reply_format(&r, line, sizeof line, &err) < 0) {
		log_error("control: %s", err.text);
		return;
	}
	control_send_line(fd, line);
}

int control_open(struct supervisor *s, struct error *err)
{
	const char *path = s->config->supervisor.control_socket;
	struct sockaddr_un addr = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof addr.sun_path)
		return error_set(err, "%s: socket path too long", path);
	strcpy(addr.sun_path, path);
	s->control_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->control_fd < 0)
		return error_errno(err, "control socket");
	unlink(path);
	if (bind(s->control_fd, (struct sockaddr *)&addr, sizeof addr) < 0 ||
	    chmod(path, 0660) < 0 || listen(s->control_fd, 8) < 0)
		return error_errno(err, "%s", path);
	return 0;
}

/* 1 for root, admin_uid and updater_uid; anyone else is told and logged. */
static int control_peer_allowed(const struct supervisor *s, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof cred;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		log_warn("control: cannot read the peer's credentials: %s", strerror(errno));
		control_send_reply(fd, CONTROL_REFUSED, "cannot check the peer's uid");
		return 0;
	}
	if (cred.uid == 0 || (long)cred.uid == s->config->supervisor.admin_uid ||
	    (long)cred.uid == s->config->supervisor.updater_uid)
		return 1;
	log_warn("control: refused uid %d (pid %d)", (int)cred.uid, (int)cred.pid);
	control_send_reply(fd, CONTROL_REFUSED, "uid %d is not allowed", (int)cred.uid);
	return 0;
}

static void control_drop(struct supervisor *s, int index)
{
	struct client *c = &s->clients[index];

	if (c->fd < 0)
		return;
	epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	if (c->fd != s->activate_fd)
		close(c->fd);
	c->fd = -1;
	c->used = 0;
}

void control_accept(struct supervisor *s)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int fd, i;

	while ((fd = accept4(s->control_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (!control_peer_allowed(s, fd)) {
			close(fd);
			continue;
		}
		for (i = 0; i < CLIENT_MAX && s->clients[i].fd >= 0; i++)
			;
		if (i == CLIENT_MAX) {
			control_send_reply(fd, CONTROL_BUSY, "too many clients");
			close(fd);
			continue;
		}
		ev.data.u64 = (uint64_t)i;
		if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			log_warn("control: epoll_ctl: %s", strerror(errno));
			control_send_reply(fd, CONTROL_BUSY, "cannot watch the connection");
			close(fd);
			continue;
		}
		s->clients[i].fd = fd;
		s->clients[i].used = 0;
		s->clients[i].deadline = clock_now() + CLIENT_TIMEOUT_MS;
	}
}

/* The machine names the agent's state; the protocol carries it typed. */
static void control_agent_status(const struct supervisor *s, struct control_status *st)
{
	const struct machine *m = &s->machine;

	st->agent.pid = machine_agent_running(m) && s->pid > 0 ? (int)s->pid : 0;
	if (control_agent_state_parse(machine_agent_state(m), &st->agent.state) < 0)
		st->agent.state = (enum control_agent_state)-1;	/* refused by the format */
	st->agent.healthy = machine_agent_healthy(m);
	st->agent.slot = machine_agent_healthy(m) || m->state == MS_UP || m->state == MS_TRIAL ?
			 s->slot : SLOT_NONE;
	snprintf(st->agent.status, sizeof st->agent.status, "%s", s->status_text);
	leftover_describe(&s->leftover, clock_now(), st->agent.leftover, sizeof st->agent.leftover);
	st->trial = m->state == MS_TRIAL;
}

static void command_status(struct supervisor *s, int fd)
{
	struct control_status st = { .current = SLOT_NONE };
	char line[CONTROL_LINE_MAX];
	struct error err = { "" };
	int i;

	if (slots_reload(&s->slots, &err) < 0) {
		control_send_reply(fd, CONTROL_STATE, "%s", err.text);
		return;
	}
	st.current = s->slots.current;
	control_agent_status(s, &st);
	for (i = 0; i < SLOT_COUNT; i++) {
		const struct slot_info *info = &s->slots.state.slot[i];

		st.slot[i].status = info->status;
		st.slot[i].attempts = info->attempts;
		snprintf(st.slot[i].version, sizeof st.slot[i].version, "%s", info->version);
		snprintf(st.slot[i].reason, sizeof st.slot[i].reason, "%s", info->reason);
	}
	if (control_status_format(&st, line, sizeof line, &err) < 0) {
		log_error("control: %s", err.text);
		control_send_reply(fd, CONTROL_STATE, "%s", err.text);
		return;
	}
	control_send_line(fd, line);
}

/* Admin actions are attempts of their own in the history. */
static void control_record(struct supervisor *s, const char *kind, int ok, const char *error,
			   const char *from)
{
	struct history_record r = { .kind = "", .state = ok ? HISTORY_SUCCESS : HISTORY_FAILED };
	struct error err = { "" };

	if (history_new_id(r.id, sizeof r.id, &err) < 0)
		return;
	snprintf(r.kind, sizeof r.kind, "%s", kind);
	snprintf(r.instance, sizeof r.instance, "%s", s->config->amqp.instance_id);
	snprintf(r.from_version, sizeof r.from_version, "%s", from);
	if (s->slots.current != SLOT_NONE)
		snprintf(r.to_version, sizeof r.to_version, "%s",
			 s->slots.state.slot[s->slots.current].version);
	snprintf(r.error, sizeof r.error, "%s", error);
	if (history_append(&s->slots.layout, &r, &err) < 0)
		log_error("history: %s", err.text);
}

static int control_commit(struct supervisor *s, struct error *err)
{
	char how[80];

	if (slots_commit(&s->slots, err) < 0) {
		log_error("commit: %s", err->text);
		return -1;
	}
	reason_text(MV_GOOD, (int)s->machine.pass, how, sizeof how);
	log_info("slot %s is good (%s)", layout_slot_name(s->slot), how);
	return 0;
}

/* The machine's FLIP: 1 done, 0 refused (s->refusal says why). */
int control_flip(struct supervisor *s, enum machine_flip kind)
{
	static const char *const kinds[] = { "activate", "rollback", "rollback", "mark-good",
					     "mark-bad", "commit" };
	char from[STATE_VERSION_MAX] = "";
	struct error err = { "" };
	int rc;

	if (s->slots.current != SLOT_NONE)
		snprintf(from, sizeof from, "%s", s->slots.state.slot[s->slots.current].version);
	switch (kind) {
	case MF_ACTIVATE: rc = slots_activate(&s->slots, s->activate_slot, &err); break;
	case MF_ROLLBACK: rc = slots_rollback(&s->slots, 0, &err); break;
	case MF_ROLLBACK_FORCE: rc = slots_rollback(&s->slots, 1, &err); break;
	case MF_MARK_GOOD: rc = slots_mark_good(&s->slots, &err); break;
	case MF_MARK_BAD: rc = slots_mark_bad(&s->slots, "marked bad by admin", &err); break;
	default: rc = control_commit(s, &err); break;
	}
	snprintf(s->refusal, sizeof s->refusal, "%s", rc < 0 ? err.text : "");
	if (kind == MF_ROLLBACK || kind == MF_ROLLBACK_FORCE || kind == MF_MARK_BAD)
		control_record(s, kinds[kind], rc == 0, s->refusal, from);
	if (rc == 0 && kind == MF_ACTIVATE)
		log_info("activating slot %s (version %s)", layout_slot_name(s->activate_slot),
			 s->slots.state.slot[s->activate_slot].version);
	return rc == 0;
}

void control_release_inhibitor(struct supervisor *s)
{
	inhibit_release(s->inhibit_fd);
	s->inhibit_held = 0;
}

/* An activation answered before its trial: the inhibitor goes with it. */
static void control_end_activation(struct supervisor *s, enum control_kind kind, const char *text)
{
	control_send_reply(s->activate_fd, kind, "%s", text);
	close(s->activate_fd);
	s->activate_fd = -1;
	if (s->inhibit_held)
		control_release_inhibitor(s);
}

/* The machine's REPLY, to the client whose command is being stepped. */
void control_reply(struct supervisor *s, enum machine_reply code)
{
	enum control_kind kind = CONTROL_OK;
	const char *text = "";
	char current[16];
	int fd = s->command_fd;

	if (fd < 0)
		return;
	switch (code) {
	case MR_OK: break;
	case MR_CURRENT:
		snprintf(current, sizeof current, "current=%s", s->slots.current == SLOT_NONE ?
			 "none" : layout_slot_name(s->slots.current));
		text = current;
		break;
	case MR_STATUS: command_status(s, fd); return;
	case MR_REFUSED: kind = CONTROL_REFUSED; text = s->refusal; break;
	case MR_BUSY_STOPPING: kind = CONTROL_BUSY; text = "slotd is stopping"; break;
	default: kind = CONTROL_REFUSED; text = "an activation or trial is already running";
	}
	if (fd == s->activate_fd)
		control_end_activation(s, kind, text);
	else
		control_send_reply(fd, kind, "%s", text);
}

static void control_step(struct supervisor *s, int fd, enum machine_command command)
{
	s->command_fd = fd;
	s->feed(s, ME_COMMAND, (int)command);
	s->command_fd = -1;
}

/* The inhibitor is ours: the machine flips to the new slot and relaunches. */
static void control_activate_now(struct supervisor *s)
{
	s->inhibit_held = 1;
	control_step(s, s->activate_fd, MC_ACTIVATE);
}

static void command_activate(struct supervisor *s, int index, int slot)
{
	struct client *c = &s->clients[index];
	struct error err = { "" };
	int held;

	if (s->activate_fd >= 0 || s->machine.state == MS_TRIAL) {
		control_send_reply(c->fd, CONTROL_REFUSED,
				   "an activation or trial is already running");
		return;
	}
	if (slots_reload(&s->slots, &err) < 0) {
		control_send_reply(c->fd, CONTROL_STATE, "%s", err.text);
		return;
	}
	if (s->slots.state.slot[slot].status != SLOT_INSTALLED) {
		control_send_reply(c->fd, CONTROL_REFUSED, "slot %s is %s, not installed",
				   layout_slot_name(slot),
				   state_status_name(s->slots.state.slot[slot].status));
		return;
	}
	s->activate_fd = c->fd;	/* kept open until the verdict */
	s->activate_slot = slot;
	held = inhibit_try(s->inhibit_fd, &err);
	if (held == 0) {
		control_activate_now(s);
		return;
	}
	s->waiter_pid = held > 0 ? inhibit_spawn_waiter(s->inhibit_fd,
							 s->config->supervisor.inhibit_timeout_ms, &err) : -1;
	if (s->waiter_pid < 0)
		control_end_activation(s, held > 0 ? CONTROL_BUSY : CONTROL_REFUSED,
				       held > 0 ? "cannot wait for the inhibitor" :
						  "cannot take the inhibitor");
	else
		log_info("agent holds the upgrade inhibitor: waiting up to %u ms",
			 s->config->supervisor.inhibit_timeout_ms);
}

void control_waiter_exited(struct supervisor *s, int status)
{
	s->waiter_pid = -1;
	if (s->activate_fd < 0) {
		inhibit_release(s->inhibit_fd);
		return;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		control_activate_now(s);
		return;
	}
	log_warn("the upgrade inhibitor stayed held: activation deferred");
	control_end_activation(s, CONTROL_BUSY, "agent holds the upgrade inhibitor");
}

/* One request line (len bytes, its newline cut; or a full buffer without
 * one, which the parser refuses as too long). */
static void control_command(struct supervisor *s, int index, const char *line, size_t len)
{
	static const enum machine_command commands[] = {
		[CONTROL_STATUS] = MC_STATUS, [CONTROL_ROLLBACK] = MC_ROLLBACK,
		[CONTROL_ROLLBACK_FORCE] = MC_ROLLBACK_FORCE, [CONTROL_MARK_GOOD] = MC_MARK_GOOD,
		[CONTROL_MARK_BAD] = MC_MARK_BAD, [CONTROL_RESTART] = MC_RESTART,
	};
	int fd = s->clients[index].fd;
	struct control_request r;
	struct error err = { "" };

	if (control_request_parse(line, len, &r, &err) < 0) {
		control_send_reply(fd, CONTROL_USAGE, "%s", err.text);
	} else if (r.command == CONTROL_ACTIVATE) {
		command_activate(s, index, r.slot);
	} else {
		if (r.command == CONTROL_RESTART)
			log_info("restart requested");
		control_step(s, fd, commands[r.command]);
	}
}

void control_readable(struct supervisor *s, int index)
{
	struct client *c = &s->clients[index];
	char *newline;
	ssize_t n;

	n = read(c->fd, c->line + c->used, sizeof c->line - c->used);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		control_drop(s, index);
		return;
	}
	c->used += (size_t)n;
	newline = memchr(c->line, '\n', c->used);
	if (!newline && c->used < sizeof c->line)
		return;
	control_command(s, index, c->line, newline ? (size_t)(newline - c->line) : c->used);
	control_drop(s, index);
}

int64_t control_next_deadline(const struct supervisor *s)
{
	int64_t next = NEVER;
	int i;

	for (i = 0; i < CLIENT_MAX; i++)
		if (s->clients[i].fd >= 0 && s->clients[i].deadline < next)
			next = s->clients[i].deadline;
	return next;
}

void control_deadlines(struct supervisor *s, int64_t now)
{
	int i;

	for (i = 0; i < CLIENT_MAX; i++) {
		if (s->clients[i].fd >= 0 && now >= s->clients[i].deadline) {
			control_send_reply(s->clients[i].fd, CONTROL_USAGE,
					   "request not received in time");
			control_drop(s, i);
		}
	}
}
