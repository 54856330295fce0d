/* fleet_store.h: slotfleet's tables (upgrades, their events, instances), behind one
 * interface with two backends: SQLite (embedded default, WAL, one file,
 * [db] path) and PostgreSQL through libpq ([db] url = postgresql://...).
 *
 * Promises, the same on both backends (tests/unit/test_fleet_store.c runs one
 * suite against each):
 * - The schema is versioned; fleet_store_open() applies missing migrations in
 *   one transaction each, so several slotfleet processes may start at once on
 *   one PostgreSQL.
 * - Every call is one transaction: it commits before it returns 0, so a
 *   caller that acks a message or answers 202 after it has made it durable.
 * - An upgrade is one row per attempt (never one per instance), keyed by its
 *   id.  Every state change that is applied appends one event (the audit
 *   trail); a change that is not applied appends nothing.
 * - States are ordered so reports that arrive late or twice change nothing:
 *   SUCCESS and FAILED are final (nothing changes a final record), and among
 *   the others a report applies when its state ranks at least the current
 *   one (NEW < DEFERRED < DOWNLOADING < VERIFYING < INSTALLING < ACTIVATING),
 *   with one exception: DEFERRED may follow any non-final state (the agent
 *   became busy), and any non-final state may follow DEFERRED.  A repeat of
 *   the current state with the same reason is not applied (no duplicate
 *   event under redelivery).
 * - One exception to "SUCCESS is final": a FAILED from the guest (source
 *   "guest") whose time (at_us, the guest's `sent`) is later than the
 *   SUCCESS's applies, with its event: the guest reverted the upgrade after
 *   reporting it (its probation), a later state change of the same attempt,
 *   which a rollout must count as a failure.  A FAILED sent before the
 *   SUCCESS (late, or redelivered) or set by slotfleet itself (source
 *   "fleet": a cast not queued, a rollout's timeout) changes nothing, and
 *   FAILED stays final: at most one such change per upgrade.
 * - A report for an id the store does not know creates its record (a cast
 *   sent by `slotctl notify`, not by the API), with the report's fields.
 * - A report naming another instance than its record's is refused (EINVAL
 *   below): a guest cannot move another instance's upgrade.
 * - Backend failures (database down, lock timeout) return -1 with the error
 *   text naming the backend; the caller retries later.  Nothing is half
 *   written: a failed call changed nothing.
 * - Every text stored comes from outside: callers pass it checked (ids) or
 *   as data (reasons); the store never interprets it and binds every value
 *   as a parameter, never by building SQL text.
 * - Refused input (a text too long for its field or not UTF-8, an empty id,
 *   a bad state or limit) returns -1 with errno EINVAL and an error naming
 *   the field: retrying will not help.  Any other -1 has errno EIO (the
 *   backend: retry later).  Reasons are never refused: bytes that are not
 *   UTF-8 become '?', and a long one is cut at a character boundary.
 *
 * Threads: a struct fleet_store may be shared by threads; each call holds
 * the store's mutex for its whole duration (one connection per store), so
 * calls from several threads run one after another.  A thread that must not
 * wait behind another (e.g. the report consumer behind a long list) opens
 * its own store: backends serialize writers themselves.
 *
 * PostgreSQL: a connection found broken (server restarted) is reopened at
 * the next call, so a call fails while the server is down and the first
 * call after it is back succeeds; nothing needs reopening the store. */
#ifndef SLOTFLEET_STORE_H
#define SLOTFLEET_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum fleet_state {
	FLEET_NEW = 0,
	FLEET_DEFERRED,
	FLEET_DOWNLOADING,
	FLEET_VERIFYING,
	FLEET_INSTALLING,
	FLEET_ACTIVATING,
	FLEET_SUCCESS,
	FLEET_FAILED,
};
#define FLEET_STATE_COUNT 8

#define FLEET_ID_MAX 64			/* upgrade ids, tenant ids */
#define FLEET_INSTANCE_MAX 128		/* instance ids: [0-9A-Za-z_-], at most 127 */
#define FLEET_VERSION_MAX 64
#define FLEET_RPC_API_MAX 16		/* a guest RPC API version: "MAJOR.MINOR", 4 digits each */
#define FLEET_LOCATION_MAX 1024
#define FLEET_REASON_MAX 512

/* Stable names, as the API and the guest's reports spell them. */
const char *fleet_state_name(enum fleet_state state);
/* 0 and *state set, or -1 for a name that is not a state. */
int fleet_state_parse(const char *name, enum fleet_state *state);
int fleet_state_final(enum fleet_state state);

/* Where a record's cast is (read with the record; never written through
 * it): the outbox's row (fleet_store_outbox.h), or a rollout's or policy's
 * planned cast.  UNKNOWN: no cast recorded (a record a report created, or
 * one from before schema v7, whose cast was confirmed before the API
 * answered). */
