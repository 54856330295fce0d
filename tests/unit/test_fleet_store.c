/* test_fleet_store.c: the promises of fleet/store/fleet_store.h (upgrades, their
 * reports and events, heartbeats, instances, listing), one suite run against
 * SQLite (a temp file) and, when FLEET_TEST_PG_URL is set, against PostgreSQL
 * (support_fleet_store.c: each test in a fresh schema, dropped afterwards).
 * The rollout tables have their suite in test_fleet_store_rollout.c, a
 * batch of items (fleet_store_batch) in test_fleet_store_batch.c, opening
 * and migrating a database in test_fleet_store_open.c.
 *
 * With arguments it is a driver for tests/integration/fleet_store_pg.sh:
 *   test_fleet_store drive SPEC   opens the store, prints "ready", reads
 * commands on stdin, one a line, and answers one line each (flushed):
 *   burst N PREFIX   reports DOWNLOADING..SUCCESS for PREFIX-0..N-1  -> "applied K"
 *   tally N PREFIX   -> "events E success S" over PREFIX-0..N-1
 *   get ID           -> "state NAME" | "missing"
 *   quit             ends (as end of input does)
 * any failure -> "error: TEXT". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/fleet_store.h"
#include "store/fleet_store_summary.h"
#include "support.h"
#include "support_fleet_store.h"

static void test_insert_get_duplicate(void **state)
{
	struct support_store *f = *state;
	struct fleet_upgrade up, again;
	struct fleet_event ev[4];

	support_insert(f, "u1", "t1", "inst-1", 1000);
	assert_int_equal(fleet_store_upgrade_get(f->store, "u1", &up, NULL), 1);
	assert_string_equal(up.id, "u1");
	assert_string_equal(up.tenant, "t1");
	assert_string_equal(up.kind, "upgrade");
	assert_string_equal(up.instance_id, "inst-1");
	assert_string_equal(up.from_version, "");
	assert_string_equal(up.to_version, "2.0");
	assert_string_equal(up.strategy, "restart");
	assert_int_equal(strlen(up.sha256), 64);
	assert_string_equal(up.rollout_id, "");
	assert_int_equal(up.state, FLEET_NEW);
	assert_int_equal(up.created_us, 1000);
	assert_int_equal(up.updated_us, 1000);
	assert_int_equal(support_events(f, "u1", ev, 4), 1);
	assert_int_equal(ev[0].state, FLEET_NEW);
	assert_string_equal(ev[0].source, "api");
	assert_int_equal(ev[0].at_us, 1000);

	again = up;
	snprintf(again.to_version, sizeof again.to_version, "3.0");
	again.state = FLEET_SUCCESS;
	assert_int_equal(fleet_store_upgrade_insert(f->store, &again, NULL), 1);
	assert_int_equal(fleet_store_upgrade_get(f->store, "u1", &again, NULL), 1);
	assert_string_equal(again.to_version, "2.0");
	assert_int_equal(again.state, FLEET_NEW);
	assert_int_equal(support_events(f, "u1", ev, 4), 1);
	assert_int_equal(fleet_store_upgrade_get(f->store, "nope", &up, NULL), 0);
	assert_int_equal(support_events(f, "nope", ev, 4), 0);
}

static void test_late_reports_change_nothing(void **state)
{
	struct support_store *f = *state;
	struct fleet_event ev[8];

	support_insert(f, "u1", "t1", "inst-1", 1000);
	assert_true(support_report(f, "u1", "inst-1", FLEET_DOWNLOADING, "", 2000));
	assert_true(support_report(f, "u1", "inst-1", FLEET_VERIFYING, "", 3000));
	assert_false(support_report(f, "u1", "inst-1", FLEET_DOWNLOADING, "", 2500));
	assert_false(support_report(f, "u1", "inst-1", FLEET_NEW, "", 2600));
	assert_int_equal(support_state(f, "u1"), FLEET_VERIFYING);
	assert_true(support_report(f, "u1", "inst-1", FLEET_SUCCESS, "", 4000));
	assert_false(support_report(f, "u1", "inst-1", FLEET_DOWNLOADING, "", 2000));
	assert_false(support_report(f, "u1", "inst-1", FLEET_ACTIVATING, "", 3900));
	assert_false(support_report(f, "u1", "inst-1", FLEET_DEFERRED, "busy", 5000));
	assert_false(support_report(f, "u1", "inst-1", FLEET_FAILED, "late", 3950));
	assert_false(support_report(f, "u1", "inst-1", FLEET_SUCCESS, "again", 6000));
	assert_int_equal(support_state(f, "u1"), FLEET_SUCCESS);
	assert_int_equal(support_events(f, "u1", ev, 8), 4);
	assert_int_equal(ev[0].state, FLEET_NEW);
	assert_int_equal(ev[1].state, FLEET_DOWNLOADING);
	assert_int_equal(ev[2].state, FLEET_VERIFYING);
	assert_int_equal(ev[3].state, FLEET_SUCCESS);
	assert_string_equal(ev[3].source, "guest");
	assert_int_equal(ev[3].at_us, 4000);
}

static void test_failed_is_final(void **state)
{
	struct support_store *f = *state;
	struct fleet_upgrade up;
	struct fleet_event ev[4];

	support_insert(f, "u1", "t1", "inst-1", 1000);
	assert_true(support_report(f, "u1", "inst-1", FLEET_FAILED, "download: 404", 2000));
	assert_false(support_report(f, "u1", "inst-1", FLEET_SUCCESS, "", 3000));
	assert_false(support_report(f, "u1", "inst-1", FLEET_DOWNLOADING, "", 3000));
	assert_false(support_report(f, "u1", "inst-1", FLEET_DEFERRED, "", 3000));
	assert_false(support_report(f, "u1", "inst-1", FLEET_FAILED, "other", 3000));
	assert_int_equal(fleet_store_upgrade_get(f->store, "u1", &up, NULL), 1);
	assert_int_equal(up.state, FLEET_FAILED);
	assert_string_equal(up.reason, "download: 404");
	assert_int_equal(up.updated_us, 2000);
	assert_int_equal(support_events(f, "u1", ev, 4), 2);
}

/* The guest's probation revert: a FAILED sent after the SUCCESS applies,
 * once; anything else after SUCCESS does not. */
