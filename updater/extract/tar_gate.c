/* tar_gate.c: the tar profile check in front of libarchive (updater/extract/tar_gate.h). */
#include <string.h>

#include "extract/tar_gate.h"

enum { GATE_HEADER, GATE_PAX, GATE_DATA, GATE_END1, GATE_END, GATE_FAILED };

static const char *const gate_pax_keys[] = {
	"path", "linkpath", "size", "mtime", "atime", "ctime", "uid", "gid", "uname", "gname",
};

void tar_gate_init(struct tar_gate *g, enum tar_gate_profile profile, uint64_t trailer_max)
{
	memset(g, 0, sizeof *g);
	g->profile = profile;
	g->trailer_max = trailer_max;
	g->pax_next_size = -1;
	g->state = GATE_HEADER;
}

static int gate_fail(struct tar_gate *g, struct error *err, const char *why)
{
	g->state = GATE_FAILED;
	return error_set(err, "tar: entry #%llu, byte %llu: %s", g->entries + 1,
			 (unsigned long long)g->offset, why);
}

static int gate_is_zero(const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return 0;
	return 1;
}

/* A ustar octal field: optional leading spaces, octal digits, then NUL or
 * spaces to the end.  Base-256 (high bit) is refused: pax size= exists. */
static int gate_octal(const unsigned char *field, size_t len, uint64_t *out)
{
	size_t i = 0;
	uint64_t v = 0;
	int digits = 0;

	while (i < len && field[i] == ' ')
		i++;
	for (; i < len && field[i] >= '0' && field[i] <= '7'; i++, digits++) {
		if (v >> 60)
			return -1;
		v = v * 8 + (uint64_t)(field[i] - '0');
	}
	for (; i < len; i++)
		if (field[i] != '\0' && field[i] != ' ')
			return -1;
	*out = v;
	return digits ? 0 : -1;
}

static int gate_checksum_ok(const unsigned char *h)
{
	uint64_t want, sum = 0;

	if (gate_octal(h + 148, 8, &want) < 0)
		return 0;
	for (size_t i = 0; i < 512; i++)
		sum += (i >= 148 && i < 156) ? ' ' : h[i];
	return sum == want;
}

static uint64_t gate_padded(uint64_t size)
{
	return (size + 511) & ~(uint64_t)511;
}

/* A header block (not all zero): decides what follows it. */
static int gate_header(struct tar_gate *g, struct error *err)
{
	const unsigned char *h = g->block;
	char type = (char)h[156];
	uint64_t size;

	if (!memcmp(h + 257, "ustar  \0", 8))
		return gate_fail(g, err, "a GNU tar header (only POSIX ustar is allowed)");
	if (memcmp(h + 257, "ustar\0", 6) || memcmp(h + 263, "00", 2))
		return gate_fail(g, err, "not a POSIX ustar header");
	if (!gate_checksum_ok(h))
		return gate_fail(g, err, "header checksum does not match");
	if (gate_octal(h + 124, 12, &size) < 0)
		return gate_fail(g, err, "size field is not an octal number");
	if (g->profile == TAR_GATE_CONTAINER && type != '0')
		return gate_fail(g, err, "a container member that is not a regular file ('0')");
	if (type == 'x') {
		if (g->pax_pending)
			return gate_fail(g, err, "two pax headers in a row");
		if (size > TAR_GATE_PAX_MAX)
			return gate_fail(g, err, "pax header larger than TAR_GATE_PAX_MAX (16384)");
		g->pax_size = (size_t)size;
		g->pax_len = 0;
		g->skip = gate_padded(size);
		g->state = g->skip ? GATE_PAX : GATE_HEADER;
		g->pax_pending = !g->skip;	/* an empty pax header still wants an entry */
		return 0;
	}
	if (!strchr("0123456", type) || type == '\0')
		return gate_fail(g, err, "entry type not allowed (GNU, sparse, global or "
				 "long-name headers are not part of the format)");
	if (g->pax_next_size >= 0)
		size = (uint64_t)g->pax_next_size;
	if (type != '0' && size != 0)
		return gate_fail(g, err, "a non-regular entry with data");
	g->pax_next_size = -1;
	g->pax_pending = 0;
	g->entries++;
	g->skip = gate_padded(size);
	g->state = g->skip ? GATE_DATA : GATE_HEADER;
	return 0;
}

static int gate_pax_key_allowed(const char *key, size_t len)
{
	for (size_t i = 0; i < sizeof gate_pax_keys / sizeof *gate_pax_keys; i++)
		if (strlen(gate_pax_keys[i]) == len && !memcmp(gate_pax_keys[i], key, len))
			return 1;
	return 0;
}

