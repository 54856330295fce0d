/* privsep.h: confining a process that handles network data (docs/architecture.md,
 * Privilege separation).
 *
 * privsep_confine() turns the calling process into one that can read only
 * the listed paths and write no file it opens by name, in this order:
 *   1. credentials: a root process takes the identity's uid and gid and no
 *      supplementary groups (setresgid, setresuid: no way back; checked); a
 *      process that is not root keeps its uid (there is nothing to drop to);
 *   2. PR_SET_NO_NEW_PRIVS: no setuid binary or file capability can give
 *      anything back;
 *   3. a Landlock ruleset (raw syscalls, Linux 5.13+): every filesystem right
 *      the kernel knows is handled, reading is allowed beneath read_paths,
 *      reading and executing beneath exec_paths, reading, writing and
 *      truncating existing files beneath write_paths (for /dev/null),
 *      everything beneath build_paths (a pip build's own directories), and
 *      nothing else (a missing path is skipped): no creating or removing
 *      anywhere else; with ABI 4+ TCP bind is refused,
 *      and TCP connect too when `network` is 0; with ABI 6+ signals and
 *      abstract unix sockets outside the process are out of reach.
 * A kernel without Landlock (ENOSYS, EOPNOTSUPP: not built or disabled) is
 * reported by one log line and steps 1-2 still apply; any other failure is
 * an error, and the caller must then not go on.  Descriptors already open
 * keep working: the caller closes what the confined code must not have. */
#ifndef SLOTD_PRIVSEP_H
#define SLOTD_PRIVSEP_H

#include <sys/types.h>
#include "error.h"

/* The identity a root process drops to. */
struct privsep_identity {
	int drop;		/* 0: not root, keep the current uid */
	uid_t uid;
	gid_t gid;
	char name[64];		/* for messages */
};

/* Used when [updater] fetch_user is empty: the package creates it; hosts
 * without it fall back to PRIVSEP_FALLBACK_USER. */
#define PRIVSEP_DEFAULT_USER "_slotupd-fetch"
#define PRIVSEP_FALLBACK_USER "nobody"

/* Resolves `user` (a name, or a decimal uid whose gid is its passwd entry's,
 * else equal to the uid; "" = the default above) for a process running as
 * root; sets drop = 0 for any other process.  Refuses uid 0. */
int privsep_identity_resolve(const char *user, struct privsep_identity *id, struct error *err);

struct privsep_sandbox {
	const char *const *read_paths;	/* NULL-terminated; may be NULL */
	const char *const *exec_paths;	/* the same, read and execute */
	const char *const *write_paths;	/* the same, read and write existing files */
	const char *const *build_paths;	/* the same, every right: create, remove,
					 * execute (a pip build's venv) */
	int network;			/* 0: no TCP connect (Landlock ABI 4+) */
};

/* See above.  Returns 0 or -1 (err set). */
int privsep_confine(const struct privsep_identity *id, const struct privsep_sandbox *box,
		    struct error *err);

/* A child of the running binary: `/proc/self/exe ARG` named NAME (its
 * argv[0]), with descriptor PRIVSEP_CHILD_FD a dup of fd, 0 and 1 on
 * /dev/null, stderr shared, every other descriptor closed and every signal
 * at its default.  A re-exec rather than a fork: nothing the parent holds
 * (the AMQP password, keys, messages on its heap) is in the child's memory,
 * and no thread of the parent's can leave a lock held in it. */
#define PRIVSEP_CHILD_FD 3
int privsep_spawn(const char *name, const char *arg, int fd, pid_t *pid, struct error *err);
/* Waits for pid's exit, SIGKILL (that pid only) after timeout_ms; returns
 * its wait status. */
int privsep_reap(pid_t pid, int timeout_ms);

/* The read_paths of a child that talks to the network (network = 1: the CA,
 * resolver and library paths, and ca_path when set) or to nothing (0),
 * NULL-terminated into paths[PRIVSEP_PATHS_MAX]. */
#define PRIVSEP_PATHS_MAX 64
void privsep_read_paths(const char **paths, int network, const char *ca_path);

/* A deployer fetcher's paths (updater/fetch/fetch_program.h,
 * docs/strategies.md): execute beneath PRIVSEP_RUN_EXEC and its own program;
 * read PRIVSEP_RUN_READ, ca_path and the blank-separated `extra` (its
 * [strategy.NAME] read, split into storage); write /dev/null alone.  Fills
 * the three NULL-terminated lists of box from paths[PRIVSEP_PATHS_MAX]. */
#define PRIVSEP_RUN_EXEC "/bin", "/sbin", "/usr", "/lib", "/lib32", "/lib64", "/libx32"
void privsep_program_paths(struct privsep_sandbox *box, const char **paths, const char *program,
			   const char *ca_path, const char *extra, char *storage, size_t len);

/* The Landlock ABI version of the running kernel, 0 when it has none. */
int privsep_landlock_abi(void);
/* Step 3 alone (privsep_confine() calls it after no_new_privs).  Returns 1
 * when applied, 0 when the kernel has no Landlock, -1 on error. */
int privsep_landlock_apply(const struct privsep_sandbox *box, struct error *err);

#endif