static void test_failed_after_success_revert(void **state)
{
	struct support_store *f = *state;
	struct fleet_report r = { .upgrade_id = "u1", .instance_id = "inst-1",
				  .state = FLEET_FAILED, .reason = "timed out", .at_us = 9000,
				  .source = "fleet" };
	struct fleet_upgrade up;
	struct fleet_event ev[8];
	int applied = -1;

	support_insert(f, "u1", "t1", "inst-1", 1000);
	assert_true(support_report(f, "u1", "inst-1", FLEET_SUCCESS, "", 4000));
	/* slotfleet's own FAILED never overrides a SUCCESS. */
	assert_int_equal(fleet_store_report(f->store, &r, &applied, NULL), 0);
	assert_int_equal(applied, 0);
	/* The guest's, sent before or at the SUCCESS: a late one, ignored. */
	assert_false(support_report(f, "u1", "inst-1", FLEET_FAILED, "old", 3000));
	assert_false(support_report(f, "u1", "inst-1", FLEET_FAILED, "same time", 4000));
	assert_false(support_report(f, "u1", "inst-1", FLEET_ACTIVATING, "", 5000));
	assert_false(support_report(f, "u1", "inst-1", FLEET_DEFERRED, "", 5000));
	assert_int_equal(support_state(f, "u1"), FLEET_SUCCESS);
	/* Sent after it: the revert applies, with its reason and event. */
	assert_true(support_report(f, "u1", "inst-1", FLEET_FAILED, "probation: agent unhealthy", 7000));
	assert_int_equal(fleet_store_upgrade_get(f->store, "u1", &up, NULL), 1);
	assert_int_equal(up.state, FLEET_FAILED);
	assert_string_equal(up.reason, "probation: agent unhealthy");
	assert_int_equal(up.updated_us, 7000);
	/* FAILED stays final: a redelivery, a newer SUCCESS or FAILED change nothing. */
	assert_false(support_report(f, "u1", "inst-1", FLEET_FAILED, "probation: agent unhealthy", 7000));
	assert_false(support_report(f, "u1", "inst-1", FLEET_FAILED, "again", 8000));
	assert_false(support_report(f, "u1", "inst-1", FLEET_SUCCESS, "", 8000));
	assert_int_equal(support_events(f, "u1", ev, 8), 3);
	assert_int_equal(ev[1].state, FLEET_SUCCESS);
	assert_int_equal(ev[2].state, FLEET_FAILED);
	assert_string_equal(ev[2].source, "guest");
	assert_int_equal(ev[2].at_us, 7000);
	/* Another instance's FAILED is refused, as always. */
	support_insert(f, "u2", "t1", "inst-1", 1000);
	assert_true(support_report(f, "u2", "inst-1", FLEET_SUCCESS, "", 4000));
	r = (struct fleet_report){ .upgrade_id = "u2", .instance_id = "inst-2",
				   .state = FLEET_FAILED, .at_us = 9000, .source = "guest" };
	assert_int_equal(fleet_store_report(f->store, &r, &applied, NULL), -1);
	assert_int_equal(support_state(f, "u2"), FLEET_SUCCESS);
}

static void test_deferred_both_ways(void **state)
{
	struct support_store *f = *state;
	struct fleet_event ev[8];

	support_insert(f, "u1", "t1", "inst-1", 1000);
	assert_true(support_report(f, "u1", "inst-1", FLEET_INSTALLING, "", 2000));
	assert_true(support_report(f, "u1", "inst-1", FLEET_DEFERRED, "agent busy", 3000));
	assert_int_equal(support_state(f, "u1"), FLEET_DEFERRED);
	assert_true(support_report(f, "u1", "inst-1", FLEET_DOWNLOADING, "", 4000));
	assert_false(support_report(f, "u1", "inst-1", FLEET_NEW, "", 4500));
	assert_true(support_report(f, "u1", "inst-1", FLEET_DEFERRED, "agent busy", 5000));
	assert_true(support_report(f, "u1", "inst-1", FLEET_NEW, "", 6000));
	assert_int_equal(support_events(f, "u1", ev, 8), 6);
	assert_int_equal(ev[2].state, FLEET_DEFERRED);
	assert_string_equal(ev[2].reason, "agent busy");
	assert_int_equal(ev[5].state, FLEET_NEW);
}

