/* test_extract.c: hardened extraction of hostile and good tar streams.
 * Archives are built in the test with libarchive's write API; after every
 * refusal a sibling "canary" directory must be exactly as it was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "extract/extract.h"
#include "support.h"

#define MTIME 1500000000

struct fixture {
	char root[256], slot[300], canary[300], archive[300];
	int slot_fd;
	const char *compression;	/* of the last archive built */
};

/* One archive entry; type 0 is a hardlink to `link`. */
struct ent {
	const char *path;
	unsigned int type;
	unsigned int mode;
	const char *data;       /* regular files */
	const char *link;       /* symlink target or hardlink target */
};

static const struct extract_limits lim_default = { 1ULL << 30, 100000, 0 };

static int setup(void **state)
{
	static struct fixture f;
	char p[400];

	support_tmpdir(f.root, sizeof f.root);
	snprintf(f.slot, sizeof f.slot, "%s/slot", f.root);
	snprintf(f.canary, sizeof f.canary, "%s/canary", f.root);
	snprintf(f.archive, sizeof f.archive, "%s/payload.tar", f.root);
	assert_int_equal(mkdir(f.slot, 0755), 0);
	assert_int_equal(mkdir(f.canary, 0755), 0);
	snprintf(p, sizeof p, "%s/secret", f.canary);
	support_write_file(p, "canary\n");
	f.slot_fd = open(f.slot, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(f.slot_fd >= 0);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	close(f->slot_fd);
	support_rmtree(f->root);
	return 0;
}

static int count_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(d);
	return n;
}

/* Nothing appeared next to the slot, the canary is untouched. */
static void assert_canary(const struct fixture *f)
{
	char p[400], buf[64];

	assert_int_equal(count_dir(f->root), 3);   /* slot, canary, payload.tar */
	assert_int_equal(count_dir(f->canary), 1);
	snprintf(p, sizeof p, "%s/secret", f->canary);
	assert_int_equal(support_read_file(p, buf, sizeof buf), 7);
	assert_string_equal(buf, "canary\n");
}

static void add_entry(struct archive *a, const struct ent *x)
{
	struct archive_entry *e = archive_entry_new();
	size_t len = x->data ? strlen(x->data) : 0;

	archive_entry_set_pathname(e, x->path);
	archive_entry_set_mtime(e, MTIME, 250);
	if (x->type == 0) {
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_hardlink(e, x->link);
	} else {
		archive_entry_set_filetype(e, x->type);
		if (x->type == AE_IFLNK)
			archive_entry_set_symlink(e, x->link);
		if (x->type == AE_IFREG)
			archive_entry_set_size(e, (la_int64_t)len);
		if (x->type == AE_IFCHR || x->type == AE_IFBLK)
			archive_entry_set_rdev(e, makedev(1, 3));
	}
	archive_entry_set_perm(e, x->mode ? x->mode : 0644);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	if (len)
		assert_int_equal(archive_write_data(a, x->data, len), (la_ssize_t)len);
	archive_entry_free(e);
}

static const char *filter_name(int filter)
{
	return filter == ARCHIVE_FILTER_GZIP ? "gzip" : filter == ARCHIVE_FILTER_XZ ? "xz" :
	       filter == ARCHIVE_FILTER_ZSTD ? "zstd" : "none";
}

static struct archive *archive_begin(const char *file, int filter)
{
	struct archive *a = archive_write_new();

	assert_int_equal(archive_write_set_format_pax(a), ARCHIVE_OK);
	assert_int_equal(archive_write_add_filter(a, filter), ARCHIVE_OK);
	if (filter == ARCHIVE_FILTER_XZ)	/* as slotpack: under EXTRACT_XZ_MEMLIMIT */
		assert_int_equal(archive_write_set_filter_option(a, "xz", "compression-level", "2"),
				 ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, file), ARCHIVE_OK);
	return a;
}

