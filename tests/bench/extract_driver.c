/* extract_driver.c: benchmark driver for tests/bench/extract.sh (not part of
 * any program).  Extracts ARCHIVE into the empty directory DEST and makes it
 * durable, with one of:
 *   syncfs       extract_stream + extract_sync (what slotupd does)
 *   fsync-each   extract_stream + fsync of every file and directory
 *   write-disk   libarchive's archive_write_disk with its secure flags + syncfs
 * usage: extract_driver MODE ARCHIVE DEST */
#define _XOPEN_SOURCE 700
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "extract/extract.h"

static int fsync_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	int fd;

	(void)st;
	(void)ftw;
	if (type != FTW_F && type != FTW_D && type != FTW_DP)
		return 0;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0) {
		perror(path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int write_disk(const char *archive, const char *dest)
{
	int flags = ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
		    ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS;
	struct archive *in = archive_read_new(), *out = archive_write_disk_new();
	struct archive_entry *e;
	const void *buf;
	size_t len;
	la_int64_t off;
	int r, rc = 1;

	archive_read_support_filter_gzip(in);
	archive_read_support_format_tar(in);
	archive_write_disk_set_options(out, flags);
	if (archive_read_open_filename(in, archive, 1 << 20) != ARCHIVE_OK || chdir(dest) < 0)
		goto out;
	while ((r = archive_read_next_header(in, &e)) == ARCHIVE_OK) {
		if (archive_write_header(out, e) != ARCHIVE_OK)
			goto out;
		while ((r = archive_read_data_block(in, &buf, &len, &off)) == ARCHIVE_OK)
			if (archive_write_data_block(out, buf, len, off) != ARCHIVE_OK)
				goto out;
		if (r != ARCHIVE_EOF || archive_write_finish_entry(out) != ARCHIVE_OK)
			goto out;
	}
	rc = r == ARCHIVE_EOF && archive_write_close(out) == ARCHIVE_OK ? 0 : 1;
out:
	if (rc)
		fprintf(stderr, "write-disk: %s / %s\n", archive_error_string(in),
			archive_error_string(out));
	archive_read_free(in);
	archive_write_free(out);
	return rc;
}

int main(int argc, char **argv)
{
	struct extract_limits lim = {	/* tree.tar.gz: one gzip stream, chunk_size 0 */
		.max_bytes = 1ULL << 40, .max_entries = 10000000, .compression = "gzip",
	};
	struct extract_stats st;
	struct error err = { "" };
	int in, slot;

	if (argc != 4) {
		fprintf(stderr, "usage: extract_driver syncfs|fsync-each|write-disk ARCHIVE DEST\n");
		return 2;
	}
	slot = open(argv[3], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (slot < 0) {
		perror(argv[3]);
		return 1;
	}
	if (strcmp(argv[1], "write-disk") == 0)
		return write_disk(argv[2], argv[3]) || extract_sync(slot, &err) ? 1 : 0;
	in = open(argv[2], O_RDONLY | O_CLOEXEC);
	if (in < 0 || extract_stream(in, slot, &lim, &st, &err) < 0) {
		fprintf(stderr, "extract: %s\n", in < 0 ? argv[2] : err.text);
		return 1;
	}
	if (strcmp(argv[1], "fsync-each") == 0) {
		if (nftw(argv[3], fsync_one, 32, FTW_PHYS) != 0)
			return 1;
	} else if (extract_sync(slot, &err) < 0) {
		fprintf(stderr, "sync: %s\n", err.text);
		return 1;
	}
	fprintf(stderr, "extracted %llu entries, %llu bytes\n", st.entries, st.bytes);
	return 0;
}
