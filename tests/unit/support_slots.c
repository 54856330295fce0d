/* support_slots.c: building slot roots in known states for engine tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "flip.h"
#include "support.h"
#include "support_slots.h"

void support_install(struct slots *s, int slot, const char *version)
{
	char path[PATH_MAX + 16], digest[65];
	struct error err = { "" };

	if (slots_begin_install(s, slot, &err) < 0)
		fail_msg("begin_install: %s", err.text);
	assert_int_equal(layout_slot_path(&s->layout, slot, path, sizeof path), 0);
	strcat(path, "/marker");
	support_write_file(path, version);
	memset(digest, 'a' + slot, 64);
	digest[64] = '\0';
	if (slots_finish_install(s, slot, version, digest, &err) < 0)
		fail_msg("finish_install: %s", err.text);
}

void support_make_good(struct slots *s, int slot, const char *version)
{
	struct error err = { "" };
	int launched;

	support_install(s, slot, version);
	if (slots_activate(s, slot, &err) < 0)
		fail_msg("activate: %s", err.text);
	assert_int_equal(slots_prepare_launch(s, &launched, &err), 0);
	assert_int_equal(launched, slot);
	if (slots_commit(s, &err) < 0)
		fail_msg("commit: %s", err.text);
}

void support_assert_marker(const struct slots *s, int slot, const char *version)
{
	char path[PATH_MAX + 16], text[128];

	assert_int_equal(layout_slot_path(&s->layout, slot, path, sizeof path), 0);
	strcat(path, "/marker");
	assert_true(support_read_file(path, text, sizeof text) >= 0);
	assert_string_equal(text, version);
}
