/* curl_body.h: an HTTP answer's body collected in memory by libcurl, at most
 * `max` bytes (more fails the transfer: the write callback takes nothing),
 * NUL-terminated for the JSON parsers.  The one write callback of slotctl's
 * API client and the Keystone client.  Usage:
 *   struct curl_body b = { .max = LIMIT };
 *   CURLOPT_WRITEFUNCTION curl_body_write, CURLOPT_WRITEDATA &b;
 *   ... b.data (NULL if nothing came), b.len; free(b.data). */
#ifndef SLOTD_CURL_BODY_H
#define SLOTD_CURL_BODY_H

#include <stddef.h>

struct curl_body {
	char *data;
	size_t len;
	size_t max;
};

size_t curl_body_write(char *data, size_t size, size_t count, void *ctx);

#endif
