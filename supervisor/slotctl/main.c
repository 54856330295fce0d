/* slotctl: the admin's tool (docs/architecture.md, The fixed contract).
 *
 *   slotctl [-c CONFIG] status [--json]
 *   slotctl [-c CONFIG] rollback [--force]
 *   slotctl [-c CONFIG] mark-good | mark-bad | restart
 *   slotctl [-c CONFIG] history [--state S] [--instance ID] [--json]
 *   slotctl [-c CONFIG] notify (--instance ID | --instances FILE) --version V
 *                              --location URL [--strategy S] [--sha256 HEX]
 *                              [--metadata JSON] [--id UPGRADE_ID] [--rate N/s]
 *                              [--keys FILE]
 *   slotctl [-c CONFIG] rollback (--instance ID | --instances FILE) [--id ID] [--rate N/s]
 *   slotctl --api URL --token-file F --tenant T upgrade --instance ID --version V
 *           --location URL [--strategy S] [--sha256 HEX] [--id ID]
 *   slotctl --api URL --token-file F --tenant T upgrades [--state S] [--instance ID]
 *           [--limit N] [--json]
 *   slotctl --api URL --token-file F --tenant T instance ID [--json]
 *   slotctl --api URL --token-file F --tenant T rollout create|show|list|pause|resume|
 *           cancel|rollback-failed|rollback-all ... (api_rollout.c)
 *   (the API's credentials: --token-file and --tenant, or Keystone's as
 *   OpenStack's clients take them, OS_* or --os-*: api_auth.c)
 *
 * status and the admin commands ask slotd (local.c); when slotd is not
 * running, status reads the state from disk and says so.  history reads <root>/history directly.  notify and rollback
 * with --instance/--instances cast to guests over RabbitMQ (fleet.c) instead
 * of asking the local slotd.  upgrade, upgrades, instance and rollout ask slotfleet's
 * HTTP API (api.c) and need no config file.  Exit 0 on success, 1 when slotd refuses or
 * cannot be reached (or a cast was not queued), 2 on a usage or config error. */
#include <getopt.h>
#include <inttypes.h>
#include <stddef.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "control.h"
#include "history.h"
#include "slotctl.h"

#define SLOTCTL_VERSION "0.1.0"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: slotctl [-c CONFIG] status [--json]\n"
		"       slotctl [-c CONFIG] rollback [--force]\n"
		"       slotctl [-c CONFIG] mark-good | mark-bad | restart\n"
		"       slotctl [-c CONFIG] history [--state S] [--instance ID] [--json]\n"
		"       slotctl [-c CONFIG] notify (--instance ID | --instances FILE) --version V\n"
		"               --location URL [--strategy S] [--sha256 HEX] [--metadata JSON]\n"
		"               [--id ID] [--rate N/s] [--keys FILE]\n"
		"       slotctl [-c CONFIG] rollback (--instance ID | --instances FILE) [--id ID] [--rate N/s]\n"
		"               [--keys FILE]\n"
		"       slotctl --api URL --token-file F --tenant T upgrade --instance ID --version V\n"
		"               --location URL [--strategy S] [--sha256 HEX] [--id ID]\n"
		"       slotctl --api URL --token-file F --tenant T upgrades [--state S] [--instance ID]\n"
		"               [--limit N] [--json]\n"
		"       slotctl --api URL --token-file F --tenant T instance ID [--json]\n"
		"       slotctl --api URL --token-file F --tenant T rollout create --version V\n"
		"               --location URL (--instances ID[,ID...]... | --below V) --waves P[,P...]\n"
		"               [--max-failure-rate F] [--rate N] [--probation D] [--timeout D]\n"
		"               [--strategy S] [--sha256 HEX] [--id ID]\n"
		"       slotctl --api URL --token-file F --tenant T rollout show ID [--json]\n"
		"       slotctl --api URL --token-file F --tenant T rollout list [--state S] [--limit N]\n"
		"               [--json]\n"
		"       slotctl --api URL --token-file F --tenant T rollout pause|resume|cancel|\n"
		"               rollback-failed|rollback-all ID\n"
		"       API credentials: --token-file F --tenant T, or Keystone's: --os-auth-url URL\n"
		"               --os-username U --os-password P --os-project-name N\n"
		"               [--os-user-domain-name D] [--os-project-domain-name D] [--os-token T]\n"
		"               [--os-cacert F] [--tenant T] (or OS_AUTH_URL, OS_USERNAME, OS_PASSWORD,\n"
		"               OS_PROJECT_NAME, OS_USER_DOMAIN_NAME, OS_PROJECT_DOMAIN_NAME,\n"
		"               OS_TOKEN, OS_CACERT)\n"
		"       slotctl --help | --version\n");
}

/* mark-good, mark-bad, restart: the same word on the command line and on
 * the wire.  0 and *r set for one of them. */
