/* publisher.c: serialised, confirmed casts to guests (see include/fleet_publisher.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "amqp_link.h"
#include "fleet_publisher.h"
#include "rpc_message.h"

struct fleet_publisher {
	pthread_mutex_t lock;
	const struct rpc_keys *keys;
	struct config base;		/* the link's settings; no instance, no key */
	struct config target;		/* base + the instance's id and key, per cast */
	struct amqp_link *link;
	time_t last_used;
};

static time_t publisher_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

int fleet_publisher_new(struct fleet_publisher **out, const struct fleet_config *config,
			const struct rpc_keys *keys, struct error *err)
{
	struct fleet_publisher *pub = calloc(1, sizeof *pub);

	*out = NULL;
	if (!pub)
		return error_set(err, "out of memory");
	pthread_mutex_init(&pub->lock, NULL);
	pub->keys = keys;
	fleet_config_amqp(config, &pub->base);
	*out = pub;
	return 0;
}

void fleet_publisher_free(struct fleet_publisher *pub)
{
	if (!pub)
		return;
	amqp_link_close(pub->link);
	pthread_mutex_destroy(&pub->lock);
	memset(pub->target.amqp.rpc_key, 0, sizeof pub->target.amqp.rpc_key);
	free(pub);
}

/* The oslo body of method(args) for instance_id, sealed if it has a key. */
static int publisher_body(struct fleet_publisher *pub, const char *instance_id,
			  const char *method, json_t *args, char **body, struct error *err)
{
	const char *key = rpc_keys_find(pub->keys, instance_id);
	int rc;

	pub->target = pub->base;
	snprintf(pub->target.amqp.instance_id, sizeof pub->target.amqp.instance_id, "%s",
		 instance_id);
	snprintf(pub->target.amqp.rpc_key, sizeof pub->target.amqp.rpc_key, "%s", key ? key : "");
	rc = rpc_cast_build(method, args, &pub->target, RPC_TO_GUEST, body, err);
	memset(pub->target.amqp.rpc_key, 0, sizeof pub->target.amqp.rpc_key);
	return rc;
}

int fleet_publisher_cast(struct fleet_publisher *pub, const char *instance_id,
			 const char *method, json_t *args, struct error *err)
{
	char routing_key[160], *body = NULL;
	int rc = FLEET_CAST_REFUSED;

	snprintf(routing_key, sizeof routing_key, "guestagent.%s", instance_id);
	pthread_mutex_lock(&pub->lock);
	if (publisher_body(pub, instance_id, method, args, &body, err) < 0)
		goto out;
	if (pub->link && publisher_now() - pub->last_used > FLEET_PUBLISHER_IDLE_S) {
		amqp_link_close(pub->link);
		pub->link = NULL;
	}
	if (!pub->link && amqp_link_open_publisher(&pub->link, &pub->base, err) < 0) {
		rc = FLEET_CAST_UNREACHABLE;
		goto out;
	}
	pub->last_used = publisher_now();
	rc = amqp_link_publish_confirmed(pub->link, routing_key, body, err) < 0 ?
	     FLEET_CAST_REFUSED : 0;
	if (rc < 0) {	/* the link may be broken: a fresh one next time */
		amqp_link_close(pub->link);
		pub->link = NULL;
	}
out:
	pthread_mutex_unlock(&pub->lock);
	free(body);
	return rc;
}
