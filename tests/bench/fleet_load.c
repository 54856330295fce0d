/* fleet_load.c: load for tests/bench/slotfleet.sh, straight on AMQP
 * (librabbitmq), building every message with the guests' own code
 * (rpc_cast_build), so slotfleet sees exactly what slotupd serve sends.
 *
 *   fleet_load sink URL QUEUE KEY
 *       declares the durable QUEUE bound to the trove exchange with KEY
 *       (e.g. guestagent.# : every cast is queued, as if each guest had its
 *       queue) and exits.
 *   fleet_load publish URL QUEUE TOPIC COUNT INSTANCES [KEYS]
 *       declares QUEUE bound to TOPIC (as slotfleet does) and publishes
 *       COUNT reports, persistent, for INSTANCES ids load-0..: per instance
 *       the outcomes DOWNLOADING..SUCCESS of one upgrade then a heartbeat,
 *       again with a new upgrade id, in order.  Sealed with the instance's
 *       key when KEYS ("ID KEY" lines) has one.  Returns once QUEUE holds
 *       them all; prints "published COUNT in S s (R/s)".
 *   fleet_load watch URL TOTAL TIMEOUT_S QUEUE...
 *       samples the ready messages of the QUEUEs (summed) every 2 ms.  With
 *       TOTAL > 0: until the sum has left TOTAL and come down to 0, then
 *       prints "drain START_MS END_MS peak N" (CLOCK_REALTIME ms).  With
 *       TOTAL 0: until SIGTERM (or TIMEOUT_S), then prints "peak N samples S".
 *   fleet_load guests URL N CONNS VERSION [KEYS]
 *       N simulated guests sim-0..N-1 on CONNS connections (a thread each,
 *       its share of the ids bound to one durable queue sim-guests-C).
 *       Prints "ready" once bound.  Each upgrade cast (checked and unsealed
 *       by rpc_message_parse, as slotupd serve does) is answered with the
 *       outcomes DOWNLOADING..SUCCESS and a heartbeat of VERSION, then
 *       acknowledged.  Exits after N casts (or SIGTERM, or an hour), printing
 *       "answered N".
 *   fleet_load rollout URL N CONNS LOG [FAILS]
 *       the same N guests for a rollout (tests/bench/rollout.sh), until
 *       SIGTERM (or an hour): every upgrade cast is logged in LOG as
 *       "T CAST ID UPGRADE_ID" (T: CLOCK_REALTIME seconds, as it is taken
 *       from the queue) and answered like `guests` does, except by the ids
 *       listed in FAILS (one a line): DOWNLOADING, then FAILED, logged
 *       "T SENT ID UPGRADE_ID FAILED" just before it is published.  A cast
 *       with an upgrade id the guest answered already (a re-sent cast) is
 *       logged, not answered again.  With LOAD_HEARTBEAT=VERSION in the
 *       environment every guest first sends one heartbeat of VERSION (before
 *       "ready"; tests/bench/policy.sh: the old version a policy upgrades).
 *       With LOAD_HEARTBEAT_EVERY=S as well, every guest heartbeats again
 *       every S seconds (its current version: the one it last upgraded to),
 *       spread evenly over S, as Trove's guests do (S = 60).
 * Heartbeats carry rpc_api_version RPC_API_VERSION, as slotupd serve's do.
 * LOAD_SAMPLES=FILE in the environment makes watch append "T_MS DEPTH" to
 * FILE at every change of the sum (to see the depth over time).
 * LOAD_TRANSIENT=1 in the environment declares the queues not durable (to
 * see what the broker's disk costs).  Exit 0, or 1 with the reason on
 * stderr. */
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "rpc_keys.h"
#include "rpc_message.h"

#define CHANNEL 1
#define EXCHANGE "trove"
#define TOPIC "trove-conductor"
#define GUEST_PREFETCH 200

static const char *const load_states[] = { "DOWNLOADING", "VERIFYING", "INSTALLING",
					   "ACTIVATING", "SUCCESS" };