static int admin_request(const char *command, struct control_request *r)
{
	static const struct { const char *name; enum control_command command; } admin[] = {
		{ "mark-good", CONTROL_MARK_GOOD }, { "mark-bad", CONTROL_MARK_BAD },
		{ "restart", CONTROL_RESTART },
	};
	size_t i;

	for (i = 0; i < sizeof admin / sizeof admin[0]; i++) {
		if (!strcmp(command, admin[i].name)) {
			*r = (struct control_request){ admin[i].command, SLOT_NONE };
			return 0;
		}
	}
	return -1;
}

struct history_output {
	int json;
	json_t *list;
};

static void history_time(int64_t t, char *buf, size_t len)
{
	time_t when = (time_t)t;
	struct tm tm;

	gmtime_r(&when, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

static int history_print(const struct history_record *r, void *context)
{
	struct history_output *out = context;
	char started[32], updated[32];

	history_time(r->started, started, sizeof started);
	history_time(r->updated, updated, sizeof updated);
	if (!out->json) {
		char bytes[96] = "";

		if (r->fetched || r->reused)	/* a download happened: how much came */
			snprintf(bytes, sizeof bytes, "[fetched %" PRId64 ", reused %" PRId64 "] ",
				 r->fetched, r->reused);
		printf("%-10.8s %-9s %-11s %-9s %-9s %-19s %s%s\n", r->id, r->kind,
		       history_state_name(r->state), r->from_version[0] ? r->from_version : "-",
		       r->to_version[0] ? r->to_version : "-", started, bytes, r->error);
		return 0;
	}
	json_array_append_new(out->list, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s,"
						   " s:s, s:s, s:s, s:I, s:I}",
		"id", r->id, "kind", r->kind, "instance_id", r->instance, "from_version",
		r->from_version, "to_version", r->to_version, "strategy", r->strategy,
		"location", r->location, "slot", r->slot, "state", history_state_name(r->state),
		"started", started, "updated", updated, "error", r->error,
		"bytes_fetched", (json_int_t)r->fetched, "bytes_reused", (json_int_t)r->reused));
	return 0;
}

static int command_history(const struct config *c, int argc, char **argv)
{
	static const struct option options[] = {
		{ "state", required_argument, NULL, 's' },
		{ "instance", required_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct history_filter filter = { 0 };
	struct history_output out = { 0 };
	struct history_stats stats;
	enum history_state state;
	struct error err = { "" };
	struct layout layout;
	int opt, rc;

	optind = 0;	/* afresh, in GNU order: options may follow operands */
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (opt == 's')
			filter.state = optarg;
		else if (opt == 'i')
			filter.instance = optarg;
		else if (opt == 'j')
			out.json = 1;
		else
			return 2;
	}
	if (optind != argc)
		return 2;
	if (filter.state && history_state_parse(filter.state, &state) < 0) {
		fprintf(stderr, "slotctl: history: unknown state '%s'\n", filter.state);
		return 2;
	}
	if (layout_open(&layout, c->slots.root, 0, &err) < 0) {
		fprintf(stderr, "slotctl: %s\n", err.text);
		return 1;
	}
	out.list = json_array();
	if (!out.json)
		printf("%-10s %-9s %-11s %-9s %-9s %-19s %s\n", "ID", "KIND", "STATE", "FROM", "TO",
		       "STARTED (UTC)", "ERROR");
	rc = history_read(&layout, &filter, history_print, &out, &stats, &err);
	layout_close(&layout);
	if (rc < 0) {
		fprintf(stderr, "slotctl: %s\n", err.text);
		json_decref(out.list);
		return 1;
	}
	if (out.json) {
		json_dumpf(out.list, stdout, JSON_INDENT(2));
		putchar('\n');
	}
	if (stats.torn)
		fprintf(stderr, "slotctl: history: skipped %u torn or corrupt records\n", stats.torn);
	json_decref(out.list);
	return 0;
}

/* Global options may stand anywhere, before or after the command and its
 * operands (`slotctl status --json -c slotd.ini`): they are taken out of
 * argv here, and the rest goes to the command, which parses its own
 * options in any order.  `--` ends the options; what follows is kept. */
struct slotctl_globals {
	const char *config_path;
	struct api_options api;
	int help, version;
};

/* 1 and *value set when arg is global option `name` (long or short form,
 * "--name=V", "--name V", "-cV", "-c V"); 0 when it is not; -1 when its
 * value is missing. */
static int take_value(int argc, char **argv, int *i, const char *name, char letter,
		      const char **value)
{
	const char *arg = argv[*i];
	size_t len = strlen(name);

	if (letter && arg[0] == '-' && arg[1] == letter) {
		if (arg[2]) {
			*value = arg + 2;
			return 1;
		}
	} else if (strncmp(arg, "--", 2) || strncmp(arg + 2, name, len)) {
		return 0;
	} else if (arg[2 + len] == '=') {
		*value = arg + 3 + len;
		return 1;
	} else if (arg[2 + len]) {
		return 0;
	}
	if (*i + 1 >= argc)
		return -1;
	*value = argv[++*i];
	return 1;
}

static int take_globals(int *argc, char **argv, struct slotctl_globals *g)
{
	static const struct { const char *name; char letter; size_t offset; } valued[] = {
		{ "config", 'c', offsetof(struct slotctl_globals, config_path) },
		{ "api", 0, offsetof(struct slotctl_globals, api.api) },
		{ "token-file", 0, offsetof(struct slotctl_globals, api.token_file) },
		{ "tenant", 0, offsetof(struct slotctl_globals, api.tenant) },
		{ "os-auth-url", 0, offsetof(struct slotctl_globals, api.os_auth_url) },
		{ "os-username", 0, offsetof(struct slotctl_globals, api.os_username) },
		{ "os-password", 0, offsetof(struct slotctl_globals, api.os_password) },
		{ "os-project-name", 0, offsetof(struct slotctl_globals, api.os_project_name) },
		{ "os-user-domain-name", 0, offsetof(struct slotctl_globals, api.os_user_domain_name) },
		{ "os-project-domain-name", 0,
		  offsetof(struct slotctl_globals, api.os_project_domain_name) },
		{ "os-token", 0, offsetof(struct slotctl_globals, api.os_token) },
		{ "os-cacert", 0, offsetof(struct slotctl_globals, api.os_cacert) },
	};
	int i, kept = 1, rc, command_seen = 0;
	size_t k;

	for (i = 1; i < *argc; i++) {
		if (!strcmp(argv[i], "--")) {
			while (i < *argc)
				argv[kept++] = argv[i++];
			break;
		}
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			g->help = 1;
			continue;
		}
		/* After the command, --version is notify's VERSION, not ours. */
		if (!strcmp(argv[i], "--version") && !command_seen) {
			g->version = 1;
			continue;
		}
		for (rc = 0, k = 0; k < sizeof valued / sizeof valued[0] && !rc; k++)
			rc = take_value(*argc, argv, &i, valued[k].name, valued[k].letter,
					(const char **)(void *)((char *)g + valued[k].offset));
		if (rc < 0) {
			fprintf(stderr, "slotctl: %s needs a value\n", argv[i]);
			return -1;
		}
		if (!rc) {
			command_seen |= argv[i][0] != '-';
			argv[kept++] = argv[i];
		}
	}
	argv[kept] = NULL;
	*argc = kept;
	return 0;
}

int main(int argc, char **argv)
{
	struct slotctl_globals g = { 0 };
	struct control_request request;
	const char *command;
	struct config config;
	struct error err = { "" };
	int rest, rc = 2;

	if (take_globals(&argc, argv, &g) < 0) {
		usage(stderr);
		return 2;
	}
	if (g.help) {
		usage(stdout);
		return 0;
	}
	if (g.version) {
		printf("slotctl %s\n", SLOTCTL_VERSION);
		return 0;
	}
	if (argc < 2 || argv[1][0] == '-') {
		if (argc >= 2)
			fprintf(stderr, "slotctl: unknown option '%.60s'\n", argv[1]);
		usage(stderr);
		return 2;
	}
	command = argv[1];
	/* The API's commands talk HTTP only: no config file needed. */
	if (!strcmp(command, "upgrade") || !strcmp(command, "upgrades") ||
	    !strcmp(command, "instance") || !strcmp(command, "rollout")) {
		rc = api_command(&g.api, argc - 1, argv + 1);
		if (rc == 2)
			usage(stderr);
		return rc;
	}
	if (config_load(&config, g.config_path, &err) < 0) {
		fprintf(stderr, "slotctl: %s\n", err.text);
		return 2;
	}
	rest = argc - 2;
	if (!strcmp(command, "status") && (rest == 0 || (rest == 1 && !strcmp(argv[2], "--json"))))
		rc = local_status(&config, rest == 1);
	else if (!strcmp(command, "notify"))
		rc = fleet_command(&config, "upgrade", argc - 1, argv + 1);
	else if (!strcmp(command, "rollback") && rest == 0)
		rc = local_command(&config,
				   &(struct control_request){ CONTROL_ROLLBACK, SLOT_NONE });
	else if (!strcmp(command, "rollback") && rest == 1 && !strcmp(argv[2], "--force"))
		rc = local_command(&config,
				   &(struct control_request){ CONTROL_ROLLBACK_FORCE, SLOT_NONE });
	else if (!strcmp(command, "rollback"))	/* --instance, --instances, --rate, --id */
		rc = fleet_command(&config, "rollback", argc - 1, argv + 1);
	else if (admin_request(command, &request) == 0 && rest == 0)
		rc = local_command(&config, &request);
	else if (!strcmp(command, "history"))
		rc = command_history(&config, argc - 1, argv + 1);
	if (rc == 2)
		usage(stderr);
	return rc;
}
