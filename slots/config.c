/* config.c: the shared INI configuration (see include/config.h).
 *
 * Table driven: each key is one row naming its section, key, type and the
 * field it fills.  Unknown sections and keys are errors, and so is a key
 * given twice (inih's multi-line continuation would otherwise make a
 * continued value look like a second assignment). */
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic.h"
#include "config.h"
#include "config_strategy.h"
#include "http_url.h"
#include "ini_text.h"
#include "number.h"

enum config_type { TYPE_STRING, TYPE_DURATION, TYPE_DURATION64, TYPE_UINT, TYPE_UINT64,
		   TYPE_BOOL, TYPE_UID, TYPE_HEALTH };

struct config_key {
	const char *section;
	const char *name;
	enum config_type type;
	size_t offset;
	size_t size;	/* for strings: the buffer size */
};

#define KEY(sec, key, type, field) \
	{ sec, key, type, offsetof(struct config, field), sizeof(((struct config *)0)->field) }

static const struct config_key config_keys[] = {
	KEY("slots", "root", TYPE_STRING, slots.root),
	KEY("slots", "compatible", TYPE_STRING, slots.compatible),
	KEY("agent", "exec", TYPE_STRING, agent.exec),
	KEY("agent", "health", TYPE_HEALTH, agent.health),
	KEY("agent", "health_exec", TYPE_STRING, agent.health_exec),
	KEY("agent", "health_url", TYPE_STRING, agent.health_url),
	KEY("agent", "health_http_helper", TYPE_STRING, agent.health_http_helper),
	KEY("agent", "startup_timeout", TYPE_DURATION, agent.startup_timeout_ms),
	KEY("agent", "min_uptime", TYPE_DURATION, agent.min_uptime_ms),
	KEY("agent", "max_attempts", TYPE_UINT, agent.max_attempts),
	KEY("agent", "stop_timeout", TYPE_DURATION, agent.stop_timeout_ms),
	KEY("agent", "restart_backoff_max", TYPE_DURATION, agent.restart_backoff_max_ms),
	KEY("agent", "health_timeout", TYPE_DURATION, agent.health_timeout_ms),
	KEY("agent", "probation", TYPE_DURATION, agent.probation_ms),
	KEY("agent", "probation_max_exits", TYPE_UINT, agent.probation_max_exits),
	KEY("supervisor", "control_socket", TYPE_STRING, supervisor.control_socket),
	KEY("supervisor", "admin_uid", TYPE_UID, supervisor.admin_uid),
	KEY("supervisor", "updater_uid", TYPE_UID, supervisor.updater_uid),
	KEY("supervisor", "inhibit_timeout", TYPE_DURATION, supervisor.inhibit_timeout_ms),
	KEY("supervisor", "metrics_file", TYPE_STRING, supervisor.metrics_file),
	KEY("updater", "strategy", TYPE_STRING, updater.strategy),
	KEY("updater", "keyring", TYPE_STRING, updater.keyring),
	KEY("updater", "crl", TYPE_STRING, updater.crl),
	KEY("updater", "allowed_signers", TYPE_STRING, updater.allowed_signers),
	KEY("updater", "max_bundle_age", TYPE_DURATION64, updater.max_bundle_age_ms),
	KEY("updater", "decrypt_key", TYPE_STRING, updater.decrypt_key),
	KEY("updater", "retries", TYPE_UINT, updater.retries),
	KEY("updater", "cache", TYPE_STRING, updater.cache),
	KEY("updater", "swift_token", TYPE_STRING, updater.swift_token),
	KEY("updater", "ca_path", TYPE_STRING, updater.ca_path),
	KEY("updater", "max_rate", TYPE_UINT64, updater.max_rate),
	KEY("updater", "low_speed_time", TYPE_DURATION, updater.low_speed_time_ms),
	KEY("updater", "retry_backoff", TYPE_DURATION, updater.retry_backoff_ms),
	KEY("updater", "retry_backoff_max", TYPE_DURATION, updater.retry_backoff_max_ms),
	KEY("updater", "max_redirects", TYPE_UINT, updater.max_redirects),
	KEY("updater", "activate_timeout", TYPE_DURATION, updater.activate_timeout_ms),
	KEY("updater", "max_bytes", TYPE_UINT64, updater.max_bytes),
	KEY("updater", "max_entries", TYPE_UINT64, updater.max_entries),
	KEY("updater", "allow_setuid", TYPE_BOOL, updater.allow_setuid),
	KEY("updater", "delta", TYPE_BOOL, updater.delta),
	KEY("updater", "automatic", TYPE_BOOL, updater.automatic),
	KEY("updater", "fetch_user", TYPE_STRING, updater.fetch_user),
	KEY("updater", "metrics_file", TYPE_STRING, updater.metrics_file),
	KEY("amqp", "url", TYPE_STRING, amqp.url),
	KEY("amqp", "exchange", TYPE_STRING, amqp.exchange),
	KEY("amqp", "exchange_durable", TYPE_BOOL, amqp.exchange_durable),
	KEY("amqp", "instance_id", TYPE_STRING, amqp.instance_id),
	KEY("amqp", "queue", TYPE_STRING, amqp.queue),
	KEY("amqp", "conductor_topic", TYPE_STRING, amqp.conductor_topic),
	KEY("amqp", "heartbeat_interval", TYPE_DURATION, amqp.heartbeat_interval_ms),
	KEY("amqp", "retry_interval", TYPE_DURATION, amqp.retry_interval_ms),
	KEY("amqp", "download_jitter", TYPE_DURATION, amqp.download_jitter_ms),
	KEY("amqp", "rpc_key", TYPE_STRING, amqp.rpc_key),
	KEY("amqp", "rpc_keys", TYPE_STRING, amqp.rpc_keys),
	KEY("amqp", "max_age", TYPE_DURATION, amqp.max_age_ms),
	KEY("amqp", "ca_path", TYPE_STRING, amqp.ca_path),
	KEY("amqp", "file_dir", TYPE_STRING, amqp.file_dir),
	KEY("amqp", "queue_type", TYPE_STRING, amqp.queue_type),
	KEY("hooks", "pre_install", TYPE_STRING, hooks.pre_install),
	KEY("hooks", "pre_activate", TYPE_STRING, hooks.pre_activate),
	KEY("hooks", "post_commit", TYPE_STRING, hooks.post_commit),
	KEY("hooks", "timeout", TYPE_DURATION, hooks.timeout_ms),
};

