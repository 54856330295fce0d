/* error.h: one human-readable error per failed call.
 *
 * Every fallible function takes a `struct error *` and, on failure, fills it
 * with one line that names what was wrong and where (a path, a key, a block
 * number), then returns -1.  errno is left as the failing syscall set it, so a
 * caller can still branch on it.  A NULL error pointer is allowed.  The text
 * is passed through text_sanitize() (include/text.h): outside data put in
 * an error can never break the line or reach a terminal raw. */
#ifndef SLOTD_ERROR_H
#define SLOTD_ERROR_H

#include <stddef.h>

struct error {
	char text[512];
};

/* Formats into err (if not NULL); keeps errno; returns -1 for `return error_set(...)`. */
int error_set(struct error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Like error_set, appending ": strerror(errno)". */
int error_errno(struct error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Prefixes an existing message with context ("state: " + old text). */
int error_prefix(struct error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
