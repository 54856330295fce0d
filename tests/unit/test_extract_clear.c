/* test_extract_clear.c: clearing a slot holds a bounded number of
 * descriptors whatever the tree (deeper than PATH_MAX, deeper than the
 * extraction limit, read-only levels, links out), extraction refuses entries
 * deeper than EXTRACT_DEPTH_MAX, and a slot left `installing` with such a
 * tree is recovered by the next install's recovery step. */
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
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "extract/extract.h"
#include "install/install_recovery.h"
#include "slots.h"
#include "support.h"

/* Deeper than EXTRACT_DEPTH_MAX, and its path (3 bytes a level) is longer
 * than PATH_MAX: only a walk that never builds paths can clear it. */
#define DEEP 2500
/* Far below the 2,500 levels: a walk holding one fd per level would fail. */
#define FD_LIMIT 24

struct fixture {
	char root[256], slot[300], canary[300];
	int slot_fd;
};

static int setup(void **state)
{
	static struct fixture f;
	char p[400];

	support_tmpdir(f.root, sizeof f.root);
	snprintf(f.slot, sizeof f.slot, "%s/slot", f.root);
	snprintf(f.canary, sizeof f.canary, "%s/canary", f.root);
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

static int count_dir(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fdopendir(fd);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(d);
	return n;
}

/* A chain of `levels` directories "dd" under dirfd, each also holding a
 * file; every 10th level a symlink out of the slot and a read-only sibling
 * directory, every 100th level read-only itself.  Built with O(1) descriptors, as clear must work. */
static void make_deep(int dirfd, int levels, const char *outside)
{
	int cur = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), next;

	assert_true(cur >= 0);
	for (int i = 0; i < levels; i++) {
		int fd = openat(cur, "f", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);

		assert_true(fd >= 0);
		assert_int_equal(write(fd, "x", 1), 1);
		close(fd);
		if (i % 10 == 0) {
			assert_int_equal(symlinkat(outside, cur, "out"), 0);
			assert_int_equal(mkdirat(cur, "side", 0500), 0);
		}
		assert_int_equal(mkdirat(cur, "dd", 0755), 0);
		next = openat(cur, "dd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		assert_true(next >= 0);
		if (i % 100 == 99)
			assert_int_equal(fchmod(cur, 0555), 0);
		close(cur);
		cur = next;
	}
	close(cur);
}

static void with_fd_limit(rlim_t limit, struct rlimit *saved)
{
	struct rlimit low;

	assert_int_equal(getrlimit(RLIMIT_NOFILE, saved), 0);
	low.rlim_cur = limit;
	low.rlim_max = saved->rlim_max;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
}

static void assert_canary(const struct fixture *f)
{
	char p[400], buf[64];

	snprintf(p, sizeof p, "%s/secret", f->canary);
	assert_int_equal(support_read_file(p, buf, sizeof buf), 7);
	assert_string_equal(buf, "canary\n");
}

static void test_clear_deep_tree_few_fds(void **state)
{
	struct fixture *f = *state;
	struct rlimit saved;
	struct error err = { "" };
	char out[400];
	int rc;

	snprintf(out, sizeof out, "%s/secret", f->canary);
	make_deep(f->slot_fd, DEEP, out);
	assert_int_equal(mkdirat(f->slot_fd, "wide", 0755), 0);
	with_fd_limit(FD_LIMIT, &saved);
	rc = extract_clear(f->slot_fd, &err);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
	if (rc < 0)
		fail_msg("extract_clear: %s", err.text);
	assert_int_equal(count_dir(f->slot_fd), 0);
	assert_canary(f);
}

/* Many siblings, each a small subtree: every return to the parent rescans
 * it, so this is the slow shape; it must still finish and leave nothing. */
static void test_clear_wide_tree(void **state)
{
	struct fixture *f = *state;
	struct error err = { "" };
	char name[32], path[400];

	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof name, "d%d", i);
		assert_int_equal(mkdirat(f->slot_fd, name, 0755), 0);
		snprintf(name, sizeof name, "d%d/e", i);
		assert_int_equal(mkdirat(f->slot_fd, name, 0700), 0);
		snprintf(path, sizeof path, "%s/d%d/e/f", f->slot, i);
		support_write_file(path, "y");
	}
	if (extract_clear(f->slot_fd, &err) < 0)
		fail_msg("extract_clear: %s", err.text);
	assert_int_equal(count_dir(f->slot_fd), 0);
}

static void write_tar(const char *file, const char *path)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();

	assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, file), ARCHIVE_OK);
	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, 1);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	assert_int_equal(archive_write_data(a, "z", 1), 1);
	archive_entry_free(e);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

/* "d/d/.../f" with `depth` components in all. */
static char *deep_path(int depth)
{
	char *p = malloc((size_t)depth * 2 + 1);

	assert_non_null(p);
	for (int i = 0; i < depth - 1; i++)
		memcpy(p + 2 * i, "d/", 2);
	strcpy(p + 2 * (depth - 1), "f");
	return p;
}

static int extract_file(const struct fixture *f, const char *tar, struct error *err)
{
	struct extract_limits lim = { 1 << 20, 100000, 0, "none" };
	int fd = open(tar, O_RDONLY | O_CLOEXEC), rc;

	assert_true(fd >= 0);
	rc = extract_stream(fd, f->slot_fd, &lim, NULL, err);
	close(fd);
	return rc;
}

static void test_depth_limit(void **state)
{
	struct fixture *f = *state;
	struct error err = { "" };
	char tar[400];
	char *ok = deep_path(EXTRACT_DEPTH_MAX), *deep = deep_path(EXTRACT_DEPTH_MAX + 1);

	snprintf(tar, sizeof tar, "%s/p.tar", f->root);
	write_tar(tar, ok);
	if (extract_file(f, tar, &err) < 0)
		fail_msg("%d deep refused: %s", EXTRACT_DEPTH_MAX, err.text);
	assert_int_equal(extract_clear(f->slot_fd, &err), 0);
	write_tar(tar, deep);
	assert_int_equal(extract_file(f, tar, &err), -1);
	if (!strstr(err.text, "EXTRACT_DEPTH_MAX"))
		fail_msg("refusal does not name the limit: %s", err.text);
	assert_int_equal(extract_clear(f->slot_fd, &err), 0);
	assert_int_equal(count_dir(f->slot_fd), 0);
	free(ok);
	free(deep);
}

/* A crash left slot a `installing` over a tree deeper than anything the
 * extractor makes: the next install's recovery clears it and frees the
 * slot, under a file limit far below the tree's depth. */
static void test_recovery_clears_deep_installing_slot(void **state)
{
	struct fixture *f = *state;
	struct slots s;
	struct rlimit saved;
	struct error err = { "" };
	int slot_fd, rc;

	assert_int_equal(slots_open(&s, f->root, 3, &err), 0);
	assert_int_equal(slots_begin_install(&s, SLOT_A, &err), 0);
	slot_fd = layout_open_slot_dir(&s.layout, SLOT_A, &err);
	assert_true(slot_fd >= 0);
	make_deep(slot_fd, DEEP, "/etc/passwd");
	with_fd_limit(FD_LIMIT, &saved);
	rc = install_recover(&s, NULL, &err);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
	if (rc < 0)
		fail_msg("install_recover: %s", err.text);
	assert_int_equal(s.state.slot[SLOT_A].status, SLOT_EMPTY);
	assert_int_equal(count_dir(slot_fd), 0);
	close(slot_fd);
	slots_close(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_clear_deep_tree_few_fds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clear_wide_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_depth_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recovery_clears_deep_installing_slot, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
