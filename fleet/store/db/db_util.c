/* db_util.c: the helpers of store/db/db.h that the backends and the store's
 * modules share: a batch run one statement at a time, columns read, server
 * messages made one line.  Below the registry (store/db.c) and the
 * backends: it calls neither. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/db/db.h"

int db_exec_each(struct db *db, struct db_stmt *stmts, size_t n, struct error *err)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (db_exec(db, stmts[i].sql, stmts[i].params, stmts[i].nparams, stmts[i].fn,
			    stmts[i].ctx, &stmts[i].changes, err))
			return -1;
	}
	return 0;
}

void db_copy_text(char *dst, size_t size, const char *src)
{
	size_t len;

	if (!src)
		src = "";
	len = strlen(src);
	if (len >= size) {
		len = size - 1;
		/* Never keep half of a UTF-8 sequence: back up to its lead byte. */
		while (len > 0 && ((unsigned char)src[len] & 0xC0) == 0x80)
			len--;
	}
	memcpy(dst, src, len);
	dst[len] = '\0';
}

int db_parse_int(const char *text, const char *column, int64_t *value, struct error *err)
{
	char *end;
	long long v;

	if (!text || !*text)
		return error_set(err, "column %s: empty where a number was expected", column);
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno || *end)
		return error_set(err, "column %s: not a 64-bit number", column);
	*value = v;
	return 0;
}

void db_one_line(char *text)
{
	const char *in;
	char *out = text;

	/* Control characters become spaces, runs of spaces one. */
	for (in = text; *in; in++) {
		int space = (unsigned char)*in < 0x20 || *in == 0x7f || *in == ' ';

		if (!space)
			*out++ = *in;
		else if (out > text && out[-1] != ' ')
			*out++ = ' ';
	}
	while (out > text && out[-1] == ' ')
		out--;
	*out = '\0';
}