static void test_repeat_is_not_applied(void **state)
{
	struct support_store *f = *state;
	struct fleet_event ev[8];

	support_insert(f, "u1", "t1", "inst-1", 1000);
	assert_true(support_report(f, "u1", "inst-1", FLEET_DEFERRED, "busy", 2000));
	assert_false(support_report(f, "u1", "inst-1", FLEET_DEFERRED, "busy", 2000));
	assert_false(support_report(f, "u1", "inst-1", FLEET_DEFERRED, "busy", 2100));
	assert_int_equal(support_events(f, "u1", ev, 8), 2);
	/* Same state, news in the reason: an event of its own. */
	assert_true(support_report(f, "u1", "inst-1", FLEET_DEFERRED, "still busy", 2200));
	assert_int_equal(support_events(f, "u1", ev, 8), 3);
	assert_string_equal(ev[2].reason, "still busy");
	/* An applied report without an applied pointer still applies. */
	{
		struct fleet_report r = { .upgrade_id = "u1", .instance_id = "inst-1",
					  .state = FLEET_VERIFYING, .at_us = 3000,
					  .source = "guest" };
		assert_int_equal(fleet_store_report(f->store, &r, NULL, NULL), 0);
	}
	assert_int_equal(support_state(f, "u1"), FLEET_VERIFYING);
}

static void test_report_for_unknown_id_creates(void **state)
{
	struct support_store *f = *state;
	struct fleet_report r = { .upgrade_id = "cast-1", .instance_id = "inst-9",
				  .from_version = "1.0", .to_version = "1.1",
				  .state = FLEET_DOWNLOADING, .at_us = 7000, .source = "guest" };
	struct fleet_upgrade up;
	struct fleet_instance in;
	struct fleet_event ev[4];
	struct error err;
	int applied = 0;

	assert_int_equal(fleet_store_report(f->store, &r, &applied, NULL), 0);
	assert_int_equal(applied, 1);
	assert_int_equal(fleet_store_upgrade_get(f->store, "cast-1", &up, NULL), 1);
	assert_string_equal(up.tenant, "");
	assert_string_equal(up.kind, "upgrade");
	assert_string_equal(up.instance_id, "inst-9");
	assert_string_equal(up.from_version, "1.0");
	assert_string_equal(up.to_version, "1.1");
	assert_string_equal(up.reason, "");
	assert_int_equal(up.state, FLEET_DOWNLOADING);
	assert_int_equal(up.created_us, 7000);
	assert_int_equal(support_events(f, "cast-1", ev, 4), 1);
	assert_int_equal(ev[0].state, FLEET_DOWNLOADING);
	assert_string_equal(ev[0].source, "guest");
	assert_int_equal(fleet_store_instance_get(f->store, "inst-9", &in, NULL), 1);
	assert_string_equal(in.last_upgrade_id, "cast-1");
	assert_int_equal(in.last_seen_us, 0);

	/* Redelivered: nothing new. */
	assert_int_equal(fleet_store_report(f->store, &r, &applied, NULL), 0);
	assert_int_equal(applied, 0);
	assert_int_equal(support_events(f, "cast-1", ev, 4), 1);

	/* Versions: NULL or "" keeps, a value replaces. */
	r.from_version = NULL;
	r.to_version = "";
	r.state = FLEET_VERIFYING;
	assert_int_equal(fleet_store_report(f->store, &r, &applied, NULL), 0);
	assert_int_equal(fleet_store_upgrade_get(f->store, "cast-1", &up, NULL), 1);
	assert_string_equal(up.from_version, "1.0");
	assert_string_equal(up.to_version, "1.1");

	/* Unknown and no instance: refused, nothing created. */
	r.upgrade_id = "cast-2";
	r.instance_id = NULL;
	errno = 0;
	assert_int_equal(fleet_store_report(f->store, &r, &applied, &err), -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err.text, "cast-2"));
	assert_int_equal(fleet_store_upgrade_get(f->store, "cast-2", &up, NULL), 0);
	/* Another instance's report: refused, nothing changes. */
	r.upgrade_id = "cast-1";
	r.instance_id = "inst-8";
	r.state = FLEET_ACTIVATING;
	errno = 0;
	assert_int_equal(fleet_store_report(f->store, &r, &applied, &err), -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err.text, "inst-8"));
	assert_int_equal(applied, 0);
	assert_int_equal(support_state(f, "cast-1"), FLEET_VERIFYING);
	r.state = FLEET_VERIFYING;	/* even a repeat */
	assert_int_equal(fleet_store_report(f->store, &r, &applied, &err), -1);
	assert_int_equal(support_events(f, "cast-1", ev, 4), 2);
	/* Known and no instance: fine (slotfleet's own FAILED). */
	r.instance_id = NULL;
	r.upgrade_id = "cast-1";
	r.state = FLEET_FAILED;
	r.source = "fleet";
	assert_int_equal(fleet_store_report(f->store, &r, &applied, NULL), 0);
	assert_int_equal(applied, 1);
	assert_int_equal(support_events(f, "cast-1", ev, 4), 3);
	assert_string_equal(ev[2].source, "fleet");
}

