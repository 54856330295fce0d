/* install_pip_run.h: one command of a pip build (python -m venv, pip
 * install, the version check), confined and bounded; private to
 * updater/install/ (install_pip.h drives it).
 *
 * pip_run() forks a keeper process in a process group of its own, which
 * (when slotupd is root) enters a new PID namespace and forks the command
 * as that namespace's init.  The command takes the identity (fetch_user),
 * no_new_privs and the Landlock sandbox given, stdin /dev/null, stdout and
 * stderr one pipe.  When it exits the kernel kills whatever it left in its
 * namespace, so nothing of the build outlives its command and the tree can
 * be handed back to root (pip_chown_tree) without a process racing the
 * walk.  Both die with slotupd (PR_SET_PDEATHSIG).  At timeout_ms the
 * group is SIGKILLed.  Output: its last PIP_OUTPUT_MAX bytes are kept. */
#ifndef SLOTD_INSTALL_PIP_RUN_H
#define SLOTD_INSTALL_PIP_RUN_H

#include <stddef.h>
#include <sys/types.h>

#include "error.h"
#include "privsep/privsep.h"

#define PIP_OUTPUT_MAX 8192
#define PIP_TREE_DEPTH_MAX 64

struct pip_run {
	char *const *argv;		/* argv[0] an absolute path */
	char *const *env;
	const char *cwd;
	const struct privsep_identity *id;
	const struct privsep_sandbox *box;
	unsigned timeout_ms;
	/* results */
	char out[PIP_OUTPUT_MAX + 1];	/* the last bytes of its output, NUL-terminated */
	size_t used;
	int status;			/* wait status */
	int timed_out;
};

/* Runs it to its end: 0 (see status, timed_out), -1 when it could not be
 * started (err set). */
int pip_run(struct pip_run *r, struct error *err);

/* "exit 1", "killed by signal 9", "timed out after N ms" and the line that
 * says why (pip's first "ERROR:" line, else the last line), sanitised. */
void pip_run_reason(const struct pip_run *r, char *out, size_t len);

/* Gives everything beneath dir_fd (and dir_fd) to uid:gid, never following
 * a symlink, and takes away group and other write and the set-id bits:
 * what the build user wrote becomes root's, read-only to others.  At most
 * PIP_TREE_DEPTH_MAX levels. */
int pip_chown_tree(int dir_fd, uid_t uid, gid_t gid, struct error *err);

#endif