/* "LEN key=value\n" records; remembers size= for the next header. */
static int gate_pax_records(struct tar_gate *g, struct error *err)
{
	const char *p = g->pax, *end = g->pax + g->pax_size;

	while (p < end) {
		size_t len = 0, left = (size_t)(end - p);
		const char *q = p, *eq, *value;
		uint64_t v = 0;

		for (; q < end && *q >= '0' && *q <= '9' && len <= left; q++)
			len = len * 10 + (size_t)(*q - '0');
		if (q == p || q >= end || *q != ' ' || len > left || len < 5 ||
		    q + 1 >= p + len - 1 || p[len - 1] != '\n')
			return gate_fail(g, err, "malformed pax record");
		eq = memchr(q + 1, '=', (size_t)(p + len - 1 - (q + 1)));
		if (!eq || eq == q + 1)
			return gate_fail(g, err, "malformed pax record");
		if (!gate_pax_key_allowed(q + 1, (size_t)(eq - (q + 1))))
			return gate_fail(g, err, "pax key not allowed (only path, linkpath, size, "
					 "mtime, atime, ctime, uid, gid, uname, gname)");
		if (eq - (q + 1) == 4 && !memcmp(q + 1, "size", 4)) {
			for (value = eq + 1; value < p + len - 1; value++) {
				if (*value < '0' || *value > '9' || v > (UINT64_MAX >> 5))
					return gate_fail(g, err, "pax size is not a decimal number");
				v = v * 10 + (uint64_t)(*value - '0');
			}
			if (value == eq + 1 || v > INT64_MAX)
				return gate_fail(g, err, "pax size is not a decimal number");
			g->pax_next_size = (int64_t)v;
		}
		p += len;
	}
	g->pax_pending = 1;
	return 0;
}

/* Collects up to 512 bytes into block; returns bytes taken. */
static size_t gate_collect(struct tar_gate *g, const unsigned char *p, size_t len)
{
	size_t n = 512 - g->have < len ? 512 - g->have : len;

	memcpy(g->block + g->have, p, n);
	g->have += n;
	return n;
}

/* One step of the state machine over p; returns bytes consumed or -1. */
static long gate_step(struct tar_gate *g, const unsigned char *p, size_t len, struct error *err)
{
	size_t n;

	switch (g->state) {
	case GATE_HEADER:
	case GATE_END1:
		n = gate_collect(g, p, len);
		g->offset += n;
		if (g->have < 512)
			return (long)n;
		g->have = 0;
		if (gate_is_zero(g->block, 512)) {
			if (g->state == GATE_HEADER && g->pax_pending)
				return gate_fail(g, err, "pax header not followed by an entry");
			g->state = g->state == GATE_HEADER ? GATE_END1 : GATE_END;
			return (long)n;
		}
		if (g->state == GATE_END1)
			return gate_fail(g, err, "a lone zero block inside the archive");
		return gate_header(g, err) < 0 ? -1 : (long)n;
	case GATE_PAX:
	case GATE_DATA:
		n = g->skip < len ? (size_t)g->skip : len;
		if (g->state == GATE_PAX && g->pax_len < g->pax_size) {
			size_t take = g->pax_size - g->pax_len < n ? g->pax_size - g->pax_len : n;

			memcpy(g->pax + g->pax_len, p, take);
			g->pax_len += take;
		}
		g->skip -= n;
		g->offset += n;
		if (g->skip == 0) {
			if (g->state == GATE_PAX && gate_pax_records(g, err) < 0)
				return -1;
			g->state = GATE_HEADER;
		}
		return (long)n;
	case GATE_END:
		g->offset += len;
		g->trailer += len;
		if (!gate_is_zero(p, len))
			return gate_fail(g, err, "data after the end-of-archive marker");
		if (g->trailer > g->trailer_max)
			return gate_fail(g, err, "more padding after the end-of-archive marker "
					 "than allowed");
		return (long)len;
	}
	return error_set(err, "tar: stream already refused");
}

int tar_gate_feed(struct tar_gate *g, const void *data, size_t len, struct error *err)
{
	const unsigned char *p = data;
	long n;

	while (len > 0) {
		n = gate_step(g, p, len, err);
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int tar_gate_finish(struct tar_gate *g, struct error *err)
{
	switch (g->state) {
	case GATE_END:
		return 0;
	case GATE_END1:
		return gate_fail(g, err, "only one of the two end-of-archive blocks");
	case GATE_HEADER:
		return gate_fail(g, err, g->have ? "truncated inside a header" :
				 "no end-of-archive marker (two zero blocks)");
	case GATE_PAX:
	case GATE_DATA:
		return gate_fail(g, err, "truncated inside an entry");
	}
	return error_set(err, "tar: stream already refused");
}
