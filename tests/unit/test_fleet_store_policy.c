/* test_fleet_store_policy.c: the promises of fleet/store/fleet_store_policy.h
 * (policies, their candidates, in-flight and budget counts, the
 * plan-then-confirm of their casts, the driving lock), one suite run
 * against SQLite (a temp file) and, when FLEET_TEST_PG_URL is set, against
 * PostgreSQL (tests/integration/fleet_store_pg.sh). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "store/fleet_store.h"
#include "store/fleet_store_policy.h"
#include "store/fleet_store_rollout.h"
#include "support_fleet_store.h"

#define NOW INT64_C(1700000000000000)
#define HOUR INT64_C(3600000000)

static void policy_new(struct fleet_policy *p, const char *id, const char *tenant,
		       int64_t created)
{
	memset(p, 0, sizeof *p);
	snprintf(p->id, sizeof p->id, "%s", id);
	snprintf(p->tenant, sizeof p->tenant, "%s", tenant);
	snprintf(p->to_version, sizeof p->to_version, "2.0.0");
	snprintf(p->strategy, sizeof p->strategy, "http");
	snprintf(p->location, sizeof p->location, "http://h/v2.bundle");
	snprintf(p->metadata, sizeof p->metadata, "{\"k\": \"it's\"}");
	snprintf(p->instances, sizeof p->instances, "[\"i-a\"]");
	snprintf(p->min_version, sizeof p->min_version, "1.0");
	snprintf(p->window, sizeof p->window, "01:00-05:30");
	p->cast_interval_us = 500000;
	p->max_in_flight = 2;
	p->probation_us = HOUR;
	p->max_failures = 5;
	p->budget_window = 100;
	p->retry_after_us = 6 * HOUR;
	p->timeout_us = HOUR / 2;
	p->created_us = created;
}

static void policy_insert(struct support_store *f, const struct fleet_policy *p)
{
	struct error err;

	if (fleet_store_policy_insert(f->store, p, NULL, NULL, &err) != 0)
		fail_msg("policy insert %s: %s", p->id, err.text);
}

/* An upgrade record of the policy (or of none: ""), then its state. */
static void record(struct support_store *f, const char *id, const char *instance,
		   const char *policy, enum fleet_state st, const char *reason, int64_t at)
{
	struct fleet_upgrade up = { .kind = "upgrade", .to_version = "2.0.0" };
	struct error err;

	snprintf(up.id, sizeof up.id, "%s", id);
	snprintf(up.instance_id, sizeof up.instance_id, "%s", instance);
	snprintf(up.policy_id, sizeof up.policy_id, "%s", policy);
	up.created_us = at - 1000;
	if (fleet_store_upgrade_insert(f->store, &up, &err) != 0)
		fail_msg("insert %s: %s", id, err.text);
	if (st != FLEET_NEW)
		support_report(f, id, instance, st, reason, at);
}

static void beat(struct support_store *f, const char *id, const char *version, const char *rpc)
{
	assert_int_equal(fleet_store_heartbeat(f->store, id, version, "a", rpc, NOW - HOUR, NULL),
			 0);
}