static volatile sig_atomic_t load_stop;

static void load_on_signal(int sig)
{
	(void)sig;
	load_stop = 1;
}

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "fleet_load: %s: %s\n", what, detail);
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void check_reply(amqp_connection_state_t conn, const char *what)
{
	amqp_rpc_reply_t r = amqp_get_rpc_reply(conn);

	if (r.reply_type != AMQP_RESPONSE_NORMAL)
		die(what, r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION ?
			  amqp_error_string2(r.library_error) : "refused by the broker");
}

static amqp_connection_state_t load_connect(const char *url_arg)
{
	struct amqp_connection_info info;
	amqp_connection_state_t conn = amqp_new_connection();
	amqp_socket_t *sock = conn ? amqp_tcp_socket_new(conn) : NULL;
	char *url = strdup(url_arg);

	if (!sock || !url || amqp_parse_url(url, &info) != AMQP_STATUS_OK)
		die("connect", "bad URL or out of memory");
	if (!info.vhost[0])
		info.vhost = "/";
	if (amqp_socket_open(sock, info.host, info.port) != AMQP_STATUS_OK)
		die("connect", "cannot reach the broker");
	if (amqp_login(conn, info.vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, info.user,
		       info.password).reply_type != AMQP_RESPONSE_NORMAL)
		die("connect", "login refused");
	amqp_channel_open(conn, CHANNEL);
	check_reply(conn, "channel");
	amqp_exchange_declare(conn, CHANNEL, amqp_cstring_bytes(EXCHANGE),
			      amqp_cstring_bytes("topic"), 0, 0, 0, 0, amqp_empty_table);
	check_reply(conn, "declare exchange");
	free(url);
	return conn;
}

static void load_queue(amqp_connection_state_t conn, const char *queue, const char *key)
{
	int durable = !getenv("LOAD_TRANSIENT");

	amqp_queue_declare(conn, CHANNEL, amqp_cstring_bytes(queue), 0, durable, 0, 0,
			   amqp_empty_table);
	check_reply(conn, "declare queue");
	if (key) {
		amqp_queue_bind(conn, CHANNEL, amqp_cstring_bytes(queue),
				amqp_cstring_bytes(EXCHANGE), amqp_cstring_bytes(key),
				amqp_empty_table);
		check_reply(conn, "bind queue");
	}
}

/* Ready messages in queue (a passive declare). */
static long load_depth(amqp_connection_state_t conn, const char *queue)
{
	amqp_queue_declare_ok_t *ok = amqp_queue_declare(conn, CHANNEL, amqp_cstring_bytes(queue),
							 1, 0, 0, 0, amqp_empty_table);

	check_reply(conn, "passive declare");
	return ok ? (long)ok->message_count : 0;
}

static void load_publish_body(amqp_connection_state_t conn, const char *body)
{
	amqp_basic_properties_t props = {
		._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG,
		.content_type = amqp_cstring_bytes("application/json"),
		.delivery_mode = 2,
	};

	if (amqp_basic_publish(conn, CHANNEL, amqp_cstring_bytes(EXCHANGE),
			       amqp_cstring_bytes(TOPIC), 0, 0, &props,
			       amqp_cstring_bytes(body)) != AMQP_STATUS_OK)
		die("publish", "the link broke");
}

/* One report, as slotupd serve builds it: the outcome state, or (NULL) a
 * heartbeat of version to. */
