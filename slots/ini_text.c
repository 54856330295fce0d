/* ini_text.c: see include/ini_text.h. */
#include "ini_text.h"

int ini_text_check(const char *text, size_t len, const char *name, struct error *err)
{
	size_t i, line_start = 0;
	unsigned line = 1;

	for (i = 0; i < len; i++) {
		if (text[i] == '\0')
			return error_set(err, "%s:%u: NUL byte in text", name, line);
		if (text[i] == '\n') {
			line++;
			line_start = i + 1;
			continue;
		}
		if (i - line_start >= INI_TEXT_LINE_MAX)
			return error_set(err, "%s:%u: line longer than %d bytes", name, line,
					 INI_TEXT_LINE_MAX);
	}
	return 0;
}
