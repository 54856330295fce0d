/* store_check.c: what the store refuses before any SQL runs.  Texts must
 * be UTF-8 (PostgreSQL refuses anything else, so SQLite must too, or the
 * backends would differ) and fit the record's fixed fields. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "store/store_internal.h"

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF), or 0. */
static size_t store_utf8_len(const unsigned char *s)
{
	unsigned char lo = 0x80, hi = 0xBF;
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		n = 2;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		n = 3;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		n = 4;
	else
		return 0;
	if (s[0] == 0xE0)
		lo = 0xA0;
	else if (s[0] == 0xED)
		hi = 0x9F;
	else if (s[0] == 0xF0)
		lo = 0x90;
	else if (s[0] == 0xF4)
		hi = 0x8F;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	}
	return n;
}

int store_check_text(const char *s, size_t size, int may_be_null, const char *field,
		     struct error *err)
{
	size_t i, n;

	if (!s) {
		if (may_be_null)
			return 0;
		errno = EINVAL;
		return error_set(err, "store: %s missing", field);
	}
	if (strnlen(s, size) >= size) {
		errno = EINVAL;
		return error_set(err, "store: %s longer than %zu bytes", field, size - 1);
	}
	for (i = 0; s[i]; i += n) {
		if (!(n = store_utf8_len((const unsigned char *)s + i))) {
			errno = EINVAL;
			return error_set(err, "store: %s is not UTF-8 (byte %zu)", field, i + 1);
		}
	}
	return 0;
}

void store_clean_reason(char *buf, const char *reason)
{
	const unsigned char *s = (const unsigned char *)(reason ? reason : "");
	size_t used = 0, n;

	while (*s) {
		n = store_utf8_len(s);
		if (used + (n ? n : 1) >= FLEET_REASON_MAX)
			break;
		if (n) {
			memcpy(buf + used, s, n);
		} else {
			buf[used] = '?';
			n = 1;
		}
		used += n;
		s += n;
	}
	buf[used] = '\0';
}

int store_check_state(enum fleet_state state, struct error *err)
{
	if ((unsigned)state >= FLEET_STATE_COUNT) {
		errno = EINVAL;
		return error_set(err, "store: state %d is not a state", (int)state);
	}
	return 0;
}

int store_invalid(struct error *err, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err->text, sizeof err->text, fmt, ap);
		va_end(ap);
	}
	errno = EINVAL;
	return -2;
}
