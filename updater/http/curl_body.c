/* curl_body.c: a bounded answer body for libcurl (see include/curl_body.h). */
#include <stdlib.h>
#include <string.h>

#include "curl_body.h"

size_t curl_body_write(char *data, size_t size, size_t count, void *ctx)
{
	struct curl_body *b = ctx;
	size_t n = size * count;
	char *grown;

	if (n > b->max - b->len)
		return 0;	/* too large: curl fails the transfer */
	grown = realloc(b->data, b->len + n + 1);
	if (!grown)
		return 0;
	memcpy(grown + b->len, data, n);
	b->data = grown;
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}