static void list_ids(struct support_store *f, struct fleet_upgrade_filter *filter, const char *want,
		     int want_more)
{
	struct fleet_upgrade up[8];
	char got[256] = "";
	size_t n, i;
	int more = -1;
	struct error err;

	if (fleet_store_upgrade_list(f->store, filter, up, &n, &more, &err) != 0)
		fail_msg("list: %s", err.text);
	for (i = 0; i < n; i++)
		support_join(got, sizeof got, up[i].id);
	assert_string_equal(got, want);
	assert_int_equal(more, want_more);
}

static void test_list_filters_and_pages(void **state)
{
	struct support_store *f = *state;
	struct fleet_upgrade_filter filter = { .limit = 3 };
	struct fleet_upgrade up[2];
	size_t n = 9;
	int more = 9;

	support_insert(f, "a1", "t1", "inst-1", 100);
	support_insert(f, "a2", "t1", "inst-2", 200);
	support_insert(f, "a3", "t2", "inst-1", 300);
	support_insert(f, "a4", "t1", "inst-1", 400);
	support_insert(f, "b4", "t1", "inst-2", 400);	/* same time: id breaks the tie */
	support_insert(f, "a5", "t1", "inst-1", 500);
	support_report(f, "a2", "inst-2", FLEET_SUCCESS, "", 600);
	support_report(f, "a4", "inst-1", FLEET_SUCCESS, "", 600);

	list_ids(f, &filter, "a5 b4 a4", 1);
	filter.marker = "a4";
	list_ids(f, &filter, "a3 a2 a1", 0);
	filter.marker = "b4";
	list_ids(f, &filter, "a4 a3 a2", 1);
	filter.marker = NULL;
	filter.tenant = "t1";
	list_ids(f, &filter, "a5 b4 a4", 1);
	filter.marker = "a4";
	list_ids(f, &filter, "a2 a1", 0);
	filter.marker = NULL;
	filter.instance_id = "inst-1";
	list_ids(f, &filter, "a5 a4 a1", 0);
	filter.tenant = NULL;
	filter.limit = 4;
	list_ids(f, &filter, "a5 a4 a3 a1", 0);
	filter.has_state = 1;
	filter.state = FLEET_SUCCESS;
	list_ids(f, &filter, "a4", 0);
	filter.instance_id = NULL;
	filter.limit = 1;
	list_ids(f, &filter, "a4", 1);
	filter.marker = "a4";
	list_ids(f, &filter, "a2", 0);
	filter.state = FLEET_FAILED;
	filter.marker = NULL;
	list_ids(f, &filter, "", 0);

	filter = (struct fleet_upgrade_filter){ .limit = 2, .marker = "gone" };
	assert_int_equal(fleet_store_upgrade_list(f->store, &filter, up, &n, &more, NULL), 1);
	assert_int_equal(n, 0);
	assert_int_equal(more, 0);
	filter.marker = NULL;
	filter.limit = 0;
	errno = 0;
	assert_int_equal(fleet_store_upgrade_list(f->store, &filter, up, &n, &more, NULL), -1);
	assert_int_equal(errno, EINVAL);
	filter.limit = FLEET_PAGE_MAX + 1;
	assert_int_equal(fleet_store_upgrade_list(f->store, &filter, up, &n, &more, NULL), -1);
}

static void test_events_oldest_first_bounded(void **state)
{
	struct support_store *f = *state;
	struct fleet_event ev[3];

	support_insert(f, "u1", "t1", "inst-1", 1000);
	support_report(f, "u1", "inst-1", FLEET_DOWNLOADING, "", 2000);
	support_report(f, "u1", "inst-1", FLEET_VERIFYING, "", 3000);
	support_report(f, "u1", "inst-1", FLEET_INSTALLING, "", 4000);
	support_report(f, "u1", "inst-1", FLEET_ACTIVATING, "", 5000);
	assert_int_equal(support_events(f, "u1", ev, 3), 3);
	assert_int_equal(ev[0].state, FLEET_NEW);
	assert_int_equal(ev[1].state, FLEET_DOWNLOADING);
	assert_int_equal(ev[2].state, FLEET_VERIFYING);
	assert_int_equal(ev[2].at_us, 3000);
	assert_int_equal(support_events(f, "u1", ev, 0), 0);
}