static void test_policy_insert_get_list(void **state)
{
	struct support_store *f = *state;
	struct fleet_policy p, got, list[4];
	struct fleet_policy_filter filter = { .limit = 4 };
	enum fleet_policy_state now;
	size_t n;
	int more;

	policy_new(&p, "p1", "t1", 1000);
	policy_insert(f, &p);
	assert_int_equal(fleet_store_policy_insert(f->store, &p, NULL, NULL, NULL), 1);
	policy_new(&p, "p2", "t2", 2000);
	policy_insert(f, &p);
	assert_int_equal(fleet_store_policy_get(f->store, "p1", &got, NULL), 1);
	assert_string_equal(got.tenant, "t1");
	assert_string_equal(got.metadata, "{\"k\": \"it's\"}");
	assert_string_equal(got.window, "01:00-05:30");
	assert_string_equal(got.min_version, "1.0");
	assert_string_equal(got.max_version, "");
	assert_int_equal(got.max_in_flight, 2);
	assert_int_equal(got.retry_after_us, 6 * HOUR);
	assert_int_equal(got.state, FLEET_POLICY_ACTIVE);
	assert_int_equal(fleet_store_policy_get(f->store, "none", &got, NULL), 0);
	assert_int_equal(fleet_store_policy_list(f->store, &filter, list, &n, &more, NULL), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].id, "p2");	/* newest first */
	filter.tenant = "t1";
	assert_int_equal(fleet_store_policy_list(f->store, &filter, list, &n, &more, NULL), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].id, "p1");
	/* Transitions: conditional, the loser sees the state. */
	assert_int_equal(fleet_store_policy_transition(f->store, "p1",
		FLEET_POLICY_BIT(FLEET_POLICY_ACTIVE), FLEET_POLICY_PAUSED, "paused", &now, NULL), 1);
	assert_int_equal(fleet_store_policy_transition(f->store, "p1",
		FLEET_POLICY_BIT(FLEET_POLICY_ACTIVE), FLEET_POLICY_HALTED, "x", &now, NULL), 0);
	assert_int_equal(now, FLEET_POLICY_PAUSED);
	filter.tenant = NULL;
	filter.state_mask = FLEET_POLICY_BIT(FLEET_POLICY_PAUSED);
	assert_int_equal(fleet_store_policy_list(f->store, &filter, list, &n, &more, NULL), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].reason, "paused");
	filter.state_mask = 0;
	filter.limit = 1;
	assert_int_equal(fleet_store_policy_list(f->store, &filter, list, &n, &more, NULL), 0);
	assert_int_equal(more, 1);
	filter.marker = "p2";
	assert_int_equal(fleet_store_policy_list(f->store, &filter, list, &n, &more, NULL), 0);
	assert_string_equal(list[0].id, "p1");
	filter.marker = "nope";
	assert_int_equal(fleet_store_policy_list(f->store, &filter, list, &n, &more, NULL), 1);
	/* Delete: gone; its records stay. */
	record(f, "u1", "i-a", "p1", FLEET_NEW, "", NOW);
	assert_int_equal(fleet_store_policy_delete(f->store, "p1", NULL), 1);
	assert_int_equal(fleet_store_policy_delete(f->store, "p1", NULL), 0);
	assert_int_equal(fleet_store_policy_get(f->store, "p1", &got, NULL), 0);
	errno = 0;
	p.max_in_flight = 0;
	assert_int_equal(fleet_store_policy_insert(f->store, &p, NULL, NULL, NULL), -1);
	assert_int_equal(errno, EINVAL);
}

/* The store's half of the overlap rule: any two policies conflict here. */
static int any_conflict(const struct fleet_policy *p, const struct fleet_policy *other)
{
	(void)p;
	(void)other;
	return 1;
}

/* The check runs against the tenant's ACTIVE and PAUSED policies only, in
 * the insert's transaction; a refused insert leaves nothing. */
static void test_policy_insert_conflict(void **state)
{
	struct support_store *f = *state;
	struct fleet_policy p, other, got;
	enum fleet_policy_state now;

	policy_new(&p, "halted", "t1", 1000);
	policy_insert(f, &p);
	assert_int_equal(fleet_store_policy_transition(f->store, "halted",
		FLEET_POLICY_BIT(FLEET_POLICY_ACTIVE), FLEET_POLICY_HALTED, "budget", &now, NULL), 1);
	policy_new(&p, "elsewhere", "t2", 1500);
	policy_insert(f, &p);
	policy_new(&p, "first", "t1", 2000);
	assert_int_equal(fleet_store_policy_insert(f->store, &p, any_conflict, &other, NULL), 0);
	assert_int_equal(fleet_store_policy_transition(f->store, "first",
		FLEET_POLICY_BIT(FLEET_POLICY_ACTIVE), FLEET_POLICY_PAUSED, "admin", &now, NULL), 1);
	policy_new(&p, "second", "t1", 3000);
	memset(&other, 0, sizeof other);
	assert_int_equal(fleet_store_policy_insert(f->store, &p, any_conflict, &other, NULL), 2);
	assert_string_equal(other.id, "first");
	assert_int_equal(other.state, FLEET_POLICY_PAUSED);
	assert_int_equal(fleet_store_policy_get(f->store, "second", &got, NULL), 0);
	/* The same id again is still "exists", not a conflict with itself. */
	policy_new(&p, "first", "t1", 4000);
	assert_int_equal(fleet_store_policy_insert(f->store, &p, any_conflict, NULL, NULL), 1);
}

static void candidates(struct support_store *f, const struct fleet_policy *p, int cap_low,
		       const char *want)
{
	struct fleet_policy_candidate c[FLEET_PAGE_MAX];
	char got[512] = "";
	size_t n, i;
	int more;

	assert_int_equal(fleet_store_policy_candidates(f->store, p, "", cap_low, NOW, c,
						       FLEET_PAGE_MAX, &n, &more, NULL), 0);
	for (i = 0; i < n; i++)
		support_join(got, sizeof got, c[i].id);
	assert_string_equal(got, want);
}

