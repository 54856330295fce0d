/* layout.c: create and check the directory layout (see include/layout.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layout.h"

static const struct {
	const char *path;
	mode_t mode;
} layout_directories[] = {
	{ "slots", 0755 },
	{ "slots/a", 0755 },
	{ "slots/b", 0755 },
	{ "cache", 0750 },
	/* The agent opens run/notify.sock and run/inhibit: it must reach run/. */
	{ "run", 0755 },
};

const char *layout_slot_name(int slot)
{
	return slot == SLOT_A ? "a" : slot == SLOT_B ? "b" : NULL;
}

int layout_slot_parse(const char *name)
{
	if (!strcmp(name, "a"))
		return SLOT_A;
	if (!strcmp(name, "b"))
		return SLOT_B;
	return SLOT_NONE;
}

int layout_path(const struct layout *layout, const char *relative, char *buf, size_t len)
{
	if (snprintf(buf, len, "%s/%s", layout->root, relative) >= (int)len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int layout_slot_path(const struct layout *layout, int slot, char *buf, size_t len)
{
	char relative[16];

	snprintf(relative, sizeof relative, "slots/%s", layout_slot_name(slot));
	return layout_path(layout, relative, buf, len);
}

/* mkdir -p for the root itself, so a fresh guest needs no preparation. */
static int layout_make_root(const char *root, struct error *err)
{
	char path[PATH_MAX];
	size_t i;

	snprintf(path, sizeof path, "%s", root);
	for (i = 1; path[i]; i++) {
		if (path[i] != '/')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return error_errno(err, "%s: mkdir", path);
		path[i] = '/';
	}
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return error_errno(err, "%s: mkdir", path);
	return 0;
}

static int layout_check_directory(const struct layout *layout, const char *relative, mode_t mode,
				  int create, struct error *err)
{
	struct stat st;

	if (create && mkdirat(layout->root_fd, relative, mode) < 0 && errno != EEXIST)
		return error_errno(err, "%s/%s: mkdir", layout->root, relative);
	if (fstatat(layout->root_fd, relative, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return error_errno(err, "%s/%s", layout->root, relative);
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return error_set(err, "%s/%s: not a directory (%s)", layout->root, relative,
				 S_ISLNK(st.st_mode) ? "a symlink" : "a file or other node");
	}
	return 0;
}

int layout_open(struct layout *layout, const char *root, int create, struct error *err)
{
	size_t i;

	layout->root_fd = -1;
	if (root[0] != '/')
		return error_set(err, "%s: slot root must be an absolute path", root);
	if (snprintf(layout->root, sizeof layout->root, "%s", root) >= (int)sizeof layout->root) {
		errno = ENAMETOOLONG;
		return error_errno(err, "slot root");
	}
	if (create && layout_make_root(root, err) < 0)
		return -1;
	layout->root_fd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (layout->root_fd < 0)
		return error_errno(err, "%s: cannot open slot root", root);
	for (i = 0; i < sizeof layout_directories / sizeof layout_directories[0]; i++) {
		if (layout_check_directory(layout, layout_directories[i].path,
					   layout_directories[i].mode, create, err) < 0) {
			layout_close(layout);
			return -1;
		}
	}
	return 0;
}

void layout_close(struct layout *layout)
{
	if (layout->root_fd >= 0)
		close(layout->root_fd);
	layout->root_fd = -1;
}

int layout_open_slot_dir(const struct layout *layout, int slot, struct error *err)
{
	char relative[16];
	int fd;

	snprintf(relative, sizeof relative, "slots/%s", layout_slot_name(slot));
	fd = openat(layout->root_fd, relative, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return error_errno(err, "%s/%s", layout->root, relative);
	return fd;
}
