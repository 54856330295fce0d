/* publisher.c: confirmed casts to guests, in groups (see broker/fleet_publisher.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "amqp_link.h"
#include "sync/fleet_group.h"
#include "broker/fleet_publisher.h"
#include "rpc_message.h"

/* One caller's cast, until a group's leader has published it. */
struct publisher_job {
	const char *instance_id, *method, *version;	/* version NULL: "1.0" */
	json_t *args;			/* stolen */
	int rc;
	int unrouted;			/* refused: no queue bound */
	struct error err;
};

struct fleet_publisher {
	struct fleet_group group;
	/* Only the group's leader touches the rest: */
	const struct rpc_keys *keys;
	struct config base;		/* the link's settings; no instance, no key */
	struct config target;		/* base + the instance's id and key, per cast */
	struct amqp_link *link;
	time_t last_used;
	struct publisher_job *built[FLEET_PUBLISHER_BATCH];
	struct amqp_link_cast casts[FLEET_PUBLISHER_BATCH];
	char *bodies[FLEET_PUBLISHER_BATCH];
	char routing_keys[FLEET_PUBLISHER_BATCH][160];
};

static void publisher_run(void *ctx, void *const *jobs, size_t n);

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
	fleet_group_init(&pub->group, FLEET_PUBLISHER_BATCH, publisher_run, pub);
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
	fleet_group_destroy(&pub->group);
	memset(pub->target.amqp.rpc_key, 0, sizeof pub->target.amqp.rpc_key);
	free(pub);
}

/* The oslo body of method(args) for instance_id, sealed if it has a key. */
static int publisher_body(struct fleet_publisher *pub, const struct publisher_job *job,
			  char **body, struct error *err)
{
	const char *instance_id = job->instance_id;
	const char *key = rpc_keys_find(pub->keys, instance_id);
	int rc;

	pub->target = pub->base;
	snprintf(pub->target.amqp.instance_id, sizeof pub->target.amqp.instance_id, "%s",
		 instance_id);
	snprintf(pub->target.amqp.rpc_key, sizeof pub->target.amqp.rpc_key, "%s", key ? key : "");
	rc = rpc_cast_build_version(job->method, job->version ? job->version : "1.0", job->args,
				    &pub->target, RPC_TO_GUEST, body, err);
	memset(pub->target.amqp.rpc_key, 0, sizeof pub->target.amqp.rpc_key);
	return rc;
}

/* A link that is open and was used recently, or FLEET_CAST_UNREACHABLE. */
static int publisher_link(struct fleet_publisher *pub, struct error *err)
{
	if (pub->link && publisher_now() - pub->last_used > FLEET_PUBLISHER_IDLE_S) {
		amqp_link_close(pub->link);
		pub->link = NULL;
	}
	/* A new link also declares and binds slotfleet's own queue: after a
	 * broker restart the (transient, as oslo's) exchange and so the binding
	 * are gone until the consumer reconnects, which may be seconds behind
	 * this link; a guest's answer in between would be unroutable, dropped,
	 * and its record would stay unfinished. */
	if (!pub->link && (amqp_link_open_publisher(&pub->link, &pub->base, err) < 0 ||
			   amqp_link_declare_queue(pub->link, pub->base.amqp.queue,
						   pub->base.amqp.conductor_topic, err) < 0)) {
		amqp_link_close(pub->link);
		pub->link = NULL;
		return FLEET_CAST_UNREACHABLE;
	}
	pub->last_used = publisher_now();
	return 0;
}

/* The group's batch: builds every body, publishes them and awaits their
 * confirmations together; sets each job's rc and err. */
static void publisher_run(void *ctx, void *const *jobs, size_t n)
{
	struct fleet_publisher *pub = ctx;
	struct error err = { "" };
	size_t i, sent = 0;
	int rc;

	for (i = 0; i < n; i++) {
		struct publisher_job *job = jobs[i];

		pub->bodies[i] = NULL;
		job->rc = FLEET_CAST_REFUSED;
		snprintf(pub->routing_keys[i], sizeof pub->routing_keys[i], "guestagent.%s",
			 job->instance_id);
		if (publisher_body(pub, job, &pub->bodies[i], &job->err) < 0)
			continue;
		pub->casts[sent] = (struct amqp_link_cast){ pub->routing_keys[i], pub->bodies[i] };
		pub->built[sent++] = job;
	}
	rc = sent ? publisher_link(pub, &err) : 0;
	if (rc == 0 && sent && amqp_link_publish_confirmed_many(pub->link, pub->casts, sent,
								&err) < 0) {
		amqp_link_close(pub->link);	/* broken: a fresh one next time */
		pub->link = NULL;
	}
	for (i = 0; i < sent; i++) {
		const struct amqp_link_cast *c = &pub->casts[i];

		/* Unanswered when the link broke (a broker restart): it may or
		 * may not be queued, so it is to be sent again, not failed. */
		pub->built[i]->rc = rc ? rc : c->result == 0 ? 0 :
				    c->answered ? FLEET_CAST_REFUSED : FLEET_CAST_UNREACHABLE;
		pub->built[i]->err = rc ? err : c->err;
		pub->built[i]->unrouted = !rc && c->answered && c->unrouted;
	}
	for (i = 0; i < n; i++)
		free(pub->bodies[i]);
}

int fleet_publisher_cast_many(struct fleet_publisher *pub, size_t n,
			      struct fleet_publisher_cast *casts, struct error *err)
{
	struct publisher_job *jobs = calloc(n ? n : 1, sizeof *jobs);
	void **ptrs = calloc(n ? n : 1, sizeof *ptrs);
	size_t i;
	int rc = 0;

	if (!jobs || !ptrs) {
		rc = error_set(err, "publisher: out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		jobs[i] = (struct publisher_job){ .instance_id = casts[i].instance_id,
						  .method = casts[i].method, .version = casts[i].version,
						  .args = casts[i].args };
		ptrs[i] = &jobs[i];
	}
	if (fleet_group_run_many(&pub->group, ptrs, n) < 0) {
		rc = error_set(err, "publisher: out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		casts[i].args = NULL;	/* stolen by the run */
		casts[i].rc = jobs[i].rc;
		casts[i].unrouted = jobs[i].unrouted;
		casts[i].err = jobs[i].err;
	}
out:
	for (i = 0; rc < 0 && i < n; i++) {
		json_decref(casts[i].args);
		casts[i].args = NULL;
	}
	free(jobs);
	free(ptrs);
	return rc;
}

int fleet_publisher_cast(struct fleet_publisher *pub, const char *instance_id,
			 const char *method, json_t *args, struct error *err)
{
	struct publisher_job job = { .instance_id = instance_id, .method = method, .args = args };

	fleet_group_run(&pub->group, &job);
	if (job.rc < 0 && err)
		*err = job.err;
	return job.rc;
}
