/* link.c: one AMQP connection, one channel (see include/amqp_link.h). */
#include <amqp.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "amqp_link.h"
#include "rpc_message.h"

#define LINK_CHANNEL 1
#define LINK_CONFIRM_TIMEOUT_S 30
#define LINK_TIMEOUT_S 15	/* connect, handshake, each synchronous call */

struct amqp_link {
	const struct config *config;
	amqp_connection_state_t conn;
	char queue[256];	/* consumers only */
	char routing_key[256];
	uint16_t prefetch;
	uint64_t published;	/* publisher links: the last delivery tag used */
};

/* The broker's or the library's reason for a failed call. */
static int link_check(amqp_rpc_reply_t reply, const char *what, struct error *err)
{
	switch (reply.reply_type) {
	case AMQP_RESPONSE_NORMAL:
		return 0;
	case AMQP_RESPONSE_LIBRARY_EXCEPTION:
		return error_set(err, "amqp: %s: %s", what, amqp_error_string2(reply.library_error));
	case AMQP_RESPONSE_SERVER_EXCEPTION:
		if (reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
			amqp_connection_close_t *m = reply.reply.decoded;
			return error_set(err, "amqp: %s: broker closed the connection: %.*s", what,
					 (int)m->reply_text.len, (char *)m->reply_text.bytes);
		}
		if (reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
			amqp_channel_close_t *m = reply.reply.decoded;
			return error_set(err, "amqp: %s: broker closed the channel: %.*s", what,
					 (int)m->reply_text.len, (char *)m->reply_text.bytes);
		}
		return error_set(err, "amqp: %s: broker error", what);
	default:
		return error_set(err, "amqp: %s: no reply", what);
	}
}

static int link_connect(struct amqp_link *link, struct error *err)
{
	const struct config *c = link->config;
	struct amqp_connection_info info;
	struct timeval timeout = { LINK_TIMEOUT_S, 0 };
	char url[CONFIG_STRING_MAX];
	amqp_socket_t *socket;
	int rc;

	snprintf(url, sizeof url, "%s", c->amqp.url);
	amqp_default_connection_info(&info);
	if (amqp_parse_url(url, &info) != AMQP_STATUS_OK)
		return error_set(err, "[amqp] url: not an amqp:// or amqps:// URL");
	/* "amqp://host/" means the default vhost to operators (and to pika and
	 * kombu); librabbitmq reads it as the empty vhost. */
	if (!info.vhost[0])
		info.vhost = "/";
	link->conn = amqp_new_connection();
	if (!link->conn)
		return error_set(err, "amqp: out of memory");
	socket = info.ssl ? amqp_ssl_socket_new(link->conn) : amqp_tcp_socket_new(link->conn);
	if (!socket)
		return error_set(err, "amqp: cannot create a socket");
	if (info.ssl) {
		amqp_ssl_socket_set_verify_peer(socket, 1);
		amqp_ssl_socket_set_verify_hostname(socket, 1);
		if (c->amqp.ca_path[0] &&
		    amqp_ssl_socket_set_cacert(socket, c->amqp.ca_path) != AMQP_STATUS_OK)
			return error_set(err, "[amqp] ca_path: cannot load %s", c->amqp.ca_path);
	}
	/* Bounded waits everywhere: a broker that accepts but never answers must
	 * not hold slotupd (or its SIGTERM) forever; the caller retries. */
	if (amqp_set_handshake_timeout(link->conn, &timeout) != AMQP_STATUS_OK ||
	    amqp_set_rpc_timeout(link->conn, &timeout) != AMQP_STATUS_OK)
		return error_set(err, "amqp: cannot set timeouts");
	rc = amqp_socket_open_noblock(socket, info.host, info.port, &timeout);
	if (rc != AMQP_STATUS_OK)	/* never print the URL: it holds the password */
		return error_set(err, "amqp: connect to %s:%d: %s", info.host, info.port,
				 amqp_error_string2(rc));
	return link_check(amqp_login(link->conn, info.vhost, 0, 131072, 60,
				     AMQP_SASL_METHOD_PLAIN, info.user, info.password),
			  "login", err);
}

/* The exchange is declared by every client, as oslo.messaging does: a broker
 * restart forgets it (it is not durable by default). */
