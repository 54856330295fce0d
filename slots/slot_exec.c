/* slot_exec.c: a slot's SLOT_EXEC_FILE (see include/slot_exec.h). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "slot_exec.h"

/* One line of [agent] exec's syntax whose first word stays in the slot. */
static int slot_exec_check(const char *command, struct error *err)
{
	const unsigned char *c;
	size_t first = strcspn(command, " \t"), part;
	const char *p;

	for (c = (const unsigned char *)command; *c; c++)
		if ((*c < 0x20 && *c != '\t') || *c == 0x7f)
			return error_set(err, "%s: control character at offset %zu", SLOT_EXEC_FILE,
					 (size_t)(c - (const unsigned char *)command));
	if (!first)
		return error_set(err, "%s: empty command", SLOT_EXEC_FILE);
	if (command[0] == '/')
		return error_set(err, "%s: the command must be relative to the slot",
				 SLOT_EXEC_FILE);
	for (p = command; p < command + first; p += part + (p[part] == '/')) {
		part = strcspn(p, "/ \t");
		if (part == 2 && p[0] == '.' && p[1] == '.')
			return error_set(err, "%s: '..' in the command", SLOT_EXEC_FILE);
	}
	return 0;
}

int slot_exec_read(int slot_fd, char *out, size_t len, struct error *err)
{
	ssize_t n;
	int fd = openat(slot_fd, SLOT_EXEC_FILE, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0)
		return error_errno(err, "%s", SLOT_EXEC_FILE);
	do
		n = read(fd, out, len);	/* one read: a regular file this small comes whole */
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n < 0)
		return error_errno(err, "%s", SLOT_EXEC_FILE);
	if ((size_t)n >= len || (size_t)n >= CONFIG_STRING_MAX)
		return error_set(err, "%s: longer than %d bytes", SLOT_EXEC_FILE,
				 CONFIG_STRING_MAX - 1);
	if (n > 0 && out[n - 1] == '\n')
		n--;
	out[n] = '\0';
	return slot_exec_check(out, err) < 0 ? -1 : 1;
}

int slot_exec_write(int slot_fd, const char *command, struct error *err)
{
	size_t len = strlen(command);
	int fd, rc = 0;

	if (len >= CONFIG_STRING_MAX)
		return error_set(err, "%s: longer than %d bytes", SLOT_EXEC_FILE,
				 CONFIG_STRING_MAX - 1);
	if (slot_exec_check(command, err) < 0)
		return -1;
	fd = openat(slot_fd, SLOT_EXEC_FILE, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    0644);
	if (fd < 0)
		return error_errno(err, "%s", SLOT_EXEC_FILE);
	if (write(fd, command, len) != (ssize_t)len || write(fd, "\n", 1) != 1)
		rc = error_errno(err, "%s: write", SLOT_EXEC_FILE);
	if (close(fd) < 0 && rc == 0)
		rc = error_errno(err, "%s: close", SLOT_EXEC_FILE);
	return rc;
}
