/* text.c: control characters out, UTF-8 kept whole (see store/fleet_text.h). */
#include <string.h>

#include "store/fleet_text.h"

char *fleet_text_clean(char *dst, size_t len, const char *src)
{
	size_t n = strlen(src), i;

	if (n >= len) {
		n = len - 1;
		/* Back up over continuation bytes to the start of a character. */
		while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
			n--;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	dst[n] = '\0';
	return dst;
}
