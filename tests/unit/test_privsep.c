/* test_privsep.c: a process after privsep_confine() cannot write the slot
 * state or create files, even ones its uid may write, reads only what its
 * sandbox lists, has no_new_privs, and (as root) runs as the fetch user;
 * and the fetch user is resolved as updater/privsep/privsep.h says. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "privsep/privsep.h"
#include "support.h"

/* Appends a finding to the report the confined child sends back. */
static void note(char *report, size_t len, const char *what)
{
	size_t used = strlen(report);

	snprintf(report + used, len - used, "%s; ", what);
}

/* The probes, run inside the confined child; "" means all held. */
static void probe(const char *dir, const struct privsep_identity *id, char *report, size_t len)
{
	char path[4200];
	int fd;

	snprintf(path, sizeof path, "%s/root/state", dir);
	fd = open(path, O_WRONLY);
	if (fd >= 0 || (errno != EACCES && errno != EPERM))
		note(report, len, "state opened for writing");
	fd = open(path, O_RDONLY);
	if (fd >= 0)
		note(report, len, "state outside the read paths opened for reading");
	if (truncate(path, 0) == 0)
		note(report, len, "state truncated");
	snprintf(path, sizeof path, "%s/root/new", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	if (fd >= 0 || (errno != EACCES && errno != EPERM))
		note(report, len, "a file created in the slot root");
	snprintf(path, sizeof path, "%s/ca/bundle.pem", dir);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		note(report, len, "the read path not readable");
	else
		close(fd);
	fd = open(path, O_WRONLY);
	if (fd >= 0)
		note(report, len, "the read path opened for writing");
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		note(report, len, "no_new_privs not set");
	if (id->drop && (getuid() != id->uid || geteuid() != id->uid || getgid() != id->gid))
		note(report, len, "uid or gid not dropped");
	if (id->drop && setuid(0) == 0)
		note(report, len, "root regained");
}

/* The files a confined process must not touch, writable by anyone by
 * their modes, so that only the sandbox stands in the way. */
static void make_tree(const char *dir)
{
	char path[4200];

	snprintf(path, sizeof path, "%s/root", dir);
	assert_int_equal(mkdir(path, 0777), 0);
	assert_int_equal(chmod(path, 0777), 0);
	snprintf(path, sizeof path, "%s/root/state", dir);
	support_write_file(path, "a = good\n");
	assert_int_equal(chmod(path, 0666), 0);
	snprintf(path, sizeof path, "%s/ca", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof path, "%s/ca/bundle.pem", dir);
	support_write_file(path, "not a certificate\n");
	assert_int_equal(chmod(path, 0666), 0);
	assert_int_equal(chmod(dir, 0755), 0);
}

static void test_confined_child_cannot_write_state(void **state)
{
	char dir[4096], ca[4200], report[1024] = "";
	const char *paths[] = { ca, NULL };
	struct privsep_sandbox box = { .read_paths = paths, .network = 0 };
	struct privsep_identity id;
	struct error err = { "" };
	int pipefd[2], status;
	ssize_t n;
	pid_t pid;

	(void)state;
	if (privsep_landlock_abi() == 0)
		skip();	/* no Landlock here: nothing to prove beyond the uid */
	support_tmpdir(dir, sizeof dir);
	make_tree(dir);
	snprintf(ca, sizeof ca, "%s/ca", dir);
	assert_int_equal(privsep_identity_resolve("", &id, &err), 0);
	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pipefd[0]);
		if (privsep_confine(&id, &box, &err) < 0)
			snprintf(report, sizeof report, "confine: %s", err.text);
		else
			probe(dir, &id, report, sizeof report);
		n = write(pipefd[1], report, strlen(report));
		_exit(n < 0);
	}
	close(pipefd[1]);
	n = read(pipefd[0], report, sizeof report - 1);
	close(pipefd[0]);
	assert_true(n >= 0);
	report[n] = '\0';
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_string_equal(report, "");
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	support_rmtree(dir);
}

static void test_fetch_user_resolution(void **state)
{
	struct privsep_identity id;
	struct error err = { "" };

	(void)state;
	if (geteuid() != 0) {
		assert_int_equal(privsep_identity_resolve("nobody", &id, &err), 0);
		assert_int_equal(id.drop, 0);	/* not root: keeps its uid */
		assert_int_equal(id.uid, geteuid());
		return;
	}
	assert_int_equal(privsep_identity_resolve("", &id, &err), 0);
	assert_int_equal(id.drop, 1);
	assert_true(id.uid != 0 && id.gid != 0);
	assert_int_equal(privsep_identity_resolve("4242420", &id, &err), 0);
	assert_int_equal(id.uid, 4242420);	/* not in passwd: gid = uid */
	assert_int_equal(id.gid, 4242420);
	assert_int_equal(privsep_identity_resolve("root", &id, &err), -1);
	assert_non_null(strstr(err.text, "is root"));
	assert_int_equal(privsep_identity_resolve("0", &id, &err), -1);
	assert_int_equal(privsep_identity_resolve("no-such-user-here", &id, &err), -1);
	assert_non_null(strstr(err.text, "no user 'no-such-user-here'"));
	assert_int_equal(privsep_identity_resolve("12x", &id, &err), -1);
	assert_non_null(strstr(err.text, "not a user name or uid"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_confined_child_cannot_write_state),
		cmocka_unit_test(test_fetch_user_resolution),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
