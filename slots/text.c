/* text.c: see include/text.h. */
#include "text.h"

const char *text_sanitize(const char *src, char *dst, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t used = 0;

	for (; *src; src++) {
		unsigned char c = (unsigned char)*src;

		if (c >= 0x20 && c < 0x7f) {
			if (used + 1 >= len)
				break;
			dst[used++] = (char)c;
			continue;
		}
		if (used + 4 >= len)
			break;
		dst[used++] = '\\';
		dst[used++] = 'x';
		dst[used++] = hex[c >> 4];
		dst[used++] = hex[c & 15];
	}
	dst[used] = '\0';
	return dst;
}
