/* test_fleet_policy_rules.c: the pure rules of rollout/fleet_policy.h:
 * window, scope, overlap, budget, the RPC API cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "rollout/fleet_policy.h"

#define MIN_US INT64_C(60000000)

static void test_window(void **unused)
{
	struct fleet_policy_window w;
	int64_t day = INT64_C(1700006400) * 1000000;	/* a midnight UTC */

	(void)unused;
	assert_int_equal(fleet_policy_window_parse("", &w), 0);
	assert_int_equal(fleet_policy_window_open(&w, day + 5 * MIN_US), 1);
	assert_int_equal(fleet_policy_window_parse("01:00-05:30", &w), 0);
	assert_int_equal(fleet_policy_window_open(&w, day + 59 * MIN_US), 0);
	assert_int_equal(fleet_policy_window_open(&w, day + 60 * MIN_US), 1);
	assert_int_equal(fleet_policy_window_open(&w, day + 329 * MIN_US), 1);
	assert_int_equal(fleet_policy_window_open(&w, day + 330 * MIN_US), 0);
	assert_int_equal(fleet_policy_window_parse("22:00-02:00", &w), 0);	/* across midnight */
	assert_int_equal(fleet_policy_window_open(&w, day + 23 * 60 * MIN_US), 1);
	assert_int_equal(fleet_policy_window_open(&w, day + 60 * MIN_US), 1);
	assert_int_equal(fleet_policy_window_open(&w, day + 12 * 60 * MIN_US), 0);
	assert_int_equal(fleet_policy_window_parse("01:00-01:00", &w), -1);
	assert_int_equal(fleet_policy_window_parse("24:00-01:00", &w), -1);
	assert_int_equal(fleet_policy_window_parse("1:00-2:00", &w), -1);
	assert_int_equal(fleet_policy_window_parse("01:60-02:00", &w), -1);
}

static void policy(struct fleet_policy *p, const char *to, const char *ids, const char *min,
		   const char *max)
{
	memset(p, 0, sizeof *p);
	snprintf(p->tenant, sizeof p->tenant, "t1");
	snprintf(p->to_version, sizeof p->to_version, "%s", to);
	snprintf(p->instances, sizeof p->instances, "%s", ids);
	snprintf(p->min_version, sizeof p->min_version, "%s", min);
	snprintf(p->max_version, sizeof p->max_version, "%s", max);
	p->max_failures = 5;
	p->budget_window = 100;
}

static void test_scope(void **unused)
{
	struct fleet_policy p;
	json_t *ids = json_loads("[\"a\", \"b\"]", 0, NULL);

	(void)unused;
	policy(&p, "v2.0.0", "", "1.1", "1.9");
	assert_int_equal(fleet_policy_candidate(&p, NULL, "x", "1.1.0"), 1);
	assert_int_equal(fleet_policy_candidate(&p, NULL, "x", "1.0.9"), 0);	/* below min */
	assert_int_equal(fleet_policy_candidate(&p, NULL, "x", "1.9"), 0);	/* max exclusive */
	assert_int_equal(fleet_policy_candidate(&p, NULL, "x", "v1.2.0-rc1"), 1);
	assert_int_equal(fleet_policy_candidate(&p, NULL, "x", "junk"), 0);
	policy(&p, "v2.0.0", "", "", "");
	assert_int_equal(fleet_policy_candidate(&p, NULL, "x", "2.0"), 0);	/* at the target */
	assert_int_equal(fleet_policy_candidate(&p, NULL, "x", "2.1"), 0);	/* above */
	assert_int_equal(fleet_policy_candidate(&p, NULL, "x", "2.0.0-rc1"), 1);
	assert_int_equal(fleet_policy_candidate(&p, ids, "a", "1.0"), 1);
	assert_int_equal(fleet_policy_candidate(&p, ids, "c", "1.0"), 0);
	json_decref(ids);
}

static void test_overlap(void **unused)
{
	struct fleet_policy a, b;

	(void)unused;
	policy(&a, "v2.0.0", "", "", "");
	policy(&b, "v2.5.0", "", "", "");
	assert_int_equal(fleet_policy_overlap(&a, &b), 1);	/* same line, everything */
	policy(&b, "v3.0.0", "", "", "");
	assert_int_equal(fleet_policy_overlap(&a, &b), 0);	/* another major */
	policy(&a, "v2.0.0", "", "1.0", "1.5");
	policy(&b, "v2.1.0", "", "1.5", "");
	assert_int_equal(fleet_policy_overlap(&a, &b), 0);	/* [1.0,1.5) and [1.5,...) */
	policy(&b, "v2.1.0", "", "1.4", "");
	assert_int_equal(fleet_policy_overlap(&a, &b), 1);
	policy(&a, "v2.0.0", "[\"a\"]", "", "");
	policy(&b, "v2.1.0", "[\"b\"]", "", "");
	assert_int_equal(fleet_policy_overlap(&a, &b), 0);	/* disjoint lists */
	policy(&b, "v2.1.0", "[\"b\", \"a\"]", "", "");
	assert_int_equal(fleet_policy_overlap(&a, &b), 1);
	policy(&b, "v2.1.0", "", "", "");
	assert_int_equal(fleet_policy_overlap(&a, &b), 1);	/* a list and a bare range */
	snprintf(b.tenant, sizeof b.tenant, "t2");
	assert_int_equal(fleet_policy_overlap(&a, &b), 0);	/* another tenant */
}

static void test_budget(void **unused)
{
	struct fleet_policy p;
	struct fleet_policy_counts c = { 0, 100, 5 };
	char reason[FLEET_REASON_MAX] = "";

	(void)unused;
	policy(&p, "v2.0.0", "", "", "");
	assert_int_equal(fleet_policy_over_budget(&p, &c, reason), 0);	/* 5 of 100: within */
	c.failed = 6;
	assert_int_equal(fleet_policy_over_budget(&p, &c, reason), 1);
	assert_non_null(strstr(reason, "failure budget spent: 6 of the last 100"));
}

static void test_cap(void **unused)
{
	char cap[FLEET_RPC_API_MAX];

	(void)unused;
	assert_int_equal(fleet_policy_cap_allows("auto", "1.1", "1.1", cap), 1);
	assert_int_equal(fleet_policy_cap_allows("auto", "1.0", "1.1", cap), 0);
	assert_string_equal(cap, "1.0");
	assert_int_equal(fleet_policy_cap_allows("auto", "", "1.1", cap), 0);	/* unknown: 1.0 */
	assert_string_equal(cap, "1.0");
	assert_int_equal(fleet_policy_cap_allows("auto", "1.10", "1.1", cap), 1);
	assert_int_equal(fleet_policy_cap_allows("1.0", "1.1", "1.1", cap), 0);	/* the config caps */
	assert_string_equal(cap, "1.0");
	assert_int_equal(fleet_policy_cap_allows("1.1", "", "1.1", cap), 1);
	assert_int_equal(fleet_policy_cap_allows("auto", "2.0", "1.1", cap), 0);	/* another major */
	assert_int_equal(fleet_policy_cap_allows("auto", "x", "1.1", cap), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window), cmocka_unit_test(test_scope),
		cmocka_unit_test(test_overlap), cmocka_unit_test(test_budget),
		cmocka_unit_test(test_cap),
	};

	return cmocka_run_group_tests_name("fleet_policy_rules", tests, NULL, NULL);
}
