/* install.h: one upgrade attempt, end to end (docs/architecture.md, An upgrade, end to end).
 *
 * install_run() takes a validated request and drives it: record the attempt
 * (history NEW) -> defer if the agent holds the inhibitor -> fetch with
 * retries -> verify manifest and blocks -> decrypt -> unpack into the
 * inactive slot -> sync -> slot `installed` -> ask slotd to activate -> wait
 * for the health outcome -> SUCCESS or FAILED.  Every step appends a history
 * snapshot under request->id, and the final state is durable before
 * install_run() returns, so a caller (the AMQP consumer) may acknowledge the
 * message right after.  A request whose id already reached SUCCESS or FAILED
 * is a no-op returning that outcome (redelivery).  The active slot is never
 * written. */
#ifndef SLOTD_INSTALL_H
#define SLOTD_INSTALL_H

#include "config.h"
#include "error.h"
#include "history.h"

enum install_kind {
	INSTALL_UPGRADE,	/* install the bundle at location, activate it */
	INSTALL_ROLLBACK,	/* with a location: as an upgrade, downgrades allowed by
				 * the caller; without: ask slotd to roll back */
};

struct install_request {
	const char *id;			/* upgrade id; NULL: a fresh random one */
	enum install_kind kind;		/* recorded as "upgrade" or "rollback" */
	const char *instance_id;	/* for the record; NULL: config's */
	const char *location;
	const char *strategy;		/* NULL: config's updater.strategy */
	const char *expected_version;	/* instance_version: must match the manifest if set */
	const char *expected_sha256;	/* metadata sha256 of the bundle file, if given */
	const char *metadata;		/* the whole metadata object for a deployer's
					 * fetcher, as request_metadata_encode() writes
					 * it (request_check.h); NULL: none */
	int allow_downgrade;		/* admin rollback */
	const char *file_beneath;	/* `file` locations: NULL any, else beneath this
					 * directory (serve: [amqp] file_dir) */
	int authenticated;		/* a sealed cast on a keyed guest, or root's own
					 * `slotupd install`: required by format = pip,
					 * whose tarball carries no signature */
};

enum install_outcome {
	INSTALL_SUCCESS,	/* new slot committed good, rolled back, or the bundle
				 * is the running one (nothing to do) */
	INSTALL_FAILED,		/* recorded FAILED with the reason; running slot untouched */
	INSTALL_DEFERRED,	/* agent busy: recorded DEFERRED, retry later, same id */
};

struct install_result {
	enum install_outcome outcome;
	struct history_record record;	/* the final snapshot */
	int already_done;		/* id was final before this call */
};

/* Progress of the long steps, for a TTY bar or log lines.  May be NULL. */
struct install_progress {
	void (*step)(void *context, enum history_state state, const char *detail);
	void (*bytes)(void *context, unsigned long long done, unsigned long long total);
	void *context;
};

/* Returns 0 when an outcome was reached and recorded (check result->outcome),
 * -1 when not even the attempt could be recorded (err says why). */
int install_run(const struct config *config, const struct install_request *request,
		const struct install_progress *progress, struct install_result *result,
		struct error *err);

#endif
