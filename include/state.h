/* state.h: the slot state file, <root>/state.
 *
 * Format (INI, parsed with inih), written whole and replaced atomically:
 *
 *   [state]
 *   format = 1
 *   generation = 7            ; +1 on every save
 *   [slot a]
 *   status = good             ; empty|installing|installed|trial|good|bad
 *   version = v1.0.0
 *   digest = <sha256 hex of the bundle manifest>
 *   attempts = 0              ; launches of a trial, counted before each launch
 *   updated = 1795555231      ; UNIX time of the last status change; for a
 *                             ; good slot its commit (probation counts from it)
 *   reason = ...              ; why it is bad (optional)
 *   [slot b]
 *   ...
 *   [end]
 *   crc32 = 1a2b3c4d          ; CRC-32 of every byte before the "[end]" line
 *
 * A file without the trailer, with a wrong CRC, an unknown key or a bad value
 * is reported as corrupt, naming the path and the problem; it is never reset.
 * A missing file reads as "fresh" (both slots empty). */
#ifndef SLOTD_STATE_H
#define SLOTD_STATE_H

#include <stdint.h>
#include <time.h>
#include "error.h"
#include "layout.h"

enum slot_status {
	SLOT_EMPTY = 0,
	SLOT_INSTALLING,
	SLOT_INSTALLED,
	SLOT_TRIAL,
	SLOT_GOOD,
	SLOT_BAD,
};

#define STATE_VERSION_MAX 64
#define STATE_DIGEST_MAX 65
#define STATE_REASON_MAX 200

struct slot_info {
	enum slot_status status;
	char version[STATE_VERSION_MAX];
	char digest[STATE_DIGEST_MAX];
	unsigned attempts;
	int64_t updated;
	char reason[STATE_REASON_MAX];
};

struct slot_state {
	uint64_t generation;
	struct slot_info slot[SLOT_COUNT];
};

const char *state_status_name(enum slot_status status);
/* Returns 0 and sets *status, or -1 for an unknown name. */
int state_status_parse(const char *name, enum slot_status *status);

void state_init_fresh(struct slot_state *state);

/* Loads <root>/state.  *fresh is set to 1 when the file does not exist (state
 * then holds the fresh state).  Corruption is an error. */
int state_load(const struct layout *layout, struct slot_state *state, int *fresh,
	       struct error *err);
/* Bumps generation and replaces <root>/state atomically. */
int state_save(const struct layout *layout, struct slot_state *state, struct error *err);

/* Serialises / parses the text form (exposed for tests and slotctl). */
int state_format(const struct slot_state *state, char *buf, size_t len);
int state_parse(const char *text, size_t len, struct slot_state *state, const char *path,
		struct error *err);

/* Sets status, stamps `updated`, and (for statuses other than bad) clears reason. */
void state_set_status(struct slot_info *info, enum slot_status status, int64_t now);

#endif