/* Each rule that keeps an instance out, and paging. */
static void test_policy_candidates(void **state)
{
	struct support_store *f = *state;
	struct fleet_policy p;
	struct fleet_policy_candidate c[2];
	size_t n;
	int more;

	policy_new(&p, "p1", "t1", 1000);
	policy_insert(f, &p);
	beat(f, "i-a", "1.0", "1.1");		/* old: in */
	beat(f, "i-b", "2.0.0", "1.1");		/* at the target: out */
	beat(f, "i-c", "1.0", "1.1");		/* an upgrade in progress (an admin's): out */
	record(f, "u-c", "i-c", "", FLEET_DOWNLOADING, "", NOW - 10);
	beat(f, "i-d", "1.0", "1.1");		/* refused by the guest: never again */
	record(f, "u-d", "i-d", "p1", FLEET_FAILED,
	       "automatic upgrades disabled on this guest ([updater] automatic = no)", NOW - 9 * HOUR);
	beat(f, "i-e", "1.0", "1.1");		/* FAILED an hour ago: backing off */
	record(f, "u-e", "i-e", "p1", FLEET_FAILED, "no space", NOW - HOUR);
	beat(f, "i-f", "1.0", "1.1");		/* FAILED 7 h ago: retried */
	record(f, "u-f", "i-f", "p1", FLEET_FAILED, "no space", NOW - 7 * HOUR);
	beat(f, "i-g", "1.0", "1.0");		/* cap refusal, still 1.0: out */
	record(f, "u-g", "i-g", "p1", FLEET_FAILED,
	       "instance i-g speaks RPC API 1.0, this cast needs 1.1", NOW - 9 * HOUR);
	beat(f, "i-h", "1.0", "1.1");		/* cap refusal, now 1.1: in at once */
	record(f, "u-h", "i-h", "p1", FLEET_FAILED,
	       "instance i-h speaks RPC API 1.0, this cast needs 1.1", NOW - 60);
	beat(f, "i-i", "1.0", "1.1");		/* FAILED under another policy: in */
	record(f, "u-i", "i-i", "p9", FLEET_FAILED, "no space", NOW - 60);
	assert_int_equal(fleet_store_heartbeat(f->store, "i-j", NULL, NULL, NULL, 5, NULL), 0);
	beat(f, "i-k", "1.0", "1.1");		/* SUCCESS, no heartbeat since: out */
	record(f, "u-k", "i-k", "p1", FLEET_SUCCESS, "", NOW - 60);
	candidates(f, &p, 0, "i-a i-f i-h i-i");
	/* A configured cap below 1.1: cap refusals stay out whatever they say. */
	candidates(f, &p, 1, "i-a i-f i-i");
	/* retry_after 0: no FAILED is retried. */
	p.retry_after_us = 0;
	candidates(f, &p, 0, "i-a i-h i-i");
	p.retry_after_us = 6 * HOUR;
	/* Paged by id. */
	assert_int_equal(fleet_store_policy_candidates(f->store, &p, "", 0, NOW, c, 2, &n, &more,
						       NULL), 0);
	assert_int_equal(n, 2);
	assert_int_equal(more, 1);
	assert_string_equal(c[1].id, "i-f");
	assert_string_equal(c[1].rpc_api_version, "1.1");
	assert_int_equal(fleet_store_policy_candidates(f->store, &p, "i-f", 0, NOW, c, 2, &n,
						       &more, NULL), 0);
	assert_int_equal(n, 2);
	assert_int_equal(more, 0);
	assert_string_equal(c[0].id, "i-h");
}

/* In flight (probation included) and the budget (refusals left out, the
 * last budget_window only). */
static void test_policy_counts(void **state)
{
	struct support_store *f = *state;
	struct fleet_policy_counts k;
	struct fleet_policy p;

	policy_new(&p, "p1", "t1", 1000);
	p.budget_window = 4;
	p.max_failures = 2;
	policy_insert(f, &p);
	record(f, "u1", "i-1", "p1", FLEET_NEW, "", NOW - 10);
	record(f, "u2", "i-2", "p1", FLEET_SUCCESS, "", NOW - 60);	/* in probation */
	record(f, "u3", "i-3", "p1", FLEET_SUCCESS, "", NOW - 2 * HOUR);
	record(f, "u4", "i-4", "p1", FLEET_FAILED, "bad", NOW - 3 * HOUR);
	record(f, "u5", "i-5", "p1", FLEET_FAILED,
	       "automatic upgrades disabled on this guest ([updater] automatic = no)", NOW - 100);
	record(f, "u6", "i-6", "p1", FLEET_FAILED,
	       "instance i-6 speaks RPC API 1.0, this cast needs 1.1", NOW - 100);
	record(f, "u7", "i-7", "p1", FLEET_FAILED, "bad", NOW - 4 * HOUR);
	record(f, "u8", "i-8", "p1", FLEET_FAILED, "bad", NOW - 5 * HOUR);
	record(f, "u9", "i-9", "p1", FLEET_SUCCESS, "", NOW - 6 * HOUR);
	record(f, "u0", "i-0", "", FLEET_FAILED, "bad", NOW - 100);	/* not the policy's */
	assert_int_equal(fleet_store_policy_counts(f->store, &p, NOW, &k, NULL), 0);
	assert_int_equal(k.in_flight, 2);
	assert_int_equal(k.finished, 4);	/* u3 u4 u7 u8: the newest 4 */
	assert_int_equal(k.failed, 3);
}

