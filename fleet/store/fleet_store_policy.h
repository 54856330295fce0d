/* fleet_store_policy.h: the store's policies (schema version 4): automatic
 * upgrades (docs/fleet.md "Automatic upgrades"), on the same two backends
 * and under the same promises as fleet_store.h (one transaction per call,
 * values bound as parameters, EINVAL for refused input, EIO for the
 * backend; tests/unit/test_fleet_store_policy.c runs one suite against
 * each).
 *
 * A policy is one row: a target (the upgrade it casts), a scope, a pace
 * and a failure budget.  Every upgrade it casts is an ordinary upgrade
 * record with policy_id set, planned durably before it is sent:
 * fleet_store_policy_plan_many() inserts the NEW record and a cast row
 * (cast_us 0) in one transaction that checked the policy is ACTIVE, that
 * (PostgreSQL) this connection holds the policy's driving lock, that the
 * instance has no unfinished upgrade and that fewer than max_in_flight of
 * the policy's upgrades are in flight.  A planned cast not confirmed
 * (slotfleet died between the two) is published again with the same
 * upgrade id, which the guest takes as the same attempt.
 *
 * What is "in flight", "finished" and a "refusal" is decided here, in SQL,
 * so the driver and the view agree:
 *   in flight   not final, or SUCCESS for less than probation
 *   finished    FAILED, or SUCCESS for at least probation
 *   refusal     FAILED with a reason saying the guest refuses automatic
 *               upgrades (FLEET_POLICY_REFUSED_GUEST) or that its RPC API
 *               is below what the cast needs (FLEET_POLICY_REFUSED_CAP):
 *               not counted in the failure budget.
 *
 * Instances: slotfleet keeps no owner per instance (the guests' heartbeats
 * name none), so a policy's candidates are every known instance, as for a
 * rollout's agent_version_below; the tenant owns the policy. */
#ifndef SLOTFLEET_STORE_POLICY_H
#define SLOTFLEET_STORE_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "store/fleet_store.h"

enum fleet_policy_state {
	FLEET_POLICY_ACTIVE = 0,
	FLEET_POLICY_PAUSED,
	FLEET_POLICY_HALTED,
};
#define FLEET_POLICY_STATE_COUNT 3
#define FLEET_POLICY_BIT(s) (1u << (s))

#define FLEET_POLICY_METADATA_MAX 4096	/* the metadata object as JSON text */
#define FLEET_POLICY_INSTANCES_MAX 8192	/* the scope's ids as a JSON array */
#define FLEET_POLICY_WINDOW_MAX 16	/* "HH:MM-HH:MM" */

/* The reasons of refusals, as LIKE patterns: the guest's (docs/wire.md
 * "Versions of the guest API") and the driver's own version cap. */
#define FLEET_POLICY_REFUSED_GUEST "%automatic upgrades disabled on this guest%"
#define FLEET_POLICY_REFUSED_CAP "instance % speaks RPC API %, this cast needs %"

const char *fleet_policy_state_name(enum fleet_policy_state state);
int fleet_policy_state_parse(const char *name, enum fleet_policy_state *state);

struct fleet_policy {
	char id[FLEET_ID_MAX];
	char tenant[FLEET_ID_MAX];
	enum fleet_policy_state state;
	char reason[FLEET_REASON_MAX];		/* why PAUSED or HALTED */
	char to_version[FLEET_VERSION_MAX];	/* the target: instance_version */
	char strategy[32];
	char location[FLEET_LOCATION_MAX];
	char sha256[65];
	char metadata[FLEET_POLICY_METADATA_MAX];	/* "" or a JSON object */
	char instances[FLEET_POLICY_INSTANCES_MAX];	/* scope: "" any, or a JSON array */
	char min_version[FLEET_VERSION_MAX];	/* scope: "" none, else inclusive */
	char max_version[FLEET_VERSION_MAX];	/* scope: "" none, else exclusive */
	int64_t cast_interval_us;		/* 1 / rate */
	unsigned max_in_flight;
	char window[FLEET_POLICY_WINDOW_MAX];	/* "" always, else "HH:MM-HH:MM" UTC */
	int64_t probation_us;
	unsigned max_failures, budget_window;	/* halt past max_failures of the last window */
	int64_t retry_after_us;			/* 0: never retry a FAILED */
	int64_t timeout_us;			/* after its cast, silence is FAILED */
	int64_t created_us, updated_us;
};

struct fleet_policy_filter {
	const char *tenant;		/* NULL: any */
	unsigned state_mask;		/* 0: any; else FLEET_POLICY_BIT()s */
	const char *marker;		/* NULL: from the newest */
	size_t limit;			/* 1..FLEET_PAGE_MAX */
};

/* An instance the driver may cast to, as the store found it. */
struct fleet_policy_candidate {
	char id[FLEET_INSTANCE_MAX];
	char agent_version[FLEET_VERSION_MAX];
	char rpc_api_version[FLEET_RPC_API_MAX];
};

