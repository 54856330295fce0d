/* version.c: parse and order agent versions (grammar in include/version.h). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "version.h"

/* A dot-separated identifier list of [0-9A-Za-z-], no empty identifier. */
static int version_valid_identifiers(const char *text, size_t len)
{
	size_t i, run = 0;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++) {
		if (text[i] == '.') {
			if (run == 0)
				return 0;
			run = 0;
		} else if (isalnum((unsigned char)text[i]) || text[i] == '-') {
			run++;
		} else {
			return 0;
		}
	}
	return run > 0;
}

int version_parse(const char *text, struct version *version, struct error *err)
{
	const char *p = text, *pre, *build;
	size_t digits, pre_len;

	memset(version, 0, sizeof *version);
	if (strlen(text) >= VERSION_TEXT_MAX)
		return error_set(err, "version '%.20s...': longer than %d characters", text,
				 VERSION_TEXT_MAX - 1);
	if (*p == 'v' || *p == 'V')
		p++;
	for (;;) {
		digits = strspn(p, "0123456789");
		if (digits == 0 || digits > 9)
			return error_set(err, "version '%s': expected 1 to 9 digits at '%s'", text, p);
		if (version->count == VERSION_MAX_COMPONENTS)
			return error_set(err, "version '%s': more than %d numbers", text,
					 VERSION_MAX_COMPONENTS);
		version->number[version->count++] = (uint32_t)strtoul(p, NULL, 10);
		p += digits;
		if (*p != '.')
			break;
		p++;
	}
	build = strchr(p, '+');
	if (build && !version_valid_identifiers(build + 1, strlen(build + 1)))
		return error_set(err, "version '%s': bad build metadata '%s'", text, build);
	pre_len = build ? (size_t)(build - p) : strlen(p);
	if (pre_len == 0)
		return 0;
	pre = p;
	if (*pre != '-' || !version_valid_identifiers(pre + 1, pre_len - 1))
		return error_set(err, "version '%s': unexpected '%.*s'", text, (int)pre_len, pre);
	memcpy(version->prerelease, pre + 1, pre_len - 1);
	version->prerelease[pre_len - 1] = '\0';
	return 0;
}

static int version_is_numeric(const char *id, size_t len)
{
	return len > 0 && strspn(id, "0123456789") >= len;
}

/* One pre-release identifier against another (semver rule 11). */
static int version_compare_identifier(const char *a, size_t a_len, const char *b, size_t b_len)
{
	int a_num = version_is_numeric(a, a_len), b_num = version_is_numeric(b, b_len);
	int c;

	if (a_num && b_num) {
		/* Strip leading zeros, then the longer number is larger. */
		while (a_len > 1 && *a == '0')
			a++, a_len--;
		while (b_len > 1 && *b == '0')
			b++, b_len--;
		if (a_len != b_len)
			return a_len < b_len ? -1 : 1;
		return memcmp(a, b, a_len);
	}
	if (a_num != b_num)
		return a_num ? -1 : 1;
	c = memcmp(a, b, a_len < b_len ? a_len : b_len);
	if (c)
		return c;
	return a_len == b_len ? 0 : a_len < b_len ? -1 : 1;
}

static int version_compare_prerelease(const char *a, const char *b)
{
	size_t a_len, b_len;
	int c;

	if (!*a || !*b)		/* no pre-release ranks above any pre-release */
		return !*a - !*b;
	for (;;) {
		a_len = strcspn(a, ".");
		b_len = strcspn(b, ".");
		c = version_compare_identifier(a, a_len, b, b_len);
		if (c)
			return c;
		a += a_len;
		b += b_len;
		if (!*a || !*b)
			return !*b - !*a;
		a++;
		b++;
	}
}

int version_compare(const struct version *a, const struct version *b)
{
	unsigned i;
	uint32_t x, y;

	for (i = 0; i < VERSION_MAX_COMPONENTS; i++) {
		x = i < a->count ? a->number[i] : 0;
		y = i < b->count ? b->number[i] : 0;
		if (x != y)
			return x < y ? -1 : 1;
	}
	return version_compare_prerelease(a->prerelease, b->prerelease);
}

int version_compare_text(const char *a, const char *b, int *result, struct error *err)
{
	struct version va, vb;

	if (version_parse(a, &va, err) < 0 || version_parse(b, &vb, err) < 0)
		return -1;
	*result = version_compare(&va, &vb);
	return 0;
}
