/* request_check.h: what a guest accepts in an upgrade or rollback request,
 * checked on the sending side (slotctl notify, slotfleet's API) with the
 * guest's own rules, and encoded as the cast's args.
 *
 * Each check names the field it was given in its message ("--version: ...",
 * "instance_version: ..."), so a caller reports the field the user typed.
 * Ids become routing keys, history keys, SQL parameters and log words: they
 * are 1..max bytes of [0-9A-Za-z_-] and nothing else. */
#ifndef SLOTD_REQUEST_CHECK_H
#define SLOTD_REQUEST_CHECK_H

#include <jansson.h>
#include <stddef.h>

#include "error.h"

#define REQUEST_INSTANCE_MAX 127	/* bytes of an instance id */
#define REQUEST_ID_MAX 63		/* bytes of an upgrade id or a tenant id */

/* 1 when id is 1..max bytes of [0-9A-Za-z_-]. */
int request_id_ok(const char *id, size_t max);
/* 0, or -1 with "FIELD 'id': want 1 to MAX of [0-9A-Za-z_-]". */
int request_check_id(const char *field, const char *id, size_t max, struct error *err);
/* version.h's grammar, the one the guest's anti-rollback check uses. */
int request_check_version(const char *field, const char *version, struct error *err);
/* A built-in strategy (fetch.h) with a location well formed for it, or any
 * other well-formed strategy name with an opaque location: the sender does
 * not know the guest's [strategy.NAME] sections, the guest judges. */
int request_check_location(const char *field, const char *strategy, const char *location,
			   struct error *err);
/* 64 lower-case hex digits. */
int request_check_sha256(const char *field, const char *sha256, struct error *err);

/* args.metadata, the cast's free-form object for the deployer's fetcher
 * (docs/strategies.md): at most REQUEST_METADATA_MAX bytes as compact JSON
 * (UTF-8).  Carried between the guest's processes as request_metadata_encode()
 * writes it: compact, non-ASCII escaped, so printable ASCII only, at most
 * REQUEST_METADATA_WIRE_MAX bytes (a \uXXXX escape is at most 3 times the
 * UTF-8 it stands for). */
#define REQUEST_METADATA_MAX 2048
#define REQUEST_METADATA_WIRE_MAX (3 * REQUEST_METADATA_MAX)
/* metadata (NULL or JSON null: none, out "") into out (at least
 * REQUEST_METADATA_WIRE_MAX + 1 bytes); -1 with "FIELD: not an object" or
 * "FIELD: N bytes as JSON, more than 2048". */
int request_metadata_encode(const char *field, const json_t *metadata, char *out, size_t len,
			    struct error *err);
/* The reverse, for a reader that trusts no writer: text ("" or NULL: none,
 * an empty object) must be one JSON object, without duplicate keys, within
 * the bounds above.  A new reference, or NULL with err naming field. */
json_t *request_metadata_decode(const char *field, const char *text, struct error *err);

struct request_upgrade {
	const char *upgrade_id, *instance_id, *version, *location;
	const char *strategy;		/* NULL: the guest's default */
	const char *sha256;		/* NULL: none */
	json_t *metadata;		/* NULL or an object, borrowed; sha256 is added to a copy */
};

/* The args of the upgrade cast (rpc_message.h), a new reference or NULL. */
json_t *request_upgrade_args(const struct request_upgrade *req);
/* The args of the rollback cast. */
json_t *request_rollback_args(const char *upgrade_id);

#endif
