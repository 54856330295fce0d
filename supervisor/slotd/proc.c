/* proc.c: what slotd reads of another process in /proc/PID/stat, and
 * whether /proc shows slotd's own PID namespace at all.
 *
 * The command name (field 2) is in parentheses and may hold anything, blanks
 * and ")" included, so the fields are counted from the last ")". */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "slotd.h"

int proc_stat_read(pid_t pid, struct proc_stat *out)
{
	char path[64], text[1024], *close_paren;
	int fd, ppid;
	ssize_t n;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, text, sizeof text - 1);
	close(fd);
	if (n <= 0)
		return -1;
	text[n] = '\0';
	close_paren = strrchr(text, ')');
	/* After ")": state (field 3), ppid (4), ... starttime (22). */
	if (!close_paren ||
	    sscanf(close_paren + 1, " %c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d "
				    "%*d %*d %*d %*d %llu", &out->state, &ppid, &out->start_time) != 3)
		return -1;
	out->ppid = ppid;
	return 0;
}

/* `unshare --pid` without a /proc of its own leaves the parent namespace's:
 * its "self" then names slotd by another pid, and /proc/PID another process. */
int proc_is_own(void)
{
	char link[32], self[32];
	ssize_t n = readlink("/proc/self", link, sizeof link - 1);

	if (n <= 0)
		return 0;	/* no /proc at all */
	link[n] = '\0';
	snprintf(self, sizeof self, "%d", (int)getpid());
	return !strcmp(link, self);
}
