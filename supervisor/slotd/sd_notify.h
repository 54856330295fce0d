/* sd_notify.h: telling systemd (or any service manager that speaks the
 * sd_notify protocol) that slotd is ready, or stopping.
 *
 * slotd both *serves* a notify socket to its agent (notify.c, <root>/run/
 * notify.sock, exported to the agent as NOTIFY_SOCKET) and may *be* a
 * Type=notify service itself.  The manager's socket therefore has to be read
 * from the environment once, at startup, and removed from it, so that no
 * child (the agent, a health checker, a waiter) inherits it as its own.
 *
 * Libc only: slotd links nothing else.  No state outside the struct the
 * caller keeps. */
#ifndef SLOTD_SD_NOTIFY_H
#define SLOTD_SD_NOTIFY_H

#include <sys/socket.h>
#include <sys/un.h>

struct sd_notify {
	struct sockaddr_un addr;
	socklen_t len;		/* 0: no manager to tell */
};

/* Reads $NOTIFY_SOCKET ("/path" or "@abstract"), then unsets it.  An absent,
 * empty, too long or otherwise unusable value gives a struct with len 0 (and
 * one warning for the unusable ones): running outside systemd is normal. */
struct sd_notify sd_notify_take(void);

/* Sends `state` ("READY=1", "STOPPING=1", "STATUS=...") as one datagram from
 * this process (NotifyAccess=main).  Best effort: 0 when sent or when there
 * is no manager, -1 (with a warning) when the send failed. */
int sd_notify_send(const struct sd_notify *n, const char *state);

#endif
