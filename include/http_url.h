/* http_url.h: the URL of health = http, checked once and parsed the same way
 * by the config loader and by slotd-httpcheck.
 *
 *   http://HOST[:PORT][/PATH]
 * HOST is an IP literal (192.0.2.7, [::1]) or "localhost" (127.0.0.1): the
 * check never resolves a name, so it needs no resolver, no /etc/hosts and no
 * DNS, and cannot be pointed elsewhere by either.  https is refused: a check
 * of a local address gains nothing from TLS, and slotd-httpcheck stays libc
 * only.  No user:password@, no fragment; PATH (with its query) is printable
 * ASCII without blanks, at most HTTP_URL_PATH_MAX - 1 bytes. */
#ifndef SLOTD_HTTP_URL_H
#define SLOTD_HTTP_URL_H

#include <netinet/in.h>
#include <sys/socket.h>
#include "error.h"

#define HTTP_URL_PATH_MAX 512
#define HTTP_URL_HOST_MAX 64

struct http_url {
	struct sockaddr_storage addr;	/* family, address and port */
	socklen_t addr_len;
	char host[HTTP_URL_HOST_MAX];	/* for the Host: header, as written */
	char path[HTTP_URL_PATH_MAX];	/* "/" when the URL has none */
};

/* 0 and *out filled, or -1 with err naming what is wrong with the URL. */
int http_url_parse(const char *text, struct http_url *out, struct error *err);

#endif
