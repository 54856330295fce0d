/* flip.c: read and atomically replace the `current` symlink (see include/flip.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "crash.h"
#include "flip.h"

int slot_current(const struct layout *layout, int *slot, struct error *err)
{
	char target[64];
	struct stat st;
	ssize_t n;

	*slot = SLOT_NONE;
	n = readlinkat(layout->root_fd, "current", target, sizeof target - 1);
	if (n < 0 && errno == ENOENT)
		return 0;
	if (n < 0 && errno == EINVAL)
		return error_set(err, "%s/current: not a symlink", layout->root);
	if (n < 0)
		return error_errno(err, "%s/current", layout->root);
	target[n] = '\0';
	if (!strcmp(target, "slots/a"))
		*slot = SLOT_A;
	else if (!strcmp(target, "slots/b"))
		*slot = SLOT_B;
	else
		return error_set(err, "%s/current: points at '%s', not slots/a or slots/b",
				 layout->root, target);
	if (fstatat(layout->root_fd, "current", &st, 0) < 0 || !S_ISDIR(st.st_mode)) {
		*slot = SLOT_NONE;
		return error_set(err, "%s/current: dangling, '%s' is not a directory",
				 layout->root, target);
	}
	return 0;
}

int slot_flip(const struct layout *layout, int slot, struct error *err)
{
	const char *target = slot == SLOT_A ? "slots/a" : "slots/b";

	if (unlinkat(layout->root_fd, "current.tmp", 0) < 0 && errno != ENOENT)
		return error_errno(err, "%s/current.tmp: remove stale link", layout->root);
	crash_point("symlink-current");
	if (symlinkat(target, layout->root_fd, "current.tmp") < 0)
		return error_errno(err, "%s/current.tmp: symlink", layout->root);
	crash_point("rename-current");
	if (renameat(layout->root_fd, "current.tmp", layout->root_fd, "current") < 0)
		return error_errno(err, "%s/current: rename", layout->root);
	return atomic_fsync_dir(layout->root_fd, layout->root, err);
}
