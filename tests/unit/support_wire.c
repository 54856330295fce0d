/* support_wire.c: the captured casts of tests/data/wire, for the unit tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

/* The n-th "body, exact bytes:" block of a capture file (0-based). */
char *support_capture_body(const char *file, int n)
{
	char path[512], line[16384], *body = NULL;
	const char *src = getenv("SLOTD_SRC");
	FILE *f;
	int seen = -1, take = 0;

	snprintf(path, sizeof path, "%s/tests/data/wire/%s", src ? src : ".", file);
	f = fopen(path, "r");
	if (!f)
		fail_msg("%s: cannot open", path);
	while (fgets(line, sizeof line, f)) {
		if (take && line[0] == '{') {
			line[strcspn(line, "\n")] = '\0';
			body = strdup(line);
			break;
		}
		if (!strncmp(line, "body, exact bytes:", 18) && ++seen == n)
			take = 1;
	}
	fclose(f);
	if (!body)
		fail_msg("%s: no body %d", path, n);
	return body;
}
