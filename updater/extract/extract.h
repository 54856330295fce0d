/* extract.h: hardened extraction of a slot payload (tar compressed with the
 * declared gzip, xz or zstd) into an empty slot directory.
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
 *   listed count too), more than max_bytes regular-file bytes, more than
 *   EXTRACT_DEPTH_MAX components.  Limits are checked at the header, before
 *   any data is written.
 * - The stream is decoded here (source.c) with the one filter the caller
 *   declares (limits->compression), under EXTRACT_XZ_MEMLIMIT and
 *   EXTRACT_ZSTD_WINDOW_LOG_MAX, and every decoded byte passes the tar gate
 *   (updater/extract/tar_gate.h) before libarchive parses it: POSIX ustar headers
 *   and small pax 'x' records only, no GNU headers, no sparse files, no
 *   global or long-name headers, the end-of-archive marker required, then
 *   at most TAR_GATE_TRAILER_MAX zero bytes and the end of the compressed
 *   stream.  libarchive has the tar format only, no filters at all.
 * - Modes: archive mode & 07777, and & 0777 unless allow_setuid.  Owners are
 *   not changed (files belong to the caller).  File and symlink mtimes from
 *   the archive.  A directory gets its mode and mtime when its entry is
 *   read (entries created in it later move its mtime on); one whose mode
 *   lacks owner rwx (0555) is filled first and fixed after the last entry,
 *   at most EXTRACT_LOCKED_DIRS_MAX of them.  Memory is therefore constant
 *   in the number of directories.
 * - Duplicate entries: a later file, symlink or hardlink replaces an earlier
 *   non-directory (unlink first, so a hardlinked twin is never modified); a
 *   directory entry over an existing directory just updates its mode/mtime.
 * - Thread-safe: no globals, no chdir, no umask changes.
 * - Entry names in messages pass text_sanitize() (include/text.h): bytes
 *   outside printable ASCII are shown as \xHH.
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
 * (sc/f: syscalls per file, strace -c; peak RSS 5 MiB throughout; figures
 * from before the decoding moved out of libarchive.)  syncfs is
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

/* Decoder ceilings (FORMAT.md "The payload tar"): an xz stream whose
 * decoder needs more (liblzma's own count; a dictionary of 2 MiB needs
 * about 2.1 MiB) and a zstd frame with a larger window are refused naming
 * the constant.  slotpack writes xz -2 and zstd level 3 (2 MiB each). */
#define EXTRACT_XZ_MEMLIMIT (3u << 20)
#define EXTRACT_ZSTD_WINDOW_LOG_MAX 21
/* Directories whose archived mode lacks owner rwx get it only after the
 * last entry (so they can be filled); at most this many per payload. */
#define EXTRACT_LOCKED_DIRS_MAX 256

struct extract_limits {
	unsigned long long max_bytes;     /* total regular-file bytes */
	unsigned long long max_entries;
	int allow_setuid;                 /* else setuid/setgid/sticky bits are stripped */
	const char *compression;          /* the declared filter: gzip|xz|zstd|none (NULL: none) */
	unsigned chunk_size;              /* 0: one compressed stream (bundle format 1); else
					   * one member per chunk (format 2, extract_pool.h);
					   * read by extract_worker only */
	int members_short;                /* format 3: any member may decode to 1 ..
					   * chunk_size bytes, not only the last */
};

struct extract_stats {
	unsigned long long entries, bytes, files, directories, symlinks, hardlinks;
};

/* Reads a tar stream (limits->compression) from in_fd until EOF and creates
 * the tree beneath slot_fd, an O_DIRECTORY fd of an EMPTY directory.  On any
 * error returns -1 with err naming the entry ("entry 'x/../y': path escapes
 * the slot") and leaves a partial tree the caller will clear.  stats may be
 * NULL; on error it holds what was extracted so far.  Does not close in_fd. */
int extract_stream(int in_fd, int slot_fd, const struct extract_limits *limits,
		   struct extract_stats *stats, struct error *err);

/* Already decoded payload bytes, in order, for extract_stream_input(): the
 * next bytes in *data (valid until the next call), their count, 0 at the
 * end of the stream, -1 with err set. */
typedef long (*extract_input_fn)(void *ctx, const void **data, struct error *err);

/* extract_stream() of a stream that is decoded already (format 2 members,
 * updater/extract/extract_pool.h): the bytes pass the same tar gate and extractor;
 * limits->compression is not used. */
int extract_stream_input(extract_input_fn next, void *ctx, int slot_fd,
			 const struct extract_limits *limits, struct extract_stats *stats,
			 struct error *err);

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
