/* fleet_policy.h: automatic upgrades (docs/fleet.md "Automatic
 * upgrades"): a policy casts its target to every instance in its scope
 * whose reported agent version is lower, without an admin's request.
 *
 * The rules (policy_rules.c) are pure functions of a policy and what the
 * store or the clock says, shared by the driver and the API:
 *   scope    an instance is in scope when its id is in the policy's list
 *            (if it has one) and its reported version is within
 *            [min_version, max_version) (each if set); it is a candidate
 *            when in scope and below the target (versions by version.h;
 *            an unparsable version is never a candidate)
 *   overlap  two policies of a tenant overlap when their targets share a
 *            major (the "version line") and their scopes share an
 *            instance or a version (an id list against a bare range is
 *            taken to overlap: the ids' versions are not known then)
 *   window   "HH:MM-HH:MM" UTC: casts only from the first minute to the
 *            second (exclusive); an end before the start crosses midnight
 *   budget   more than max_failures FAILED among the last budget_window
 *            finished upgrades (store/fleet_store_policy.h) halts
 *   version  a cast goes with the lowest guest RPC API that carries it
 *            (automatic: 1.1); the cap is [amqp] rpc_version_cap, or with
 *            "auto" the instance's last reported version ("" is 1.0)
 *
 * The driver (policy_step.c, stepped by the rollout driver's thread every
 * ROLLOUT_TICK_MS, sooner while casts are due) takes each ACTIVE policy's
 * driving lock (PostgreSQL: one slotfleet per policy), then per step:
 *   1. casts planned but never confirmed are published again, same id;
 *   2. over its budget: HALTED with the reason, nothing more cast;
 *   3. outside its window, or max_in_flight in flight: nothing cast;
 *   4. else candidates (a page of the store's, from a cursor that walks
 *      the instances by id and starts again at the end) are cast at
 *      `rate`, in batches planned durably first (NEW records, policy_id
 *      set), with args.automatic true and envelope version 1.1.  An
 *      instance whose cap is below 1.1 is recorded FAILED at once,
 *      "instance I speaks RPC API 1.0, this cast needs 1.1" (source
 *      "fleet"), not sent: it is no failure of the target, so it stays out
 *      of the budget, and it is tried again once a heartbeat reports 1.1. */
#ifndef SLOTFLEET_POLICY_H
#define SLOTFLEET_POLICY_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdint.h>

#include "error.h"
#include "broker/fleet_publisher.h"
#include "rollout/fleet_rollout.h"
#include "store/fleet_store_policy.h"

#define POLICY_AUTOMATIC_VERSION "1.1"	/* the guest API that carries args.automatic */
#define POLICY_DRIVEN_MAX 64		/* policies one process drives at once */
#define POLICY_IDS_MAX 100		/* ids in a scope's list */

/* A window parsed: minutes since midnight UTC; set 0 means always. */
struct fleet_policy_window {
	int set;
	unsigned start, end;
};

/* "" (always) or "HH:MM-HH:MM" with different ends; 0, or -1. */
int fleet_policy_window_parse(const char *text, struct fleet_policy_window *window);
/* 1 when casts may go at now_us (UNIX microseconds). */
int fleet_policy_window_open(const struct fleet_policy_window *window, int64_t now_us);

/* ids: the policy's list parsed (NULL: any instance).  1 candidate, 0 not. */
int fleet_policy_candidate(const struct fleet_policy *policy, const json_t *ids,
			   const char *instance_id, const char *agent_version);
/* 1 when a and b may both want one instance (see above). */
int fleet_policy_overlap(const struct fleet_policy *a, const struct fleet_policy *b);
/* 1 when the budget is spent; reason (FLEET_REASON_MAX) says so. */
int fleet_policy_over_budget(const struct fleet_policy *policy,
			     const struct fleet_policy_counts *counts, char *reason);
/* The cap for an instance: config_cap ("auto" or MAJOR.MINOR) or what it
 * reported; into cap (FLEET_RPC_API_MAX).  1 when a cast needing `needed`
 * may go to it, 0 not, -1 for a text that is no version. */
int fleet_policy_cap_allows(const char *config_cap, const char *reported, const char *needed,
			    char *cap);

struct fleet_policy_driver;

/* The policies' part of the rollout driver's thread: its own state, the
 * thread's store and publisher. */
int fleet_policy_driver_new(struct fleet_policy_driver **driver, const char *config_cap,
			    struct error *err);
void fleet_policy_driver_free(struct fleet_policy_driver *driver, struct fleet_store *store);
/* One tick: claims the ACTIVE policies, steps each; returns when to tick
 * again (UNIX us; 0 nothing due before the next regular tick). */
int64_t fleet_policy_tick(struct fleet_policy_driver *driver, struct fleet_store *store,
			  struct fleet_publisher *pub, atomic_int *stop);

#endif
