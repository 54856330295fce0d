/* fleet_keys.h: the instances' RPC encryption keys ([amqp] rpc_keys).
 *
 * One "INSTANCE_ID KEY" a line ('#' comments, blank lines skipped): the id
 * as request_check.h allows it, the key 1 to 255 bytes of printable ASCII
 * without blanks (as Trove stores it for the instance).  An id given twice
 * or a malformed line is an error "PATH:LINE: what"; a key is never echoed
 * or logged.  Casts to an instance with a key are sealed with it, and its
 * reports must be sealed with it (a plain report naming it is refused: it
 * could come from anyone on the broker). */
#ifndef SLOTFLEET_KEYS_H
#define SLOTFLEET_KEYS_H

#include <stddef.h>

#include "error.h"

#define FLEET_KEYS_MAX 1000000
#define FLEET_KEY_MAX 255

struct fleet_keys;

/* path NULL or "": an empty set. */
int fleet_keys_load(struct fleet_keys **keys, const char *path, struct error *err);
int fleet_keys_load_string(struct fleet_keys **keys, const char *text, const char *name,
			   struct error *err);
void fleet_keys_free(struct fleet_keys *keys);
/* The instance's key, or NULL. */
const char *fleet_keys_find(const struct fleet_keys *keys, const char *instance_id);

#endif