#define CONFIG_KEY_COUNT (sizeof config_keys / sizeof config_keys[0])

struct config_parse {
	struct config *config;
	struct error *err;
	int failed;
	unsigned char seen[CONFIG_KEY_COUNT];
	struct config_strategy_parse strategy;
};

void config_defaults(struct config *config)
{
	memset(config, 0, sizeof *config);
	snprintf(config->slots.root, sizeof config->slots.root, "/var/lib/slotd");
	config->agent.health = HEALTH_UPTIME;
	config->agent.startup_timeout_ms = 30000;
	config->agent.min_uptime_ms = 10000;
	config->agent.max_attempts = 3;
	config->agent.stop_timeout_ms = 10000;
	config->agent.restart_backoff_max_ms = 60000;
	config->agent.health_timeout_ms = 10000;
	config->agent.probation_max_exits = 3;
	config->supervisor.admin_uid = -1;
	config->supervisor.updater_uid = -1;
	config->supervisor.inhibit_timeout_ms = 60000;
	snprintf(config->updater.strategy, sizeof config->updater.strategy, "http");
	config->updater.retries = 5;
	config->updater.low_speed_time_ms = 30000;
	config->updater.retry_backoff_ms = 1000;
	config->updater.retry_backoff_max_ms = 60000;
	config->updater.max_redirects = 5;
	config->updater.activate_timeout_ms = 600000;
	config->updater.max_bytes = 4ULL << 30;
	config->updater.max_entries = 100000;
	config->updater.automatic = 1;
	config->updater.delta = 1;
	config->hooks.timeout_ms = 600000;
	snprintf(config->amqp.queue_type, sizeof config->amqp.queue_type, "classic");
	snprintf(config->amqp.url, sizeof config->amqp.url, "amqp://guest:guest@127.0.0.1:5672/");
	snprintf(config->amqp.exchange, sizeof config->amqp.exchange, "trove");
	snprintf(config->amqp.conductor_topic, sizeof config->amqp.conductor_topic,
		 "trove-conductor");
	config->amqp.heartbeat_interval_ms = 60000;
	config->amqp.retry_interval_ms = 10000;
}

static int config_parse_bool(const char *text, int *out)
{
	if (!strcmp(text, "true") || !strcmp(text, "yes") || !strcmp(text, "1"))
		*out = 1;
	else if (!strcmp(text, "false") || !strcmp(text, "no") || !strcmp(text, "0"))
		*out = 0;
	else
		return -1;
	return 0;
}