static int link_declare_exchange(struct amqp_link *link, struct error *err)
{
	const struct config *c = link->config;

	amqp_channel_open(link->conn, LINK_CHANNEL);
	if (link_check(amqp_get_rpc_reply(link->conn), "channel", err) < 0)
		return -1;
	amqp_exchange_declare(link->conn, LINK_CHANNEL, amqp_cstring_bytes(c->amqp.exchange),
			      amqp_cstring_bytes("topic"), 0, c->amqp.exchange_durable ? 1 : 0, 0,
			      0, amqp_empty_table);
	return link_check(amqp_get_rpc_reply(link->conn), "declare exchange", err);
}

/* The durable queue and its binding.  A quorum queue (replicated on a
 * cluster's nodes) is declared with x-queue-type, as oslo.messaging's
 * rabbit_quorum_queue does; the broker refuses to change an existing
 * queue's type (PRECONDITION_FAILED), which the error then says. */
static int link_declare_queue(struct amqp_link *link, const char *name, const char *routing_key,
			      struct error *err)
{
	const struct config *c = link->config;
	amqp_connection_state_t conn = link->conn;
	amqp_bytes_t queue = amqp_cstring_bytes(name);
	amqp_table_entry_t type = { amqp_cstring_bytes("x-queue-type"),
				    { AMQP_FIELD_KIND_UTF8, { .bytes = amqp_cstring_bytes("quorum") } } };
	amqp_table_t args = { 0, NULL };

	if (!strcmp(c->amqp.queue_type, "quorum"))
		args = (amqp_table_t){ 1, &type };
	amqp_queue_declare(conn, LINK_CHANNEL, queue, 0, 1, 0, 0, args);
	if (link_check(amqp_get_rpc_reply(conn), "declare queue", err) < 0)
		return -1;
	amqp_queue_bind(conn, LINK_CHANNEL, queue, amqp_cstring_bytes(c->amqp.exchange),
			amqp_cstring_bytes(routing_key), amqp_empty_table);
	return link_check(amqp_get_rpc_reply(conn), "bind queue", err);
}

int amqp_link_declare_queue(struct amqp_link *link, const char *queue, const char *routing_key,
			    struct error *err)
{
	return link_declare_queue(link, queue, routing_key, err);
}

