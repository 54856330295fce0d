/* layout.h: the on-disk layout under the slot root (docs/slots.md, On-disk layout).
 *
 *   <root>/slots/a/  <root>/slots/b/   the two install trees
 *   <root>/current                      symlink -> slots/a | slots/b
 *   <root>/state                        slot state (state.h)
 *   <root>/history                      upgrade history (history.h)
 *   <root>/cache/                       partial downloads
 *   <root>/run/                         control socket, notify socket, locks
 *
 * layout_open() creates what is missing (root 0755, run/ 0750, cache/ 0750,
 * slots/ 0755) and refuses anything that is there but wrong: a file where a
 * directory belongs, a symlinked root component, an unreadable root.  It never
 * deletes anything. */
#ifndef SLOTD_LAYOUT_H
#define SLOTD_LAYOUT_H

#include <limits.h>
#include "error.h"

enum { SLOT_A = 0, SLOT_B = 1, SLOT_COUNT = 2, SLOT_NONE = -1 };

struct layout {
	char root[PATH_MAX];
	int root_fd;	/* O_DIRECTORY of root, held open for *at() calls */
};

/* Opens (and with `create`, creates) the layout at root. */
int layout_open(struct layout *layout, const char *root, int create, struct error *err);
void layout_close(struct layout *layout);

/* "a" / "b"; NULL for anything else. */
const char *layout_slot_name(int slot);
/* 'a'/"a" -> SLOT_A, 'b'/"b" -> SLOT_B, else SLOT_NONE. */
int layout_slot_parse(const char *name);
static inline int layout_other_slot(int slot) { return slot == SLOT_A ? SLOT_B : SLOT_A; }

/* Writes "<root>/<relative>" into buf; -1 with ENAMETOOLONG if it does not fit. */
int layout_path(const struct layout *layout, const char *relative, char *buf, size_t len);
/* "<root>/slots/<a|b>" */
int layout_slot_path(const struct layout *layout, int slot, char *buf, size_t len);

/* Opens slots/<a|b> as an O_DIRECTORY fd (O_NOFOLLOW). */
int layout_open_slot_dir(const struct layout *layout, int slot, struct error *err);

#endif
