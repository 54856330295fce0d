/* prom.c: see include/prom.h. */
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "prom.h"

void prom_emit(struct prom_text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->used, t->size - t->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= t->size - t->used)
		t->overflow = 1;
	else
		t->used += (size_t)n;
}

int prom_write(const char *path, const char *text, size_t len, struct error *err)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];
	int fd, rc;

	if (!slash || !slash[1] || (size_t)(slash - path) >= sizeof dir)
		return error_set(err, "%s: not a file path", path);
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	fd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return error_errno(err, "%s", dir[0] ? dir : "/");
	rc = atomic_replace_file(fd, slash + 1, text, len, 0644, err);
	close(fd);
	return rc;
}

const char *prom_escape(const char *in, char *out, size_t len)
{
	size_t used = 0;

	for (; *in && used + 3 < len; in++) {
		unsigned char c = (unsigned char)*in;

		if (c == '\\' || c == '"' || c == '\n') {
			out[used++] = '\\';
			out[used++] = c == '\n' ? 'n' : (char)c;
		} else if (c >= 0x20 && c != 0x7f) {
			out[used++] = (char)c;
		}
	}
	out[used] = '\0';
	return out;
}