static void test_heartbeat_newer_wins(void **state)
{
	struct support_store *f = *state;
	struct fleet_instance in;

	assert_int_equal(fleet_store_instance_get(f->store, "inst-1", &in, NULL), 0);
	assert_int_equal(fleet_store_heartbeat(f->store, "inst-1", "1.0", "a", "1.0", 5000, NULL), 0);
	assert_int_equal(fleet_store_heartbeat(f->store, "inst-1", "2.0", "b", "1.1", 6000, NULL), 0);
	assert_int_equal(fleet_store_heartbeat(f->store, "inst-1", "0.9", "a", "1.0", 5500, NULL), 0);
	assert_int_equal(fleet_store_instance_get(f->store, "inst-1", &in, NULL), 1);
	assert_string_equal(in.id, "inst-1");
	assert_string_equal(in.agent_version, "2.0");
	assert_string_equal(in.agent_slot, "b");
	assert_string_equal(in.rpc_api_version, "1.1");
	assert_int_equal(in.last_seen_us, 6000);
	assert_string_equal(in.last_upgrade_id, "");
	assert_int_equal(in.last_upgrade_state, FLEET_NEW);
	/* The newest heartbeat's version, whatever it says (a guest downgraded). */
	assert_int_equal(fleet_store_heartbeat(f->store, "inst-1", "1.0", "a", "1.0", 7000, NULL), 0);
	assert_int_equal(fleet_store_instance_get(f->store, "inst-1", &in, NULL), 1);
	assert_string_equal(in.rpc_api_version, "1.0");
	assert_int_equal(fleet_store_heartbeat(f->store, "inst-1", "1.0", "a", NULL, 8000, NULL), 0);
	assert_int_equal(fleet_store_instance_get(f->store, "inst-1", &in, NULL), 1);
	assert_string_equal(in.rpc_api_version, "");
}

static void test_instance_known_from_upgrade_and_last_upgrade(void **state)
{
	struct support_store *f = *state;
	struct fleet_instance in;

	support_insert(f, "u1", "t1", "inst-1", 1000);
	assert_int_equal(fleet_store_instance_get(f->store, "inst-1", &in, NULL), 1);
	assert_string_equal(in.agent_version, "");
	assert_string_equal(in.rpc_api_version, "");
	assert_int_equal(in.last_seen_us, 0);
	assert_string_equal(in.last_upgrade_id, "u1");
	assert_int_equal(in.last_upgrade_state, FLEET_NEW);

	support_insert(f, "u0", "t1", "inst-1", 500);	/* older: not the last one */
	support_report(f, "u1", "inst-1", FLEET_FAILED, "no space", 2000);
	assert_int_equal(fleet_store_instance_get(f->store, "inst-1", &in, NULL), 1);
	assert_string_equal(in.last_upgrade_id, "u1");
	assert_int_equal(in.last_upgrade_state, FLEET_FAILED);
	support_insert(f, "u2", "t1", "inst-1", 3000);
	assert_int_equal(fleet_store_instance_get(f->store, "inst-1", &in, NULL), 1);
	assert_string_equal(in.last_upgrade_id, "u2");
	assert_int_equal(in.last_upgrade_state, FLEET_NEW);
	/* A heartbeat keeps what the upgrades said. */
	assert_int_equal(fleet_store_heartbeat(f->store, "inst-1", "2.0", "b", "1.1", 9000, NULL), 0);
	assert_int_equal(fleet_store_instance_get(f->store, "inst-1", &in, NULL), 1);
	assert_string_equal(in.last_upgrade_id, "u2");
	assert_string_equal(in.agent_version, "2.0");
}

static void instance_ids(struct support_store *f, const char *version, const char *marker,
			 size_t limit, const char *want, int want_more)
{
	struct fleet_instance in[8];
	char got[256] = "";
	size_t n, i;
	int more = -1;
	struct error err;

	if (fleet_store_instance_list(f->store, version, marker, limit, in, &n, &more, &err))
		fail_msg("instance list: %s", err.text);
	for (i = 0; i < n; i++)
		support_join(got, sizeof got, in[i].id);
	assert_string_equal(got, want);
	assert_int_equal(more, want_more);
}