static void archive_end(struct archive *a)
{
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

static void build(const struct fixture *f, int filter, const struct ent *ents, size_t n)
{
	struct archive *a = archive_begin(f->archive, filter);

	((struct fixture *)f)->compression = filter_name(filter);
	for (size_t i = 0; i < n; i++)
		add_entry(a, &ents[i]);
	archive_end(a);
}

static int run(const struct fixture *f, const struct extract_limits *lim,
	       struct extract_stats *st, struct error *err)
{
	int fd = open(f->archive, O_RDONLY | O_CLOEXEC), rc;
	struct extract_limits declared = *lim;

	assert_true(fd >= 0);
	memset(err, 0, sizeof *err);
	if (!declared.compression)
		declared.compression = f->compression;
	rc = extract_stream(fd, f->slot_fd, &declared, st, err);
	close(fd);
	return rc;
}

/* Extraction must fail with `why` in the message, the canary intact. */
static void expect_refusal(const struct fixture *f, const struct ent *ents, size_t n,
			   const char *why)
{
	struct error err;

	build(f, ARCHIVE_FILTER_NONE, ents, n);
	assert_int_equal(run(f, &lim_default, NULL, &err), -1);
	if (!strstr(err.text, why))
		fail_msg("error '%s' does not mention '%s'", err.text, why);
	assert_canary(f);
	assert_int_equal(extract_clear(f->slot_fd, &err), 0);
	assert_int_equal(count_dir(f->slot), 0);
}

static void stat_in(const struct fixture *f, const char *rel, struct stat *st)
{
	assert_int_equal(fstatat(f->slot_fd, rel, st, AT_SYMLINK_NOFOLLOW), 0);
}

static void assert_content(const struct fixture *f, const char *rel, const char *want)
{
	char p[600], buf[256];

	snprintf(p, sizeof p, "%s/%s", f->slot, rel);
	assert_int_equal(support_read_file(p, buf, sizeof buf), (long)strlen(want));
	assert_string_equal(buf, want);
}

static void test_good_tree(void **state)
{
	struct fixture *f = *state;
	const struct ent ents[] = {
		{ "./", AE_IFDIR, 0755, NULL, NULL },
		{ "d/e/f.txt", AE_IFREG, 0640, "hello\n", NULL },  /* parents implicit */
		{ "d", AE_IFDIR, 0550, NULL, NULL },                /* dir after its children */
		{ "d/run.sh", AE_IFREG, 0755, "#!/bin/sh\n", NULL },
		{ "d/link", AE_IFLNK, 0777, NULL, "e/f.txt" },
		{ "d/e/up", AE_IFLNK, 0777, NULL, "../run.sh" },
		{ "d/hard", 0, 0644, NULL, "d/run.sh" },
		{ "empty", AE_IFREG, 0600, NULL, NULL },
	};
	struct extract_stats st;
	struct error err;
	struct stat s, s2;
	char target[64];
	ssize_t n;

	build(f, ARCHIVE_FILTER_GZIP, ents, sizeof ents / sizeof *ents);
	if (run(f, &lim_default, &st, &err) != 0)
		fail_msg("%s", err.text);
	assert_int_equal(st.entries, 10);   /* 8 listed, d and d/e implied */
	assert_int_equal(st.files, 3);
	assert_int_equal(st.directories, 1);
	assert_int_equal(st.symlinks, 2);
	assert_int_equal(st.hardlinks, 1);
	assert_int_equal(st.bytes, 16);
	assert_content(f, "d/e/f.txt", "hello\n");
	assert_content(f, "d/link", "hello\n");
	assert_content(f, "d/hard", "#!/bin/sh\n");
	assert_content(f, "d/e/up", "#!/bin/sh\n");
	stat_in(f, "d", &s);
	assert_true(S_ISDIR(s.st_mode));
	assert_int_equal(s.st_mode & 07777, 0550);
	assert_int_equal(s.st_mtim.tv_sec, MTIME);
	stat_in(f, "d/e/f.txt", &s);
	assert_int_equal(s.st_mode & 07777, 0640);
	assert_int_equal(s.st_mtim.tv_sec, MTIME);
	assert_int_equal(s.st_mtim.tv_nsec, 250);
	stat_in(f, "d/run.sh", &s);
	stat_in(f, "d/hard", &s2);
	assert_int_equal(s.st_ino, s2.st_ino);
	assert_int_equal(s.st_mode & 07777, 0755);
	stat_in(f, "d/link", &s);
	assert_true(S_ISLNK(s.st_mode));
	n = readlinkat(f->slot_fd, "d/link", target, sizeof target - 1);
	assert_int_equal(n, 7);
	target[n] = '\0';
	assert_string_equal(target, "e/f.txt");
	stat_in(f, "empty", &s);
	assert_int_equal(s.st_size, 0);
	assert_canary(f);
}

static void test_hostile_paths(void **state)
{
	struct fixture *f = *state;
	const struct ent abs[] = { { "/tmp/slotd-abs", AE_IFREG, 0, "x", NULL } };
	const struct ent up[] = { { "../x", AE_IFREG, 0, "x", NULL } };
	const struct ent deep[] = { { "a/", AE_IFDIR, 0755, NULL, NULL },
				    { "a/../../x", AE_IFREG, 0, "x", NULL } };
	const struct ent canary[] = { { "../canary/secret", AE_IFREG, 0, "owned", NULL } };

	expect_refusal(f, abs, 1, "entry '/tmp/slotd-abs': absolute path");
	assert_int_equal(access("/tmp/slotd-abs", F_OK), -1);
	expect_refusal(f, up, 1, "entry '../x': path escapes the slot");
	expect_refusal(f, deep, 2, "entry 'a/../../x': path escapes the slot");
	expect_refusal(f, canary, 1, "escapes");
}

static void test_symlink_escape(void **state)
{
	struct fixture *f = *state;
	const struct ent up[] = { { "l", AE_IFLNK, 0777, NULL, "../../etc" } };
	const struct ent nested[] = { { "a/b/l", AE_IFLNK, 0777, NULL, "../../../canary" } };
	const struct ent absolute[] = { { "l", AE_IFLNK, 0777, NULL, "/etc" } };
	const struct ent via_link[] = { { "d", AE_IFLNK, 0777, NULL, "." },
					{ "e", AE_IFLNK, 0777, NULL, "d/.." } };
	/* lexically inside, but ".." after a descent is refused (see via_link) */
	const struct ent late_up[] = { { "a/b/l", AE_IFLNK, 0777, NULL, "c/../x" } };

	expect_refusal(f, up, 1, "entry 'l': symlink target '../../etc' escapes the slot");
	expect_refusal(f, nested, 1, "escapes the slot");
	expect_refusal(f, absolute, 1, "escapes the slot");
	expect_refusal(f, via_link, 2, "entry 'e': symlink target 'd/..' escapes");
	expect_refusal(f, late_up, 1, "entry 'a/b/l': symlink target 'c/../x' escapes");
}

static void test_write_through_symlink(void **state)
{
	struct fixture *f = *state;
	const struct ent ents[] = {
		{ "sub", AE_IFDIR, 0755, NULL, NULL },
		{ "l", AE_IFLNK, 0777, NULL, "sub" },
		{ "l/x", AE_IFREG, 0644, "through", NULL },
	};
	struct error err;
	struct stat s;

	build(f, ARCHIVE_FILTER_NONE, ents, 3);
	assert_int_equal(run(f, &lim_default, NULL, &err), -1);
	assert_non_null(strstr(err.text, "entry 'l/x': a parent path is a symlink"));
	assert_int_equal(fstatat(f->slot_fd, "sub/x", &s, AT_SYMLINK_NOFOLLOW), -1);
	assert_canary(f);
}

static void test_bad_hardlinks(void **state)
{
	struct fixture *f = *state;
	const struct ent outside[] = { { "h", 0, 0, NULL, "../canary/secret" } };
	const struct ent missing[] = { { "h", 0, 0, NULL, "nothere" } };
	const struct ent missing_dir[] = { { "h", 0, 0, NULL, "no/where" } };

	expect_refusal(f, outside, 1, "entry 'h': hardlink target '../canary/secret'");
	expect_refusal(f, missing, 1, "hardlink target 'nothere' was not extracted");
	expect_refusal(f, missing_dir, 1, "hardlink target 'no/where' is not in the slot");
}

static void test_special_files(void **state)
{
	struct fixture *f = *state;
	const struct ent chr[] = { { "null", AE_IFCHR, 0666, NULL, NULL } };
	const struct ent blk[] = { { "sda", AE_IFBLK, 0660, NULL, NULL } };
	const struct ent fifo[] = { { "p", AE_IFIFO, 0644, NULL, NULL } };
	const struct ent forged[] = { { "p\nslotupd: info: ok", AE_IFIFO, 0644, NULL, NULL } };

	expect_refusal(f, chr, 1, "entry 'null': character device not allowed");
	expect_refusal(f, blk, 1, "entry 'sda': block device not allowed");
	expect_refusal(f, fifo, 1, "entry 'p': fifo not allowed");
	/* a name cannot start a new log line */
	expect_refusal(f, forged, 1, "entry 'p\\x0aslotupd: info: ok': fifo not allowed");
}

static void test_setuid(void **state)
{
	struct fixture *f = *state;
	const struct ent ents[] = { { "su", AE_IFREG, 06755, "x", NULL },
				    { "sg", AE_IFDIR, 02775, NULL, NULL } };
	struct extract_limits allow = lim_default;
	struct error err;
	struct stat s;

	build(f, ARCHIVE_FILTER_NONE, ents, 2);
	assert_int_equal(run(f, &lim_default, NULL, &err), 0);
	stat_in(f, "su", &s);
	assert_int_equal(s.st_mode & 07777, 0755);
	stat_in(f, "sg", &s);
	assert_int_equal(s.st_mode & 07777, 0775);
	assert_int_equal(extract_clear(f->slot_fd, &err), 0);
	allow.allow_setuid = 1;
	assert_int_equal(run(f, &allow, NULL, &err), 0);
	stat_in(f, "su", &s);
	assert_int_equal(s.st_mode & 07777, 06755);
}

/* "big": 1 GiB apparent size, 4 KiB of data at its end, written by
 * libarchive as a pax GNU.sparse file.  The pax writer takes the logical
 * stream and drops the bytes of holes, so feed it the zeros. */
static void write_zeros(struct archive *a, long long left)
{
	static char zeros[1 << 20];

	while (left > 0) {
		size_t n = left < (long long)sizeof zeros ? (size_t)left : sizeof zeros;

		assert_int_equal(archive_write_data(a, zeros, n), (la_ssize_t)n);
		left -= (long long)n;
	}
}

static void build_sparse(struct fixture *f)
{
	struct archive *a = archive_begin(f->archive, ARCHIVE_FILTER_GZIP);
	struct archive_entry *e = archive_entry_new();
	char data[4096];

	f->compression = "gzip";
	memset(data, 'S', sizeof data);
	archive_entry_set_pathname(e, "big");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, 64LL << 20);
	archive_entry_sparse_add_entry(e, (64LL << 20) - 4096, 4096);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	write_zeros(a, (64LL << 20) - 4096);
	assert_int_equal(archive_write_data(a, data, sizeof data), (la_ssize_t)sizeof data);
	archive_entry_free(e);
	archive_end(a);
}

