/* crash.c: crash points for the test build (see include/crash.h).
 * Only compiled into builds with -DSLOTS_CRASH_POINTS.  The counter is the
 * one piece of mutable global state outside signal flags, and exists only in
 * test builds: it numbers the durable steps a process has passed. */
#include "crash.h"

#ifdef SLOTS_CRASH_POINTS
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned long crash_counter;

void crash_point_reset(void)
{
	crash_counter = 0;
}

void crash_point(const char *label)
{
	const char *at = getenv("SLOTS_CRASH_AT");
	const char *trace = getenv("SLOTS_CRASH_TRACE");
	char line[160];
	int fd, n;

	crash_counter++;
	if (trace && *trace) {
		fd = open(trace, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (fd >= 0) {
			n = snprintf(line, sizeof line, "%lu %s\n", crash_counter, label);
			if (n > 0 && write(fd, line, (size_t)n) < 0) {
				/* tracing is best effort */
			}
			close(fd);
		}
	}
	if (at && strtoul(at, NULL, 10) == crash_counter)
		_exit(CRASH_EXIT_CODE);
}
#else
/* ISO C forbids an empty translation unit. */
typedef int crash_points_disabled;
#endif
