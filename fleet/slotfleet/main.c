/* slotfleet: the control plane's daemon (docs/fleet.md, "API contract"; docs/openapi.yaml).
 *
 *   slotfleet [-c CONFIG]        default /etc/slotd/slotfleet.ini; foreground
 *   slotfleet --help | --version
 *
 * Loads the config, the token file and the instances' keys, opens the store
 * (one handle per API thread, one for the consumer, one for the rollout
 * driver, one for the outbox), starts the outbox's publisher (the API's
 * casts, fleet_outbox.h), the rollout driver (fleet_rollout.h), the report consumer
 * (which kicks the driver when it stores a FAILED) and the HTTP API, then waits for SIGTERM or SIGINT (signalfd:
 * the signals are blocked in every thread) and stops both cleanly: the API
 * finishes the requests in progress, the consumer leaves any message it has
 * not stored to the broker.  Exit 0 after a clean stop, 1 when a resource
 * (database, listen address) cannot be had, 2 on a usage or config error. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "api/fleet_api.h"
#include "broker/fleet_consumer.h"
#include "rollout/fleet_rollout.h"
#include "rpc_keys.h"
#include "log.h"

#define SLOTFLEET_VERSION "0.1.0"

struct slotfleet {
	struct fleet_config config;
	struct fleet_auth *auth;		/* [api] auth = tokens */
	struct fleet_keystone *keystone;	/* [api] auth = keystone */
	struct rpc_keys *keys;
	struct fleet_ratelimit *rate;
	struct fleet_metrics *metrics;
	struct fleet_pool *pool;
	struct fleet_store *consumer_store;
	struct fleet_publisher *publisher;
	struct fleet_consumer *consumer;
	struct fleet_rollout_driver *rollouts;
	struct fleet_outbox *outbox;
	struct fleet_api_deps deps;
	struct fleet_api *api;
};

static void usage(FILE *out)
{
	fprintf(out, "usage: slotfleet [-c CONFIG]   (default %s)\n"
		     "       slotfleet --help | --version\n", FLEET_CONFIG_DEFAULT_PATH);
}

/* Options before or after operands; slotfleet takes no operand. */
static int parse_args(int argc, char **argv, const char **config_path)
{
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "c:", options, NULL)) != -1) {
		switch (opt) {
		case 'c': *config_path = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'v': printf("slotfleet %s\n", SLOTFLEET_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "slotfleet: unexpected argument '%.60s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	return -1;
}

/* Config, tokens and keys: a problem here is a configuration error (2). */
static int load_files(struct slotfleet *f, const char *config_path, struct error *err)
{
	if (fleet_config_load(&f->config, config_path, err) < 0)
		return -1;
	if (!f->config.api.keystone && fleet_auth_load(&f->auth, f->config.api.tokens, err) < 0)
		return error_prefix(err, "[api] tokens: ");
	if (f->config.amqp.rpc_keys[0] && rpc_keys_load(&f->keys, f->config.amqp.rpc_keys, err) < 0)
		return error_prefix(err, "[amqp] rpc_keys: ");
	return fleet_ratelimit_new(&f->rate, f->config.api.rate_count, f->config.api.rate_period_ms,
				   f->config.api.burst, err);
}

/* The consumer stored a FAILED: the rollouts are judged before any more casts. */
static void kick_rollouts(void *driver)
{
	fleet_rollout_kick(driver);
}

/* Keystone being down at start is no reason not to start: requests get
 * 503 until it answers.  A refused password is logged the same way. */
static int start_keystone(struct slotfleet *f, struct error *err)
{
	struct error why = { "" };

	if (fleet_keystone_new(&f->keystone, &f->config, f->metrics, err) < 0)
		return -1;
	if (fleet_keystone_prime(f->keystone, &why) < 0)
		log_warn("%s (tried again at requests, at most every %d s)", why.text,
			 FLEET_KEYSTONE_ISSUE_BACKOFF_S);
	return 0;
}

static int start(struct slotfleet *f, struct error *err)
{
	const char *spec = f->config.db.path[0] ? f->config.db.path : f->config.db.url;

	if (fleet_metrics_new(&f->metrics, &fleet_api_routes, err) < 0 ||
	    (f->config.api.keystone && start_keystone(f, err) < 0) ||
	    fleet_store_open(&f->consumer_store, spec, err) < 0 ||
	    fleet_pool_open(&f->pool, spec, f->config.api.threads, err) < 0 ||
	    fleet_publisher_new(&f->publisher, &f->config, f->keys, err) < 0 ||
	    fleet_outbox_start(&f->outbox, spec, f->publisher, err) < 0 ||
	    fleet_rollout_start(&f->rollouts, spec, f->publisher, f->config.amqp.rpc_version_cap,
				err) < 0 ||
	    fleet_consumer_start(&f->consumer, &f->config, f->keys, f->consumer_store,
				 f->metrics, kick_rollouts, f->rollouts, err) < 0)
		return -1;
	f->deps = (struct fleet_api_deps){ &f->config, f->auth, f->keystone, f->rate, f->pool,
					   f->publisher, f->metrics, f->outbox };
	if (fleet_api_start(&f->api, &f->deps, err) < 0)
		return -1;
	if (f->keystone)
		log_info("listening on %s port %u (store: %s, auth: keystone)", f->config.api.host,
			 fleet_api_port(f->api), fleet_store_backend(f->consumer_store));
	else
		log_info("listening on %s port %u (store: %s, %u tokens)", f->config.api.host,
			 fleet_api_port(f->api), fleet_store_backend(f->consumer_store),
			 (unsigned)fleet_auth_count(f->auth));
	return 0;
}

/* In reverse order of start; every piece may be missing. */
static void stop(struct slotfleet *f)
{
	fleet_api_stop(f->api);
	fleet_consumer_stop(f->consumer);	/* first: it kicks the driver */
	fleet_rollout_stop(f->rollouts);
	fleet_outbox_stop(f->outbox);		/* after the API: it kicks the outbox */
	fleet_publisher_free(f->publisher);
	fleet_pool_close(f->pool);
	fleet_store_close(f->consumer_store);
	fleet_ratelimit_free(f->rate);
	fleet_metrics_free(f->metrics);
	rpc_keys_free(f->keys);
	fleet_auth_free(f->auth);
	fleet_keystone_free(f->keystone);
}

static void wait_for_signal(int fd)
{
	struct signalfd_siginfo info;

	while (read(fd, &info, sizeof info) != (ssize_t)sizeof info)
		;
	log_info("signal %u: stopping", info.ssi_signo);
}

int main(int argc, char **argv)
{
	static struct slotfleet f;
	const char *config_path = NULL;
	struct error err = { "" };
	sigset_t signals;
	int rc, fd;

	log_init("slotfleet");
	rc = parse_args(argc, argv, &config_path);
	if (rc >= 0)
		return rc;
	if (load_files(&f, config_path, &err) < 0) {
		fprintf(stderr, "slotfleet: %s\n", err.text);
		stop(&f);
		return 2;
	}
	/* Blocked before any thread starts, so only the signalfd sees them. */
	sigemptyset(&signals);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	signal(SIGPIPE, SIG_IGN);
	if (sigprocmask(SIG_BLOCK, &signals, NULL) < 0 || (fd = signalfd(-1, &signals, SFD_CLOEXEC)) < 0) {
		perror("slotfleet: signalfd");
		stop(&f);
		return 1;
	}
	rc = 0;
	if (start(&f, &err) < 0) {
		log_error("%s", err.text);
		rc = 1;
	} else {
		wait_for_signal(fd);
	}
	stop(&f);
	close(fd);
	log_info("stopped");
	return rc;
}
