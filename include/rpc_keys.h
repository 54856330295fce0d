/* rpc_keys.h: per-instance RPC keys, for whoever casts to many guests.
 *
 * Trove gives every instance its own RPC encryption key, so a control plane
 * (slotctl notify, slotfleet) seals each cast with the key of the instance it
 * goes to, and unseals each report with the key of the instance it names.
 * The file has one "INSTANCE_ID KEY" a line; blank lines and lines starting
 * with '#' are skipped, and a '#' after a blank starts a comment.  Instance ids are 1 to 127 of [0-9A-Za-z_-]; keys are
 * 1 to 255 printable ASCII bytes without blanks.  An id given twice, a
 * malformed line or a file over RPC_KEYS_MAX lines is an error naming
 * "PATH:LINE"; a key is never echoed.  The table is sorted once and looked up
 * by binary search; its memory is bounded by the file's size limit. */
#ifndef SLOTD_RPC_KEYS_H
#define SLOTD_RPC_KEYS_H

#include <stddef.h>

#include "error.h"

#define RPC_KEYS_MAX 1000000u
#define RPC_KEYS_FILE_MAX (256u << 20)

struct rpc_keys;

int rpc_keys_load(struct rpc_keys **keys, const char *path, struct error *err);
/* Same, from text; name is used in messages (tests). */
int rpc_keys_parse(struct rpc_keys **keys, const char *text, size_t len, const char *name,
		   struct error *err);
/* The instance's key, or NULL when the file has none for it. */
const char *rpc_keys_find(const struct rpc_keys *keys, const char *instance_id);
size_t rpc_keys_count(const struct rpc_keys *keys);
void rpc_keys_free(struct rpc_keys *keys);

#endif
