/* test_fleet_ratelimit.c: token buckets per tenant. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>

#include "api/fleet_ratelimit.h"

static void test_burst_then_refill(void **unused)
{
	struct fleet_ratelimit *rl;
	unsigned retry = 0;
	int i;

	(void)unused;
	assert_int_equal(fleet_ratelimit_new(&rl, 2, 1000, 3, NULL), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(fleet_ratelimit_take(rl, "acme", 0, &retry), 1);
	assert_int_equal(fleet_ratelimit_take(rl, "acme", 0, &retry), 0);
	assert_int_equal(retry, 1);	/* half a second, rounded up */
	/* Another tenant has a bucket of its own. */
	assert_int_equal(fleet_ratelimit_take(rl, "other", 0, &retry), 1);
	/* 2/s: one token back after 500 ms, not before. */
	assert_int_equal(fleet_ratelimit_take(rl, "acme", 400000, &retry), 0);
	assert_int_equal(fleet_ratelimit_take(rl, "acme", 500000, &retry), 1);
	assert_int_equal(fleet_ratelimit_take(rl, "acme", 500000, &retry), 0);
	/* A long pause refills to the burst, no more. */
	for (i = 0; i < 3; i++)
		assert_int_equal(fleet_ratelimit_take(rl, "acme", 100000000, &retry), 1);
	assert_int_equal(fleet_ratelimit_take(rl, "acme", 100000000, &retry), 0);
	fleet_ratelimit_free(rl);
}

static void test_retry_after_per_minute(void **unused)
{
	struct fleet_ratelimit *rl;
	unsigned retry = 0;

	(void)unused;
	assert_int_equal(fleet_ratelimit_new(&rl, 6, 60000, 1, NULL), 0);
	assert_int_equal(fleet_ratelimit_take(rl, "acme", 0, &retry), 1);
	assert_int_equal(fleet_ratelimit_take(rl, "acme", 0, &retry), 0);
	assert_int_equal(retry, 10);
	assert_int_equal(fleet_ratelimit_take(rl, "acme", 2500000, &retry), 0);
	assert_int_equal(retry, 8);	/* 7.5 s left, rounded up */
	fleet_ratelimit_free(rl);
}

static void test_table_is_bounded(void **unused)
{
	struct fleet_ratelimit *rl;
	unsigned retry = 0;
	char tenant[32];
	int i;

	(void)unused;
	assert_int_equal(fleet_ratelimit_new(&rl, 1, 60000, 1, NULL), 0);
	assert_int_equal(fleet_ratelimit_take(rl, "t0", 0, &retry), 1);
	assert_int_equal(fleet_ratelimit_take(rl, "t0", 1, &retry), 0);
	/* More tenants than places: the least recently used place is reused. */
	for (i = 1; i <= FLEET_RATE_TENANTS; i++) {
		snprintf(tenant, sizeof tenant, "t%d", i);
		assert_int_equal(fleet_ratelimit_take(rl, tenant, 10 + i, &retry), 1);
	}
	/* t0's bucket went to the last tenant: t0 starts afresh. */
	assert_int_equal(fleet_ratelimit_take(rl, "t0", 5000, &retry), 1);
	fleet_ratelimit_free(rl);
	assert_int_equal(fleet_ratelimit_new(&rl, 0, 1000, 1, NULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_refill),
		cmocka_unit_test(test_retry_after_per_minute),
		cmocka_unit_test(test_table_is_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
