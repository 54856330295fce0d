/* test_state.c: the state file: round trip, corruption detection, fresh start. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "crc32.h"
#include "layout.h"
#include "state.h"
#include "support.h"

static void sample_state(struct slot_state *st)
{
	state_init_fresh(st);
	st->slot[SLOT_A].status = SLOT_GOOD;
	strcpy(st->slot[SLOT_A].version, "v1.0.0");
	memset(st->slot[SLOT_A].digest, 'a', 64);
	st->slot[SLOT_A].updated = 1795555231;
	st->slot[SLOT_B].status = SLOT_BAD;
	strcpy(st->slot[SLOT_B].version, "1.2.0-rc1");
	st->slot[SLOT_B].attempts = 3;
	strcpy(st->slot[SLOT_B].reason, "health; crashed\nexit 3 # x");
}

static void test_state_round_trip(void **unused)
{
	struct slot_state in, out;
	char text[4096];
	int len;

	(void)unused;
	sample_state(&in);
	in.generation = 41;
	len = state_format(&in, text, sizeof text);
	assert_true(len > 0);
	assert_int_equal(state_parse(text, (size_t)len, &out, "state", NULL), 0);
	assert_int_equal(out.generation, 41);
	assert_int_equal(out.slot[SLOT_A].status, SLOT_GOOD);
	assert_string_equal(out.slot[SLOT_A].version, "v1.0.0");
	assert_memory_equal(out.slot[SLOT_A].digest, in.slot[SLOT_A].digest, 65);
	assert_int_equal(out.slot[SLOT_A].updated, 1795555231);
	assert_int_equal(out.slot[SLOT_B].attempts, 3);
	/* Comment markers and line breaks in free text are neutralised, not lost. */
	assert_string_equal(out.slot[SLOT_B].reason, "health_ crashed_exit 3 _ x");
}

static void expect_corrupt(const char *text, size_t len, const char *needle)
{
	struct slot_state out;
	struct error err = { "" };

	assert_int_equal(state_parse(text, len, &out, "/r/state", &err), -1);
	if (!strstr(err.text, needle))
		fail_msg("error '%s' lacks '%s'", err.text, needle);
	assert_non_null(strstr(err.text, "/r/state"));
}

static void test_state_detects_corruption(void **unused)
{
	struct slot_state in;
	char text[4096], bad[4096];
	int len;
	char *p;

	(void)unused;
	sample_state(&in);
	len = state_format(&in, text, sizeof text);
	/* Truncated anywhere before the end: no valid trailer. */
	expect_corrupt(text, (size_t)len / 2, "trailer");
	expect_corrupt(text, (size_t)len - 3, "trailer");
	/* One byte changed in the body: checksum. */
	memcpy(bad, text, (size_t)len);
	p = strstr(bad, "status = good");
	p[9] = 'b';
	p[10] = 'a';
	p[11] = 'd';
	p[12] = ' ';
	expect_corrupt(bad, (size_t)len, "checksum");
	expect_corrupt("", 0, "trailer");
	expect_corrupt("garbage\n", 8, "trailer");
}

/* Builds a file whose checksum is right but whose content is wrong. */
static void expect_semantic_error(const char *body, const char *needle)
{
	char text[4096], trailer[64];
	struct slot_state st;

	state_init_fresh(&st);
	snprintf(text, sizeof text, "%s", body);
	snprintf(trailer, sizeof trailer, "[end]\ncrc32 = %08x\n",
		 crc32_compute(text, strlen(text)));
	strcat(text, trailer);
	expect_corrupt(text, strlen(text), needle);
}

static void test_state_rejects_bad_values(void **unused)
{
	(void)unused;
	expect_semantic_error("[state]\nformat = 1\ngeneration = 1\n[slot a]\nstatus = great\n"
			      "[slot b]\nstatus = empty\n", "unknown status");
	expect_semantic_error("[state]\nformat = 2\ngeneration = 1\n[slot a]\n[slot b]\n",
			      "unsupported format");
	expect_semantic_error("[state]\nformat = 1\ngeneration = 1\n[slot a]\ncolour = red\n"
			      "[slot b]\nstatus = empty\n", "unknown key");
	expect_semantic_error("[state]\nformat = 1\ngeneration = 1\n[slot a]\nversion = 1..2\n"
			      "[slot b]\nstatus = empty\n", "bad version");
	expect_semantic_error("[state]\nformat = 1\ngeneration = 1\n[slot a]\nattempts = -1\n"
			      "[slot b]\nstatus = empty\n", "not a count");
	expect_semantic_error("[state]\nformat = 1\ngeneration = 1\n[slot a]\nstatus = good\n",
			      "missing");
	expect_semantic_error("[state]\nformat = 1\ngeneration = 1\n[slot c]\nstatus = good\n",
			      "unknown section");
}

/* Found by fuzz_state: a reason of 191 to 199 bytes was saved on a line too
 * long for the parser, so slotd could not load the state it had written. */
static void test_state_long_reason_loads_back(void **unused)
{
	struct slot_state st, back;
	struct error err = { "" };
	char text[4096];
	int len;

	(void)unused;
	sample_state(&st);
	memset(st.slot[SLOT_B].reason, 'r', STATE_REASON_MAX - 1);
	st.slot[SLOT_B].reason[STATE_REASON_MAX - 1] = '\0';
	len = state_format(&st, text, sizeof text);
	assert_true(len > 0);
	if (state_parse(text, (size_t)len, &back, "t", &err) < 0)
		fail_msg("%s", err.text);
	/* kept as much as one line holds: "reason = " plus 190 bytes */
	assert_int_equal(strlen(back.slot[SLOT_B].reason), 190);
	assert_int_equal(strspn(back.slot[SLOT_B].reason, "r"), 190);
}

static void test_state_load_save(void **unused)
{
	struct layout layout;
	struct slot_state st, back;
	char root[256], path[300], text[4096];
	int fresh;

	(void)unused;
	support_tmpdir(root, sizeof root);
	assert_int_equal(layout_open(&layout, root, 1, NULL), 0);
	assert_int_equal(state_load(&layout, &st, &fresh, NULL), 0);
	assert_int_equal(fresh, 1);
	sample_state(&st);
	assert_int_equal(state_save(&layout, &st, NULL), 0);
	assert_int_equal(state_save(&layout, &st, NULL), 0);
	assert_int_equal(state_load(&layout, &back, &fresh, NULL), 0);
	assert_int_equal(fresh, 0);
	assert_int_equal(back.generation, 2);
	assert_int_equal(back.slot[SLOT_A].status, SLOT_GOOD);
	/* No temp file is left behind. */
	snprintf(path, sizeof path, "%s/state.tmp", root);
	assert_int_equal(support_read_file(path, text, sizeof text), -1);
	/* A corrupt file on disk is reported with its path, never reset. */
	snprintf(path, sizeof path, "%s/state", root);
	support_write_file(path, "[state]\nformat = 1\n");
	struct error err = { "" };
	assert_int_equal(state_load(&layout, &back, &fresh, &err), -1);
	assert_non_null(strstr(err.text, path));
	assert_int_equal(support_read_file(path, text, sizeof text), 19);
	layout_close(&layout);
	support_rmtree(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_round_trip),
		cmocka_unit_test(test_state_detects_corruption),
		cmocka_unit_test(test_state_rejects_bad_values),
		cmocka_unit_test(test_state_long_reason_loads_back),
		cmocka_unit_test(test_state_load_save),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
