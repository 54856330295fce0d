/* test_version.c: version grammar and total order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "version.h"

static void test_version_accepts_documented_forms(void **state)
{
	static const char *const good[] = { "v1.0.1", "1.2.0-rc1", "2014.1", "V3", "0",
					    "1.2.3-alpha.1", "1.0.0+build.5", "1.0-rc.1+x" };
	struct version v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof good / sizeof good[0]; i++)
		assert_int_equal(version_parse(good[i], &v, NULL), 0);
	assert_int_equal(version_parse("v1.0.1", &v, NULL), 0);
	assert_int_equal(v.count, 3);
	assert_int_equal(v.number[2], 1);
	assert_int_equal(version_parse("1.2.0-rc1", &v, NULL), 0);
	assert_string_equal(v.prerelease, "rc1");
}

static void test_version_rejects_malformed(void **state)
{
	static const char *const bad[] = { "", "v", "1..2", "1.", ".1", "1.2 ", " 1", "1.a",
					   "1-", "1-rc..1", "1+", "1.2.3.4.5.6.7.8.9",
					   "1234567890", "1_2", "1.0-rc1!", "vv1" };
	struct error err;
	struct version v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err.text[0] = '\0';
		assert_int_equal(version_parse(bad[i], &v, &err), -1);
		assert_non_null(strstr(err.text, "version '"));
	}
}

static int compare(const char *a, const char *b)
{
	int result = 99;

	assert_int_equal(version_compare_text(a, b, &result, NULL), 0);
	return result;
}

static void test_version_order(void **state)
{
	/* Each entry is strictly lower than the next. */
	static const char *const ascending[] = { "0.9", "1.0.0-alpha", "1.0.0-alpha.1",
						 "1.0.0-alpha.beta", "1.0.0-beta.2", "1.0.0-beta.11",
						 "1.0.0-rc1", "1.0.0", "v1.0.1", "1.2.0-rc1", "1.2.0",
						 "1.10", "2014.1", "2014.1.1" };
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof ascending / sizeof ascending[0]; i++) {
		for (j = 0; j < sizeof ascending / sizeof ascending[0]; j++) {
			int c = compare(ascending[i], ascending[j]);
			if (i < j)
				assert_true(c < 0);
			else if (i > j)
				assert_true(c > 0);
			else
				assert_int_equal(c, 0);
		}
	}
	assert_int_equal(compare("1.0", "1.0.0"), 0);
	assert_int_equal(compare("v1.0.0", "1.0.0+build9"), 0);
}

static void test_version_compare_text_names_bad_side(void **state)
{
	struct error err;
	int result;

	(void)state;
	assert_int_equal(version_compare_text("1.0", "x", &result, &err), -1);
	assert_non_null(strstr(err.text, "'x'"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_accepts_documented_forms),
		cmocka_unit_test(test_version_rejects_malformed),
		cmocka_unit_test(test_version_order),
		cmocka_unit_test(test_version_compare_text_names_bad_side),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
