/* confine.c: credentials and no_new_privs (see updater/privsep/privsep.h). */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "privsep/privsep.h"

/* A name, or all digits: a uid that need not be in the passwd file.  The
 * _r forms: the caller may be one thread among several. */
static int privsep_lookup(const char *user, struct privsep_identity *id, struct error *err)
{
	struct passwd entry, *pw = NULL;
	char buf[4096], *end;
	unsigned long uid;
	int rc;

	if (user[0] >= '0' && user[0] <= '9') {
		uid = strtoul(user, &end, 10);
		if (*end || uid > 0xfffffffeUL)
			return error_set(err, "[updater] fetch_user: '%.40s' is not a user name or uid",
					 user);
		rc = getpwuid_r((uid_t)uid, &entry, buf, sizeof buf, &pw);
		id->uid = (uid_t)uid;
		id->gid = pw ? pw->pw_gid : (gid_t)uid;
	} else {
		rc = getpwnam_r(user, &entry, buf, sizeof buf, &pw);
		if (!pw && (rc == 0 || rc == ENOENT || rc == ESRCH))
			return error_set(err, "[updater] fetch_user: no user '%.40s'", user);
		if (!pw) {
			errno = rc;
			return error_errno(err, "[updater] fetch_user: looking up '%.40s'", user);
		}
		id->uid = pw->pw_uid;
		id->gid = pw->pw_gid;
	}
	snprintf(id->name, sizeof id->name, "%s", user);
	return 0;
}

int privsep_identity_resolve(const char *user, struct privsep_identity *id, struct error *err)
{
	memset(id, 0, sizeof *id);
	if (geteuid() != 0) {
		id->uid = geteuid();
		id->gid = getegid();
		snprintf(id->name, sizeof id->name, "%u", (unsigned)id->uid);
		return 0;
	}
	if (!user[0]) {
		if (privsep_lookup(PRIVSEP_DEFAULT_USER, id, NULL) < 0 &&
		    privsep_lookup(PRIVSEP_FALLBACK_USER, id, NULL) < 0)
			return error_set(err, "[updater] fetch_user is not set and neither %s nor "
					 "%s exists", PRIVSEP_DEFAULT_USER, PRIVSEP_FALLBACK_USER);
	} else if (privsep_lookup(user, id, err) < 0) {
		return -1;
	}
	if (id->uid == 0 || id->gid == 0)
		return error_set(err, "[updater] fetch_user: '%.40s' is root (uid or gid 0): "
				 "the fetch process must not be", id->name);
	id->drop = 1;
	return 0;
}

/* setres*id leave no saved id to regain root; checked, because a silent
 * failure here would leave the network side privileged. */
static int privsep_drop(const struct privsep_identity *id, struct error *err)
{
	uid_t r, e, s;

	if (setgroups(0, NULL) < 0)
		return error_errno(err, "setgroups");
	if (setresgid(id->gid, id->gid, id->gid) < 0)
		return error_errno(err, "setresgid %u", (unsigned)id->gid);
	if (setresuid(id->uid, id->uid, id->uid) < 0)
		return error_errno(err, "setresuid %u", (unsigned)id->uid);
	if (getresuid(&r, &e, &s) < 0 || r != id->uid || e != id->uid || s != id->uid ||
	    setuid(0) == 0)
		return error_set(err, "privileges not dropped to uid %u", (unsigned)id->uid);
	return 0;
}

int privsep_confine(const struct privsep_identity *id, const struct privsep_sandbox *box,
		    struct error *err)
{
	if (id->drop && privsep_drop(id, err) < 0)
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return error_errno(err, "prctl(PR_SET_NO_NEW_PRIVS)");
	return privsep_landlock_apply(box, err) < 0 ? -1 : 0;
}