static int config_parse_health(const char *text, enum health_kind *out)
{
	static const char *const names[] = { "notify", "exec", "http", "uptime" };
	unsigned i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (!strcmp(text, names[i])) {
			*out = (enum health_kind)i;
			return 0;
		}
	}
	return -1;
}

/* Stores value into the field; returns a complaint or NULL. */
static const char *config_store(struct config *config, const struct config_key *key,
				const char *value)
{
	char *field = (char *)config + key->offset;
	unsigned long long number;
	uint64_t number64;
	unsigned ms;
	int flag;

	switch (key->type) {
	case TYPE_STRING:
		if (strlen(value) >= key->size)
			return "value too long";
		memcpy(field, value, strlen(value) + 1);
		return NULL;
	case TYPE_DURATION:
		if (config_parse_duration(value, &ms) < 0)
			return "not a duration (e.g. 500ms, 30s, 5m, 2h, up to 49d)";
		*(unsigned *)(void *)field = ms;
		return NULL;
	case TYPE_DURATION64:
		if (config_parse_duration64(value, &number64) < 0)
			return "not a duration (e.g. 30s, 12h, 90d)";
		*(uint64_t *)(void *)field = number64;
		return NULL;
	case TYPE_UINT:
		if (number_parse(value, UINT32_MAX, &number) < 0)
			return "not a non-negative integer";
		*(unsigned *)(void *)field = (unsigned)number;
		return NULL;
	case TYPE_UINT64:
		if (number_parse(value, UINT64_MAX, &number) < 0)
			return "not a non-negative integer";
		*(uint64_t *)(void *)field = number;
		return NULL;
	case TYPE_UID:
		if (number_parse(value, 0x7fffffffULL, &number) < 0)
			return "not a uid";
		*(long *)(void *)field = (long)number;
		return NULL;
	case TYPE_BOOL:
		if (config_parse_bool(value, &flag) < 0)
			return "not a boolean (true or false)";
		*(int *)(void *)field = flag;
		return NULL;
	case TYPE_HEALTH:
		if (config_parse_health(value, (enum health_kind *)(void *)field) < 0)
			return "not one of notify, exec, http, uptime";
		return NULL;
	}
	return "unsupported key type";
}

static int config_known_section(const char *section)
{
	size_t i;

	for (i = 0; i < CONFIG_KEY_COUNT; i++)
		if (!strcmp(config_keys[i].section, section))
			return 1;
	return 0;
}

/* inih handler: returning 0 makes ini_parse_string() report this line. */
static int config_handle(void *user, const char *section, const char *name, const char *value)
{
	struct config_parse *parse = user;
	const char *complaint = "unknown key";
	size_t i;

	if (parse->failed)
		return 0;
	if (!strncmp(section, CONFIG_STRATEGY_PREFIX, strlen(CONFIG_STRATEGY_PREFIX))) {
		if (config_strategy_key(parse->config, &parse->strategy, section, name, value,
					parse->err) == 0)
			return 1;
		parse->failed = 1;
		return 0;
	}
	/* a later [strategy.NAME] of a name seen before this section is a second one */
	snprintf(parse->strategy.section, sizeof parse->strategy.section, "[%.20s]", section);
	if (!config_known_section(section)) {
		parse->failed = 1;
		error_set(parse->err, "unknown section [%s]", section);
		return 0;
	}
	for (i = 0; i < CONFIG_KEY_COUNT; i++) {
		if (strcmp(config_keys[i].section, section) || strcmp(config_keys[i].name, name))
			continue;
		complaint = parse->seen[i] ? "given twice" :
			    config_store(parse->config, &config_keys[i], value);
		parse->seen[i] = 1;
		break;
	}
	if (!complaint)
		return 1;
	parse->failed = 1;
	/* Never echo the value: it may be a secret. */
	error_set(parse->err, "[%s] %s: %s", section, name, complaint);
	return 0;
}

/* Fills the defaults that depend on other keys, then checks combinations. */
int config_queue_type_ok(const char *name)
{
	return !strcmp(name, "classic") || !strcmp(name, "quorum") ? 0 : -1;
}

/* A hook is run by root without a shell or PATH: an absolute path only. */
static int config_check_hook(const char *path, const char *key, const char *name,
			     struct error *err)
{
	if (path[0] && path[0] != '/')
		return error_set(err, "%s: [hooks] %s: must be an absolute path", name, key);
	return 0;
}

