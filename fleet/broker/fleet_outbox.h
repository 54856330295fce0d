/* fleet_outbox.h: the publisher of the outbox (store/fleet_store_outbox.h):
 * the API's casts, recorded with their records, sent after the API has
 * answered (docs/fleet.md "The outbox", docs/decisions.md D31).
 *
 * A thread of slotfleet with its own store handle.  A round claims the
 * oldest pending casts (at most FLEET_OUTBOX_BATCH, about
 * FLEET_OUTBOX_BYTES of args, leased for FLEET_OUTBOX_LEASE_S), publishes
 * them through the shared publisher (fleet_publisher.h) together, in their
 * order, their confirmations awaited together (pipelined: a batch in flight
 * at once, never one cast at a time), then records in one transaction, in
 * order, each cast queued or refused (the record FAILED "cast not queued:
 * ..."), and hands back the leases of those the broker could not be reached
 * for.  Rounds follow each other while casts are pending; then the thread
 * sleeps until kicked (the API committed a cast) or FLEET_OUTBOX_POLL_MS
 * (casts another slotfleet left: leases run out, a sibling's kick is not
 * seen here).  While the broker cannot be reached the casts stay pending
 * and the thread retries with backoff (FLEET_OUTBOX_BACKOFF_MIN_MS doubling
 * to FLEET_OUTBOX_BACKOFF_MAX_MS; kicks do not cut it short), logging the
 * outage once and the recovery once; the publisher opens a new connection
 * (and declares the exchange again) at each try.
 *
 * A cast the broker returns because no queue is bound to guestagent.<id>
 * is refused (the record FAILED), except within FLEET_OUTBOX_GRACE_S of
 * slotfleet's start or of the broker being reached again after an outage:
 * then it stays pending and is sent again.  With a transient exchange
 * ([amqp] exchange_durable = false, oslo.messaging's default) a broker
 * restart drops the guests' bindings until each guest has reconnected and
 * declared its queue again; failing their casts meanwhile would lose them.
 *
 * Nothing is lost and a cast is sent again only with its own upgrade id:
 * a crash between the record and the confirmation leaves the cast pending,
 * and it goes out at the next start (SQLite) or at the next round of any
 * slotfleet (PostgreSQL: a dead holder's leases end with its session); a
 * guest takes a repeated id as the same attempt (updater/amqp/serve.c). */
#ifndef SLOTFLEET_OUTBOX_H
#define SLOTFLEET_OUTBOX_H

#include "error.h"
#include "broker/fleet_publisher.h"

#define FLEET_OUTBOX_BATCH 128
#define FLEET_OUTBOX_BYTES (4 * 1024 * 1024)
#define FLEET_OUTBOX_LEASE_S 60		/* > the publisher's 30 s wait for confirms */
#define FLEET_OUTBOX_POLL_MS 1000
#define FLEET_OUTBOX_BACKOFF_MIN_MS 250
#define FLEET_OUTBOX_BACKOFF_MAX_MS 5000
#define FLEET_OUTBOX_GRACE_S 30		/* unrouted casts wait after an outage */

struct fleet_outbox;

/* Opens its own store on spec and starts the thread; pub must outlive it. */
int fleet_outbox_start(struct fleet_outbox **outbox, const char *spec,
		       struct fleet_publisher *pub, struct error *err);
/* A cast was committed: a round starts now (unless backing off).  Safe
 * from any thread; only wakes the thread.  outbox may be NULL. */
void fleet_outbox_kick(struct fleet_outbox *outbox);
/* Asks the thread to stop (after the round in progress), waits, frees. */
void fleet_outbox_stop(struct fleet_outbox *outbox);

#endif
