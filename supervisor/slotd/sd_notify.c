/* sd_notify.c: the client side of the sd_notify protocol (sd_notify.h).
 *
 * The protocol is one AF_UNIX datagram of newline-separated KEY=VALUE lines
 * to the socket named by $NOTIFY_SOCKET; a leading '@' names an abstract
 * socket (the '@' becomes a NUL byte and the address length counts only the
 * name).  A fresh socket per message, as libsystemd does: nothing stays open
 * across the agent's forks, and a manager that re-executed itself (and
 * re-created its socket) is still reached. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sd_notify.h"

struct sd_notify sd_notify_take(void)
{
	struct sd_notify n = { .addr = { .sun_family = AF_UNIX }, .len = 0 };
	const char *value = getenv("NOTIFY_SOCKET");
	size_t len = value ? strlen(value) : 0;

	if (len == 0)
		return n;
	if ((value[0] != '/' && value[0] != '@') || len < 2 || len >= sizeof n.addr.sun_path) {
		/* vsock: and friends are not ours to speak; never echo the value raw. */
		log_warn("NOTIFY_SOCKET: not a unix socket path or @name, ignored");
	} else {
		memcpy(n.addr.sun_path, value, len);
		if (n.addr.sun_path[0] == '@')
			n.addr.sun_path[0] = '\0';
		n.len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
				    (value[0] == '/'));	/* a path keeps its NUL */
	}
	unsetenv("NOTIFY_SOCKET");	/* the agent gets slotd's own socket, never this one */
	return n;
}

int sd_notify_send(const struct sd_notify *n, const char *state)
{
	int fd, saved;
	ssize_t sent;

	if (n->len == 0)
		return 0;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_warn("sd_notify: socket: %s", strerror(errno));
		return -1;
	}
	sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (const struct sockaddr *)&n->addr,
		      n->len);
	saved = errno;
	close(fd);
	if (sent < 0) {
		log_warn("sd_notify: %s: %s", state, strerror(saved));
		return -1;
	}
	return 0;
}