/* Sparse files are not part of the format: their maps cost libarchive
 * memory before an entry can be looked at, so the gate refuses the header. */
static void test_sparse_refused(void **state)
{
	struct fixture *f = *state;
	struct extract_stats st;
	struct error err;

	build_sparse(f);
	assert_int_equal(run(f, &lim_default, &st, &err), -1);
	if (!strstr(err.text, "pax key not allowed"))
		fail_msg("sparse: %s", err.text);
	assert_int_equal(count_dir(f->slot), 0);
	assert_canary(f);
}

/* max_bytes is checked at the header, before any data is written. */
static void test_bytes_limit(void **state)
{
	struct fixture *f = *state;
	static char two_mib[(2 << 20) + 1];
	const struct ent ents[] = { { "big", AE_IFREG, 0644, two_mib, NULL } };
	struct extract_limits small = { 1 << 20, 100, 0, NULL };
	struct extract_stats st;
	struct error err;

	memset(two_mib, 'b', sizeof two_mib - 1);
	build(f, ARCHIVE_FILTER_GZIP, ents, 1);
	assert_int_equal(run(f, &small, &st, &err), -1);
	assert_non_null(strstr(err.text, "entry 'big': 2097152 bytes would exceed the limit"));
	assert_int_equal(count_dir(f->slot), 0);
	assert_int_equal(st.bytes, 0);
	assert_canary(f);
}

