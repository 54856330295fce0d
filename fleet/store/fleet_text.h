/* fleet_text.h: outside text made safe to store, answer and log.
 *
 * Every byte below 0x20 and 0x7f becomes '?', and the copy is cut to fit at
 * a UTF-8 character boundary (the input is UTF-8, as jansson guarantees for
 * JSON strings), so the result is still valid UTF-8 and carries no control
 * characters into a record, a JSON answer or a log line. */
#ifndef SLOTFLEET_TEXT_H
#define SLOTFLEET_TEXT_H

#include <stddef.h>

/* len >= 1; returns dst. */
char *fleet_text_clean(char *dst, size_t len, const char *src);

#endif