static void load_report(amqp_connection_state_t conn, struct config *cfg,
			const struct rpc_keys *keys, const char *instance, const char *upgrade_id,
			const char *state, const char *from, const char *to)
{
	const char *key = keys ? rpc_keys_find(keys, instance) : NULL;
	struct error err = { "" };
	json_t *args;
	char *body;

	snprintf(cfg->amqp.instance_id, sizeof cfg->amqp.instance_id, "%s", instance);
	snprintf(cfg->amqp.rpc_key, sizeof cfg->amqp.rpc_key, "%s", key ? key : "");
	if (state)
		args = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:f}", "instance_id", instance,
				 "upgrade_id", upgrade_id, "from_version", from, "to_version", to,
				 "state", state, "reason",
				 strcmp(state, "FAILED") ? "" : "sim: download failed", "sent", now_s());
	else
		args = json_pack("{s:s, s:{s:s, s:s, s:s}, s:f}", "instance_id", instance, "payload",
				 "agent_version", to, "agent_slot", "b", "rpc_api_version",
				 RPC_API_VERSION, "sent", now_s());
	if (rpc_cast_build(state ? "guest_upgrade_outcome" : "heartbeat", args, cfg,
			   RPC_TO_CONDUCTOR, &body, &err) < 0)
		die("build", err.text);
	load_publish_body(conn, body);
	free(body);
}

static struct rpc_keys *load_keys(const char *path)
{
	struct rpc_keys *keys = NULL;
	struct error err = { "" };

	if (path && rpc_keys_load(&keys, path, &err) < 0)
		die("keys", err.text);
	return keys;
}

static int cmd_sink(char **argv)
{
	amqp_connection_state_t conn = load_connect(argv[0]);

	load_queue(conn, argv[1], argv[2]);
	amqp_destroy_connection(conn);
	return 0;
}

static int cmd_publish(char **argv, int argc)
{
	amqp_connection_state_t conn = load_connect(argv[0]);
	long count = atol(argv[3]), instances = atol(argv[4]), k, base;
	struct rpc_keys *keys = load_keys(argc > 5 ? argv[5] : NULL);
	static struct config cfg;
	char instance[64], upgrade_id[64];
	double start;

	if (count <= 0 || instances <= 0)
		die("publish", "COUNT and INSTANCES must be positive");
	config_defaults(&cfg);
	load_queue(conn, argv[1], argv[2]);
	base = load_depth(conn, argv[1]);
	start = now_s();
	for (k = 0; k < count; k++) {
		long round = k / instances;

		snprintf(instance, sizeof instance, "load-%ld", k % instances);
		snprintf(upgrade_id, sizeof upgrade_id, "load-%ld-%ld", k % instances, round / 6);
		load_report(conn, &cfg, keys, instance, upgrade_id,
			    round % 6 < 5 ? load_states[round % 6] : NULL, "v1.0.0", "v2.0.0");
	}
	while (load_depth(conn, argv[1]) < base + count)
		usleep(2000);
	printf("published %ld in %.2f s (%.0f/s)\n", count, now_s() - start,
	       count / (now_s() - start));
	rpc_keys_free(keys);
	amqp_destroy_connection(conn);
	return 0;
}

static long watch_sum(amqp_connection_state_t conn, char **queues, int n)
{
	long sum = 0;
	int i;

	for (i = 0; i < n; i++)
		sum += load_depth(conn, queues[i]);
	return sum;
}

static int cmd_watch(char **argv, int argc)
{
	amqp_connection_state_t conn = load_connect(argv[0]);
	long total = atol(argv[1]), depth, peak = 0, samples = 0, last = -1;
	double deadline = now_s() + atof(argv[2]), start = 0;
	const char *path = getenv("LOAD_SAMPLES");
	FILE *log = path ? fopen(path, "a") : NULL;

	if (path && !log)
		die(path, "cannot open");
	while (!load_stop && now_s() < deadline) {
		depth = watch_sum(conn, argv + 3, argc - 3);
		samples++;
		if (log && depth != last)
			fprintf(log, "%.0f %ld\n", now_s() * 1000, depth);
		last = depth;
		peak = depth > peak ? depth : peak;
		if (total > 0 && !start && depth < total)
			start = now_s();
		if (total > 0 && start && depth == 0) {
			printf("drain %.0f %.0f peak %ld\n", start * 1000, now_s() * 1000, peak);
			return 0;
		}
		usleep(2000);
	}
	if (total > 0)
		die("watch", "the queues did not drain in time");
	printf("peak %ld samples %ld\n", peak, samples);
	if (log)
		fclose(log);
	amqp_destroy_connection(conn);
	return 0;
}

