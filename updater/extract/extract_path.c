/* extract_path.c: lexical checks on archive paths and symlink targets.
 * Nothing here touches the filesystem: the kernel (openat2 RESOLVE_BENEATH)
 * is the second line of defence. */
#include <limits.h>
#include <string.h>

#include "extract/extract.h"
#include "extract/extract_internal.h"

/* Next component of *p (skipping slashes); returns its length, 0 at the end. */
static size_t path_next(const char **p, const char **comp)
{
	size_t n;

	while (**p == '/')
		(*p)++;
	*comp = *p;
	n = strcspn(*p, "/");
	*p += n;
	return n;
}

static int is_dot(const char *c, size_t n)
{
	return n == 1 && c[0] == '.';
}

static int is_dotdot(const char *c, size_t n)
{
	return n == 2 && c[0] == '.' && c[1] == '.';
}

int extract_path_normalize(const char *path, char *out, size_t len, const char **why)
{
	const char *p = path, *comp;
	size_t n, used = 0;

	if (path[0] == '/') {
		*why = "absolute path";
		return -1;
	}
	while ((n = path_next(&p, &comp)) > 0) {
		if (is_dot(comp, n))
			continue;
		if (is_dotdot(comp, n)) {
			*why = "path escapes the slot ('..' component)";
			return -1;
		}
		if (n > NAME_MAX || used + n + 2 > len) {
			*why = "path too long";
			return -1;
		}
		if (used > 0)
			out[used++] = '/';
		memcpy(out + used, comp, n);
		used += n;
	}
	out[used] = '\0';
	return 0;
}

int extract_path_split(const char *path, char *parent, size_t len, const char **name)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;

	if (n + 1 > len)
		return -1;
	memcpy(parent, path, n);
	parent[n] = '\0';
	*name = slash ? slash + 1 : path;
	return 0;
}

int extract_path_link_inside(const char *link_path, const char *target)
{
	const char *p = link_path, *comp;
	long depth = 0;
	int descended = 0;
	size_t n;

	if (target[0] == '\0' || target[0] == '/')
		return 0;
	/* the link's directory is as deep as its path has components minus one */
	while ((n = path_next(&p, &comp)) > 0)
		depth += !is_dot(comp, n);
	depth--;
	p = target;
	while ((n = path_next(&p, &comp)) > 0) {
		if (is_dot(comp, n))
			continue;
		/* ".." after a descent could climb out of a component that is
		 * itself a symlink (d -> ., then "d/.."): only leading ".." is
		 * allowed, the link's own directory has no symlink in it. */
		if (is_dotdot(comp, n)) {
			if (descended || --depth < 0)
				return 0;
		} else {
			descended = 1;
			depth++;
		}
	}
	return 1;
}

int extract_path_unsafe(const char *path)
{
	char out[PATH_MAX];
	const char *why;

	return !path || extract_path_normalize(path, out, sizeof out, &why) < 0 || !out[0];
}

int extract_link_escapes(const char *link_path, const char *target)
{
	return !extract_path_link_inside(link_path, target);
}