static void test_entry_limit(void **state)
{
	struct fixture *f = *state;
	struct archive *a = archive_begin(f->archive, ARCHIVE_FILTER_GZIP);
	struct extract_limits lim = { 1 << 20, 1000, 0, "gzip" };
	struct extract_stats st;
	struct error err;
	char name[32];

	for (int i = 0; i < 100000; i++) {
		struct ent x = { name, AE_IFREG, 0644, NULL, NULL };

		snprintf(name, sizeof name, "f%06d", i);
		add_entry(a, &x);
	}
	archive_end(a);
	assert_int_equal(run(f, &lim, &st, &err), -1);
	assert_string_equal(err.text, "entry #1001: more than 1000 entries");
	assert_int_equal(count_dir(f->slot), 1000);
	assert_int_equal(st.files, 1000);
	assert_canary(f);
}

/* Directories a path implies count against max_entries too. */
static void test_implied_dirs_limit(void **state)
{
	struct fixture *f = *state;
	const struct ent ents[] = { { "a/b/c/d/e/f", AE_IFREG, 0644, "x", NULL } };
	struct extract_limits lim = { 1 << 20, 4, 0 };
	struct error err;
	struct stat s;

	build(f, ARCHIVE_FILTER_NONE, ents, 1);
	assert_int_equal(run(f, &lim, NULL, &err), -1);
	assert_string_equal(err.text,
			    "entry 'a/b/c/d/e/f': more than 4 entries with its implied directories");
	assert_int_equal(fstatat(f->slot_fd, "a/b/c/d/e", &s, AT_SYMLINK_NOFOLLOW), -1);
	lim.max_entries = 6;
	assert_int_equal(extract_clear(f->slot_fd, &err), 0);
	assert_int_equal(run(f, &lim, NULL, &err), 0);
	assert_content(f, "a/b/c/d/e/f", "x");
	stat_in(f, "a/b", &s);
	assert_int_equal(s.st_mode & 07777, 0755);
}