struct guests {
	const char *url, *version;
	const char *heartbeat;		/* `rollout`: LOAD_HEARTBEAT, or NULL */
	double every;			/* `rollout`: LOAD_HEARTBEAT_EVERY s, or 0 */
	char (*runs)[24];		/* with every: per guest, the version it runs */
	long n;
	int conns;
	int rollout;			/* `rollout`: until SIGTERM, logging */
	const struct rpc_keys *keys;
	FILE *log;			/* `rollout`: CAST and SENT lines */
	unsigned char *fails;		/* `rollout`: per guest, 1 answers FAILED */
	char (*last)[64];		/* `rollout`: per guest, the last upgrade id */
	atomic_long answered;
	atomic_int bound;
};

struct guest_conn {
	struct guests *g;
	int index;
	pthread_t thread;
};

static void guest_bind(amqp_connection_state_t conn, const struct guest_conn *gc,
		       const char *queue)
{
	char key[96];
	long i;

	load_queue(conn, queue, NULL);
	for (i = gc->index; i < gc->g->n; i += gc->g->conns) {
		snprintf(key, sizeof key, "guestagent.sim-%ld", i);
		amqp_queue_bind(conn, CHANNEL, amqp_cstring_bytes(queue),
				amqp_cstring_bytes(EXCHANGE), amqp_cstring_bytes(key),
				amqp_empty_table);
		check_reply(conn, "bind");
	}
	amqp_basic_qos(conn, CHANNEL, 0, GUEST_PREFETCH, 0);
	check_reply(conn, "prefetch");
	amqp_basic_consume(conn, CHANNEL, amqp_cstring_bytes(queue), amqp_empty_bytes, 0, 0, 0,
			   amqp_empty_table);
	check_reply(conn, "consume");
}

/* sim-I's index I, or -1. */
static long guest_index(const struct guests *g, const char *instance)
{
	char *end;
	long i;

	if (strncmp(instance, "sim-", 4))
		return -1;
	i = strtol(instance + 4, &end, 10);
	return *end || i < 0 || i >= g->n ? -1 : i;
}

/* `rollout`: logs the cast; 1 when it is to be answered (not a re-sent one). */
static int guest_log_cast(struct guests *g, long i, const char *instance, const char *upgrade_id)
{
	fprintf(g->log, "%.6f CAST %s %s\n", now_s(), instance, upgrade_id);
	if (i < 0 || !strcmp(g->last[i], upgrade_id))
		return 0;
	snprintf(g->last[i], sizeof g->last[i], "%s", upgrade_id);
	return 1;
}

/* One cast: checked and unsealed like slotupd serve does, then answered. */
static void guest_answer(amqp_connection_state_t conn, struct guests *g, struct config *cfg,
			 const amqp_envelope_t *env)
{
	const char *rk = (const char *)env->routing_key.bytes, *key;
	char instance[128];
	struct rpc_request req;
	struct error err = { "" };
	long i;
	int step, fail;

	snprintf(instance, sizeof instance, "%.*s", (int)env->routing_key.len - 11, rk + 11);
	key = g->keys ? rpc_keys_find(g->keys, instance) : NULL;
	snprintf(cfg->amqp.instance_id, sizeof cfg->amqp.instance_id, "%s", instance);
	snprintf(cfg->amqp.rpc_key, sizeof cfg->amqp.rpc_key, "%s", key ? key : "");
	if (rpc_message_parse(env->message.body.bytes, env->message.body.len, cfg, &req, &err) < 0 ||
	    req.kind != RPC_UPGRADE)
		die("cast refused", err.text[0] ? err.text : "not an upgrade");
	i = guest_index(g, instance);
	fail = g->rollout && i >= 0 && g->fails[i];
	if (g->runs && i >= 0 && !fail)	/* what its next heartbeats say */
		snprintf(g->runs[i], sizeof g->runs[i], "%.23s", req.instance_version);
	if (!g->rollout || guest_log_cast(g, i, instance, req.unique_id)) {
		for (step = 0; step < (fail ? 1 : 5); step++)
			load_report(conn, cfg, g->keys, instance, req.unique_id, load_states[step],
				    "v1.0.0", req.instance_version);
		if (fail)
			fprintf(g->log, "%.6f SENT %s %s FAILED\n", now_s(), instance, req.unique_id);
		load_report(conn, cfg, g->keys, instance, req.unique_id, fail ? "FAILED" : NULL,
			    "v1.0.0", req.instance_version);
	}
	if (amqp_basic_ack(conn, CHANNEL, env->delivery_tag, 0) != AMQP_STATUS_OK)
		die("ack", "the link broke");
	atomic_fetch_add(&g->answered, 1);
}

