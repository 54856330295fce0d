/* support.h: helpers shared by the unit tests. */
#ifndef SLOTD_TEST_SUPPORT_H
#define SLOTD_TEST_SUPPORT_H

#include <stddef.h>

/* Creates a fresh directory under $TMPDIR (or /tmp); writes its path to buf. */
void support_tmpdir(char *buf, size_t len);
/* rm -rf without following symlinks. */
void support_rmtree(const char *path);
/* Writes text to path (whole file), failing the test on error. */
void support_write_file(const char *path, const char *text);
/* Reads a whole small file into buf (NUL-terminated); returns its length or -1. */
long support_read_file(const char *path, char *buf, size_t len);

/* The n-th (0-based) "body, exact bytes:" block of a capture file under
 * tests/data/wire ($SLOTD_SRC), malloc()ed; fails the test when missing. */
char *support_capture_body(const char *file, int n);

#endif
