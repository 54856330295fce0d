/* support_fuzz.h: helpers shared by the libFuzzer harnesses (tests/fuzz/).
 *
 * Harnesses abort() on a broken invariant, so libFuzzer records the input as
 * a crash; every helper here aborts rather than returning an error, as a
 * harness that cannot set itself up must not report "no crash". */
#ifndef SLOTD_SUPPORT_FUZZ_H
#define SLOTD_SUPPORT_FUZZ_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Prints what broke and aborts (a finding, or a harness that cannot run). */
void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* A fresh directory under $TMPDIR (else /dev/shm, else /tmp), removed at a
 * normal exit; path into buf.  One per process. */
void fuzz_tmpdir(char *buf, size_t len);
/* rm -rf without following symlinks; aborts if anything stays. */
void fuzz_rmtree(const char *path);

/* "<FUZZ_DIR>/<relative>": checked-in keys of the harnesses (keys/). */
const char *fuzz_file(const char *relative, char *buf, size_t len);

/* A NUL-terminated malloc()ed copy of data (parsers of C strings). */
char *fuzz_strndup(const uint8_t *data, size_t size);
/* An fd at offset 0 of an anonymous file holding data (parsers of streams). */
int fuzz_memfd(const uint8_t *data, size_t size);

/* The inner message of an AMQP body (bare, or the oslo envelope's
 * "oslo.message" text) as a new reference, or NULL when there is none. */
json_t *fuzz_json_inner(const uint8_t *data, size_t size);

/* Aborts unless text[0..size) holds a NUL (a filled fixed-size field). */
void fuzz_check_terminated(const char *text, size_t size, const char *what);

#endif
