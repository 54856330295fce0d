/* fuzz_state.c: state_parse() on a hostile <root>/state file.
 *
 * Each input is parsed as it is, then with a correct "[end] crc32" trailer
 * appended, so mutations reach the INI body behind the checksum.  Oracle
 * beyond the sanitizers: an accepted state formats (state_format) to a text
 * that parses, and formatting that again gives the same text: what slotd
 * saves, it loads back unchanged. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32.h"
#include "state.h"
#include "support_fuzz.h"

#define FUZZ_STATE_MAX 8192	/* state_load reads at most this much */

static void fuzz_state_round_trip(const struct slot_state *state)
{
	char first[FUZZ_STATE_MAX], second[FUZZ_STATE_MAX];
	struct slot_state again;
	struct error err = { "" };
	int len, len2, slot;

	for (slot = 0; slot < SLOT_COUNT; slot++) {
		fuzz_check_terminated(state->slot[slot].version, STATE_VERSION_MAX, "version");
		fuzz_check_terminated(state->slot[slot].digest, STATE_DIGEST_MAX, "digest");
		fuzz_check_terminated(state->slot[slot].reason, STATE_REASON_MAX, "reason");
	}
	len = state_format(state, first, sizeof first);
	if (len < 0)
		fuzz_fail("an accepted state does not format");
	if (state_parse(first, (size_t)len, &again, "formatted", &err) < 0)
		fuzz_fail("a formatted state does not parse: %s\n%s", err.text, first);
	len2 = state_format(&again, second, sizeof second);
	if (len2 != len || memcmp(first, second, (size_t)len) != 0)
		fuzz_fail("state changed in a format/parse round trip:\n%s\n---\n%.*s", first,
			  len2 < 0 ? 0 : len2, second);
}

static void fuzz_state_parse(const char *text, size_t len)
{
	struct slot_state state;
	struct error err = { "" };

	if (state_parse(text, len, &state, "fuzz/state", &err) == 0)
		fuzz_state_round_trip(&state);
	fuzz_check_terminated(err.text, sizeof err.text, "error text");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;
	size_t len = size;

	if (size > FUZZ_STATE_MAX)
		return -1;
	fuzz_state_parse((const char *)data, size);
	text = malloc(size + 64);
	if (!text)
		fuzz_fail("out of memory");
	memcpy(text, data, size);
	if (len == 0 || text[len - 1] != '\n')
		text[len++] = '\n';
	len += (size_t)sprintf(text + len, "[end]\ncrc32 = %08" PRIx32 "\n",
			       crc32_compute(text, len));
	fuzz_state_parse(text, len);
	free(text);
	return 0;
}
