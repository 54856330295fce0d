/* extract.h: hardened extraction of a slot payload (tar, optionally gzip, xz
 * or zstd compressed) into an empty slot directory.
 *
 * Promises:
 * - Nothing is ever created, written, chmod'ed or linked outside slot_fd.
 *   Every parent directory is opened with openat2(RESOLVE_BENEATH |
 *   RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV), so a
 *   symlink anywhere in an entry's parent path makes the entry fail, and the
 *   last component is created with O_CREAT|O_EXCL / mkdirat / symlinkat /
 *   linkat, none of which follow a symlink.  The openat2 choice (one syscall
 *   per directory change, the parent fd is cached across entries of the same
 *   directory) costs fewer syscalls than an openat-per-component walk.
 * - Refused (error naming the entry, -1): absolute paths, `..` components,
 *   symlinks whose target, resolved lexically from the link's directory,
 *   leaves the slot (absolute targets included) or has a `..` after a normal
 *   component ("d/.." climbs out if d is itself a link to "."), hardlinks whose target is
 *   not an entry already extracted, device nodes, fifos, sockets, a type
 *   change over an existing directory (or a directory over a non-directory),
 *   more than max_entries entries (directories implied by a path but not
 *   listed count too), more than max_bytes regular-file bytes.
 *   Limits are checked at the header, before any data is written, with the
 *   entry's apparent size (a 1 GB sparse file counts 1 GB).
 * - Only libarchive's gzip, xz and zstd filters are enabled (plus none):
 *   never support_filter_all, whose external-program fallbacks would let a
 *   hostile payload pick a program to run.  Format: tar (ustar, pax, GNU).
 * - Modes: archive mode & 07777, and & 0777 unless allow_setuid.  Owners are
 *   not changed (files belong to the caller).  mtimes from the archive;
 *   directory modes and mtimes are applied after the last entry, so a 0555
 *   directory can still be filled and its mtime is not disturbed.
 * - Sparse files keep their holes: data blocks are written with pwrite at
 *   their offsets and the file is truncated to its apparent size; holes read
 *   back as zeros.
 * - Duplicate entries: a later file, symlink or hardlink replaces an earlier
 *   non-directory (unlink first, so a hardlinked twin is never modified); a
 *   directory entry over an existing directory just updates its mode/mtime.
 * - Thread-safe: no globals, no chdir, no umask changes.
 * - Entry names in messages have non-printable bytes replaced by '?'.
 *
 * Durability: extract_sync() uses one syncfs(slot_fd).  Measured with
 * tests/bench/extract.sh on the 2-core dev VM, median of 3 runs, tar.gz input:
 *
 *   tree                     2,000 files/40 MB   10,000 files/200 MB
 *   extract + syncfs         0.70 s, 6.2 sc/f    3.49 s, 5.5 sc/f
 *   extract + fsync each     1.40 s              4.54 s
 *   archive_write_disk+sync  1.03 s, 18.7 sc/f   4.85 s, 17.6 sc/f
 *   GNU tar -xzf + sync -f   1.49 s              3.99 s
 *
 * (sc/f: syscalls per file, strace -c; peak RSS 5 MiB throughout.)  syncfs is
 * one flush instead of one journal commit per file; it also flushes other
 * dirty data of the same filesystem, acceptable as the slot filesystem is the
 * updater's.
 *
 * Depth: an entry more than EXTRACT_DEPTH_MAX components deep is refused
 * (naming the constant).  extract_clear() does not rely on it: it clears any
 * tree the filesystem holds with two descriptors and no per-level memory.
 * openat2 needs Linux >= 5.6. */
#ifndef SLOTD_EXTRACT_H
#define SLOTD_EXTRACT_H

#include "error.h"

/* Deepest entry accepted: "a/b/c" is 3 deep.  Real slot trees (a Python
 * venv, node_modules) stay well under it. */
#define EXTRACT_DEPTH_MAX 128

struct extract_limits {
	unsigned long long max_bytes;     /* total regular-file bytes */
	unsigned long long max_entries;
	int allow_setuid;                 /* else setuid/setgid/sticky bits are stripped */
};

struct extract_stats {
	unsigned long long entries, bytes, files, directories, symlinks, hardlinks;
};

/* Reads a tar stream (gzip, xz, zstd or none) from in_fd until EOF and creates
 * the tree beneath slot_fd, an O_DIRECTORY fd of an EMPTY directory.  On any
 * error returns -1 with err naming the entry ("entry 'x/../y': path escapes
 * the slot") and leaves a partial tree the caller will clear.  stats may be
 * NULL; on error it holds what was extracted so far.  Does not close in_fd. */
int extract_stream(int in_fd, int slot_fd, const struct extract_limits *limits,
		   struct extract_stats *stats, struct error *err);

/* Makes everything written beneath slot_fd durable (syncfs). */
int extract_sync(int slot_fd, struct error *err);

/* Removes everything beneath slot_fd (not slot_fd itself) without following
 * symlinks or crossing mounts; read-only directories inside are made
 * writable first.  Any depth: at most 2 descriptors beyond slot_fd and
 * constant memory (it climbs back with "..", checking it stays on the slot's
 * filesystem and ends at slot_fd). */
int extract_clear(int slot_fd, struct error *err);

/* The lexical rules extract_stream() applies, for packagers (slotpack) that
 * must refuse what a guest would refuse.
 * 1 if `path` (relative to the slot) is absolute, empty or has a ".." component. */
int extract_path_unsafe(const char *path);
/* 1 if a symlink at `link_path` (relative to the slot) pointing at `target`
 * is refused: absolute or empty target, resolving outside the slot, or a ".."
 * after a normal component. */
int extract_link_escapes(const char *link_path, const char *target);

#endif