static void test_instance_list(void **state)
{
	struct support_store *f = *state;
	struct fleet_instance in[2];
	size_t n;
	int more;

	assert_int_equal(fleet_store_heartbeat(f->store, "i-c", "2.0", "a", "1.1", 1, NULL), 0);
	assert_int_equal(fleet_store_heartbeat(f->store, "i-a", "1.0", "a", "1.0", 1, NULL), 0);
	assert_int_equal(fleet_store_heartbeat(f->store, "i-B", "2.0", "b", "1.1", 1, NULL), 0);
	assert_int_equal(fleet_store_heartbeat(f->store, "i-d", "2.0", "a", "1.1", 1, NULL), 0);
	support_insert(f, "u1", "t1", "i-b", 1000);	/* known from its upgrade only */

	instance_ids(f, NULL, NULL, 8, "i-B i-a i-b i-c i-d", 0);	/* bytewise */
	instance_ids(f, NULL, NULL, 2, "i-B i-a", 1);
	instance_ids(f, NULL, "i-a", 2, "i-b i-c", 1);
	instance_ids(f, NULL, "i-c", 2, "i-d", 0);
	instance_ids(f, "2.0", NULL, 2, "i-B i-c", 1);
	instance_ids(f, "2.0", "i-c", 2, "i-d", 0);
	instance_ids(f, "2.0", "i-bb", 8, "i-c i-d", 0);	/* a marker need not exist */
	instance_ids(f, "", NULL, 8, "i-b", 0);
	instance_ids(f, "9.9", NULL, 8, "", 0);
	/* A page carries each instance's API version (i-B, then i-a). */
	assert_int_equal(fleet_store_instance_list(f->store, NULL, NULL, 2, in, &n, &more, NULL), 0);
	assert_string_equal(in[0].rpc_api_version, "1.1");
	assert_string_equal(in[1].rpc_api_version, "1.0");
	errno = 0;
	assert_int_equal(fleet_store_instance_list(f->store, NULL, NULL, 0, in, &n, &more, NULL), -1);
	assert_int_equal(errno, EINVAL);
}

/* The summary counts what the rows say (fleet_store_summary.h): versions
 * most common first, "" for none; each instance by its newest upgrade's
 * state, NONE without one; stale and never heard from; records by state. */
static void test_summary_counts(void **state)
{
	struct support_store *f = *state;
	struct fleet_summary *s = calloc(1, sizeof *s);

	assert_non_null(s);
	assert_int_equal(fleet_store_summary(f->store, 1000, s, NULL), 0);
	assert_int_equal(s->instances, 0);
	assert_int_equal(s->version_count, 0);
	assert_int_equal(fleet_store_heartbeat(f->store, "i-a", "2.0", "a", "1.1", 5000, NULL), 0);
	assert_int_equal(fleet_store_heartbeat(f->store, "i-b", "2.0", "b", "1.1", 500, NULL), 0);
	assert_int_equal(fleet_store_heartbeat(f->store, "i-c", "1.0", "a", "1.0", 5000, NULL), 0);
	support_insert(f, "u1", "t1", "i-a", 1000);
	support_insert(f, "u2", "t1", "i-a", 2000);	/* i-a's newest */
	support_insert(f, "u3", "t1", "i-x", 1000);	/* i-x: known from its upgrade only */
	assert_true(support_report(f, "u1", "i-a", FLEET_FAILED, "old", 1500));
	assert_true(support_report(f, "u2", "i-a", FLEET_SUCCESS, "", 2500));

	assert_int_equal(fleet_store_summary(f->store, 1000, s, NULL), 0);
	assert_int_equal(s->instances, 4);
	assert_int_equal(s->version_count, 3);
	assert_string_equal(s->versions[0].version, "2.0");
	assert_int_equal(s->versions[0].count, 2);
	assert_string_equal(s->versions[1].version, "");
	assert_string_equal(s->versions[2].version, "1.0");
	assert_int_equal(s->versions_other, 0);
	assert_int_equal(s->rpc_api_count, 3);
	assert_string_equal(s->rpc_api[0].version, "1.1");
	assert_int_equal(s->last_state[FLEET_SUCCESS], 1);
	assert_int_equal(s->last_state[FLEET_NEW], 1);
	assert_int_equal(s->last_state[FLEET_FAILED], 0);
	assert_int_equal(s->last_state[FLEET_STATE_COUNT], 2);
	assert_int_equal(s->never_seen, 1);
	assert_int_equal(s->stale, 1);		/* i-b, last heard at 500 */
	assert_int_equal(s->upgrades[FLEET_FAILED], 1);
	assert_int_equal(s->upgrades[FLEET_SUCCESS], 1);
	assert_int_equal(s->upgrades[FLEET_NEW], 1);
	free(s);
}