enum fleet_cast_state {
	FLEET_CAST_STATE_UNKNOWN = 0,
	FLEET_CAST_STATE_PENDING,			/* recorded, not yet queued by the broker */
	FLEET_CAST_STATE_QUEUED,			/* the broker confirmed it */
	FLEET_CAST_STATE_REFUSED,			/* the broker did not queue it: the record FAILED */
};

struct fleet_upgrade {
	char id[FLEET_ID_MAX];
	char tenant[FLEET_ID_MAX];		/* who asked; "" for records created by a report */
	char kind[16];				/* "upgrade" or "rollback" */
	char instance_id[FLEET_INSTANCE_MAX];
	char from_version[FLEET_VERSION_MAX];	/* from the guest's reports, "" until known */
	char to_version[FLEET_VERSION_MAX];
	char strategy[32];
	char location[FLEET_LOCATION_MAX];
	char sha256[65];
	char rollout_id[FLEET_ID_MAX];		/* "" unless cast by a rollout */
	char policy_id[FLEET_ID_MAX];		/* "" unless cast by a policy (schema v4) */
	enum fleet_state state;
	char reason[FLEET_REASON_MAX];
	int64_t created_us, updated_us;		/* UNIX time in microseconds */
	enum fleet_cast_state cast;		/* read only (gets and lists) */
};

struct fleet_event {
	enum fleet_state state;
	char reason[FLEET_REASON_MAX];
	int64_t at_us;
	char source[16];			/* "api", "guest", "fleet" */
};

struct fleet_instance {
	char id[FLEET_INSTANCE_MAX];
	char agent_version[FLEET_VERSION_MAX];	/* from the last heartbeat, "" if none yet */
	char agent_slot[8];
	char rpc_api_version[FLEET_RPC_API_MAX];	/* the guest API it speaks (docs/wire.md),
						 * from the last heartbeat; "" unknown */
	int64_t last_seen_us;			/* 0: never heard from */
	char last_upgrade_id[FLEET_ID_MAX];	/* the newest upgrade record for it, "" if none */
	enum fleet_state last_upgrade_state;
	/* The same record's: who cast it and what it said, so the instance
	 * view tells which policy or rollout left it where, and why. */
	char last_upgrade_to[FLEET_VERSION_MAX];
	char last_upgrade_rollout[FLEET_ID_MAX];	/* "" unless a rollout's */
	char last_upgrade_policy[FLEET_ID_MAX];		/* "" unless a policy's */
	char last_upgrade_reason[FLEET_REASON_MAX];
};

/* A report from a guest (guest_upgrade_outcome), or a state set by slotfleet
 * itself (FAILED when the broker refused the cast). */
struct fleet_report {
	const char *upgrade_id;
	const char *instance_id;
	const char *from_version, *to_version;	/* NULL or "": keep what is stored */
	enum fleet_state state;
	const char *reason;			/* NULL: "" */
	int64_t at_us;
	const char *source;			/* "guest" or "fleet" */
};

struct fleet_upgrade_filter {
	int has_state;
	enum fleet_state state;
	const char *instance_id;		/* NULL: any */
	const char *tenant;			/* NULL: any */
	const char *marker;			/* NULL: from the newest; else the page after this id */
	size_t limit;				/* 1..FLEET_PAGE_MAX */
};
#define FLEET_PAGE_MAX 1000

struct fleet_store;

/* spec: a SQLite path, or a "postgresql://" / "postgres://" URL. */
int fleet_store_open(struct fleet_store **store, const char *spec, struct error *err);
void fleet_store_close(struct fleet_store *store);
/* "sqlite" or "postgresql". */
const char *fleet_store_backend(const struct fleet_store *store);
/* The schema version the database is at (after open: the newest known). */
int fleet_store_schema_version(struct fleet_store *store, int *version, struct error *err);

/* Inserts a NEW record (with its first event, source "api", up->reason) for
 * up->id; up->state is ignored, created_us 0 means now (updated = created).
 * id and instance_id must not be empty.  The instance becomes known.
 * Returns 0, or 1 when the id exists already (nothing changed), or -1. */
int fleet_store_upgrade_insert(struct fleet_store *store, const struct fleet_upgrade *up,
			       struct error *err);
/* Applies a report under the ordering rules above.  *applied (may be NULL)
 * says whether the state changed.  Creates the record for an unknown id
 * (kind "upgrade", tenant "", created = updated = at_us; the report must
 * then name its instance, else EINVAL).  An applied report sets state,
 * reason, updated = at_us, and the versions it gives. */
int fleet_store_report(struct fleet_store *store, const struct fleet_report *report,
		       int *applied, struct error *err);
/* 1 found, 0 not found, -1 error. */
int fleet_store_upgrade_get(struct fleet_store *store, const char *id,
			    struct fleet_upgrade *up, struct error *err);
