/* test_text.c: outside text is sanitised in one place (text_sanitize) and
 * that place is used by error texts, log lines and the history. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "history.h"
#include "support.h"
#include "text.h"

/* A name built to forge a line and clear a terminal. */
static const char forged[] = "x\n" "slotupd: SUCCESS\x1b[2J\r\x7f\xc3\xa9\\";

static void test_sanitize(void **state)
{
	char out[128], again[128], tiny[6];

	(void)state;
	text_sanitize(forged, out, sizeof out);
	assert_string_equal(out, "x\\x0aslotupd: SUCCESS\\x1b[2J\\x0d\\x7f\\xc3\\xa9\\");
	for (const char *p = out; *p; p++)
		assert_true(*p >= 0x20 && *p < 0x7f);
	/* idempotent: a second layer changes nothing */
	text_sanitize(out, again, sizeof again);
	assert_string_equal(again, out);
	/* truncation never cuts an escape in half and always terminates */
	text_sanitize("ab\x1b", tiny, sizeof tiny);
	assert_string_equal(tiny, "ab");
	text_sanitize("abcdefgh", tiny, sizeof tiny);
	assert_string_equal(tiny, "abcde");
}

static void test_error_texts(void **state)
{
	struct error err;

	(void)state;
	error_set(&err, "member '%s'", forged);
	assert_null(strchr(err.text, '\n'));
	assert_null(strchr(err.text, '\x1b'));
	assert_non_null(strstr(err.text, "x\\x0aslotupd"));
	error_prefix(&err, "install: ");
	assert_non_null(strstr(err.text, "install: member 'x\\x0aslotupd"));
}

static void test_history_records(void **state)
{
	struct history_record r = { .state = HISTORY_FAILED };
	struct history_record back;
	struct layout layout;
	char root[256];

	(void)state;
	support_tmpdir(root, sizeof root);
	assert_int_equal(layout_open(&layout, root, 1, NULL), 0);
	snprintf(r.id, sizeof r.id, "id-1");
	snprintf(r.location, sizeof r.location, "http://h/\x1b[2J.bundle");
	snprintf(r.error, sizeof r.error, "bundle: member 1 is '%s'", forged);
	assert_int_equal(history_append(&layout, &r, NULL), 0);
	assert_int_equal(history_append(&layout, &r, NULL), 0);	/* twice: no double escape */
	assert_int_equal(history_find(&layout, "id-1", &back, NULL), 1);
	assert_string_equal(back.location, "http://h/\\x1b[2J.bundle");
	assert_non_null(strstr(back.error, "'x\\x0aslotupd: SUCCESS\\x1b[2J"));
	assert_null(strchr(back.error, '\x1b'));
	layout_close(&layout);
	support_rmtree(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sanitize),
		cmocka_unit_test(test_error_texts),
		cmocka_unit_test(test_history_records),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
