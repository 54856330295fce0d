/* extract_internal.h: helpers shared by the files of updater/extract/ only. */
#ifndef SLOTD_EXTRACT_INTERNAL_H
#define SLOTD_EXTRACT_INTERNAL_H

#include <stddef.h>

/* Normalises an archive path into out (size len): drops "." and empty
 * components and a trailing '/'.  Returns 0, or -1 with *why set to a static
 * reason for an absolute path, a ".." component or a path that is too long.
 * An empty result (the archive's "./") is allowed: out is "". */
int extract_path_normalize(const char *path, char *out, size_t len, const char **why);

/* Splits a normalised path at its last '/': *name points into path, parent
 * gets the part before it ("" for a top-level entry). */
int extract_path_split(const char *path, char *parent, size_t len, const char **name);

/* 1 when a symlink at normalised link_path with this target stays inside the
 * slot when resolved lexically from the link's directory and ".." only leads
 * the target (so it never climbs out of another symlink); else 0. */
int extract_path_link_inside(const char *link_path, const char *target);

/* Copies s into out (size len) for an error message: bytes outside printable
 * ASCII become '?', so a hostile name cannot forge log lines; returns out. */
const char *extract_path_printable(const char *s, char *out, size_t len);

#endif