/* Oldest first (in the order they were applied), the first max; *count set.
 * An unknown id has no events (count 0). */
int fleet_store_upgrade_events(struct fleet_store *store, const char *id,
			       struct fleet_event *events, size_t max, size_t *count,
			       struct error *err);
/* Newest first (created, then id), the page after filter->marker; *more set
 * when a further page exists.  up has room for filter->limit records.
 * Returns 0, or 1 when the marker names no record (nothing listed, *count
 * 0: the API answers 400), or -1. */
int fleet_store_upgrade_list(struct fleet_store *store, const struct fleet_upgrade_filter *filter,
			     struct fleet_upgrade *up, size_t *count, int *more,
			     struct error *err);

/* A heartbeat: stores version, slot and RPC API version (each NULL: ""),
 * last_seen = sent_us; a heartbeat older than the one stored (sent_us
 * lower) changes nothing.  The store keeps the texts as given: the report
 * parser decides what a guest that said no API version speaks. */
int fleet_store_heartbeat(struct fleet_store *store, const char *instance_id,
			  const char *agent_version, const char *agent_slot,
			  const char *rpc_api_version, int64_t sent_us, struct error *err);

/* Writes applied together: the report consumer's deliveries, the API's
 * concurrent requests (fleet_pool.h).  Committing once per write costs one
 * fsync each (about 4 ms on SQLite); one transaction for a batch costs one.
 * On PostgreSQL the batch's statements are pipelined: a round trip per 128
 * statements (3 to 5 per item) instead of one each.  A batch without
 * inserts (the report consumer's) runs as multi-row statements instead,
 * 32 items a statement (store_rows.c), unless one upgrade has more than 8
 * reports in it.  A batch holds about 2 KiB per item while it runs.
 *
 * Each item names exactly one of insert (as fleet_store_upgrade_insert()
 * takes it), report (as fleet_store_report()) or heartbeat (as
 * fleet_store_heartbeat()).  Items are applied in order, each under the
 * same rules as its single call (which is a batch of one), in ONE
 * transaction.  Returns 0 once that transaction has committed; then each
 * item's result is 1 (applied: inserted, the state changed, the heartbeat
 * was the newest), 0 (not: the id exists, a repeat, a late report, an older
 * heartbeat, or one the same instance's newer heartbeat in this batch
 * supersedes: only that newest one is written, and the row ends as if all
 * had been applied in order) or -1: refused, with err saying why (what the single call
 * would refuse with EINVAL).  A refused item changed nothing and did not
 * stop the others: one bad message does not poison the batch.  Returns -1
 * (errno EIO) when the backend failed: nothing at all was written, and the
 * whole batch may be retried. */
struct fleet_heartbeat {
	const char *instance_id;
	const char *agent_version, *agent_slot;	/* NULL: "" */
	int64_t sent_us;
	const char *rpc_api_version;		/* NULL: "" */
};

struct fleet_outbox_cast;			/* store/fleet_store_outbox.h */

struct fleet_batch_item {
	const struct fleet_upgrade *insert;
	const struct fleet_outbox_cast *cast;	/* with insert, may be NULL: its cast,
						 * queued in the outbox in the same
						 * transaction if the record was inserted */
	const struct fleet_report *report;
	const struct fleet_heartbeat *heartbeat;
	int result;				/* out */
	struct error err;			/* out, when result is -1 */
};
#define FLEET_BATCH_MAX 4096

int fleet_store_batch(struct fleet_store *store, struct fleet_batch_item *items, size_t count,
		      struct error *err);
/* 1 found (an instance is known once a heartbeat or an upgrade named it), 0, -1.
 * No upgrade yet: last_upgrade_id "" and last_upgrade_state FLEET_NEW. */
int fleet_store_instance_get(struct fleet_store *store, const char *instance_id,
			     struct fleet_instance *instance, struct error *err);
/* Ordered by id (bytewise), the page after marker (NULL: first; it need not
 * name a known instance); agent_version NULL for all, else only instances
 * whose reported version equals it.  limit 1..FLEET_PAGE_MAX. */
int fleet_store_instance_list(struct fleet_store *store, const char *agent_version,
			      const char *marker, size_t limit, struct fleet_instance *instances,
			      size_t *count, int *more, struct error *err);

/* What the metrics' gauges show (store_metrics.c). */
struct fleet_version_count {
	char version[FLEET_VERSION_MAX];	/* "" : never reported one */
	uint64_t count;
};
/* counts[state] = how many upgrade records are in that state. */
int fleet_store_upgrade_counts(struct fleet_store *store, uint64_t counts[FLEET_STATE_COUNT],
			       struct error *err);
/* The max most common agent versions, most common first (ties by version),
 * *count of them, and *total instances known. */
int fleet_store_version_counts(struct fleet_store *store, struct fleet_version_count *versions,
			       size_t max, size_t *count, uint64_t *total, struct error *err);

#endif
