/* log.c: see include/log.h.  The program name is the one piece of
 * process-wide state: set once at start, read-only afterwards. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "log.h"
#include "text.h"

static const char *log_program = "slotd";

void log_init(const char *program_name)
{
	log_program = program_name;
}

static void log_line(const char *level, const char *fmt, va_list ap)
{
	int saved = errno;
	char raw[1024], line[1024];

	vsnprintf(raw, sizeof raw, fmt, ap);
	/* names from bundles and peers: one printable line, always */
	text_sanitize(raw, line, sizeof line);
	/* One fprintf per line so concurrent writers do not interleave mid-line. */
	fprintf(stderr, "%s: %s%s\n", log_program, level, line);
	errno = saved;
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line("", fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line("warning: ", fmt, ap);
	va_end(ap);
}

void log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line("error: ", fmt, ap);
	va_end(ap);
}
