/* landlock.c: the filesystem and network ruleset of a confined process
 * (see updater/privsep/privsep.h), on raw syscalls: glibc has no wrappers.
 *
 * The build's <linux/landlock.h> may be older than the kernel: the rights of
 * later ABIs are kernel ABI constants, defined here when missing, and only
 * handled when the running kernel reports that ABI. */
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "privsep/privsep.h"

#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)		/* ABI 2 */
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)	/* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)	/* ABI 5 */
#endif
#define LL_NET_BIND_TCP (1ULL << 0)			/* ABI 4 */
#define LL_NET_CONNECT_TCP (1ULL << 1)
#define LL_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)	/* ABI 6 */
#define LL_SCOPE_SIGNAL (1ULL << 1)

/* struct landlock_ruleset_attr as of ABI 6; the kernel accepts the longer
 * struct from older ABIs as long as the fields it does not know are 0. */
struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

#define LL_READ (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)

int privsep_landlock_abi(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);

	return abi > 0 ? (int)abi : 0;
}

static uint64_t ll_handled_fs(int abi)
{
	uint64_t fs = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;	/* ABI 1: bits 0-12 */

	if (abi >= 2)
		fs |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		fs |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return fs;
}

/* The file rights: the only ones a rule on a file (not a directory) may grant. */
#define LL_FILE_RIGHTS (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE | \
			LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_TRUNCATE | \
			LANDLOCK_ACCESS_FS_IOCTL_DEV)

/* access beneath one path, within what the ruleset handles (a right it does
 * not handle would make the rule invalid) and, for a file, its file rights
 * only.  A missing path is skipped. */
static int ll_allow(int ruleset, const char *path, uint64_t access, uint64_t handled,
		    struct error *err)
{
	struct landlock_path_beneath_attr rule = { .allowed_access = access & handled };
	struct stat st;
	int fd, rc = 0;

	fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 :
		       error_errno(err, "landlock: %s", path);
	if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
		rule.allowed_access &= LL_FILE_RIGHTS;
	rule.parent_fd = fd;
	if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0) < 0)
		rc = error_errno(err, "landlock: rule for %s", path);
	close(fd);
	return rc;
}

/* Each list's paths with their rights. */
static int ll_rules(int ruleset, const struct privsep_sandbox *box, uint64_t handled,
		    struct error *err)
{
	const struct { const char *const *paths; uint64_t access; } lists[] = {
		{ box->read_paths, LL_READ },
		{ box->exec_paths, LL_READ | LANDLOCK_ACCESS_FS_EXECUTE },
		{ box->write_paths, LL_READ | LANDLOCK_ACCESS_FS_WRITE_FILE |
				    LANDLOCK_ACCESS_FS_TRUNCATE },
		{ box->build_paths, ~0ULL },	/* ll_allow keeps what is handled */
	};
	size_t i, j;

	for (i = 0; i < sizeof lists / sizeof lists[0]; i++)
		for (j = 0; lists[i].paths && lists[i].paths[j]; j++)
			if (ll_allow(ruleset, lists[i].paths[j], lists[i].access, handled, err) < 0)
				return -1;
	return 0;
}

int privsep_landlock_apply(const struct privsep_sandbox *box, struct error *err)
{
	struct ll_ruleset_attr attr = { 0 };
	int abi = privsep_landlock_abi(), ruleset, rc = 1;

	if (abi == 0) {
		log_warn("this kernel has no Landlock (%s): this process runs without a "
			 "filesystem sandbox", strerror(errno));
		return 0;
	}
	attr.handled_access_fs = ll_handled_fs(abi);
	if (abi >= 4)
		attr.handled_access_net = LL_NET_BIND_TCP | (box->network ? 0 : LL_NET_CONNECT_TCP);
	if (abi >= 6)
		attr.scoped = LL_SCOPE_ABSTRACT_UNIX_SOCKET | LL_SCOPE_SIGNAL;
	ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
	if (ruleset < 0)
		return error_errno(err, "landlock_create_ruleset (ABI %d)", abi);
	if (ll_rules(ruleset, box, attr.handled_access_fs, err) < 0)
		rc = -1;
	else if (syscall(SYS_landlock_restrict_self, ruleset, 0) < 0)
		rc = error_errno(err, "landlock_restrict_self");
	close(ruleset);
	return rc;
}
