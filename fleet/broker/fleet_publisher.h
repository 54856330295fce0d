/* fleet_publisher.h: slotfleet's casts to guests.
 *
 * One publisher connection (amqp_link_open_publisher: confirm mode,
 * mandatory), shared by the API's threads and used by one at a time (the
 * AMQP connection is not thread-safe).  Casts are confirmed in groups
 * (fleet_group.h): every queued cast, at most FLEET_PUBLISHER_BATCH, is
 * published, then their confirmations are awaited together, while later
 * callers queue for the next group.  A confirmation costs the broker a round trip and, for
 * persistent messages, an fsync: one per group instead of one per cast.
 * Each caller still gets its own cast's answer.  A cast to an instance that has a key in
 * [amqp] rpc_keys is sealed with it as Trove's API seals it.  The
 * connection is opened on first use and again after any failure, and also
 * after FLEET_PUBLISHER_IDLE_S without a cast (librabbitmq only answers
 * broker heartbeats inside its own calls, so an idle connection may have
 * been dropped by the broker).
 *
 * fleet_publisher_cast() returns only once the broker has put the message
 * in the guest's queue: 0; or FLEET_CAST_UNREACHABLE when no connection
 * could be made, or the link broke before the broker answered (it may have
 * queued it: the caller sends it again later, with the same upgrade id);
 * or FLEET_CAST_REFUSED when the broker said it did not queue it (no queue
 * bound to guestagent.<id>, a nack).  err says which. */
#ifndef SLOTFLEET_PUBLISHER_H
#define SLOTFLEET_PUBLISHER_H

#include <jansson.h>

#include "error.h"
#include "config/fleet_config.h"
#include "rpc_keys.h"

#define FLEET_PUBLISHER_IDLE_S 30
#define FLEET_PUBLISHER_BATCH 256
#define FLEET_CAST_UNREACHABLE (-1)
#define FLEET_CAST_REFUSED (-2)

struct fleet_publisher;

int fleet_publisher_new(struct fleet_publisher **pub, const struct fleet_config *config,
			const struct rpc_keys *keys, struct error *err);
void fleet_publisher_free(struct fleet_publisher *pub);
/* method(args) to guestagent.<instance_id>; steals args. */
int fleet_publisher_cast(struct fleet_publisher *pub, const char *instance_id,
			 const char *method, json_t *args, struct error *err);

/* One of fleet_publisher_cast_many()'s casts: in, and out (rc, err). */
struct fleet_publisher_cast {
	const char *instance_id, *method;
	const char *version;		/* the envelope's (docs/wire.md); NULL: "1.0" */
	json_t *args;			/* stolen (NULL after) */
	int rc;				/* as fleet_publisher_cast() returns */
	int unrouted;			/* FLEET_CAST_REFUSED: no queue is bound (not a nack) */
	struct error err;
};
/* n casts of one caller, queued together so that they share the groups'
 * confirmations (the rollout driver's batches).  0 with each cast's rc and
 * err set; -1 out of memory (none was published, every args freed). */
int fleet_publisher_cast_many(struct fleet_publisher *pub, size_t n,
			      struct fleet_publisher_cast *casts, struct error *err);

#endif