struct fleet_policy_counts {
	size_t in_flight;		/* not final, or SUCCESS within probation */
	size_t finished;		/* of the last budget_window finished, not refusals */
	size_t failed;			/* of those, FAILED */
};

/* Whether policy may not live next to other (the API's overlap rule). */
typedef int (*fleet_policy_conflict_fn)(const struct fleet_policy *policy,
					const struct fleet_policy *other);

/* Inserts the policy (created_us 0: now) unless one of its tenant's ACTIVE
 * or PAUSED policies conflicts with it (conflicts may be NULL: none does).
 * 0, 1 the id exists, 2 a conflict (*other set; other may be NULL), -1.
 * The check and the insert are one transaction, serialized per tenant (on
 * PostgreSQL a transaction advisory lock, on SQLite BEGIN IMMEDIATE): two
 * slotfleets creating overlapping policies at once cannot both succeed. */
int fleet_store_policy_insert(struct fleet_store *store, const struct fleet_policy *policy,
			      fleet_policy_conflict_fn conflicts, struct fleet_policy *other,
			      struct error *err);
/* 1 found, 0 not, -1. */
int fleet_store_policy_get(struct fleet_store *store, const char *id,
			   struct fleet_policy *policy, struct error *err);
/* Newest first, paged like fleet_store_upgrade_list(); 1 for an unknown marker. */
int fleet_store_policy_list(struct fleet_store *store, const struct fleet_policy_filter *filter,
			    struct fleet_policy *policies, size_t *count, int *more,
			    struct error *err);
/* Removes the policy and its cast rows (its upgrade records stay, with
 * their policy_id: the history).  1 removed, 0 no such policy, -1. */
int fleet_store_policy_delete(struct fleet_store *store, const char *id, struct error *err);
/* As fleet_store_rollout_transition(): 1 applied, 0 not (*current: the
 * state now, FLEET_POLICY_STATE_COUNT for an unknown id), -1. */
int fleet_store_policy_transition(struct fleet_store *store, const char *id,
				  unsigned from_mask, enum fleet_policy_state to,
				  const char *reason, enum fleet_policy_state *current,
				  struct error *err);
/* The ids of ACTIVE policies, oldest first, at most max. */
int fleet_store_policy_active(struct fleet_store *store, char (*ids)[FLEET_ID_MAX], size_t max,
			      size_t *count, struct error *err);
/* A page of the instances the policy may cast to, by id after marker ("":
 * from the first), at most limit (1..FLEET_PAGE_MAX): those that reported
 * a version other than the target, with no unfinished upgrade, and under
 * this policy: no refusal by the guest ever, no version-cap refusal while
 * the instance still reports an RPC API of 1.0 or none (or ever, when
 * cap_fixed_low: the configured cap is below what the policy needs), no
 * other FAILED within retry_after (ever, with 0), no SUCCESS not followed
 * by a heartbeat yet (until then the stored version is the old one).  The
 * scope and the
 * version order are the caller's (version.h is not SQL).  *more: a page
 * follows. */
int fleet_store_policy_candidates(struct fleet_store *store, const struct fleet_policy *policy,
				  const char *marker, int cap_fixed_low, int64_t now_us,
				  struct fleet_policy_candidate *out, size_t limit, size_t *count,
				  int *more, struct error *err);
/* In flight at now_us (0: now), and the budget over the last
 * budget_window finished. */
int fleet_store_policy_counts(struct fleet_store *store, const struct fleet_policy *policy,
			      int64_t now_us, struct fleet_policy_counts *counts,
			      struct error *err);
/* Plans n upgrades of one policy (each policy_id set) in ONE transaction,
 * under the rules above; planned[i] says which were.  Returns how many
 * (0: the policy is not ACTIVE, not ours, or max_in_flight reached), -1. */
int fleet_store_policy_plan_many(struct fleet_store *store, const struct fleet_upgrade *ups,
				 size_t n, int *planned, struct error *err);
/* Planned casts of the policy not confirmed yet, oldest first, at most max. */
int fleet_store_policy_unconfirmed(struct fleet_store *store, const char *id,
				   struct fleet_upgrade *ups, size_t max, size_t *count,
				   struct error *err);
/* The policy's upgrades cast (confirmed) before cast_before_us and still
 * not SUCCESS or FAILED: its guests' silence, oldest first, at most max. */
int fleet_store_policy_overdue(struct fleet_store *store, const char *id, int64_t cast_before_us,
			       struct fleet_upgrade *ups, size_t max, size_t *count,
			       struct error *err);
/* Records the broker's confirmations of n planned casts (by upgrade id). */
int fleet_store_policy_cast_done_many(struct fleet_store *store, const char *const *upgrade_ids,
				      size_t n, int64_t cast_us, struct error *err);
/* The driving lock, as fleet_store_rollout_lock(). */
int fleet_store_policy_lock(struct fleet_store *store, const char *id, int *held,
			    struct error *err);
int fleet_store_policy_unlock(struct fleet_store *store, const char *id, struct error *err);

#endif
