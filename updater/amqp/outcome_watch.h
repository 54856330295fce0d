/* outcome_watch.h: an upgrade reported SUCCESS may still fail its probation.
 *
 * slotd reverts a committed slot whose agent crash-loops within [agent]
 * probation of its commit, and appends FAILED with the reason under the id
 * of the upgrade that installed it (docs/health.md).  `slotupd serve`
 * watches the last id it reported SUCCESS for, reading that id's record in
 * the history at most once a second, until the window (plus a minute for
 * the clock and the crash loop's backoff) has passed; a FAILED found there
 * is cast as a later outcome of the same id; one that no AMQP process took
 * (none running: the link is down) is watched again (outcome_watch_again)
 * and so cast again on the next link, since it alone tells a rollout that
 * the upgrade failed after all (a lost SUCCESS ends in a timeout, a lost
 * FAILED would let a rollout go on).  A publish that fails inside the AMQP
 * process is not reported back: that FAILED is lost with it.  A
 * restarted serve resumes the watch from the history: the latest upgrade
 * that reached SUCCESS within the window.  With probation = 0 nothing is
 * watched. */
#ifndef SLOTD_OUTCOME_WATCH_H
#define SLOTD_OUTCOME_WATCH_H

#include <stdint.h>

#include "config.h"
#include "history.h"

#define OUTCOME_WATCH_POLL_MS 1000
#define OUTCOME_WATCH_MARGIN_S 60

struct outcome_watch {
	char id[HISTORY_ID_MAX];	/* "": nothing watched */
	int64_t until;			/* UNIX seconds */
	long long next;			/* monotonic ms of the next look */
};

/* After SUCCESS of `id` at UNIX time `at` (its record's `updated`). */
void outcome_watch_start(struct outcome_watch *w, const struct config *config, const char *id,
			 int64_t at);
/* At startup: the latest upgrade that reached SUCCESS within the window. */
void outcome_watch_resume(struct outcome_watch *w, const struct config *config);
/* Monotonic ms when outcome_watch_poll() is due, or LLONG_MAX. */
long long outcome_watch_due(const struct outcome_watch *w);
/* Looks at the watched record (now: monotonic ms): 1 with *record filled
 * when it turned FAILED (the watch ends), 0 otherwise. */
int outcome_watch_poll(struct outcome_watch *w, const struct config *config, long long now,
		       struct history_record *record);
/* The FAILED of `id` outcome_watch_poll() returned was not handed on:
 * polled again OUTCOME_WATCH_POLL_MS after now (monotonic ms), window or
 * not (the record stays FAILED, so that poll returns it again). */
void outcome_watch_again(struct outcome_watch *w, const char *id, long long now);

#endif