static void test_filters(void **state)
{
	struct fixture *f = *state;
	const int filters[] = { ARCHIVE_FILTER_NONE, ARCHIVE_FILTER_GZIP, ARCHIVE_FILTER_XZ,
				ARCHIVE_FILTER_ZSTD };
	const struct ent ents[] = { { "a/b", AE_IFREG, 0644, "compressed\n", NULL } };
	struct error err;

	for (size_t i = 0; i < sizeof filters / sizeof *filters; i++) {
		build(f, filters[i], ents, 1);
		if (run(f, &lim_default, NULL, &err) != 0)
			fail_msg("filter %d: %s", filters[i], err.text);
		assert_content(f, "a/b", "compressed\n");
		assert_int_equal(extract_clear(f->slot_fd, &err), 0);
	}
}

static void corrupt_at(const char *file, off_t off)
{
	int fd = open(file, O_RDWR | O_CLOEXEC);
	char junk[64];

	memset(junk, 0x5a, sizeof junk);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, junk, sizeof junk, off), (ssize_t)sizeof junk);
	close(fd);
}

static void expect_stream_error(const struct fixture *f, int filter, const char *how)
{
	struct error err;

	if (run(f, &lim_default, NULL, &err) != -1)
		fail_msg("filter %d, %s: corrupt stream accepted", filter, how);
	assert_true(strlen(err.text) > 0);
	assert_canary(f);
	assert_int_equal(extract_clear(f->slot_fd, &err), 0);
}

/* Truncation is an error for every filter; damage inside the data only
 * where the format carries a check libarchive verifies (xz's CRC).  gzip and
 * zstd damage may decode to wrong bytes: the bundle's per-block hashes, not
 * the decompressor, are what keep unverified bytes from libarchive. */
static void test_corrupt_stream(void **state)
{
	struct fixture *f = *state;
	static char big[200000];
	const struct ent ents[] = { { "big", AE_IFREG, 0644, big, NULL } };
	const int filters[] = { ARCHIVE_FILTER_GZIP, ARCHIVE_FILTER_XZ, ARCHIVE_FILTER_ZSTD };
	struct error err;
	struct stat s;
	unsigned int seed = 7;

	for (size_t i = 0; i + 1 < sizeof big; i++)
		big[i] = (char)('a' + (rand_r(&seed) % 26));
	for (size_t i = 0; i < sizeof filters / sizeof *filters; i++) {
		build(f, filters[i], ents, 1);
		assert_int_equal(stat(f->archive, &s), 0);
		assert_int_equal(truncate(f->archive, s.st_size / 2), 0);
		expect_stream_error(f, filters[i], "truncated");
	}
	build(f, ARCHIVE_FILTER_XZ, ents, 1);
	assert_int_equal(stat(f->archive, &s), 0);
	corrupt_at(f->archive, s.st_size / 2);
	expect_stream_error(f, ARCHIVE_FILTER_XZ, "damaged");
	support_write_file(f->archive, "this is not a tar archive at all\n");
	assert_int_equal(run(f, &lim_default, NULL, &err), -1);
	assert_non_null(strstr(err.text, "payload:"));
}

/* Found by fuzz_extract: an empty stream fails before the first header,
 * and the stats must still say "nothing extracted", not stack garbage. */
