/* text.h: outside text made safe to print or record.
 *
 * Names and values from a bundle, a message or a peer reach error texts,
 * log lines and the history.  text_sanitize() is the one place they are made
 * harmless: every byte outside printable ASCII (0x20..0x7e) becomes "\xHH",
 * so no newline can forge a log line and no escape sequence reaches a
 * terminal.  A backslash is kept as it is, which makes the function
 * idempotent (text already sanitised passes unchanged through the next
 * layer); the price is that a literal "\x1b" and an escaped ESC print alike.
 * error_set() and friends, log lines and history_append() all apply it. */
#ifndef SLOTD_TEXT_H
#define SLOTD_TEXT_H

#include <stddef.h>

/* Writes the sanitised src into dst (len > 0 bytes, always NUL-terminated;
 * an escape is never cut in half).  Returns dst.  src and dst must not
 * overlap. */
const char *text_sanitize(const char *src, char *dst, size_t len);

#endif