/* Queue, binding, prefetch, consumer: redone on every connect. */
static int link_declare_consumer(struct amqp_link *link, struct error *err)
{
	amqp_connection_state_t conn = link->conn;
	amqp_bytes_t queue = amqp_cstring_bytes(link->queue);

	if (link_declare_queue(link, link->queue, link->routing_key, err) < 0)
		return -1;
	amqp_basic_qos(conn, LINK_CHANNEL, 0, link->prefetch, 0);
	if (link_check(amqp_get_rpc_reply(conn), "prefetch", err) < 0)
		return -1;
	amqp_basic_consume(conn, LINK_CHANNEL, queue, amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
	return link_check(amqp_get_rpc_reply(conn), "consume", err);
}

/* queue NULL: a publisher link. */
static int link_open(struct amqp_link **out, const struct config *config, const char *queue,
		     const char *routing_key, unsigned prefetch, struct error *err)
{
	struct amqp_link *link = calloc(1, sizeof *link);

	*out = NULL;
	if (!link)
		return error_set(err, "amqp: out of memory");
	link->config = config;
	if (queue && (snprintf(link->queue, sizeof link->queue, "%s", queue) >=
			      (int)sizeof link->queue ||
		      snprintf(link->routing_key, sizeof link->routing_key, "%s", routing_key) >=
			      (int)sizeof link->routing_key || !prefetch || prefetch > UINT16_MAX)) {
		free(link);
		return error_set(err, "amqp: queue name, routing key or prefetch out of range");
	}
	link->prefetch = (uint16_t)prefetch;
	if (link_connect(link, err) < 0 || link_declare_exchange(link, err) < 0)
		goto fail;
	if (queue && link_declare_consumer(link, err) < 0)
		goto fail;
	if (!queue) {
		amqp_confirm_select(link->conn, LINK_CHANNEL);
		if (link_check(amqp_get_rpc_reply(link->conn), "confirm mode", err) < 0)
			goto fail;
	}
	*out = link;
	return 0;
fail:
	amqp_link_close(link);
	return -1;
}

int amqp_link_open(struct amqp_link **link, const struct config *config, struct error *err)
{
	char routing_key[256];

	*link = NULL;
	if (!config->amqp.instance_id[0])
		return error_set(err, "[amqp] instance_id: missing");
	snprintf(routing_key, sizeof routing_key, "guestagent.%s", config->amqp.instance_id);
	return link_open(link, config, config->amqp.queue, routing_key, 1, err);
}

int amqp_link_open_consumer(struct amqp_link **link, const struct config *config,
			    const char *queue, const char *routing_key, unsigned prefetch,
			    struct error *err)
{
	return link_open(link, config, queue, routing_key, prefetch, err);
}

int amqp_link_open_publisher(struct amqp_link **link, const struct config *config,
			     struct error *err)
{
	return link_open(link, config, NULL, NULL, 0, err);
}

void amqp_link_close(struct amqp_link *link)
{
	if (!link)
		return;
	if (link->conn) {
		amqp_connection_close(link->conn, AMQP_REPLY_SUCCESS);
		amqp_destroy_connection(link->conn);
	}
	free(link);
}

/* A frame other than the delivery's next one: the broker closing the
 * channel or the connection says why; anything else is a protocol fault. */
static int link_unexpected(const amqp_frame_t *frame, struct error *err)
{
	const amqp_method_t *m = &frame->payload.method;

	if (frame->frame_type != AMQP_FRAME_METHOD)
		return error_set(err, "amqp: consume: unexpected frame of type %u",
				 (unsigned)frame->frame_type);
	if (m->id == AMQP_CONNECTION_CLOSE_METHOD || m->id == AMQP_CHANNEL_CLOSE_METHOD) {
		const amqp_bytes_t *text = m->id == AMQP_CONNECTION_CLOSE_METHOD ?
			&((amqp_connection_close_t *)m->decoded)->reply_text :
			&((amqp_channel_close_t *)m->decoded)->reply_text;
		return error_set(err, "amqp: consume: broker closed the %s: %.*s",
				 m->id == AMQP_CONNECTION_CLOSE_METHOD ? "connection" : "channel",
				 (int)(text->len > 200 ? 200 : text->len), (const char *)text->bytes);
	}
	return error_set(err, "amqp: consume: unexpected %s", amqp_method_name(m->id));
}

/* The next frame of a delivery under way: the broker sent its start, so the
 * rest is due at once; a broker that stalls mid-message is a broken link. */
static int link_frame(struct amqp_link *link, amqp_frame_t *frame, struct error *err)
{
	struct timeval timeout = { LINK_TIMEOUT_S, 0 };
	int rc = amqp_simple_wait_frame_noblock(link->conn, frame, &timeout);

	if (rc != AMQP_STATUS_OK)
		return error_set(err, "amqp: consume: %s", amqp_error_string2(rc));
	return 0;
}

/* Reads the body frames of a delivery: into d->body when it fits
 * RPC_BODY_MAX, else read and dropped frame by frame (each frame's buffer is
 * released before the next is read), so memory stays at one frame
 * (frame_max, 128 KiB) whatever size the broker lets a publisher send. */
static int link_body(struct amqp_link *link, uint64_t size, struct amqp_delivery *d,
		     struct error *err)
{
	amqp_frame_t frame;
	uint64_t got = 0;

	d->len = size > SIZE_MAX - 1 ? SIZE_MAX - 1 : (size_t)size;
	if (size <= RPC_BODY_MAX) {
		d->body = malloc(d->len + 1);
		if (!d->body)
			return error_set(err, "amqp: out of memory");
		d->body[d->len] = '\0';
	}
	while (got < size) {
		if (link_frame(link, &frame, err) < 0)
			return -1;
		if (frame.frame_type != AMQP_FRAME_BODY)
			return link_unexpected(&frame, err);
		if (frame.payload.body_fragment.len > size - got)
			return error_set(err, "amqp: consume: body longer than its header says");
		if (d->body)
			memcpy(d->body + got, frame.payload.body_fragment.bytes,
			       frame.payload.body_fragment.len);
		got += frame.payload.body_fragment.len;
		amqp_maybe_release_buffers_on_channel(link->conn, LINK_CHANNEL);
	}
	return 0;
}

/* librabbitmq's amqp_consume_message() would allocate whatever body size
 * the header declares, and keep the whole body: the frames are read here
 * instead, so that the limit applies before the body arrives. */
int amqp_link_next(struct amqp_link *link, unsigned timeout_ms, struct amqp_delivery *d,
		   struct error *err)
{
	struct timeval timeout = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000 };
	amqp_basic_deliver_t *deliver;
	amqp_frame_t frame;
	int rc;

	memset(d, 0, sizeof *d);
	amqp_maybe_release_buffers(link->conn);
	rc = amqp_simple_wait_frame_noblock(link->conn, &frame, &timeout);
	if (rc == AMQP_STATUS_TIMEOUT)
		return 0;
	if (rc != AMQP_STATUS_OK)
		return error_set(err, "amqp: consume: %s", amqp_error_string2(rc));
	if (frame.frame_type != AMQP_FRAME_METHOD || frame.payload.method.id != AMQP_BASIC_DELIVER_METHOD)
		return link_unexpected(&frame, err);
	deliver = frame.payload.method.decoded;
	d->tag = deliver->delivery_tag;
	d->redelivered = deliver->redelivered;
	if (link_frame(link, &frame, err) < 0)
		return -1;
	if (frame.frame_type != AMQP_FRAME_HEADER)
		return link_unexpected(&frame, err);
	if (link_body(link, frame.payload.properties.body_size, d, err) < 0) {
		amqp_delivery_free(d);
		return -1;
	}
	return 1;
}

