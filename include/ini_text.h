/* ini_text.h: checks INI text before it reaches inih.
 *
 * Debian's libinih is built with INI_MAX_LINE 200: a longer line is split and
 * its tail parsed as a line of its own, and an embedded NUL ends parsing
 * early.  Both would turn hostile input into silently different settings, so
 * every INI text (config, state, manifest) passes this check first. */
#ifndef SLOTD_INI_TEXT_H
#define SLOTD_INI_TEXT_H

#include <stddef.h>
#include "error.h"

#define INI_TEXT_LINE_MAX 199	/* bytes per line, without the newline */

/* 0 if text[0..len) has no NUL and no line longer than INI_TEXT_LINE_MAX;
 * else -1 with "NAME:LINE: ..." in err. */
int ini_text_check(const char *text, size_t len, const char *name, struct error *err);

#endif
