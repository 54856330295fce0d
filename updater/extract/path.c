/* path.c: lexical checks of archive paths and link targets. */
#include <string.h>

#include "extract.h"

int extract_path_unsafe(const char *path)
{
	const char *p;
	size_t n;

	if (!path || !path[0] || path[0] == '/')
		return 1;
	for (p = path; *p; p += n + (p[n] == '/')) {
		n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return 1;
	}
	return 0;
}

int extract_link_escapes(const char *link_path, const char *target)
{
	const char *p, *last = strrchr(link_path, '/');
	int depth = 0;
	size_t n;

	if (target[0] == '/' || !target[0])
		return 1;
	/* Depth of the directory holding the link. */
	for (p = link_path; last && p < last; p += n + 1) {
		n = strcspn(p, "/");
		if (n > 0 && !(n == 1 && *p == '.'))
			depth++;
	}
	for (p = target; *p; p += n + (p[n] == '/')) {
		n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (--depth < 0)
				return 1;
		} else if (n > 0 && !(n == 1 && *p == '.')) {
			depth++;
		}
	}
	return 0;
}
