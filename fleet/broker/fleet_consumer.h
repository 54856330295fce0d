/* fleet_consumer.h: slotfleet's tap on the conductor topic.
 *
 * Threads of its own (below), with its own AMQP connection and its own
 * store handle.  It declares slotfleet's durable queue ([amqp] queue, default
 * slotfleet.<conductor_topic>) bound to the exchange with the conductor
 * topic: a copy of every report, so a real trove-conductor consuming the
 * same topic keeps receiving all of them.  Manual acks, at most
 * [amqp] prefetch unacknowledged.
 *
 * Two threads share the work: a reader, which owns the AMQP connection
 * (librabbitmq's is not shareable), takes deliveries, parses each
 * (fleet_report.h) and acknowledges; and a writer, which stores.  Reports
 * are stored in batches: while the writer applies one batch in ONE store
 * transaction (fleet_store_batch(): one commit, one fsync; the
 * consumer's batches run as multi-row statements), the reader fills the
 * next with what arrives, up to min(prefetch, 1024) deliveries, and hands
 * it over as soon as the writer is free: a batch is what came while the
 * one before was committed (group commit; a lone report is stored at
 * once).  Two batches at most are held, so memory stays bounded.  A batch
 * is acknowledged with one frame (every delivery up to its last tag), and
 * only after its commit.
 * A store failure keeps the whole batch unacknowledged and the transaction
 * is retried with backoff (1 s doubling to 30 s) until it commits or the
 * consumer stops (then the broker redelivers; the store's ordering rules
 * make a redelivery a no-op).  A link that breaks while a batch is being
 * stored waits for that commit and does not acknowledge it on the new link
 * (the broker redelivers it: a no-op).  Other methods, malformed or
 * unverifiable reports, and reports the store refuses (another instance's
 * upgrade) are acked and logged (without their text), alone: retrying
 * cannot fix them, and they do not hold back the rest of their batch.  A
 * lost broker is reconnected with backoff (1 s to 60 s, jitter);
 * the API keeps answering meanwhile. */
#ifndef SLOTFLEET_CONSUMER_H
#define SLOTFLEET_CONSUMER_H

#include "error.h"
#include "config/fleet_config.h"
#include "metrics/fleet_metrics.h"
#include "rpc_keys.h"
#include "store/fleet_store.h"

struct fleet_consumer;

/* Starts the thread; store is the consumer's own (closed by the caller after
 * stop).  metrics (may be NULL) counts what is committed and refused, and
 * the lag from each report's `sent` to its commit.  on_failed (may be NULL)
 * is called from the consumer's writer thread, with on_failed_arg, after a commit
 * that made an upgrade FAILED (the rollout driver's kick: a rollout may have
 * to halt before its next cast); it must stay callable until stop. */
int fleet_consumer_start(struct fleet_consumer **consumer, const struct fleet_config *config,
			 const struct rpc_keys *keys, struct fleet_store *store,
			 struct fleet_metrics *metrics, void (*on_failed)(void *arg),
			 void *on_failed_arg, struct error *err);
/* Asks the thread to stop, waits for it (bounded by the AMQP timeouts), frees. */
void fleet_consumer_stop(struct fleet_consumer *consumer);

#endif
