/* exec.c: starting and reaping a confined child of the running binary, and
 * the paths such a child reads (see updater/privsep/privsep.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <string.h>
#include <unistd.h>

#include "privsep/privsep.h"

extern char **environ;

/* What TLS, the resolver and the C library read: CA bundles, resolver and
 * NSS configuration, shared libraries (NSS modules, OpenSSL providers).
 * Not /etc as a whole: slotd.ini may hold the broker's password. */
static const char *const privsep_network_read[] = {
	"/etc/ssl", "/etc/pki", "/etc/ca-certificates", "/usr/share/ca-certificates",
	"/usr/local/share/ca-certificates", "/usr/lib/ssl", "/usr/lib", "/usr/lib64", "/lib",
	"/lib64", "/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/host.conf",
	"/etc/gai.conf", "/etc/ld.so.cache", "/etc/localtime", "/etc/services",
	"/etc/protocols",
};
#define PRIVSEP_NETWORK_COUNT (sizeof privsep_network_read / sizeof privsep_network_read[0])

/* What a program run by the fetch process reads besides: its user's name
 * (id, ssh), the loader's configuration, randomness.  Not /etc as a whole,
 * not /proc, /home or /root. */
static const char *const privsep_program_read[] = {
	"/etc/passwd", "/etc/group", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/dev/urandom",
	"/dev/random",
};
static const char *const privsep_program_exec[] = { PRIVSEP_RUN_EXEC };
#define PRIVSEP_COUNT(a) (sizeof (a) / sizeof (a)[0])
/* Read: the network set, the program set, ca_path, /proc/self, extras, NULL;
 * exec: the runtime, the program, NULL; write: /dev/null, NULL. */
#define PRIVSEP_EXTRA_MAX (PRIVSEP_PATHS_MAX - PRIVSEP_NETWORK_COUNT - \
			   PRIVSEP_COUNT(privsep_program_read) - 3 - \
			   PRIVSEP_COUNT(privsep_program_exec) - 2 - 2)

_Static_assert(PRIVSEP_EXTRA_MAX >= 8, "PRIVSEP_PATHS_MAX too small");

void privsep_read_paths(const char **paths, int network, const char *ca_path)
{
	size_t i, n = 0;

	for (i = 0; network && i < PRIVSEP_NETWORK_COUNT; i++)
		paths[n++] = privsep_network_read[i];
	if (network && ca_path && ca_path[0])
		paths[n++] = ca_path;
#ifdef __SANITIZE_ADDRESS__
	paths[n++] = "/proc/self";	/* LeakSanitizer lists the threads at exit */
#endif
	paths[n] = NULL;
}

void privsep_program_paths(struct privsep_sandbox *box, const char **paths, const char *program,
			   const char *ca_path, const char *extra, char *storage, size_t len)
{
	size_t n, i, extras = 0, used = 0, word;

	privsep_read_paths(paths, 1, ca_path);
	for (n = 0; paths[n]; n++)
		;
	for (i = 0; i < PRIVSEP_COUNT(privsep_program_read); i++)
		paths[n++] = privsep_program_read[i];
	/* extras beyond the bound are dropped: the configuration allows fewer */
	while (extra && *(extra += strspn(extra, " \t")) && extras < PRIVSEP_EXTRA_MAX) {
		word = strcspn(extra, " \t");
		if (used + word + 1 > len)
			break;
		memcpy(storage + used, extra, word);
		storage[used + word] = '\0';
		paths[n++] = storage + used;
		used += word + 1;
		extra += word;
		extras++;
	}
	paths[n++] = NULL;
	box->read_paths = paths;
	box->exec_paths = paths + n;
	for (i = 0; i < PRIVSEP_COUNT(privsep_program_exec); i++)
		paths[n++] = privsep_program_exec[i];
	paths[n++] = program;
	paths[n++] = NULL;
	box->write_paths = paths + n;
	paths[n++] = "/dev/null";
	paths[n] = NULL;
}

int privsep_spawn(const char *name, const char *arg, int fd, pid_t *pid, struct error *err)
{
	char *argv[] = { (char *)name, (char *)arg, NULL };
	posix_spawn_file_actions_t actions;
	posix_spawnattr_t attr;
	sigset_t all, none;
	int rc;

	sigfillset(&all);
	sigemptyset(&none);
	posix_spawn_file_actions_init(&actions);
	posix_spawnattr_init(&attr);
	posix_spawn_file_actions_adddup2(&actions, fd, PRIVSEP_CHILD_FD);
	posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addclosefrom_np(&actions, PRIVSEP_CHILD_FD + 1);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
	rc = posix_spawn(pid, "/proc/self/exe", &actions, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&actions);
	posix_spawnattr_destroy(&attr);
	if (rc != 0) {
		errno = rc;
		return error_errno(err, "%s: cannot run /proc/self/exe", name);
	}
	return 0;
}

int privsep_reap(pid_t pid, int timeout_ms)
{
	struct pollfd p = { .events = POLLIN };
	int status = 0;

	p.fd = pidfd_open(pid, 0);
	if (p.fd < 0 || poll(&p, 1, timeout_ms) != 1)
		kill(pid, SIGKILL);
	if (p.fd >= 0)
		close(p.fd);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return status;
}
