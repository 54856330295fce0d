/* control.c: the control socket (protocol in include/control.h).
 *
 * Peers are checked with SO_PEERCRED: uid 0, admin_uid or updater_uid.  A
 * client has 5 s to send its one line (at most 511 bytes); a malformed line
 * gets "error usage ..." and changes nothing.  No client can block the loop:
 * sockets are non-blocking and replies are sent with MSG_DONTWAIT.  Only
 * `activate` keeps its connection open, until the trial's verdict.
 *
 * A well-formed command is an event for the state machine (machine.h), which
 * answers it in every state; here are the words of its replies and the slot
 * changes (FLIP) it asks for.  `activate` first takes the upgrade inhibitor
 * (waiting for the agent to release it, through a waiter child). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "history.h"
#include "inhibit.h"
#include "log.h"
#include "slotd.h"

#define CLIENT_TIMEOUT_MS 5000

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

static int control_allowed(const struct supervisor *s, uid_t uid)
{
	return uid == 0 || (long)uid == s->config->supervisor.admin_uid ||
	       (long)uid == s->config->supervisor.updater_uid;
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
	struct ucred cred;
	socklen_t len = sizeof cred;
	int fd, i;

	while ((fd = accept4(s->control_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
		    !control_allowed(s, cred.uid)) {
			log_warn("control: refused uid %d (pid %d)", (int)cred.uid, (int)cred.pid);
			supervisor_reply(fd, "error refused uid %d is not allowed", (int)cred.uid);
			close(fd);
			continue;
		}
		for (i = 0; i < CLIENT_MAX && s->clients[i].fd >= 0; i++)
			;
		if (i == CLIENT_MAX) {
			supervisor_reply(fd, "error busy too many clients");
			close(fd);
			continue;
		}
		ev.data.u64 = (uint64_t)i;
		if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			log_warn("control: epoll_ctl: %s", strerror(errno));
			supervisor_reply(fd, "error busy cannot watch the connection");
			close(fd);
			continue;
		}
		s->clients[i].fd = fd;
		s->clients[i].used = 0;
		s->clients[i].deadline = supervisor_now() + CLIENT_TIMEOUT_MS;
	}
}

/* Values in status replies are single words: %-encode blanks and controls. */
static void control_word(const char *in, char *out, size_t len)
{
	size_t used = 0;

	for (; *in && used + 4 < len; in++) {
		unsigned char c = (unsigned char)*in;
		if (c <= ' ' || c == '%' || c == 0x7f)
			used += (size_t)snprintf(out + used, len - used, "%%%02x", c);
		else
			out[used++] = (char)c;
	}
	out[used] = '\0';
}

