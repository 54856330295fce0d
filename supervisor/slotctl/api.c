/* api.c: slotctl's client of slotfleet's HTTP API (docs/fleet.md).
 *
 *   slotctl --api URL --token-file F --tenant T upgrade --instance ID
 *           --version V --location URL [--strategy S] [--sha256 H] [--id ID]
 *   slotctl --api URL --token-file F --tenant T upgrades [--state S]
 *           [--instance ID] [--limit N] [--json]
 *   slotctl --api URL --token-file F --tenant T instance ID [--json]
 *   slotctl --api URL --token-file F --tenant T rollout ... (api_rollout.c)
 *
 * Instead of --token-file and --tenant, Keystone credentials (OS_AUTH_URL
 * and the rest, or --os-* options: api_auth.c); the tenant is then the
 * token's project unless --tenant says otherwise.
 * --api, --token-file and --tenant may also follow the command.  The token
 * file holds the token itself (its first line that is not blank or a '#'
 * comment); the token is sent in X-Auth-Token and never printed.  Requests
 * (api_request.c) go through libcurl (http and https only, bounded connect
 * and total time, TLS verified); the answer is bounded too.  Exit 0 when the
 * API accepted the request, 1 when it refused it (its error message is
 * printed) or could not be reached, 2 on a usage error. */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "request_check.h"
#include "slotctl.h"

static int api_upgrade(const struct api_call *call)
{
	struct error err = { "" };
	json_t *body, *answer, *up;
	char *text;
	long status;

	if (!call->instance || !call->version || !call->location) {
		fprintf(stderr, "slotctl: upgrade: --instance, --version and --location are required\n");
		return 2;
	}
	if (request_check_id("--instance", call->instance, REQUEST_INSTANCE_MAX, &err) < 0 ||
	    request_check_version("--version", call->version, &err) < 0 ||
	    request_check_location("--location", call->strategy ? call->strategy : "http",
				   call->location, &err) < 0 ||
	    (call->sha256 && request_check_sha256("--sha256", call->sha256, &err) < 0) ||
	    (call->id && request_check_id("--id", call->id, REQUEST_ID_MAX, &err) < 0)) {
		fprintf(stderr, "slotctl: upgrade: %s\n", err.text);
		return 2;
	}
	body = json_pack("{s:s, s:s, s:s}", "instance_id", call->instance, "instance_version",
			 call->version, "location", call->location);
	if (call->strategy)
		json_object_set_new(body, "strategy", json_string(call->strategy));
	if (call->sha256)
		json_object_set_new(body, "sha256", json_string(call->sha256));
	if (call->id)
		json_object_set_new(body, "upgrade_id", json_string(call->id));
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	answer = text ? api_request(call, "POST", "/upgrade", text, &status) : NULL;
	free(text);
	up = json_object_get(answer, "upgrade");
	if (status != 202 || !up) {
		api_refused("upgrade", status, answer);
		json_decref(answer);
		return 1;
	}
	printf("%s %s %s\n", api_text(up, "instance_id"), api_text(up, "id"), api_text(up, "state"));
	json_decref(answer);
	return 0;
}

/* Appends "&key=value", the value escaped. */
static void api_query(CURL *curl, char *path, size_t size, const char *key, const char *value)
{
	char *escaped;

	if (!value)
		return;
	escaped = curl_easy_escape(curl, value, 0);
	if (escaped)
		snprintf(path + strlen(path), size - strlen(path), "%s%s=%s",
			 strchr(path, '?') ? "&" : "?", key, escaped);
	curl_free(escaped);
}

static void api_print_upgrades(json_t *list)
{
	json_t *up;
	size_t i;

	printf("%-33s %-8s %-11s %-20s %-9s %-9s %-27s %s\n", "ID", "KIND", "STATE", "INSTANCE",
	       "FROM", "TO", "UPDATED", "REASON");
	json_array_foreach(list, i, up)
		printf("%-33s %-8s %-11s %-20.20s %-9s %-9s %-27s %s\n", api_text(up, "id"),
		       api_text(up, "kind"), api_text(up, "state"), api_text(up, "instance_id"),
		       api_text(up, "from_version"), api_text(up, "to_version"),
		       api_text(up, "updated"), api_text(up, "reason"));
}

static int api_upgrades(const struct api_call *call)
{
	CURL *curl = curl_easy_init();
	char path[2048] = "/upgrades";
	json_t *answer, *list;
	long status;

	if (!curl)
		return 1;
	api_query(curl, path, sizeof path, "state", call->state);
	api_query(curl, path, sizeof path, "instance_id", call->instance);
	api_query(curl, path, sizeof path, "limit", call->limit);
	curl_easy_cleanup(curl);
	answer = api_request(call, "GET", path, NULL, &status);
	list = json_object_get(answer, "upgrades");
	if (status != 200 || !json_is_array(list)) {
		api_refused("upgrades", status, answer);
		json_decref(answer);
		return 1;
	}
	if (call->json) {
		json_dumpf(list, stdout, JSON_INDENT(2));
		putchar('\n');
	} else {
		api_print_upgrades(list);
	}
	json_decref(answer);
	return 0;
}

/* Who cast an instance's last upgrade, to which version, and its reason. */
static void api_print_cause(json_t *last)
{
	const char *policy = json_string_value(json_object_get(last, "policy_id"));
	const char *rollout = json_string_value(json_object_get(last, "rollout_id"));

	printf("cast by:       %s %s\nto version:    %s\nreason:        %s\n",
	       policy ? "policy" : rollout ? "rollout" : "admin",
	       policy ? policy : rollout ? rollout : "", api_text(last, "to_version"),
	       api_text(last, "reason"));
}

