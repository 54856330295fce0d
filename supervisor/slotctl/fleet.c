/* fleet.c: slotctl's control-plane side, for deployments without Trove.
 *
 * Publishes the casts Trove's guest API would send: upgrade(...) or
 * rollback() in the oslo.messaging envelope with an admin context, on
 * [amqp] exchange with routing key guestagent.<instance>, sealed with
 * the instance's key from [amqp] rpc_keys ("INSTANCE_ID KEY" lines, or
 * --keys FILE), else with [amqp] rpc_key when one is set.  Every input (ids, instance file, version,
 * location, metadata, rate) is checked before the first message goes out, so a typo
 * never half-notifies a fleet.  Each message is confirmed by the broker and
 * must reach a queue; one line per instance on stdout, "ID UPGRADE_ID queued",
 * failures on stderr.  Exit 0 when every cast was queued, 1 when some were
 * not, 2 on bad input. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "amqp_link.h"
#include "history.h"
#include "number.h"
#include "rpc_keys.h"
#include "request_check.h"
#include "rpc_message.h"
#include "slotctl.h"

#define FLEET_INSTANCES_MAX 1000000u

struct fleet_plan {
	const char *method;		/* "upgrade" or "rollback" */
	char **instances;
	size_t count, capacity;
	const char *version, *location, *strategy, *sha256, *id;
	const char *metadata_json;	/* --metadata: args.metadata, for the guest's fetcher */
	json_t *metadata;		/* it parsed, once checked */
	long long interval_ns;		/* between two casts; 0: unthrottled */
	const char *keys_path;		/* --keys, else [amqp] rpc_keys */
	struct rpc_keys *keys;		/* per-instance RPC keys, or NULL */
};

static int fleet_add(struct fleet_plan *plan, const char *id, struct error *err)
{
	char **grown;

	if (plan->count == FLEET_INSTANCES_MAX)
		return error_set(err, "more than %u instances", FLEET_INSTANCES_MAX);
	if (plan->count == plan->capacity) {
		plan->capacity = plan->capacity ? plan->capacity * 2 : 16;
		grown = realloc(plan->instances, plan->capacity * sizeof *grown);
		if (!grown)
			return error_set(err, "out of memory");
		plan->instances = grown;
	}
	plan->instances[plan->count] = strdup(id);
	if (!plan->instances[plan->count])
		return error_set(err, "out of memory");
	plan->count++;
	return 0;
}

/* One id a line; blank lines and '#' comments skipped. */
static int fleet_read_instances(struct fleet_plan *plan, const char *path, struct error *err)
{
	FILE *file = fopen(path, "re");
	char *line = NULL, *start, *end;
	size_t size = 0;
	unsigned number = 0;
	int rc = -1;

	if (!file)
		return error_set(err, "%s: %s", path, strerror(errno));
	while (getline(&line, &size, file) >= 0) {
		number++;
		for (start = line; *start == ' ' || *start == '\t'; start++)
			;
		end = start + strcspn(start, "#\r\n");
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		*end = '\0';
		if (!*start)
			continue;
		if (request_check_id("instance id", start, REQUEST_INSTANCE_MAX, err) < 0 || fleet_add(plan, start, err) < 0) {
			error_prefix(err, "%s:%u: ", path, number);
			goto out;
		}
	}
	if (ferror(file)) {
		error_set(err, "%s: read error", path);
		goto out;
	}
	rc = plan->count ? 0 : error_set(err, "%s: no instance ids", path);
out:
	free(line);
	fclose(file);
	return rc;
}

/* "N/s", "N/m" or "N/h" (N a whole number, at least 1). */
static int fleet_parse_rate(const char *text, long long *interval_ns, struct error *err)
{
	static const struct { char unit; long long ns; } units[] = {
		{ 's', 1000000000LL }, { 'm', 60000000000LL }, { 'h', 3600000000000LL },
	};
	char count[16];
	const char *slash = strchr(text, '/');
	unsigned long long n;
	size_t i;

	if (slash && (size_t)(slash - text) < sizeof count && slash[1] && !slash[2]) {
		memcpy(count, text, (size_t)(slash - text));
		count[slash - text] = '\0';
		for (i = 0; i < sizeof units / sizeof units[0]; i++)
			if (slash[1] == units[i].unit && number_parse(count, 1000000, &n) == 0 && n) {
				*interval_ns = units[i].ns / (long long)n;
				return 0;
			}
	}
	return error_set(err, "--rate '%.40s': want N/s, N/m or N/h with N from 1 to 1000000", text);
}