int amqp_link_fd(const struct amqp_link *link)
{
	if (amqp_frames_enqueued(link->conn) || amqp_data_in_buffer(link->conn))
		return -1;
	return amqp_get_sockfd(link->conn);
}

int amqp_link_ack(struct amqp_link *link, uint64_t tag, struct error *err)
{
	if (amqp_basic_ack(link->conn, LINK_CHANNEL, tag, 0) != AMQP_STATUS_OK)
		return error_set(err, "amqp: ack failed");
	return 0;
}

int amqp_link_ack_upto(struct amqp_link *link, uint64_t tag, struct error *err)
{
	if (amqp_basic_ack(link->conn, LINK_CHANNEL, tag, 1) != AMQP_STATUS_OK)
		return error_set(err, "amqp: ack failed");
	return 0;
}

static int link_publish(struct amqp_link *link, const char *routing_key, const char *body,
			int mandatory, struct error *err)
{
	amqp_basic_properties_t props = {
		._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_CONTENT_ENCODING_FLAG |
			  AMQP_BASIC_DELIVERY_MODE_FLAG,
		.content_type = amqp_cstring_bytes("application/json"),
		.content_encoding = amqp_cstring_bytes("utf-8"),
		.delivery_mode = 2,
	};
	int rc = amqp_basic_publish(link->conn, LINK_CHANNEL,
				    amqp_cstring_bytes(link->config->amqp.exchange),
				    amqp_cstring_bytes(routing_key), mandatory, 0, &props,
				    amqp_cstring_bytes(body));

	if (rc != AMQP_STATUS_OK)
		return error_set(err, "amqp: publish to %s: %s", routing_key, amqp_error_string2(rc));
	return 0;
}

int amqp_link_publish(struct amqp_link *link, const char *routing_key, const char *body,
		      struct error *err)
{
	return link_publish(link, routing_key, body, 0, err);
}

/* A basic.return carries no delivery tag: it names the routing key, and
 * comes before the ack of the message it returns.  So it belongs to the
 * oldest cast with that key that is neither confirmed nor returned yet. */
static void link_mark_returned(struct amqp_link_cast *casts, size_t n, const amqp_bytes_t *key,
			       const unsigned char *settled, unsigned char *returned)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (!settled[i] && !returned[i] && strlen(casts[i].routing_key) == key->len &&
		    !memcmp(casts[i].routing_key, key->bytes, key->len)) {
			returned[i] = 1;
			return;
		}
	}
}

/* basic.ack or basic.nack for tag (and every earlier one when multiple):
 * settles the casts published as first_tag + i. */
static size_t link_settle(struct amqp_link_cast *casts, size_t n, uint64_t first_tag,
			  uint64_t tag, int multiple, int acked, unsigned char *settled,
			  const unsigned char *returned)
{
	size_t i, count = 0;

	for (i = 0; i < n; i++) {
		uint64_t t = first_tag + i;

		if (settled[i] || t > tag || (!multiple && t != tag))
			continue;
		settled[i] = 1;
		count++;
		if (!acked)
			casts[i].result = error_set(&casts[i].err, "%s: the broker refused to store "
						    "the message", casts[i].routing_key);
		else if ((casts[i].unrouted = returned[i]))
			casts[i].result = error_set(&casts[i].err, "%s: no queue is bound to this "
						    "routing key (is the guest's slotupd serve "
						    "running?)", casts[i].routing_key);
		else
			casts[i].result = 0;
	}
	return count;
}

