/* sock.h: writing to sockets from code that must not die of SIGPIPE.
 * A library cannot know whether its caller ignores SIGPIPE, so every send
 * to a peer that may have gone uses MSG_NOSIGNAL and reports EPIPE instead. */
#ifndef SLOTD_SOCK_H
#define SLOTD_SOCK_H

#include <stddef.h>

/* send() all of data, retrying on EINTR and short sends; 0, or -1 with errno. */
int sock_send_all(int fd, const void *data, size_t len);

#endif