static int fleet_parse_options(struct fleet_plan *plan, int argc, char **argv,
			       struct error *err)
{
	static const struct option options[] = {
		{ "instance", required_argument, NULL, 'i' },
		{ "instances", required_argument, NULL, 'f' },
		{ "version", required_argument, NULL, 'V' },
		{ "location", required_argument, NULL, 'l' },
		{ "strategy", required_argument, NULL, 's' },
		{ "sha256", required_argument, NULL, 'S' },
		{ "metadata", required_argument, NULL, 'm' },
		{ "id", required_argument, NULL, 'I' },
		{ "rate", required_argument, NULL, 'r' },
		{ "keys", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	optind = 0;	/* afresh, in GNU order: options may follow operands */
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'i':
			if (request_check_id("--instance", optarg, REQUEST_INSTANCE_MAX, err) < 0 ||
			    fleet_add(plan, optarg, err) < 0)
				return -1;
			break;
		case 'f':
			if (fleet_read_instances(plan, optarg, err) < 0)
				return -1;
			break;
		case 'V': plan->version = optarg; break;
		case 'l': plan->location = optarg; break;
		case 's': plan->strategy = optarg; break;
		case 'S': plan->sha256 = optarg; break;
		case 'm': plan->metadata_json = optarg; break;
		case 'I': plan->id = optarg; break;
		case 'k': plan->keys_path = optarg; break;
		case 'r':
			if (fleet_parse_rate(optarg, &plan->interval_ns, err) < 0)
				return -1;
			break;
		default:
			return error_set(err, "unknown option");
		}
	}
	if (optind != argc)
		return error_set(err, "unexpected argument '%.60s'", argv[optind]);
	return 0;
}

/* Every instance of a keyed fleet must have its key: a cast sealed with no
 * key would be refused by a keyed guest, or obeyed unauthenticated. */
static int fleet_load_keys(struct fleet_plan *plan, const struct config *config,
			   struct error *err)
{
	size_t i;

	if (!plan->keys_path && config->amqp.rpc_keys[0])
		plan->keys_path = config->amqp.rpc_keys;
	if (!plan->keys_path)
		return 0;
	if (rpc_keys_load(&plan->keys, plan->keys_path, err) < 0)
		return -1;
	for (i = 0; i < plan->count; i++)
		if (!rpc_keys_find(plan->keys, plan->instances[i]))
			return error_set(err, "%s: no key for instance %s", plan->keys_path,
					 plan->instances[i]);
	return 0;
}

/* --metadata as the guest bounds args.metadata; its sha256 is --sha256 (both
 * given must agree), checked as --sha256 is. */
static int fleet_check_metadata(struct fleet_plan *plan, struct error *err)
{
	char text[REQUEST_METADATA_WIRE_MAX + 1];
	json_t *sha256;

	if (!plan->metadata_json)
		return 0;
	plan->metadata = json_loads(plan->metadata_json, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
				    NULL);
	if (!plan->metadata)
		return error_set(err, "--metadata: not JSON");
	if (request_metadata_encode("--metadata", plan->metadata, text, sizeof text, err) < 0)
		return -1;
	sha256 = json_object_get(plan->metadata, "sha256");
	if (!sha256)
		return 0;
	if (!json_is_string(sha256))
		return error_set(err, "--metadata: sha256: not a string");
	if (request_check_sha256("--metadata: sha256", json_string_value(sha256), err) < 0)
		return -1;
	if (plan->sha256 && strcmp(plan->sha256, json_string_value(sha256)) != 0)
		return error_set(err, "--metadata: its sha256 is not --sha256");
	return 0;
}

/* The same checks the guest will make, made before anything is sent. */
static int fleet_check_plan(struct fleet_plan *plan, const struct config *config,
			    struct error *err)
{
	if (fleet_load_keys(plan, config, err) < 0)
		return -1;
	if (!plan->count)
		return error_set(err, "no --instance or --instances given");
	if (plan->id && plan->count != 1)
		return error_set(err, "--id needs exactly one instance");
	if (plan->id && request_check_id("--id", plan->id, REQUEST_ID_MAX, err) < 0)
		return -1;
	if (strcmp(plan->method, "upgrade") != 0)
		return 0;
	if (!plan->version)
		return error_set(err, "--version: missing");
	if (request_check_version("--version", plan->version, err) < 0)
		return -1;
	if (!plan->location)
		return error_set(err, "--location: missing");
	if (request_check_location("--location", plan->strategy ? plan->strategy :
				   config->updater.strategy, plan->location, err) < 0)
		return -1;
	if (plan->sha256 && request_check_sha256("--sha256", plan->sha256, err) < 0)
		return -1;
	return fleet_check_metadata(plan, err);
}