static void policy_upgrade(struct fleet_upgrade *up, const char *id, const char *instance)
{
	memset(up, 0, sizeof *up);
	snprintf(up->id, sizeof up->id, "%s", id);
	snprintf(up->tenant, sizeof up->tenant, "t1");
	snprintf(up->kind, sizeof up->kind, "upgrade");
	snprintf(up->instance_id, sizeof up->instance_id, "%s", instance);
	snprintf(up->to_version, sizeof up->to_version, "2.0.0");
	snprintf(up->policy_id, sizeof up->policy_id, "p1");
}

/* Planned durably, at most max_in_flight, never over an unfinished
 * upgrade, only while ACTIVE; unconfirmed until cast_done. */
static void test_policy_plan(void **state)
{
	struct support_store *f = *state;
	struct fleet_upgrade ups[4], got[4];
	const char *done[1] = { "u-a" };
	struct fleet_policy p;
	int planned[4], held;
	size_t n;

	policy_new(&p, "p1", "t1", 1000);
	policy_insert(f, &p);
	assert_int_equal(fleet_store_policy_lock(f->store, "p1", &held, NULL), 0);
	assert_int_equal(held, 1);
	record(f, "u-busy", "i-b", "", FLEET_INSTALLING, "", NOW - 10);
	policy_upgrade(&ups[0], "u-a", "i-a");
	policy_upgrade(&ups[1], "u-b", "i-b");
	policy_upgrade(&ups[2], "u-c", "i-c");
	policy_upgrade(&ups[3], "u-d", "i-d");
	assert_int_equal(fleet_store_policy_plan_many(f->store, ups, 4, planned, NULL), 2);
	assert_int_equal(planned[0], 1);
	assert_int_equal(planned[1], 0);	/* busy */
	assert_int_equal(planned[2], 1);
	assert_int_equal(planned[3], 0);	/* max_in_flight 2 */
	assert_int_equal(fleet_store_upgrade_get(f->store, "u-a", &got[0], NULL), 1);
	assert_string_equal(got[0].policy_id, "p1");
	assert_int_equal(got[0].state, FLEET_NEW);
	assert_int_equal(fleet_store_policy_unconfirmed(f->store, "p1", got, 4, &n, NULL), 0);
	assert_int_equal(n, 2);
	assert_int_equal(fleet_store_policy_cast_done_many(f->store, done, 1, 0, NULL), 0);
	assert_int_equal(fleet_store_policy_unconfirmed(f->store, "p1", got, 4, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_string_equal(got[0].id, "u-c");
	/* A finished one frees a place; paused plans nothing. */
	support_report(f, "u-c", "i-c", FLEET_FAILED, "bad", NOW);
	assert_int_equal(fleet_store_policy_transition(f->store, "p1",
		FLEET_POLICY_BIT(FLEET_POLICY_ACTIVE), FLEET_POLICY_PAUSED, NULL, NULL, NULL), 1);
	assert_int_equal(fleet_store_policy_plan_many(f->store, &ups[3], 1, planned, NULL), 0);
	assert_int_equal(fleet_store_policy_transition(f->store, "p1",
		FLEET_POLICY_BIT(FLEET_POLICY_PAUSED), FLEET_POLICY_ACTIVE, NULL, NULL, NULL), 1);
	assert_int_equal(fleet_store_policy_plan_many(f->store, &ups[3], 1, planned, NULL), 1);
	/* Without its policy_id: refused. */
	errno = 0;
	ups[0].policy_id[0] = '\0';
	assert_int_equal(fleet_store_policy_plan_many(f->store, ups, 1, planned, NULL), -1);
	assert_int_equal(errno, EINVAL);
}

/* Overdue: confirmed casts before the bound and not final, nothing else;
 * the timeout is stored. */
static void test_policy_overdue(void **state)
{
	struct support_store *f = *state;
	struct fleet_upgrade ups[3], got[3];
	const char *first[2] = { "u-a", "u-b" };
	struct fleet_policy p;
	int planned[3], held;
	size_t n;

	policy_new(&p, "p1", "t1", 1000);
	p.max_in_flight = 3;
	p.timeout_us = 90 * INT64_C(1000000);
	policy_insert(f, &p);
	assert_int_equal(fleet_store_policy_get(f->store, "p1", &p, NULL), 1);
	assert_int_equal(p.timeout_us, 90 * INT64_C(1000000));
	assert_int_equal(fleet_store_policy_lock(f->store, "p1", &held, NULL), 0);
	policy_upgrade(&ups[0], "u-a", "i-a");
	policy_upgrade(&ups[1], "u-b", "i-b");
	policy_upgrade(&ups[2], "u-c", "i-c");
	assert_int_equal(fleet_store_policy_plan_many(f->store, ups, 3, planned, NULL), 3);
	assert_int_equal(fleet_store_policy_cast_done_many(f->store, first, 2, NOW, NULL), 0);
	support_report(f, "u-b", "i-b", FLEET_DOWNLOADING, "", NOW + 1);
	/* u-c was never confirmed: a re-send's business, not a timeout */
	assert_int_equal(fleet_store_policy_overdue(f->store, "p1", NOW + 1, got, 3, &n, NULL), 0);
	assert_int_equal(n, 2);
	assert_string_equal(got[0].id, "u-a");
	assert_string_equal(got[1].id, "u-b");
	assert_int_equal(fleet_store_policy_overdue(f->store, "p1", NOW, got, 3, &n, NULL), 0);
	assert_int_equal(n, 0);		/* cast at NOW: not before it */
	support_report(f, "u-a", "i-a", FLEET_SUCCESS, "", NOW + 2);
	support_report(f, "u-b", "i-b", FLEET_FAILED, "x", NOW + 2);
	assert_int_equal(fleet_store_policy_overdue(f->store, "p1", NOW + 1, got, 3, &n, NULL), 0);
	assert_int_equal(n, 0);
	assert_int_equal(fleet_store_policy_overdue(f->store, "p1", NOW, got, 0, &n, NULL), -1);
}

/* PostgreSQL: one connection drives a policy; SQLite: always held. */
static void test_policy_lock(void **state)
{
	struct support_store *f = *state;
	struct fleet_store *other = NULL;
	struct fleet_upgrade up;
	struct fleet_policy p;
	int held, planned, pg = !strncmp(f->spec, "postgres", 8);

	policy_new(&p, "p1", "t1", 1000);
	policy_insert(f, &p);
	assert_int_equal(fleet_store_open(&other, f->spec, NULL), 0);
	assert_int_equal(fleet_store_policy_lock(f->store, "p1", &held, NULL), 0);
	assert_int_equal(held, 1);
	assert_int_equal(fleet_store_policy_lock(other, "p1", &held, NULL), 0);
	assert_int_equal(held, !pg);
	/* A rollout of the same id is another lock. */
	assert_int_equal(fleet_store_rollout_lock(other, "p1", &held, NULL), 0);
	assert_int_equal(held, 1);
	policy_upgrade(&up, "u-o", "i-o");
	assert_int_equal(fleet_store_policy_plan_many(other, &up, 1, &planned, NULL), pg ? 0 : 1);
	if (pg) {
		assert_int_equal(fleet_store_policy_unlock(f->store, "p1", NULL), 0);
		assert_int_equal(fleet_store_policy_lock(other, "p1", &held, NULL), 0);
		assert_int_equal(held, 1);
		assert_int_equal(fleet_store_policy_plan_many(other, &up, 1, &planned, NULL), 1);
	}
	fleet_store_close(other);
}

#define POLICY_SUITE(SETUP) \
	SUPPORT_STORE_TEST(test_policy_insert_get_list, SETUP), \
	SUPPORT_STORE_TEST(test_policy_insert_conflict, SETUP), \
	SUPPORT_STORE_TEST(test_policy_candidates, SETUP), \
	SUPPORT_STORE_TEST(test_policy_counts, SETUP), \
	SUPPORT_STORE_TEST(test_policy_plan, SETUP), \
	SUPPORT_STORE_TEST(test_policy_overdue, SETUP), \
	SUPPORT_STORE_TEST(test_policy_lock, SETUP)

SUPPORT_STORE_MAIN("fleet_store_policy", POLICY_SUITE)