static void test_stats_on_early_error(void **state)
{
	struct fixture *f = *state;
	struct extract_stats st;
	struct error err;

	support_write_file(f->archive, "");
	memset(&st, 0x5a, sizeof st);
	assert_int_equal(run(f, &lim_default, &st, &err), -1);
	assert_true(strlen(err.text) > 0);
	assert_true(st.entries == 0 && st.bytes == 0 && st.files == 0 && st.directories == 0);
	assert_int_equal(count_dir(f->slot), 0);
}

static void test_duplicates(void **state)
{
	struct fixture *f = *state;
	const struct ent later_wins[] = {
		{ "a", AE_IFREG, 0644, "first", NULL },
		{ "b", 0, 0, NULL, "a" },
		{ "a", AE_IFREG, 0600, "second", NULL },
		{ "l", AE_IFLNK, 0777, NULL, "a" },
		{ "l", AE_IFREG, 0644, "not a link", NULL },
	};
	const struct ent file_over_dir[] = { { "d", AE_IFDIR, 0755, NULL, NULL },
					     { "d", AE_IFREG, 0644, "x", NULL } };
	const struct ent dir_over_file[] = { { "d", AE_IFREG, 0644, "x", NULL },
					     { "d", AE_IFDIR, 0755, NULL, NULL } };
	struct error err;
	struct stat s;

	build(f, ARCHIVE_FILTER_NONE, later_wins, 5);
	assert_int_equal(run(f, &lim_default, NULL, &err), 0);
	assert_content(f, "a", "second");
	assert_content(f, "b", "first");   /* the hardlinked twin was not rewritten */
	stat_in(f, "l", &s);
	assert_true(S_ISREG(s.st_mode));
	assert_content(f, "l", "not a link");
	assert_int_equal(extract_clear(f->slot_fd, &err), 0);
	expect_refusal(f, file_over_dir, 2, "entry 'd': refusing to replace an existing directory");
	expect_refusal(f, dir_over_file, 2, "entry 'd/': directory over an existing non-directory");
}

static void test_clear_keeps_outside(void **state)
{
	struct fixture *f = *state;
	const struct ent ents[] = {
		{ "ro/deep/file", AE_IFREG, 0444, "x", NULL },
		{ "ro/deep", AE_IFDIR, 0500, NULL, NULL },
		{ "ro", AE_IFDIR, 0555, NULL, NULL },
	};
	struct error err;
	char p[400];

	build(f, ARCHIVE_FILTER_NONE, ents, 3);
	assert_int_equal(run(f, &lim_default, NULL, &err), 0);
	/* links to the outside that no archive could create */
	assert_int_equal(symlinkat(f->canary, f->slot_fd, "out"), 0);
	snprintf(p, sizeof p, "%s/secret", f->canary);
	assert_int_equal(symlinkat(p, f->slot_fd, "ro2"), 0);
	assert_int_equal(mkdirat(f->slot_fd, "sub", 0755), 0);
	assert_int_equal(symlinkat("../../canary", f->slot_fd, "sub/up"), 0);
	assert_int_equal(extract_clear(f->slot_fd, &err), 0);
	assert_int_equal(count_dir(f->slot), 0);
	assert_canary(f);
	assert_int_equal(extract_sync(f->slot_fd, &err), 0);
}

/* The lexical rules slotpack shares with the guest. */
static void test_lexical_rules(void **state)
{
	(void)state;
	assert_int_equal(extract_path_unsafe("a/b"), 0);
	assert_int_equal(extract_path_unsafe("./a//b/"), 0);
	assert_int_equal(extract_path_unsafe("/a"), 1);
	assert_int_equal(extract_path_unsafe("a/../b"), 1);
	assert_int_equal(extract_path_unsafe("./"), 1);
	assert_int_equal(extract_path_unsafe(""), 1);
	assert_int_equal(extract_link_escapes("a/b/l", "../../x"), 0);
	assert_int_equal(extract_link_escapes("a/b/l", "../../../x"), 1);
	assert_int_equal(extract_link_escapes("./a//l", "../x"), 0);
	assert_int_equal(extract_link_escapes("./l", "../x"), 1);
	assert_int_equal(extract_link_escapes("l", "./x/./y"), 0);
	assert_int_equal(extract_link_escapes("l", "d/.."), 1);
	assert_int_equal(extract_link_escapes("l", "/etc"), 1);
	assert_int_equal(extract_link_escapes("l", ""), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_good_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlink_escape, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_through_symlink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_hardlinks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_special_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_setuid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sparse_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bytes_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_entry_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_implied_dirs_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_filters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats_on_early_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clear_keeps_outside, setup, teardown),
		cmocka_unit_test(test_lexical_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