static json_t *fleet_args(const struct fleet_plan *plan, const char *instance, const char *id)
{
	struct request_upgrade req = {
		.upgrade_id = id, .instance_id = instance, .version = plan->version,
		.location = plan->location, .strategy = plan->strategy, .sha256 = plan->sha256,
		.metadata = json_is_object(plan->metadata) ? plan->metadata : NULL,
	};

	if (strcmp(plan->method, "upgrade") != 0)
		return request_rollback_args(id);
	return request_upgrade_args(&req);
}

/* target is a copy of the config whose instance id (and key, in a keyed
 * fleet) is the guest's, so a sealed cast names the guest the way Trove's
 * serializer does. */
static int fleet_send(struct amqp_link *link, struct config *target,
		      const struct fleet_plan *plan, const char *instance, struct error *err)
{
	char id[HISTORY_ID_MAX], routing_key[160], *body = NULL;
	int rc;

	if (plan->id)
		snprintf(id, sizeof id, "%s", plan->id);
	else if (history_new_id(id, sizeof id, err) < 0)
		return -1;
	snprintf(target->amqp.instance_id, sizeof target->amqp.instance_id, "%s", instance);
	if (plan->keys)
		snprintf(target->amqp.rpc_key, sizeof target->amqp.rpc_key, "%s",
			 rpc_keys_find(plan->keys, instance));
	snprintf(routing_key, sizeof routing_key, "guestagent.%s", instance);
	rc = rpc_cast_build(plan->method, fleet_args(plan, instance, id), target,
			    RPC_TO_GUEST, &body, err);
	if (rc == 0)
		rc = amqp_link_publish_confirmed(link, routing_key, body, err);
	if (rc == 0)
		printf("%s %s queued\n", instance, id);
	free(body);
	return rc;
}

/* Sleeps until start + n * interval: a steady rate however long sends take. */
static void fleet_pace(const struct timespec *start, size_t n, long long interval_ns)
{
	long long at = (long long)start->tv_sec * 1000000000LL + start->tv_nsec +
		       (long long)n * interval_ns;
	struct timespec when = { at / 1000000000LL, at % 1000000000LL };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &when, NULL) == EINTR)
		;
}

static int fleet_run(const struct config *config, const struct fleet_plan *plan)
{
	struct config *target = malloc(sizeof *target);
	struct amqp_link *link = NULL;
	struct error err = { "" };
	struct timespec start;
	size_t i, failed = 0;

	if (!target) {
		fprintf(stderr, "slotctl: out of memory\n");
		return 1;
	}
	*target = *config;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (i = 0; i < plan->count; i++) {
		if (plan->interval_ns)
			fleet_pace(&start, i, plan->interval_ns);
		if ((!link && amqp_link_open_publisher(&link, config, &err) < 0) ||
		    fleet_send(link, target, plan, plan->instances[i], &err) < 0) {
			fprintf(stderr, "slotctl: %s: %s %s\n", plan->instances[i], plan->method,
				err.text);
			failed++;
			/* A fresh link for the next one: this one may be broken. */
			amqp_link_close(link);
			link = NULL;
		}
		fflush(stdout);
	}
	amqp_link_close(link);
	free(target);
	if (failed)
		fprintf(stderr, "slotctl: %zu of %zu casts not queued\n", failed, plan->count);
	return failed ? 1 : 0;
}

int fleet_command(const struct config *config, const char *method, int argc, char **argv)
{
	struct fleet_plan plan = { .method = method };
	struct error err = { "" };
	size_t i;
	int rc = 2;

	if (fleet_parse_options(&plan, argc, argv, &err) < 0 ||
	    fleet_check_plan(&plan, config, &err) < 0)
		fprintf(stderr, "slotctl: %s: %s\n", argv[0], err.text);
	else
		rc = fleet_run(config, &plan);
	for (i = 0; i < plan.count; i++)
		free(plan.instances[i]);
	free(plan.instances);
	rpc_keys_free(plan.keys);
	json_decref(plan.metadata);
	return rc;
}