static int config_finish(struct config *config, const struct config_parse *parse,
			 const char *name, struct error *err)
{
	struct config *c = config;
	struct http_url url;

	if (c->slots.root[0] != '/')
		return error_set(err, "%s: [slots] root: must be an absolute path", name);
	if (!c->supervisor.control_socket[0] &&
	    snprintf(c->supervisor.control_socket, sizeof c->supervisor.control_socket,
		     "%s/run/control.sock", c->slots.root) >= (int)sizeof c->supervisor.control_socket)
		return error_set(err, "%s: [slots] root: too long", name);
	if (!c->updater.cache[0] &&
	    snprintf(c->updater.cache, sizeof c->updater.cache, "%s/cache", c->slots.root) >=
		    (int)sizeof c->updater.cache)
		return error_set(err, "%s: [slots] root: too long", name);
	if (!c->amqp.queue[0] &&
	    snprintf(c->amqp.queue, sizeof c->amqp.queue, "slotupd.%s", c->amqp.instance_id) >=
		    (int)sizeof c->amqp.queue)
		return error_set(err, "%s: [amqp] instance_id: too long", name);
	if (c->agent.max_attempts < 1)
		return error_set(err, "%s: [agent] max_attempts: must be at least 1", name);
	if (c->agent.health == HEALTH_EXEC && !c->agent.health_exec[0])
		return error_set(err, "%s: [agent] health = exec needs health_exec", name);
	if (c->agent.health == HEALTH_HTTP && !c->agent.health_url[0])
		return error_set(err, "%s: [agent] health = http needs health_url", name);
	if ((c->supervisor.metrics_file[0] && c->supervisor.metrics_file[0] != '/') ||
	    (c->updater.metrics_file[0] && c->updater.metrics_file[0] != '/'))
		return error_set(err, "%s: [%s] metrics_file: must be an absolute path", name,
				 c->supervisor.metrics_file[0] && c->supervisor.metrics_file[0] != '/' ?
				 "supervisor" : "updater");
	if (c->amqp.file_dir[0] && (c->amqp.file_dir[0] != '/' || !c->amqp.file_dir[1]))
		return error_set(err, "%s: [amqp] file_dir: must be an absolute path other than /",
				 name);
	if (config_queue_type_ok(c->amqp.queue_type) < 0)
		return error_set(err, "%s: [amqp] queue_type: not classic or quorum", name);
	if (config_check_hook(c->hooks.pre_install, "pre_install", name, err) < 0 ||
	    config_check_hook(c->hooks.pre_activate, "pre_activate", name, err) < 0 ||
	    config_check_hook(c->hooks.post_commit, "post_commit", name, err) < 0)
		return -1;
	if (c->hooks.timeout_ms < 1000)
		return error_set(err, "%s: [hooks] timeout: at least 1s", name);
	if (c->agent.health_url[0] && http_url_parse(c->agent.health_url, &url, err) < 0)
		return error_prefix(err, "%s: [agent] health_url: ", name);
	return config_strategy_finish(c, &parse->strategy, name, err);
}

int config_load_string(struct config *config, const char *text, const char *name,
		       struct error *err)
{
	struct config_parse parse = { .config = config, .err = err };
	int line;

	config_defaults(config);
	snprintf(config->path, sizeof config->path, "%s", name);
	if (ini_text_check(text, strlen(text), name, err) < 0)
		return -1;
	line = ini_parse_string(text, config_handle, &parse);
	if (line != 0) {
		if (!parse.failed)
			error_set(err, "syntax error");
		return error_prefix(err, "%s:%d: ", name, line);
	}
	return config_finish(config, &parse, name, err);
}

int config_load(struct config *config, const char *path, struct error *err)
{
	char *text = NULL;
	size_t len;
	int rc;

	if (!path)
		path = CONFIG_DEFAULT_PATH;
	if (atomic_read_file(AT_FDCWD, path, 1 << 20, &text, &len, err) < 0) {
		config_defaults(config);
		return -1;
	}
	rc = config_load_string(config, text, path, err);
	free(text);
	return rc;
}

int config_split_words(const char *line, char **argv, char *storage, size_t storage_len,
		       struct error *err)
{
	size_t used = 0;
	int argc = 0;
	const char *p = line;

	while (*p) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		if (argc == CONFIG_ARGV_MAX - 1)
			return error_set(err, "command line has more than %d words",
					 CONFIG_ARGV_MAX - 1);
		argv[argc++] = storage + used;
		while (*p && *p != ' ' && *p != '\t') {
			if (used + 2 > storage_len)
				return error_set(err, "command line too long");
			storage[used++] = *p++;
		}
		storage[used++] = '\0';
	}
	argv[argc] = NULL;
	if (argc == 0)
		return error_set(err, "command line is empty");
	return argc;
}