static void test_text_is_data(void **state)
{
	struct support_store *f = *state;
	const char *reason = "it's \"quoted\"; DROP TABLE upgrades; -- $1 ? %s\n\ttab\x01\x7f é✓😀";
	const char *id = "x'); DELETE FROM upgrades; --";
	struct fleet_upgrade up;
	struct fleet_event ev[4];
	struct error err;
	char bad[8] = { 'b', (char)0xC3, '(', 'z', (char)0xff, 0 };
	char id_bad[8] = { 'i', (char)0xC0, (char)0xAF, 0 };
	char longer[FLEET_INSTANCE_MAX + 1];
	struct fleet_instance in;

	support_insert(f, "u1", "t1", "inst-1", 1000);
	assert_true(support_report(f, id, "inst-'\"", FLEET_DEFERRED, reason, 2000));
	assert_int_equal(fleet_store_upgrade_get(f->store, id, &up, NULL), 1);
	assert_string_equal(up.id, id);
	assert_string_equal(up.instance_id, "inst-'\"");
	assert_string_equal(up.reason, reason);
	assert_int_equal(support_events(f, id, ev, 4), 1);
	assert_string_equal(ev[0].reason, reason);
	assert_int_equal(support_state(f, "u1"), FLEET_NEW);

	/* A reason that is not UTF-8 is kept, mangled; an id is refused. */
	assert_true(support_report(f, "u1", "inst-1", FLEET_DEFERRED, bad, 3000));
	assert_int_equal(fleet_store_upgrade_get(f->store, "u1", &up, NULL), 1);
	assert_string_equal(up.reason, "b?(z?");
	errno = 0;
	{
		struct fleet_report r = { .upgrade_id = id_bad, .instance_id = "i",
					  .state = FLEET_DEFERRED, .source = "guest" };
		assert_int_equal(fleet_store_report(f->store, &r, NULL, &err), -1);
		assert_int_equal(errno, EINVAL);
		assert_non_null(strstr(err.text, "upgrade_id"));
	}
	memset(longer, 'x', sizeof longer - 1);
	longer[sizeof longer - 1] = '\0';
	assert_int_equal(fleet_store_heartbeat(f->store, longer, "1", "a", "1.1", 1, &err), -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err.text, "instance_id"));
	assert_int_equal(fleet_store_heartbeat(f->store, "inst-1", "1", "a", longer, 1, &err), -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err.text, "rpc_api_version"));
	assert_int_equal(fleet_store_instance_get(f->store, longer, &in, &err), -1);
}

static void test_long_reason_cut_at_character(void **state)
{
	struct support_store *f = *state;
	char reason[FLEET_REASON_MAX * 2];
	struct fleet_upgrade up;
	size_t i;

	/* 'x' then 3-byte characters: the cut would fall inside one. */
	reason[0] = 'x';
	for (i = 1; i + 3 < sizeof reason; i += 3)
		memcpy(reason + i, "\xe2\x9c\x93", 3);
	reason[i] = '\0';
	support_insert(f, "u1", "t1", "inst-1", 1000);
	assert_true(support_report(f, "u1", "inst-1", FLEET_FAILED, reason, 2000));
	assert_int_equal(fleet_store_upgrade_get(f->store, "u1", &up, NULL), 1);
	assert_int_equal(strlen(up.reason), 1 + 3 * ((FLEET_REASON_MAX - 2) / 3));
	assert_memory_equal(up.reason, reason, strlen(up.reason));
}

struct reporter {
	struct fleet_store *store;
	unsigned applied;
	int failed;
};

/* Every state of 20 upgrades, in order: what a guest and its redelivery send. */
static void *reporter_main(void *arg)
{
	struct reporter *r = arg;
	char id[16];
	unsigned i;
	int s, applied;

	for (i = 0; i < 20; i++) {
		snprintf(id, sizeof id, "t-%u", i);
		for (s = FLEET_DOWNLOADING; s <= FLEET_SUCCESS; s++) {
			struct fleet_report rep = { .upgrade_id = id, .instance_id = "inst-1",
						    .state = (enum fleet_state)s, .at_us = s,
						    .source = "guest" };
			if (fleet_store_report(r->store, &rep, &applied, NULL))
				r->failed = 1;
			else
				r->applied += (unsigned)applied;
		}
	}
	return NULL;
}

static void test_threads_share_a_store(void **state)
{
	struct support_store *f = *state;
	struct reporter r[3];
	pthread_t t[3];
	struct fleet_event ev[8];
	char id[16];
	unsigned i, applied = 0;
	size_t total = 0;

	for (i = 0; i < 3; i++) {
		r[i] = (struct reporter){ .store = f->store };
		assert_int_equal(pthread_create(&t[i], NULL, reporter_main, &r[i]), 0);
	}
	for (i = 0; i < 3; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_false(r[i].failed);
		applied += r[i].applied;
	}
	for (i = 0; i < 20; i++) {
		snprintf(id, sizeof id, "t-%u", i);
		total += support_events(f, id, ev, 8);
		assert_int_equal(support_state(f, id), FLEET_SUCCESS);
	}
	assert_int_equal(applied, 20 * 5);
	assert_int_equal(total, 20 * 5);
}

static void test_state_names(void **state)
{
	enum fleet_state st;
	int i;

	(void)state;
	for (i = 0; i < FLEET_STATE_COUNT; i++) {
		assert_int_equal(fleet_state_parse(fleet_state_name((enum fleet_state)i), &st), 0);
		assert_int_equal(st, i);
		assert_int_equal(fleet_state_final(st), st == FLEET_SUCCESS || st == FLEET_FAILED);
	}
	assert_string_equal(fleet_state_name(FLEET_DEFERRED), "DEFERRED");
	assert_int_equal(fleet_state_parse("success", &st), -1);
	assert_int_equal(fleet_state_parse("", &st), -1);
	assert_string_equal(fleet_state_name((enum fleet_state)99), "?");
}

