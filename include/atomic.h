/* atomic.h: durable file replacement.
 *
 * atomic_replace_file() promises that after a crash at any instant `name`
 * holds either its old content or the complete new content, never a mix:
 * write "name.tmp", fsync it, rename over "name", fsync the directory.
 * Each durable step is a crash point (crash.h). */
#ifndef SLOTD_ATOMIC_H
#define SLOTD_ATOMIC_H

#include <stddef.h>
#include <sys/types.h>
#include "error.h"

/* Replaces dirfd/name with data[0..len); the new file gets `mode`. */
int atomic_replace_file(int dirfd, const char *name, const void *data, size_t len,
			mode_t mode, struct error *err);

/* fsync()s the directory open at dirfd (after a rename, link or unlink in it). */
int atomic_fsync_dir(int dirfd, const char *what, struct error *err);

/* write() all of buf, retrying on EINTR and short writes. */
int atomic_write_all(int fd, const void *buf, size_t len);

/* Reads all of dirfd/name (at most max bytes) into a malloc'd NUL-terminated
 * buffer.  Returns 0, or -1 with errno (ENOENT when missing, EFBIG when larger). */
int atomic_read_file(int dirfd, const char *name, size_t max, char **out, size_t *out_len,
		     struct error *err);

#endif
