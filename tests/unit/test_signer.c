/* test_signer.c: the allowed-signer list and the signing-time freshness rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "bundle/bundle.h"

#define DAY 86400
#define DAY_MS 86400000ULL

static void expect_refusal(int rc, const struct error *err, const char *needle)
{
	assert_int_equal(rc, -1);
	if (!strstr(err->text, needle))
		fail_msg("error '%s' lacks '%s'", err->text, needle);
}

static void test_allowed_exact_entries(void **unused)
{
	struct error err = { "" };

	(void)unused;
	assert_int_equal(bundle_signer_allowed("packager-2026", "packager-2026", &err), 0);
	assert_int_equal(bundle_signer_allowed("b", "a,b,c", &err), 0);
	assert_int_equal(bundle_signer_allowed("c", "a,b,c", &err), 0);
	/* Blanks around entries are ignored, blanks inside are part of the CN. */
	assert_int_equal(bundle_signer_allowed("agent packager", " x ,\tagent packager\t, y",
					       &err), 0);
	expect_refusal(bundle_signer_allowed("packager", "agent packager", &err), &err,
		       "not one of the allowed signers");
}

static void test_allowed_refuses_near_misses(void **unused)
{
	struct error err = { "" };

	(void)unused;
	expect_refusal(bundle_signer_allowed("Packager-2026", "packager-2026", &err), &err, "CN");
	expect_refusal(bundle_signer_allowed("packager-202", "packager-2026", &err), &err, "CN");
	expect_refusal(bundle_signer_allowed("packager-2026x", "packager-2026", &err), &err, "CN");
	expect_refusal(bundle_signer_allowed("a,b", "a,b", &err), &err, "CN");
	/* Stray commas make empty entries, which allow nobody, not an empty CN. */
	expect_refusal(bundle_signer_allowed("", "a,,b,", &err), &err, "CN");
	expect_refusal(bundle_signer_allowed("", " , ", &err), &err, "CN");
}

static void test_fresh_within_the_age(void **unused)
{
	const int64_t now = 1800000000;
	struct error err = { "" };

	(void)unused;
	assert_int_equal(bundle_signer_fresh(now, now, 90 * DAY_MS, &err), 0);
	assert_int_equal(bundle_signer_fresh(now - 90 * DAY, now, 90 * DAY_MS, &err), 0);
	assert_int_equal(bundle_signer_fresh(now - 1, now, 1000, &err), 0);
	/* Clocks a little ahead of ours are tolerated. */
	assert_int_equal(bundle_signer_fresh(now + BUNDLE_CLOCK_SKEW, now, 1000, &err), 0);
}

static void test_fresh_refuses_old_and_future(void **unused)
{
	const int64_t now = 1800000000;
	struct error err = { "" };

	(void)unused;
	expect_refusal(bundle_signer_fresh(now - 90 * DAY - 1, now, 90 * DAY_MS, &err), &err,
		       "older than the maximum bundle age (90d)");
	expect_refusal(bundle_signer_fresh(now - 2, now, 1500, &err), &err, "(1500ms)");
	expect_refusal(bundle_signer_fresh(now - 37 * 3600, now, 36 * 3600000ULL, &err), &err,
		       "(36h)");
	expect_refusal(bundle_signer_fresh(1590000000, now, DAY_MS, &err), &err,
		       "signed at 2020-05-20T18:40:00Z");
	expect_refusal(bundle_signer_fresh(now + BUNDLE_CLOCK_SKEW + 1, now, 90 * DAY_MS, &err),
		       &err, "in the future");
	/* Extremes do not wrap around. */
	expect_refusal(bundle_signer_fresh(INT64_MIN, now, UINT64_MAX, &err), &err, "older");
	expect_refusal(bundle_signer_fresh(INT64_MAX, now, UINT64_MAX, &err), &err, "future");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allowed_exact_entries),
		cmocka_unit_test(test_allowed_refuses_near_misses),
		cmocka_unit_test(test_fresh_within_the_age),
		cmocka_unit_test(test_fresh_refuses_old_and_future),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
