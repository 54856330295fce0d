/* fleet_consumer.h: slotfleet's tap on the conductor topic.
 *
 * A thread of its own, with its own AMQP connection and its own store
 * handle.  It declares slotfleet's durable queue ([amqp] queue, default
 * slotfleet.<conductor_topic>) bound to the exchange with the conductor
 * topic: a copy of every report, so a real trove-conductor consuming the
 * same topic keeps receiving all of them.  Manual acks, at most
 * [amqp] prefetch unacknowledged.
 *
 * Each report (fleet_report.h) goes to fleet_store_report() or
 * fleet_store_heartbeat(); a message is acked only after that call returned
 * 0.  A store failure keeps the message unacknowledged and the call is
 * retried with backoff (1 s doubling to 30 s) until it succeeds or the
 * consumer stops (then the broker redelivers it; the store's ordering rules
 * make a redelivery a no-op).  Other methods and malformed or unverifiable
 * reports are acked and logged (without their text): retrying cannot fix
 * them.  A lost broker is reconnected with backoff (1 s to 60 s, jitter);
 * the API keeps answering meanwhile. */
#ifndef SLOTFLEET_CONSUMER_H
#define SLOTFLEET_CONSUMER_H

#include "error.h"
#include "fleet_config.h"
#include "rpc_keys.h"
#include "fleet_store.h"

struct fleet_consumer;

/* Starts the thread; store is the consumer's own (closed by the caller after stop). */
int fleet_consumer_start(struct fleet_consumer **consumer, const struct fleet_config *config,
			 const struct rpc_keys *keys, struct fleet_store *store,
			 struct error *err);
/* Asks the thread to stop, waits for it (bounded by the AMQP timeouts), frees. */
void fleet_consumer_stop(struct fleet_consumer *consumer);

#endif