/* With LOAD_HEARTBEAT_EVERY: the heartbeats of this connection's guests
 * that are due by now, at n / conns / every per second; *sent counts them. */
static void guest_heartbeats(amqp_connection_state_t conn, const struct guest_conn *gc,
			     struct config *cfg, double start, long *sent)
{
	struct guests *g = gc->g;
	long mine = (g->n - gc->index + g->conns - 1) / g->conns, i;
	long due = (long)((now_s() - start) * (double)mine / g->every);
	char instance[64];

	for (; *sent < due; ++*sent) {
		i = gc->index + (*sent % mine) * g->conns;
		snprintf(instance, sizeof instance, "sim-%ld", i);
		load_report(conn, cfg, g->keys, instance, "", NULL, g->runs[i], g->runs[i]);
	}
}

static void *guest_main(void *arg)
{
	struct guest_conn *gc = arg;
	struct guests *g = gc->g;
	amqp_connection_state_t conn = load_connect(g->url);
	struct timeval timeout = { 0, gc->g->every > 0 ? 10000 : 200000 };
	double start;
	long beats = 0;
	struct config *cfg = calloc(1, sizeof *cfg);
	amqp_envelope_t env;
	amqp_rpc_reply_t r;
	char queue[64];

	if (!cfg)
		die("guests", "out of memory");
	config_defaults(cfg);
	snprintf(queue, sizeof queue, "sim-guests-%d", gc->index);
	guest_bind(conn, gc, queue);
	if (g->heartbeat) {
		char instance[64];
		long i;

		for (i = gc->index; i < g->n; i += g->conns) {
			snprintf(instance, sizeof instance, "sim-%ld", i);
			load_report(conn, cfg, g->keys, instance, "", NULL, g->heartbeat,
				    g->heartbeat);
		}
	}
	atomic_fetch_add(&g->bound, 1);
	start = now_s();
	while (!load_stop && (g->rollout || atomic_load(&g->answered) < g->n)) {
		if (g->every > 0)
			guest_heartbeats(conn, gc, cfg, start, &beats);
		amqp_maybe_release_buffers(conn);
		r = amqp_consume_message(conn, &env, &timeout, 0);
		if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
		    r.library_error == AMQP_STATUS_TIMEOUT)
			continue;
		if (r.reply_type != AMQP_RESPONSE_NORMAL)
			die("consume", "the link broke");
		guest_answer(conn, g, cfg, &env);
		amqp_destroy_envelope(&env);
	}
	free(cfg);
	amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
	amqp_destroy_connection(conn);
	return NULL;
}

/* Runs g's threads until they are done; prints "ready" once all are bound. */
static void guests_run(struct guests *g)
{
	struct guest_conn *gc;
	double deadline = now_s() + 3600;
	int i;

	signal(SIGALRM, load_on_signal);
	alarm(3600);
	if (g->n <= 0 || g->conns <= 0 || g->conns > 64)
		die("guests", "N must be positive, CONNS 1..64");
	if (!(gc = calloc((size_t)g->conns, sizeof *gc)))
		die("guests", "out of memory");
	for (i = 0; i < g->conns; i++) {
		gc[i] = (struct guest_conn){ g, i, 0 };
		if (pthread_create(&gc[i].thread, NULL, guest_main, &gc[i]))
			die("guests", "cannot start a thread");
	}
	while (atomic_load(&g->bound) < g->conns && now_s() < deadline)
		usleep(10000);
	printf("ready\n");
	fflush(stdout);
	for (i = 0; i < g->conns; i++)
		pthread_join(gc[i].thread, NULL);
	printf("answered %ld\n", atomic_load(&g->answered));
	free(gc);
}

