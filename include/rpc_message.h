/* rpc_message.h: the control plane's messages, as oslo.messaging sends them.
 *
 * Accepted: {"oslo.version": "2.0", "oslo.message": "<JSON text>"} or a bare
 * JSON object, at most RPC_BODY_MAX bytes, whose inner object has `method`,
 * `args`, `_unique_id` and `_context_*` keys (docs/wire.md).
 *   upgrade(instance_version, location [, instance_id, strategy, metadata
 *           {sha256, ...}, upgrade_id, automatic (1.1)]) -> RPC_UPGRADE
 *   upgrade(upgrade_info)  Trove 18's datastore upgrade  -> RPC_IGNORE
 *   rollback([upgrade_id]) only with _context_is_admin  -> RPC_ROLLBACK
 *   anything else                                       -> RPC_IGNORE
 * Messages encrypted with Trove's per-instance key (a `_context_context`
 * entry) are decrypted with [amqp] rpc_key; without a key they are refused,
 * never misread.  With rpc_key set, a message that is not sealed with it
 * (plaintext, another key, an arg left in clear) is refused before any field
 * is trusted, and its id is dropped (req->unique_id empty) so that the
 * refusal cannot be recorded under the id of a real attempt; admin rights
 * come only from the sealed context.  With [amqp] max_age, upgrade and
 * rollback need args.sent (UNIX seconds; rpc_cast_build adds it) no older
 * than max_age and at most RPC_CLOCK_SKEW_S ahead.  An upgrade with
 * args.automatic true is refused by a guest with [updater] automatic = no.
 * Every refusal names the field: "args.location: missing". */
#ifndef SLOTD_RPC_MESSAGE_H
#define SLOTD_RPC_MESSAGE_H

#include <jansson.h>
#include <stddef.h>

#include "config.h"
#include "error.h"
#include "request_check.h"

/* The guest RPC API (docs/wire.md, "Versions of the guest API"): 1.0 is
 * upgrade and rollback; 1.1 adds args.automatic.  A cast is acted on when its
 * envelope's "version" has this major and at most this minor, as
 * oslo.messaging's dispatcher decides; none means 1.0.  Any other version is
 * refused with both versions named, and heartbeats say this one. */
#define RPC_API_MAJOR 1
#define RPC_API_MINOR 1
#define RPC_API_VERSION "1.1"

/* A guest RPC API version as casts and heartbeats spell it: MAJOR.MINOR,
 * digits only, 1 to 4 of each, and nothing else in its len bytes (a JSON
 * string's length, so an embedded NUL fails).  0 and both set, or -1. */
int rpc_api_version_parse(const char *text, size_t len, unsigned *major, unsigned *minor);

#define RPC_BODY_MAX (256u << 10)
#define RPC_CLOCK_SKEW_S 60

enum rpc_kind { RPC_IGNORE, RPC_UPGRADE, RPC_ROLLBACK };

struct rpc_request {
	enum rpc_kind kind;
	char unique_id[64];		/* args.upgrade_id, else _unique_id */
	char instance_id[128], instance_version[64], location[1024], strategy[32], sha256[65];
	/* args.metadata whole (its sha256 too), for a deployer's fetcher: ""
	 * or request_metadata_encode()'s text (request_check.h) */
	char metadata[REQUEST_METADATA_WIRE_MAX + 1];
	int is_admin;
	int automatic;			/* args.automatic: cast by a policy, not an admin */
	int sealed;			/* decrypted with [amqp] rpc_key */
	char why_ignored[128];
};

/* 0 with req filled (check req->kind), -1 with err naming the field.  Even
 * on -1, req->unique_id is set when the message had one.  A len over
 * RPC_BODY_MAX is refused before body is read (body may then be NULL: the
 * AMQP link drops such bodies unread). */
int rpc_message_parse(const char *body, size_t len, const struct config *config,
		      struct rpc_request *req, struct error *err);

/* The inner oslo.message object of an envelope (or the bare object), a new
 * reference; NULL with err set when either is not a JSON object. */
json_t *rpc_message_unwrap(const char *body, size_t len, struct error *err);

enum rpc_direction {
	RPC_TO_CONDUCTOR,	/* a guest's report: sealed like ConductorGuestSerializer */
	RPC_TO_GUEST,		/* a control-plane cast: sealed like SecureSerializer */
};

/* The oslo envelope of a cast of method(args) with an admin context, sealed
 * with [amqp] rpc_key (for the instance [amqp] instance_id) when it is set.
 * Steals args; *body is malloc()ed. */
int rpc_cast_build(const char *method, json_t *args, const struct config *config,
		   enum rpc_direction direction, char **body, struct error *err);
/* The same with the envelope's `version` given ("MAJOR.MINOR"): a control
 * plane stamps the lowest version that carries what the cast needs
 * (docs/wire.md "Versions of the guest API"); rpc_cast_build() stamps
 * "1.0", which every guest takes. */
int rpc_cast_build_version(const char *method, const char *version, json_t *args,
			   const struct config *config, enum rpc_direction direction, char **body,
			   struct error *err);

#endif
