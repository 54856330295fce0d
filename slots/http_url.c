/* http_url.c: see include/http_url.h. */
#include <arpa/inet.h>
#include <string.h>

#include "http_url.h"
#include "number.h"

static int http_url_address(const char *host, unsigned port, struct http_url *out,
			    struct error *err)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)&out->addr;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->addr;
	char literal[HTTP_URL_HOST_MAX];
	size_t len = strlen(host);

	memset(&out->addr, 0, sizeof out->addr);
	if (host[0] == '[') {
		if (len < 3 || host[len - 1] != ']')
			return error_set(err, "host '%s': an IPv6 literal needs its closing ']'",
					 host);
		memcpy(literal, host + 1, len - 2);
		literal[len - 2] = '\0';
		if (inet_pton(AF_INET6, literal, &in6->sin6_addr) != 1)
			return error_set(err, "host '%s' is not an IPv6 literal", host);
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		out->addr_len = sizeof *in6;
		return 0;
	}
	if (!strcmp(host, "localhost"))
		host = "127.0.0.1";
	if (inet_pton(AF_INET, host, &in4->sin_addr) != 1)
		return error_set(err, "host '%s' is not an IP address or localhost (the check "
				 "resolves no names)", host);
	in4->sin_family = AF_INET;
	in4->sin_port = htons((uint16_t)port);
	out->addr_len = sizeof *in4;
	return 0;
}

/* "HOST[:PORT]" of authority (len bytes) into out. */
static int http_url_authority(const char *authority, size_t len, struct http_url *out,
			      struct error *err)
{
	unsigned long long port = 80;
	const char *colon = NULL, *p;
	char host[HTTP_URL_HOST_MAX], digits[8];

	if (memchr(authority, '@', len))
		return error_set(err, "user information (user@host) is not allowed");
	if (len == 0)
		return error_set(err, "no host");
	p = authority[0] == '[' ? memchr(authority, ']', len) : authority;
	if (!p)
		return error_set(err, "an IPv6 literal needs its closing ']'");
	colon = memchr(p, ':', len - (size_t)(p - authority));
	if (colon) {
		if ((size_t)(authority + len - colon - 1) >= sizeof digits ||
		    colon + 1 == authority + len)
			return error_set(err, "port is not a number from 1 to 65535");
		memcpy(digits, colon + 1, (size_t)(authority + len - colon - 1));
		digits[authority + len - colon - 1] = '\0';
		if (number_parse(digits, 65535, &port) < 0 || port == 0)
			return error_set(err, "port is not a number from 1 to 65535");
		len = (size_t)(colon - authority);
	}
	if (len == 0 || len >= sizeof host)
		return error_set(err, "host is empty or longer than %zu bytes", sizeof host - 1);
	memcpy(host, authority, len);
	host[len] = '\0';
	memcpy(out->host, host, len + 1);
	return http_url_address(host, (unsigned)port, out, err);
}

static int http_url_check_path(const char *path, struct error *err)
{
	const char *p;

	if (strlen(path) >= HTTP_URL_PATH_MAX)
		return error_set(err, "path longer than %d bytes", HTTP_URL_PATH_MAX - 1);
	for (p = path; *p; p++) {
		if (*p <= ' ' || *p >= 0x7f)
			return error_set(err, "path has a blank or a non-printable byte");
		if (*p == '#')
			return error_set(err, "a fragment (#...) is not allowed");
	}
	return 0;
}

int http_url_parse(const char *text, struct http_url *out, struct error *err)
{
	const char *authority, *slash;

	memset(out, 0, sizeof *out);
	if (!strncmp(text, "https://", 8))
		return error_set(err, "https is not supported: the check speaks plain HTTP to a "
				 "local address");
	if (strncmp(text, "http://", 7))
		return error_set(err, "not an http:// URL");
	authority = text + 7;
	slash = authority + strcspn(authority, "/?#");
	if (*slash == '?' || *slash == '#')
		return error_set(err, "a query or fragment needs a path before it");
	if (http_url_authority(authority, (size_t)(slash - authority), out, err) < 0)
		return -1;
	if (http_url_check_path(*slash ? slash : "/", err) < 0)
		return -1;
	strcpy(out->path, *slash ? slash : "/");
	return 0;
}
