/* test_inhibit.c: the upgrade inhibitor: shared holders defer an exclusive
 * taker; the file is private to slotd's user. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "inhibit.h"
#include "support.h"

/* A child stands in for the agent: takes LOCK_SH, reports through a pipe,
 * and holds the lock until its stdin pipe closes. */
static pid_t hold_shared(const struct layout *layout, int *release_fd)
{
	int ready[2], release[2];
	char byte;
	pid_t pid;

	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(release), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = inhibit_open(layout, NULL);
		close(ready[0]);
		close(release[1]);
		if (fd < 0 || flock(fd, LOCK_SH) < 0)
			_exit(1);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		if (read(release[0], &byte, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(ready[1]);
	close(release[0]);
	assert_int_equal(read(ready[0], &byte, 1), 1);	/* the lock is held now */
	close(ready[0]);
	*release_fd = release[1];
	return pid;
}

/* Made 0600, and a 0644 one left by an older slotd is narrowed: any local
 * user able to open it could hold LOCK_SH and defer upgrades for ever. */
static void test_inhibit_is_private(void **unused)
{
	struct layout layout;
	struct stat st;
	char root[256];
	int fd;

	(void)unused;
	support_tmpdir(root, sizeof root);
	assert_int_equal(layout_open(&layout, root, 1, NULL), 0);
	fd = inhibit_open(&layout, NULL);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(fchmod(fd, 0644), 0);
	close(fd);
	fd = inhibit_open(&layout, NULL);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	close(fd);
	layout_close(&layout);
	support_rmtree(root);
}

static void test_inhibit_defers_while_held(void **unused)
{
	struct layout layout;
	char root[256];
	int fd, release, status;
	pid_t holder;

	(void)unused;
	support_tmpdir(root, sizeof root);
	assert_int_equal(layout_open(&layout, root, 1, NULL), 0);
	fd = inhibit_open(&layout, NULL);
	assert_true(fd >= 0);
	holder = hold_shared(&layout, &release);
	assert_int_equal(inhibit_try(fd, NULL), 1);
	/* Bounded wait: gives up while the holder keeps the lock. */
	assert_int_equal(inhibit_acquire(fd, 100, NULL), 1);
	/* The holder lets go: the waiter gets the lock, and it is ours. */
	close(release);
	assert_int_equal(waitpid(holder, &status, 0), holder);
	assert_int_equal(inhibit_acquire(fd, 5000, NULL), 0);
	int other = inhibit_open(&layout, NULL);
	assert_int_equal(flock(other, LOCK_SH | LOCK_NB), -1);
	assert_int_equal(inhibit_release(fd), 0);
	assert_int_equal(flock(other, LOCK_SH | LOCK_NB), 0);
	close(other);
	close(fd);
	layout_close(&layout);
	support_rmtree(root);
}

static void test_inhibit_waiter_takes_lock_when_released(void **unused)
{
	struct layout layout;
	char root[256];
	int fd, release, status;
	pid_t holder, waiter;

	(void)unused;
	support_tmpdir(root, sizeof root);
	assert_int_equal(layout_open(&layout, root, 1, NULL), 0);
	fd = inhibit_open(&layout, NULL);
	holder = hold_shared(&layout, &release);
	waiter = inhibit_spawn_waiter(fd, 10000, NULL);
	assert_true(waiter > 0);
	close(release);		/* the agent finishes its backup */
	assert_int_equal(waitpid(waiter, &status, 0), waiter);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* The waiter's lock belongs to our open file description. */
	assert_int_equal(inhibit_try(fd, NULL), 0);
	waitpid(holder, &status, 0);
	close(fd);
	layout_close(&layout);
	support_rmtree(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inhibit_is_private),
		cmocka_unit_test(test_inhibit_defers_while_held),
		cmocka_unit_test(test_inhibit_waiter_takes_lock_when_released),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