static void command_status(struct supervisor *s, int fd)
{
	char line[2400], version[3][200], reason[2][300];
	const struct slot_info *a, *b;
	const struct machine *m = &s->machine;
	struct error err = { "" };

	if (slots_reload(&s->slots, &err) < 0) {
		supervisor_reply(fd, "error state %s", err.text);
		return;
	}
	a = &s->slots.state.slot[SLOT_A];
	b = &s->slots.state.slot[SLOT_B];
	control_word(a->version, version[0], sizeof version[0]);
	control_word(b->version, version[1], sizeof version[1]);
	control_word(s->status_text, version[2], sizeof version[2]);
	control_word(a->reason, reason[0], sizeof reason[0]);
	control_word(b->reason, reason[1], sizeof reason[1]);
	snprintf(line, sizeof line,
		 "ok current=%s agent.pid=%d agent.state=%s agent.healthy=%d agent.slot=%s "
		 "agent.status=%s trial=%d a.status=%s a.version=%s a.attempts=%u a.reason=%s "
		 "b.status=%s b.version=%s b.attempts=%u b.reason=%s",
		 s->slots.current == SLOT_NONE ? "none" : layout_slot_name(s->slots.current),
		 machine_agent_running(m) && s->pid > 0 ? (int)s->pid : 0, machine_agent_state(m),
		 machine_agent_healthy(m),
		 machine_agent_healthy(m) || m->state == MS_UP || m->state == MS_TRIAL ?
		 layout_slot_name(s->slot) : "none",
		 version[2], m->state == MS_TRIAL,
		 state_status_name(a->status), version[0], a->attempts, reason[0],
		 state_status_name(b->status), version[1], b->attempts, reason[1]);
	supervisor_reply(fd, "%s", line);
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
	trial_reason(MV_GOOD, (int)s->machine.pass, how, sizeof how);
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
static void control_end_activation(struct supervisor *s, const char *reply)
{
	supervisor_reply(s->activate_fd, "%s", reply);
	close(s->activate_fd);
	s->activate_fd = -1;
	if (s->inhibit_held)
		control_release_inhibitor(s);
}

/* The machine's REPLY, to the client whose command is being stepped. */
void control_reply(struct supervisor *s, enum machine_reply code)
{
	char line[600];
	int fd = s->command_fd;

	if (fd < 0)
		return;
	switch (code) {
	case MR_OK: snprintf(line, sizeof line, "ok"); break;
	case MR_CURRENT:
		snprintf(line, sizeof line, "ok current=%s", s->slots.current == SLOT_NONE ? "none" :
			 layout_slot_name(s->slots.current));
		break;
	case MR_STATUS: command_status(s, fd); return;
	case MR_REFUSED: snprintf(line, sizeof line, "error refused %s", s->refusal); break;
	case MR_BUSY_STOPPING: snprintf(line, sizeof line, "error busy slotd is stopping"); break;
	default:
		snprintf(line, sizeof line, "error refused an activation or trial is already running");
	}
	if (fd == s->activate_fd)
		control_end_activation(s, line);
	else
		supervisor_reply(fd, "%s", line);
}

static void control_step(struct supervisor *s, int fd, enum machine_command command)
{
	s->command_fd = fd;
	supervisor_feed(s, ME_COMMAND, (int)command);
	s->command_fd = -1;
}

/* The inhibitor is ours: the machine flips to the new slot and relaunches. */
static void control_activate_now(struct supervisor *s)
{
	s->inhibit_held = 1;
	control_step(s, s->activate_fd, MC_ACTIVATE);
}

static void command_activate(struct supervisor *s, int index, const char *slot_name)
{
	struct client *c = &s->clients[index];
	struct error err = { "" };
	int slot = layout_slot_parse(slot_name), held;

	if (slot == SLOT_NONE) {
		supervisor_reply(c->fd, "error usage activate a|b");
		return;
	}
	if (s->activate_fd >= 0 || s->machine.state == MS_TRIAL) {
		supervisor_reply(c->fd, "error refused an activation or trial is already running");
		return;
	}
	if (slots_reload(&s->slots, &err) < 0 || s->slots.state.slot[slot].status != SLOT_INSTALLED) {
		supervisor_reply(c->fd, "error refused slot %s is %s, not installed", slot_name,
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
		control_end_activation(s, held > 0 ? "error busy cannot wait for the inhibitor" :
						     "error refused cannot take the inhibitor");
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
	control_end_activation(s, "error busy agent holds the upgrade inhibitor");
}

static void control_command(struct supervisor *s, int index, char *line)
{
	int fd = s->clients[index].fd;
	char *word = strtok(line, " \t"), *arg = strtok(NULL, " \t"), *extra = strtok(NULL, " \t");

	if (!word) {
		supervisor_reply(fd, "error usage empty request");
	} else if (!strcmp(word, "status") && !arg) {
		control_step(s, fd, MC_STATUS);
	} else if (!strcmp(word, "activate") && arg && !extra) {
		command_activate(s, index, arg);
	} else if (!strcmp(word, "rollback") && (!arg || !strcmp(arg, "--force")) && !extra) {
		control_step(s, fd, arg ? MC_ROLLBACK_FORCE : MC_ROLLBACK);
	} else if ((!strcmp(word, "mark-good") || !strcmp(word, "mark-bad")) && !arg) {
		control_step(s, fd, word[5] == 'g' ? MC_MARK_GOOD : MC_MARK_BAD);
	} else if (!strcmp(word, "restart") && !arg) {
		log_info("restart requested");
		control_step(s, fd, MC_RESTART);
	} else {
		supervisor_reply(fd, "error usage unknown request '%.40s'", word);
	}
}

void control_readable(struct supervisor *s, int index)
{
	struct client *c = &s->clients[index];
	char *newline;
	ssize_t n;

	n = read(c->fd, c->line + c->used, sizeof c->line - 1 - c->used);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		control_drop(s, index);
		return;
	}
	c->used += (size_t)n;
	c->line[c->used] = '\0';
	newline = strchr(c->line, '\n');
	if (!newline) {
		if (c->used == sizeof c->line - 1) {
			supervisor_reply(c->fd, "error usage request longer than %zu bytes",
					 sizeof c->line - 2);
			control_drop(s, index);
		}
		return;
	}
	*newline = '\0';
	if (newline > c->line && newline[-1] == '\r')
		newline[-1] = '\0';
	control_command(s, index, c->line);
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
			supervisor_reply(s->clients[i].fd, "error usage request not received in time");
			control_drop(s, i);
		}
	}
}