/* After mandatory publishes in confirm mode the broker answers, for each,
 * basic.return (no queue took it) and then basic.ack, or basic.nack (it
 * could not store it).  Nothing else is in flight on a publisher link.
 * -1 when the link failed before every cast was settled. */
static int link_await_confirms(struct amqp_link *link, struct amqp_link_cast *casts, size_t n,
			       uint64_t first_tag, unsigned char *settled, unsigned char *returned,
			       struct error *err)
{
	struct timeval timeout = { LINK_CONFIRM_TIMEOUT_S, 0 };
	size_t left = n;
	amqp_frame_t frame;
	amqp_message_t msg;
	int rc;

	while (left) {
		rc = amqp_simple_wait_frame_noblock(link->conn, &frame, &timeout);
		if (rc != AMQP_STATUS_OK)
			return error_set(err, "amqp: no confirmation for %s: %s",
					 casts[0].routing_key, amqp_error_string2(rc));
		if (frame.frame_type != AMQP_FRAME_METHOD)
			continue;
		switch (frame.payload.method.id) {
		case AMQP_BASIC_RETURN_METHOD: {
			amqp_bytes_t key = ((amqp_basic_return_t *)frame.payload.method.decoded)
						   ->routing_key;
			char copy[256];

			/* The frame's memory is reused by the read below. */
			snprintf(copy, sizeof copy, "%.*s", (int)key.len, (char *)key.bytes);
			if (link_check(amqp_read_message(link->conn, frame.channel, &msg, 0),
				       "returned message", err) < 0)
				return -1;
			amqp_destroy_message(&msg);
			key = amqp_cstring_bytes(copy);
			link_mark_returned(casts, n, &key, settled, returned);
			break;
		}
		case AMQP_BASIC_ACK_METHOD: {
			amqp_basic_ack_t *m = frame.payload.method.decoded;

			left -= link_settle(casts, n, first_tag, m->delivery_tag, m->multiple, 1,
					    settled, returned);
			break;
		}
		case AMQP_BASIC_NACK_METHOD: {
			amqp_basic_nack_t *m = frame.payload.method.decoded;

			left -= link_settle(casts, n, first_tag, m->delivery_tag, m->multiple, 0,
					    settled, returned);
			break;
		}
		case AMQP_CHANNEL_CLOSE_METHOD:
		case AMQP_CONNECTION_CLOSE_METHOD:
			return error_set(err, "amqp: the broker closed the link after %s",
					 casts[0].routing_key);
		default:
			break;
		}
	}
	return 0;
}

int amqp_link_publish_confirmed_many(struct amqp_link *link, struct amqp_link_cast *casts,
				     size_t n, struct error *err)
{
	unsigned char *settled = calloc(n ? n : 1, 2);
	uint64_t first_tag = link->published + 1;
	size_t i;
	int rc = 0;

	if (!settled)
		return error_set(err, "amqp: out of memory");
	/* The previous confirmations' frames are done with: a fleet-sized run
	 * on one connection must not grow the connection's pool. */
	amqp_maybe_release_buffers(link->conn);
	for (i = 0; i < n && rc == 0; i++) {
		casts[i].result = -1;
		casts[i].unrouted = 0;
		casts[i].err.text[0] = '\0';
		rc = link_publish(link, casts[i].routing_key, casts[i].body, 1, err);
		if (rc == 0)
			link->published++;
	}
	if (rc == 0)
		rc = link_await_confirms(link, casts, n, first_tag, settled, settled + n, err);
	for (i = 0; i < n; i++) {
		casts[i].answered = settled[i];
		if (!settled[i])
			casts[i].result = error_set(&casts[i].err, "%s", err ? err->text : "");
	}
	free(settled);
	return rc;
}

int amqp_link_publish_confirmed(struct amqp_link *link, const char *routing_key,
				const char *body, struct error *err)
{
	struct amqp_link_cast cast = { .routing_key = routing_key, .body = body };

	if (amqp_link_publish_confirmed_many(link, &cast, 1, err) < 0)
		return -1;
	if (cast.result < 0 && err)
		*err = cast.err;
	return cast.result;
}

void amqp_delivery_free(struct amqp_delivery *d)
{
	free(d->body);
	d->body = NULL;
}