static int cmd_guests(char **argv, int argc)
{
	static struct guests g;

	g.url = argv[0];
	g.n = atol(argv[1]);
	g.conns = atoi(argv[2]);
	g.version = argv[3];
	g.keys = load_keys(argc > 4 ? argv[4] : NULL);
	guests_run(&g);
	return 0;
}

/* FAILS: one guest id a line, each sim-I with I below g->n. */
static void rollout_fails(struct guests *g, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[128];
	long i;

	if (!f)
		die(path, "cannot open");
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!line[0])
			continue;
		if ((i = guest_index(g, line)) < 0)
			die(path, "a line is not a guest sim-I of this run");
		g->fails[i] = 1;
	}
	fclose(f);
}

static int cmd_rollout(char **argv, int argc)
{
	static struct guests g;

	g.url = argv[0];
	g.n = atol(argv[1]);
	g.conns = atoi(argv[2]);
	g.version = "";
	g.rollout = 1;
	g.heartbeat = getenv("LOAD_HEARTBEAT");
	if (g.heartbeat && !g.heartbeat[0])
		g.heartbeat = NULL;
	if (g.n <= 0 || g.n > 1000000)
		die("rollout", "N must be 1..1000000");
	g.fails = calloc((size_t)g.n, 1);
	g.last = calloc((size_t)g.n, sizeof *g.last);
	if (!g.fails || !g.last)
		die("rollout", "out of memory");
	if (g.heartbeat && getenv("LOAD_HEARTBEAT_EVERY")) {
		long i;

		g.every = atof(getenv("LOAD_HEARTBEAT_EVERY"));
		if (!(g.every > 0) || !(g.runs = calloc((size_t)g.n, sizeof *g.runs)))
			die("rollout", "LOAD_HEARTBEAT_EVERY: seconds > 0, memory");
		for (i = 0; i < g.n; i++)
			snprintf(g.runs[i], sizeof g.runs[i], "%.23s", g.heartbeat);
	}
	if (!(g.log = fopen(argv[3], "a")))
		die(argv[3], "cannot open");
	setvbuf(g.log, NULL, _IOLBF, 0);	/* read while it runs */
	if (argc > 4)
		rollout_fails(&g, argv[4]);
	guests_run(&g);
	fclose(g.log);
	free(g.fails);
	free(g.last);
	free(g.runs);
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGTERM, load_on_signal);
	signal(SIGINT, load_on_signal);
	if (argc >= 5 && !strcmp(argv[1], "sink"))
		return cmd_sink(argv + 2);
	if (argc >= 7 && !strcmp(argv[1], "publish"))
		return cmd_publish(argv + 2, argc - 2);
	if (argc >= 6 && !strcmp(argv[1], "watch"))
		return cmd_watch(argv + 2, argc - 2);
	if (argc >= 6 && !strcmp(argv[1], "guests"))
		return cmd_guests(argv + 2, argc - 2);
	if (argc >= 6 && !strcmp(argv[1], "rollout"))
		return cmd_rollout(argv + 2, argc - 2);
	fprintf(stderr, "usage: fleet_load sink URL QUEUE KEY\n"
			"       fleet_load publish URL QUEUE TOPIC COUNT INSTANCES [KEYS]\n"
			"       fleet_load watch URL TOTAL TIMEOUT_S QUEUE...\n"
			"       fleet_load guests URL N CONNS VERSION [KEYS]\n"
			"       fleet_load rollout URL N CONNS LOG [FAILS]\n");
	return 2;
}
