/* support_fuzz.c: see support_fuzz.h. */
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "support_fuzz.h"

#ifndef FUZZ_DIR
#error "FUZZ_DIR must name tests/fuzz (the Makefile defines it)"
#endif

void fuzz_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("fuzz: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

static int fuzz_remove(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	/* a read-only directory from a hostile tar must still be emptied */
	if (flag == FTW_DP || flag == FTW_D)
		chmod(path, 0700);
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

void fuzz_rmtree(const char *path)
{
	if (nftw(path, fuzz_remove, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
		fuzz_fail("cannot remove %s: %s", path, strerror(errno));
}

/* One temporary directory per process; removed at a normal exit (a crash
 * keeps it, for the post-mortem). */
static char fuzz_tmp_root[4096];

static void fuzz_tmp_cleanup(void)
{
	if (fuzz_tmp_root[0])
		fuzz_rmtree(fuzz_tmp_root);
}

void fuzz_tmpdir(char *buf, size_t len)
{
	const char *tmp = getenv("TMPDIR");

	/* tmpfs: the parsers' fsyncs (state, history) cost nothing there */
	if ((!tmp || !tmp[0]) && access("/dev/shm", W_OK) == 0)
		tmp = "/dev/shm";
	if (fuzz_tmp_root[0])
		fuzz_fail("fuzz_tmpdir: one per process");
	snprintf(fuzz_tmp_root, sizeof fuzz_tmp_root, "%s/slotd-fuzz.XXXXXX",
		 tmp && tmp[0] ? tmp : "/tmp");
	if (!mkdtemp(fuzz_tmp_root))
		fuzz_fail("mkdtemp %s: %s", fuzz_tmp_root, strerror(errno));
	atexit(fuzz_tmp_cleanup);
	if ((size_t)snprintf(buf, len, "%s", fuzz_tmp_root) >= len)
		fuzz_fail("fuzz_tmpdir: buffer too small");
}

const char *fuzz_file(const char *relative, char *buf, size_t len)
{
	if ((size_t)snprintf(buf, len, "%s/%s", FUZZ_DIR, relative) >= len)
		fuzz_fail("fuzz_file: path too long");
	if (access(buf, R_OK) < 0)
		fuzz_fail("%s: %s", buf, strerror(errno));
	return buf;
}

char *fuzz_strndup(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1);

	if (!copy)
		fuzz_fail("out of memory");
	memcpy(copy, data, size);
	copy[size] = '\0';
	return copy;
}

int fuzz_memfd(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz-input", MFD_CLOEXEC);
	size_t done = 0;
	ssize_t n;

	if (fd < 0)
		fuzz_fail("memfd_create: %s", strerror(errno));
	while (done < size) {
		n = write(fd, data + done, size - done);
		if (n <= 0)
			fuzz_fail("memfd write: %s", strerror(errno));
		done += (size_t)n;
	}
	if (lseek(fd, 0, SEEK_SET) < 0)
		fuzz_fail("memfd lseek: %s", strerror(errno));
	return fd;
}

void fuzz_check_terminated(const char *text, size_t size, const char *what)
{
	if (!memchr(text, '\0', size))
		fuzz_fail("%s: not NUL-terminated", what);
}

json_t *fuzz_json_inner(const uint8_t *data, size_t size)
{
	json_t *outer = json_loadb((const char *)data, size, 0, NULL), *text, *inner;

	if (!json_is_object(outer)) {
		json_decref(outer);
		return NULL;
	}
	text = json_object_get(outer, "oslo.message");
	if (!text)
		return outer;
	inner = json_is_string(text) ? json_loads(json_string_value(text), 0, NULL) : NULL;
	json_decref(outer);
	return inner;
}
