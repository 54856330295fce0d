/* extract.h: unpacking a payload into a slot, hardened (DESIGN.md section 5).
 *
 * extract_stream() reads a tar (gzip, xz, zstd or none) and creates its tree
 * beneath an empty slot directory.  Before an entry is written it is checked:
 * no absolute path, no ".." component, regular files, directories, symlinks
 * and hardlinks only (no devices, fifos, sockets), a symlink's target and a
 * hardlink's source must stay inside the slot, setuid/setgid bits are
 * stripped unless allowed, and the entry count and the total of regular-file
 * sizes are bounded (counted from headers, so a huge sparse file is refused
 * before a byte of it is written).  Writing goes through libarchive's
 * archive_write_disk with SECURE_SYMLINKS and SECURE_NODOTDOT, so nothing is
 * written through a symlink.  No chdir and no global state: safe on a thread.
 * Owners are not restored: the slot belongs to the updater's user.
 *
 * Durability: extract_sync() is one syncfs() of the slot's filesystem rather
 * than an fsync per file (one flush instead of 10,000). */
#ifndef SLOTD_EXTRACT_H
#define SLOTD_EXTRACT_H

#include "error.h"

struct extract_limits {
	unsigned long long max_bytes;
	unsigned long long max_entries;
	int allow_setuid;
};

struct extract_stats {
	unsigned long long entries, bytes, files, directories, symlinks, hardlinks;
};

int extract_stream(int in_fd, int slot_fd, const struct extract_limits *limits,
		   struct extract_stats *stats, struct error *err);
int extract_sync(int slot_fd, struct error *err);
/* Removes everything beneath slot_fd, never following a symlink. */
int extract_clear(int slot_fd, struct error *err);

/* 1 if `path` (relative to the slot) is absolute, empty or has a ".." component. */
int extract_path_unsafe(const char *path);
/* 1 if a symlink at `link_path` (relative to the slot) pointing at `target`
 * would resolve outside the slot. */
int extract_link_escapes(const char *link_path, const char *target);

#endif
