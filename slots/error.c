/* error.c: see include/error.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "text.h"

/* Every error text is one printable line, whatever outside data went in. */
static void error_vformat(struct error *err, const char *fmt, va_list ap)
{
	char raw[sizeof err->text];

	vsnprintf(raw, sizeof raw, fmt, ap);
	text_sanitize(raw, err->text, sizeof err->text);
}

int error_set(struct error *err, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		error_vformat(err, fmt, ap);
		va_end(ap);
	}
	errno = saved;
	return -1;
}

int error_errno(struct error *err, const char *fmt, ...)
{
	int saved = errno;
	size_t used;
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		error_vformat(err, fmt, ap);
		va_end(ap);
		used = strlen(err->text);
		snprintf(err->text + used, sizeof err->text - used, ": %s", strerror(saved));
	}
	errno = saved;
	return -1;
}

int error_prefix(struct error *err, const char *fmt, ...)
{
	int saved = errno;
	char old[sizeof err->text];
	size_t used;
	va_list ap;

	if (err) {
		memcpy(old, err->text, sizeof old);
		va_start(ap, fmt);
		error_vformat(err, fmt, ap);
		va_end(ap);
		used = strlen(err->text);
		snprintf(err->text + used, sizeof err->text - used, "%s", old);
	}
	errno = saved;
	return -1;
}
