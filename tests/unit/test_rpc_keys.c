/* test_rpc_keys.c: the per-instance RPC key file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "rpc_keys.h"

static void test_lookup(void **unused)
{
	const char text[] = "# fleet keys\n\ninst-b  key-of-b # rack 7\r\n  inst-a\tkey-of-a  \n"
			    "inst-c k#with#hash\n"
			    "27e25b73-88a1-4526-b2b9-919a28b8b33f 0123456789abcdef0123456789abcdef";
	struct rpc_keys *keys = NULL;

	(void)unused;
	assert_int_equal(rpc_keys_parse(&keys, text, strlen(text), "k", NULL), 0);
	assert_int_equal(rpc_keys_count(keys), 4);
	assert_string_equal(rpc_keys_find(keys, "inst-c"), "k#with#hash");
	assert_string_equal(rpc_keys_find(keys, "inst-a"), "key-of-a");
	assert_string_equal(rpc_keys_find(keys, "inst-b"), "key-of-b");
	assert_string_equal(rpc_keys_find(keys, "27e25b73-88a1-4526-b2b9-919a28b8b33f"),
			    "0123456789abcdef0123456789abcdef");
	assert_null(rpc_keys_find(keys, "inst-d"));
	assert_null(rpc_keys_find(keys, ""));
	rpc_keys_free(keys);
}

static void expect_bad(const char *text, const char *needle)
{
	struct rpc_keys *keys = (struct rpc_keys *)1;
	struct error err = { "" };

	assert_int_equal(rpc_keys_parse(&keys, text, strlen(text), "keys.txt", &err), -1);
	assert_null(keys);
	if (!strstr(err.text, needle))
		fail_msg("'%s' lacks '%s'", err.text, needle);
	/* A key is a secret: never echoed in a complaint. */
	assert_null(strstr(err.text, "s3cret"));
}

static void test_bad_files(void **unused)
{
	(void)unused;
	expect_bad("a s3cret\nb\n", "keys.txt:2: want \"INSTANCE_ID KEY\"");
	expect_bad("a s3cret extra\n", "keys.txt:1: more than two words");
	expect_bad("a/b s3cret\n", "keys.txt:1: instance id");
	expect_bad("a s3cret\x01\n", "keys.txt:1: key");
	expect_bad("a s3cret\n# c\na s3cret2\n", "instance a has two keys");
	{
		struct rpc_keys *keys = NULL;
		struct error err = { "" };

		assert_int_equal(rpc_keys_parse(&keys, "a k\0b k", 7, "keys.txt", &err), -1);
		assert_non_null(strstr(err.text, "NUL"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_bad_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