#define FLEET_SUITE(SETUP) \
	SUPPORT_STORE_TEST(test_insert_get_duplicate, SETUP), \
	SUPPORT_STORE_TEST(test_late_reports_change_nothing, SETUP), \
	SUPPORT_STORE_TEST(test_failed_is_final, SETUP), \
	SUPPORT_STORE_TEST(test_failed_after_success_revert, SETUP), \
	SUPPORT_STORE_TEST(test_deferred_both_ways, SETUP), \
	SUPPORT_STORE_TEST(test_repeat_is_not_applied, SETUP), \
	SUPPORT_STORE_TEST(test_report_for_unknown_id_creates, SETUP), \
	SUPPORT_STORE_TEST(test_list_filters_and_pages, SETUP), \
	SUPPORT_STORE_TEST(test_events_oldest_first_bounded, SETUP), \
	SUPPORT_STORE_TEST(test_heartbeat_newer_wins, SETUP), \
	SUPPORT_STORE_TEST(test_instance_known_from_upgrade_and_last_upgrade, SETUP), \
	SUPPORT_STORE_TEST(test_instance_list, SETUP), \
	SUPPORT_STORE_TEST(test_summary_counts, SETUP), \
	SUPPORT_STORE_TEST(test_text_is_data, SETUP), \
	SUPPORT_STORE_TEST(test_long_reason_cut_at_character, SETUP), \
	SUPPORT_STORE_TEST(test_threads_share_a_store, SETUP)

/* The driver (see the top of this file). */
static void drive_burst(struct fleet_store *store, unsigned n, const char *prefix)
{
	static const enum fleet_state steps[] = { FLEET_DOWNLOADING, FLEET_VERIFYING,
						  FLEET_INSTALLING, FLEET_ACTIVATING,
						  FLEET_SUCCESS };
	char id[FLEET_ID_MAX], instance[FLEET_INSTANCE_MAX];
	struct error err;
	unsigned i, s, total = 0;
	int applied;

	for (i = 0; i < n; i++) {
		snprintf(id, sizeof id, "%s-%u", prefix, i);
		snprintf(instance, sizeof instance, "inst-%s-%u", prefix, i % 7);
		for (s = 0; s < sizeof steps / sizeof steps[0]; s++) {
			struct fleet_report r = { .upgrade_id = id, .instance_id = instance,
						  .state = steps[s], .at_us = 1000 + s,
						  .source = "guest" };
			if (fleet_store_report(store, &r, &applied, &err)) {
				printf("error: %s\n", err.text);
				return;
			}
			total += (unsigned)applied;
		}
	}
	printf("applied %u\n", total);
}

static void drive_tally(struct fleet_store *store, unsigned n, const char *prefix)
{
	struct fleet_event ev[16];
	struct fleet_upgrade up;
	char id[FLEET_ID_MAX];
	struct error err;
	unsigned i, success = 0;
	size_t count, total = 0;

	for (i = 0; i < n; i++) {
		snprintf(id, sizeof id, "%s-%u", prefix, i);
		if (fleet_store_upgrade_events(store, id, ev, 16, &count, &err) ||
		    fleet_store_upgrade_get(store, id, &up, &err) < 0) {
			printf("error: %s\n", err.text);
			return;
		}
		total += count;
		success += up.state == FLEET_SUCCESS;
	}
	printf("events %zu success %u\n", total, success);
}

static void drive_get(struct fleet_store *store, const char *id)
{
	struct fleet_upgrade up;
	struct error err;

	switch (fleet_store_upgrade_get(store, id, &up, &err)) {
	case 1:
		printf("state %s\n", fleet_state_name(up.state));
		break;
	case 0:
		printf("missing\n");
		break;
	default:
		printf("error: %s\n", err.text);
	}
}

static int drive(const char *spec)
{
	struct fleet_store *store;
	struct error err;
	char line[256], word[32];
	unsigned n;

	if (fleet_store_open(&store, spec, &err)) {
		fprintf(stderr, "drive: %s\n", err.text);
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	while (fgets(line, sizeof line, stdin) && strcmp(line, "quit\n")) {
		if (sscanf(line, "burst %u %31s", &n, word) == 2)
			drive_burst(store, n, word);
		else if (sscanf(line, "tally %u %31s", &n, word) == 2)
			drive_tally(store, n, word);
		else if (sscanf(line, "get %31s", word) == 1)
			drive_get(store, word);
		else
			printf("error: unknown command\n");
		fflush(stdout);
	}
	fleet_store_close(store);
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest sqlite_tests[] = {
		FLEET_SUITE(support_store_sqlite),
		cmocka_unit_test(test_state_names),
	};
	const struct CMUnitTest pg_tests[] = { FLEET_SUITE(support_store_pg) };
	int failed;

	if (argc == 3 && !strcmp(argv[1], "drive"))
		return drive(argv[2]);
	failed = cmocka_run_group_tests_name("fleet_store sqlite", sqlite_tests, NULL, NULL);
	if (!support_store_pg_wanted("fleet_store postgresql"))
		return failed;
	return failed + cmocka_run_group_tests_name("fleet_store postgresql", pg_tests, NULL, NULL);
}