static int api_instance(const struct api_call *call)
{
	struct error err = { "" };
	char path[256];
	json_t *answer, *in, *last;
	long status;

	if (!call->operand || request_check_id("instance", call->operand, REQUEST_INSTANCE_MAX, &err) < 0) {
		fprintf(stderr, "slotctl: instance: %s\n", call->operand ? err.text : "want an instance id");
		return 2;
	}
	snprintf(path, sizeof path, "/instances/%s", call->operand);
	answer = api_request(call, "GET", path, NULL, &status);
	in = json_object_get(answer, "instance");
	if (status != 200 || !in) {
		api_refused("instance", status, answer);
		json_decref(answer);
		return 1;
	}
	if (call->json) {
		json_dumpf(in, stdout, JSON_INDENT(2));
		putchar('\n');
	} else {
		last = json_object_get(in, "last_upgrade");
		printf("instance:      %s\nagent version: %s\nagent slot:    %s\nlast seen:     %s\n"
		       "last upgrade:  %s %s\n", api_text(in, "id"), api_text(in, "agent_version"),
		       api_text(in, "agent_slot"), api_text(in, "last_seen"), api_text(last, "id"),
		       json_is_object(last) ? api_text(last, "state") : "");
		if (json_is_object(last))
			api_print_cause(last);
	}
	json_decref(answer);
	return 0;
}

static int api_parse(struct api_call *call, int argc, char **argv)
{
	static const struct option options[] = {
		{ "api", required_argument, NULL, 'a' }, { "token-file", required_argument, NULL, 't' },
		{ "tenant", required_argument, NULL, 'T' }, { "instance", required_argument, NULL, 'i' },
		{ "version", required_argument, NULL, 'V' }, { "location", required_argument, NULL, 'l' },
		{ "strategy", required_argument, NULL, 's' }, { "sha256", required_argument, NULL, 'S' },
		{ "id", required_argument, NULL, 'I' }, { "state", required_argument, NULL, 'e' },
		{ "limit", required_argument, NULL, 'n' }, { "json", no_argument, NULL, 'j' },
		{ "instances", required_argument, NULL, 'L' }, { "below", required_argument, NULL, 'B' },
		{ "waves", required_argument, NULL, 'W' }, { "rate", required_argument, NULL, 'r' },
		{ "max-failure-rate", required_argument, NULL, 'F' },
		{ "probation", required_argument, NULL, 'P' }, { "timeout", required_argument, NULL, 'O' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	optind = 0;	/* a full restart: main's scan stopped at the command ("+") */
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'a': call->api = optarg; break;
		case 't': call->token_file = optarg; break;
		case 'T': call->tenant = optarg; break;
		case 'i': call->instance = optarg; break;
		case 'V': call->version = optarg; break;
		case 'l': call->location = optarg; break;
		case 's': call->strategy = optarg; break;
		case 'S': call->sha256 = optarg; break;
		case 'I': call->id = optarg; break;
		case 'e': call->state = optarg; break;
		case 'n': call->limit = optarg; break;
		case 'j': call->json = 1; break;
		case 'L':
			if (call->instances_count == API_INSTANCES_ARGS_MAX) {
				fprintf(stderr, "slotctl: --instances: more than %d times\n",
					API_INSTANCES_ARGS_MAX);
				return -1;
			}
			call->instances[call->instances_count++] = optarg;
			break;
		case 'B': call->below = optarg; break;
		case 'W': call->waves = optarg; break;
		case 'r': call->rate = optarg; break;
		case 'F': call->max_failure_rate = optarg; break;
		case 'P': call->probation = optarg; break;
		case 'O': call->timeout = optarg; break;
		default: return -1;
		}
	}
	if (optind < argc)
		call->operand = argv[optind++];
	if (optind < argc && !strcmp(argv[0], "rollout"))
		call->operand2 = argv[optind++];
	if (optind != argc) {
		fprintf(stderr, "slotctl: %s: unexpected argument '%.60s'\n", argv[0], argv[optind]);
		return -1;
	}
	return 0;
}

int api_command(const struct api_options *options, int argc, char **argv)
{
	struct api_call call = { .api = options->api, .token_file = options->token_file,
				 .tenant = options->tenant };
	int rc = 2;

	if (api_parse(&call, argc, argv) < 0)
		return 2;
	if (!call.api) {
		fprintf(stderr, "slotctl: %s: --api is required\n", argv[0]);
		return 2;
	}
	if ((strncmp(call.api, "http://", 7) && strncmp(call.api, "https://", 8)) ||
	    (call.tenant && !request_id_ok(call.tenant, REQUEST_ID_MAX))) {
		fprintf(stderr, "slotctl: --api must be an http(s) URL and --tenant an id\n");
		return 2;
	}
	rc = api_auth(&call, options);
	if (rc != 0) {
		memset(call.token, 0, sizeof call.token);
		return rc;
	}
	rc = 2;
	if (!strcmp(argv[0], "upgrade"))
		rc = api_upgrade(&call);
	else if (!strcmp(argv[0], "upgrades"))
		rc = api_upgrades(&call);
	else if (!strcmp(argv[0], "instance"))
		rc = api_instance(&call);
	else if (!strcmp(argv[0], "rollout"))
		rc = api_rollout(&call);
	memset(call.token, 0, sizeof call.token);
	return rc;
}
