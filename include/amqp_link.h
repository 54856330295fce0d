/* amqp_link.h: the updater's connection to RabbitMQ (librabbitmq-c).
 *
 * amqp_link_open() connects to [amqp] url (amqp:// or amqps://, the latter
 * with peer and hostname verification, CA from [amqp] ca_path), then declares
 * everything it relies on, every time, because a broker restart forgets
 * transient exchanges: the exchange (topic, durable as [amqp]
 * exchange_durable, default false like oslo.messaging), the updater's own
 * durable queue, its binding with routing key guestagent.<instance_id>,
 * prefetch 1, manual acknowledgements.  Messages stay unacknowledged until
 * the caller acks them; a dropped connection returns them to the queue.
 *
 * amqp_link_open_consumer() is the same for any queue and routing key, with
 * a prefetch of its own (slotfleet's tap on the conductor topic).
 *
 * amqp_link_open_publisher() is the fleet side (slotctl notify): it connects
 * and declares the exchange only, in publisher-confirm mode, so
 * amqp_link_publish_confirmed() returns only once the broker has taken the
 * message into a queue, and fails when no queue is bound to the routing key
 * (a cast nobody would ever read is an error, not a silent success). */
#ifndef SLOTD_AMQP_LINK_H
#define SLOTD_AMQP_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "error.h"

struct amqp_link;

/* A body over RPC_BODY_MAX (include/rpc_message.h) is read and dropped
 * frame by frame, never held: body is then NULL and len the size the header
 * declared, which the message parsers refuse by its length alone. */
struct amqp_delivery {
	uint64_t tag;
	int redelivered;
	char *body;		/* NUL-terminated copy, free()d by amqp_delivery_free */
	size_t len;
};

int amqp_link_open(struct amqp_link **link, const struct config *config, struct error *err);
int amqp_link_open_consumer(struct amqp_link **link, const struct config *config,
			    const char *queue, const char *routing_key, unsigned prefetch,
			    struct error *err);
int amqp_link_open_publisher(struct amqp_link **link, const struct config *config,
			     struct error *err);
/* Declares the durable queue (quorum with [amqp] queue_type = quorum) and
 * binds it to the exchange with routing_key, as a consumer's link does on
 * connecting.  0, -1 (the link is then unusable). */
int amqp_link_declare_queue(struct amqp_link *link, const char *queue, const char *routing_key,
			    struct error *err);
void amqp_link_close(struct amqp_link *link);
/* Waits up to timeout_ms for a message: 1 got one, 0 timed out, -1 the link broke. */
int amqp_link_next(struct amqp_link *link, unsigned timeout_ms, struct amqp_delivery *d,
		   struct error *err);
/* The socket to poll() before amqp_link_next(link, 0, ...), or -1 when a
 * frame is already buffered (call it at once).  For a process that waits on
 * the broker and something else at a time (the AMQP child of serve). */
int amqp_link_fd(const struct amqp_link *link);
int amqp_link_ack(struct amqp_link *link, uint64_t tag, struct error *err);
/* Acknowledges every delivery up to and including tag at once (one frame):
 * for a consumer that settles its deliveries in order, in batches. */
int amqp_link_ack_upto(struct amqp_link *link, uint64_t tag, struct error *err);
/* Casts body to the exchange with routing_key, persistent, JSON. */
int amqp_link_publish(struct amqp_link *link, const char *routing_key, const char *body,
		      struct error *err);
/* Publisher links only: mandatory, persistent, and confirmed by the broker. */
int amqp_link_publish_confirmed(struct amqp_link *link, const char *routing_key,
				const char *body, struct error *err);

/* The same for many casts at once: all are published, then the broker's
 * answers are awaited together (one round trip and one broker fsync for
 * the lot, instead of one each).  Each cast's result is 0 (queued) or -1
 * (err says: no queue bound, a nack, or the link's failure).  Returns -1
 * when the link failed (the caller should drop it), else 0. */
struct amqp_link_cast {
	const char *routing_key, *body;
	int result;		/* out */
	struct error err;	/* out, when result is -1 */
	int answered;		/* out: the broker said (ack, nack, return); 0 when
				 * the link failed first: it may have queued it */
	int unrouted;		/* out: refused because no queue is bound */
};
int amqp_link_publish_confirmed_many(struct amqp_link *link, struct amqp_link_cast *casts,
				     size_t n, struct error *err);
void amqp_delivery_free(struct amqp_delivery *d);

#endif
