/* history.h: the upgrade history, <root>/history.
 *
 * An append-only log.  Each line is one snapshot of one attempt:
 *   "<crc32 hex8> key=value<TAB>key=value...\n"
 * values percent-encoded (%, TAB, newline, bytes < 0x20 and 0x7f).  Every
 * step of an attempt appends a new snapshot under the same id; readers fold
 * snapshots by id (last one wins) and list attempts in order of first
 * appearance.  Appends are one write() + fdatasync().  A torn or corrupt line
 * (no newline, bad CRC) is counted and skipped; earlier records survive.
 *
 * Bounded: an append that finds the file at HISTORY_COMPACT_BYTES or more
 * first compacts it to the latest snapshot of the newest HISTORY_KEEP
 * attempts (and of any older one not yet final), written with the new line
 * as one atomic replacement (atomic.h).  So neither a long life nor a flood
 * of refused casts (one record each) grows the file, or what every reader
 * loads, without bound; ids older than the kept attempts are forgotten
 * (replays that old are refused by [amqp] max_age, not by the history).
 * Appenders take flock(LOCK_EX) on the file; readers take no lock. */
#ifndef SLOTD_HISTORY_H
#define SLOTD_HISTORY_H

#include <stdint.h>
#include "error.h"
#include "layout.h"

enum history_state {
	HISTORY_NEW = 0,	/* request accepted, nothing done yet */
	HISTORY_DEFERRED,	/* agent busy (inhibitor held), will retry */
	HISTORY_DOWNLOADING,
	HISTORY_VERIFYING,
	HISTORY_INSTALLING,
	HISTORY_ACTIVATING,	/* asked slotd to flip, health check running */
	HISTORY_SUCCESS,
	HISTORY_FAILED,
};

#define HISTORY_ID_MAX 64
#define HISTORY_FIELD_MAX 128
#define HISTORY_LOCATION_MAX 1024
#define HISTORY_ERROR_MAX 512
#define HISTORY_COMPACT_BYTES (256 * 1024)
#define HISTORY_KEEP 128

struct history_record {
	char id[HISTORY_ID_MAX];		/* upgrade id; unique per attempt */
	char kind[16];				/* "upgrade", "rollback", "mark-bad", ... */
	char instance[HISTORY_FIELD_MAX];
	char from_version[HISTORY_FIELD_MAX];
	char to_version[HISTORY_FIELD_MAX];
	char strategy[32];
	char location[HISTORY_LOCATION_MAX];	/* URLs with credentials are stored redacted */
	char slot[2];				/* target slot "a"/"b" or "" */
	enum history_state state;
	int64_t started;
	int64_t updated;
	char error[HISTORY_ERROR_MAX];
	int64_t fetched;			/* bytes of the bundle over the wire */
	int64_t reused;				/* bytes of it rebuilt from the running slot
						 * (a delta update, docs/delta.md) */
};

struct history_filter {
	const char *state;	/* state name or NULL */
	const char *instance;	/* instance id or NULL */
	const char *id;		/* one attempt or NULL */
};

struct history_stats {
	unsigned records;	/* distinct attempts matched */
	unsigned torn;		/* lines skipped as torn or corrupt */
};

const char *history_state_name(enum history_state state);
int history_state_parse(const char *name, enum history_state *state);
/* 1 for SUCCESS and FAILED. */
int history_state_final(enum history_state state);

/* A URL's credentials (user:secret before the host) become "***", in place
 * in a buffer of size bytes (cut at its end if "***" is the longer): for
 * every place a location is shown (history, logs, outcome casts). */
void history_redact_location(char *location, size_t size);

/* Fills id with 32 random hex chars (getrandom). */
int history_new_id(char *id, size_t len, struct error *err);

/* Appends one snapshot durably; stamps record->updated (and started if 0). */
int history_append(const struct layout *layout, struct history_record *record,
		   struct error *err);

/* Calls visit once per attempt matching the filter, oldest first, with its
 * latest snapshot.  visit returning non-zero stops the walk. */
typedef int (*history_visit_fn)(const struct history_record *record, void *context);
int history_read(const struct layout *layout, const struct history_filter *filter,
		 history_visit_fn visit, void *context, struct history_stats *stats,
		 struct error *err);

/* Latest snapshot of one id: 1 found, 0 not found, -1 error. */
int history_find(const struct layout *layout, const char *id, struct history_record *record,
		 struct error *err);

#endif
