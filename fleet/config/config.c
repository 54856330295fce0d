/* config.c: slotfleet's configuration (see config/fleet_config.h).
 *
 * Table driven like slots/config.c: one row per key naming its section,
 * key, type and field; unknown sections and keys, and a key given twice,
 * are errors with the line. */
#include <fcntl.h>
#include <ini.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic.h"
#include "config/fleet_config.h"
#include "ini_text.h"
#include "number.h"
#include "rpc_message.h"

enum fleet_key_type { FKEY_STRING, FKEY_BOOL, FKEY_UINT, FKEY_DURATION, FKEY_SIZE,
		      FKEY_RATE, FKEY_LISTEN, FKEY_RPC_CAP };

struct fleet_key {
	const char *section;
	const char *name;
	enum fleet_key_type type;
	size_t offset;
	size_t size;
};

#define FKEY(sec, key, type, field) \
	{ sec, key, type, offsetof(struct fleet_config, field), \
	  sizeof(((struct fleet_config *)0)->field) }

static const struct fleet_key fleet_keys[] = {
	FKEY("api", "listen", FKEY_LISTEN, api.listen),
	FKEY("api", "auth", FKEY_STRING, api.auth),
	FKEY("api", "tokens", FKEY_STRING, api.tokens),
	FKEY("api", "rate", FKEY_RATE, api.rate_count),
	FKEY("api", "burst", FKEY_UINT, api.burst),
	FKEY("api", "max_body", FKEY_SIZE, api.max_body),
	FKEY("api", "threads", FKEY_UINT, api.threads),
	FKEY("api", "connection_limit", FKEY_UINT, api.connection_limit),
	FKEY("api", "timeout", FKEY_DURATION, api.timeout_ms),
	FKEY("api", "ui", FKEY_BOOL, api.ui),
	FKEY("keystone", "auth_url", FKEY_STRING, keystone.auth_url),
	FKEY("keystone", "username", FKEY_STRING, keystone.username),
	FKEY("keystone", "password", FKEY_STRING, keystone.password),
	FKEY("keystone", "password_file", FKEY_STRING, keystone.password_file),
	FKEY("keystone", "user_domain_name", FKEY_STRING, keystone.user_domain_name),
	FKEY("keystone", "project_name", FKEY_STRING, keystone.project_name),
	FKEY("keystone", "project_domain_name", FKEY_STRING, keystone.project_domain_name),
	FKEY("keystone", "ca_file", FKEY_STRING, keystone.ca_file),
	FKEY("keystone", "cache_ttl", FKEY_DURATION, keystone.cache_ttl_ms),
	FKEY("keystone", "admin_roles", FKEY_STRING, keystone.admin_roles),
	FKEY("keystone", "timeout", FKEY_DURATION, keystone.timeout_ms),
	FKEY("db", "path", FKEY_STRING, db.path),
	FKEY("db", "url", FKEY_STRING, db.url),
	FKEY("amqp", "url", FKEY_STRING, amqp.url),
	FKEY("amqp", "exchange", FKEY_STRING, amqp.exchange),
	FKEY("amqp", "exchange_durable", FKEY_BOOL, amqp.exchange_durable),
	FKEY("amqp", "conductor_topic", FKEY_STRING, amqp.conductor_topic),
	FKEY("amqp", "queue", FKEY_STRING, amqp.queue),
	FKEY("amqp", "rpc_keys", FKEY_STRING, amqp.rpc_keys),
	FKEY("amqp", "ca_path", FKEY_STRING, amqp.ca_path),
	FKEY("amqp", "prefetch", FKEY_UINT, amqp.prefetch),
	FKEY("amqp", "queue_type", FKEY_STRING, amqp.queue_type),
	FKEY("amqp", "rpc_version_cap", FKEY_RPC_CAP, amqp.rpc_version_cap),
};

#define FLEET_KEY_COUNT (sizeof fleet_keys / sizeof fleet_keys[0])

struct fleet_parse {
	struct fleet_config *config;
	struct error *err;
	int failed;
	unsigned char seen[FLEET_KEY_COUNT];
};

void fleet_config_defaults(struct fleet_config *c)
{
	memset(c, 0, sizeof *c);
	snprintf(c->api.listen, sizeof c->api.listen, "127.0.0.1:8779");
	snprintf(c->api.host, sizeof c->api.host, "127.0.0.1");
	c->api.port = 8779;
	c->api.rate_count = 20;
	c->api.rate_period_ms = 1000;
	c->api.max_body = 64 << 10;
	c->api.threads = 4;
	c->api.connection_limit = 256;
	c->api.timeout_ms = 30000;
	c->api.ui = 1;
	snprintf(c->api.auth, sizeof c->api.auth, "tokens");
	snprintf(c->keystone.user_domain_name, sizeof c->keystone.user_domain_name, "Default");
	snprintf(c->keystone.project_domain_name, sizeof c->keystone.project_domain_name, "Default");
	c->keystone.cache_ttl_ms = 300000;
	snprintf(c->keystone.admin_roles, sizeof c->keystone.admin_roles, "admin");
	c->keystone.timeout_ms = 5000;
	snprintf(c->amqp.url, sizeof c->amqp.url, "amqp://guest:guest@127.0.0.1:5672/");
	snprintf(c->amqp.exchange, sizeof c->amqp.exchange, "trove");
	snprintf(c->amqp.conductor_topic, sizeof c->amqp.conductor_topic, "trove-conductor");
	c->amqp.prefetch = 16;
	snprintf(c->amqp.queue_type, sizeof c->amqp.queue_type, "classic");
	snprintf(c->amqp.rpc_version_cap, sizeof c->amqp.rpc_version_cap, "auto");
}

int fleet_config_parse_rate(const char *text, unsigned *count, unsigned *period_ms)
{
	const char *slash = strchr(text, '/');
	unsigned long long n;
	char digits[16];
	size_t len;

	if (!slash || (slash[1] != 's' && slash[1] != 'm') || slash[2])
		return -1;
	len = (size_t)(slash - text);
	if (len == 0 || len >= sizeof digits)
		return -1;
	memcpy(digits, text, len);
	digits[len] = '\0';
	if (number_parse(digits, 1000000, &n) < 0 || n == 0)
		return -1;
	*count = (unsigned)n;
	*period_ms = slash[1] == 's' ? 1000 : 60000;
	return 0;
}

/* "65536", "64k", "64KiB", "1M", "1MiB": at most 16 MiB. */
static int fleet_parse_size(const char *text, size_t *out)
{
	char digits[24];
	size_t len = strspn(text, "0123456789"), scale = 1;
	const char *unit = text + len;
	unsigned long long n;

	if (len == 0 || len >= sizeof digits)
		return -1;
	if (!strcmp(unit, "k") || !strcmp(unit, "K") || !strcmp(unit, "KiB"))
		scale = 1024;
	else if (!strcmp(unit, "M") || !strcmp(unit, "MiB"))
		scale = 1024 * 1024;
	else if (*unit)
		return -1;
	memcpy(digits, text, len);
	digits[len] = '\0';
	if (number_parse(digits, (16u << 20) / scale, &n) < 0 || n == 0)
		return -1;
	*out = (size_t)n * scale;
	return 0;
}

/* HOST:PORT, [V6]:PORT; the host is not resolved here. */
static int fleet_parse_listen(struct fleet_config *c, const char *text)
{
	const char *colon = strrchr(text, ':');
	unsigned long long port;
	size_t host_len;

	if (!colon || number_parse(colon + 1, 65535, &port) < 0)
		return -1;
	host_len = (size_t)(colon - text);
	if (host_len >= 2 && text[0] == '[' && text[host_len - 1] == ']') {
		text++;
		host_len -= 2;
	}
	if (host_len == 0 || host_len >= sizeof c->api.host ||
	    strspn(text, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:") < host_len)
		return -1;
	memcpy(c->api.host, text, host_len);
	c->api.host[host_len] = '\0';
	c->api.port = (unsigned)port;
	return 0;
}

static int fleet_parse_bool(const char *text, int *out)
{
	if (!strcmp(text, "true") || !strcmp(text, "yes") || !strcmp(text, "1"))
		*out = 1;
	else if (!strcmp(text, "false") || !strcmp(text, "no") || !strcmp(text, "0"))
		*out = 0;
	else
		return -1;
	return 0;
}

/* Stores value into the key's field; returns a complaint or NULL. */
static const char *fleet_store_key(struct fleet_config *c, const struct fleet_key *key,
				   const char *value)
{
	char *field = (char *)c + key->offset;
	unsigned long long n;
	unsigned major, minor;

	switch (key->type) {
	case FKEY_STRING:
		if (strlen(value) >= key->size)
			return "value too long";
		memcpy(field, value, strlen(value) + 1);
		return NULL;
	case FKEY_BOOL:
		return fleet_parse_bool(value, (int *)(void *)field) < 0 ?
		       "not a boolean (true or false)" : NULL;
	case FKEY_UINT:
		if (number_parse(value, 1000000, &n) < 0 || n == 0)
			return "not a whole number from 1 to 1000000";
		*(unsigned *)(void *)field = (unsigned)n;
		return NULL;
	case FKEY_DURATION:
		return config_parse_duration(value, (unsigned *)(void *)field) < 0 ?
		       "not a duration (e.g. 500ms, 30s, 5m)" : NULL;
	case FKEY_SIZE:
		return fleet_parse_size(value, (size_t *)(void *)field) < 0 ?
		       "not a size from 1 byte to 16 MiB (e.g. 65536, 64KiB, 1MiB)" : NULL;
	case FKEY_RATE:
		return fleet_config_parse_rate(value, &c->api.rate_count, &c->api.rate_period_ms) < 0 ?
		       "not a rate N/s or N/m (N from 1 to 1000000)" : NULL;
	case FKEY_RPC_CAP:
		if (strcmp(value, "auto") && (strlen(value) >= key->size ||
		    rpc_api_version_parse(value, strlen(value), &major, &minor) < 0))
			return "not auto or a guest RPC API version MAJOR.MINOR (e.g. 1.0)";
		memcpy(field, value, strlen(value) + 1);
		return NULL;
	case FKEY_LISTEN:
		if (strlen(value) >= key->size || fleet_parse_listen(c, value) < 0)
			return "not HOST:PORT or [IPV6]:PORT";
		memcpy(field, value, strlen(value) + 1);
		return NULL;
	}
	return "unsupported key type";
}

static int fleet_known_section(const char *section)
{
	size_t i;

	for (i = 0; i < FLEET_KEY_COUNT; i++)
		if (!strcmp(fleet_keys[i].section, section))
			return 1;
	return 0;
}

/* inih handler: returning 0 makes ini_parse_string() report this line. */
static int fleet_config_handle(void *user, const char *section, const char *name,
			       const char *value)
{
	struct fleet_parse *parse = user;
	const char *complaint = "unknown key";
	size_t i;

	if (parse->failed)
		return 0;
	if (!fleet_known_section(section)) {
		parse->failed = 1;
		error_set(parse->err, "unknown section [%.40s]", section);
		return 0;
	}
	for (i = 0; i < FLEET_KEY_COUNT; i++) {
		if (strcmp(fleet_keys[i].section, section) || strcmp(fleet_keys[i].name, name))
			continue;
		complaint = parse->seen[i] ? "given twice" :
			    fleet_store_key(parse->config, &fleet_keys[i], value);
		parse->seen[i] = 1;
		break;
	}
	if (!complaint)
		return 1;
	parse->failed = 1;
	error_set(parse->err, "[%s] %.60s: %s", section, name, complaint);
	return 0;
}

/* admin_roles: names separated by commas, blanks around them allowed. */
static int fleet_check_roles(const char *text)
{
	const char *p = text;
	size_t len;

	for (;;) {
		p += strspn(p, " \t");
		len = strcspn(p, ", \t");
		if (len == 0 || len > 64)
			return -1;
		p += len;
		p += strspn(p, " \t");
		if (!*p)
			return 0;
		if (*p++ != ',')
			return -1;
	}
}

static int fleet_config_keystone(struct fleet_config *c, const char *name, struct error *err)
{
	const struct { const char *key, *value; } required[] = {
		{ "auth_url", c->keystone.auth_url }, { "username", c->keystone.username },
		{ "project_name", c->keystone.project_name },
		{ "user_domain_name", c->keystone.user_domain_name },
		{ "project_domain_name", c->keystone.project_domain_name },
	};

	for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
		if (!required[i].value[0])
			return error_set(err, "%s: [keystone] %s: missing (auth = keystone)", name,
					 required[i].key);
	if (strncmp(c->keystone.auth_url, "http://", 7) && strncmp(c->keystone.auth_url, "https://", 8))
		return error_set(err, "%s: [keystone] auth_url: want http://... or https://...", name);
	if (!c->keystone.password[0] == !c->keystone.password_file[0])
		return error_set(err, "%s: [keystone]: set exactly one of password and password_file",
				 name);
	if (c->keystone.timeout_ms == 0 || c->keystone.timeout_ms > 60000)
		return error_set(err, "%s: [keystone] timeout: want from 1ms to 60s", name);
	if (fleet_check_roles(c->keystone.admin_roles) < 0)
		return error_set(err, "%s: [keystone] admin_roles: want role names separated by commas",
				 name);
	return 0;
}

static int fleet_config_auth(struct fleet_config *c, const char *name, struct error *err)
{
	c->api.keystone = !strcmp(c->api.auth, "keystone");
	if (!c->api.keystone && strcmp(c->api.auth, "tokens"))
		return error_set(err, "%s: [api] auth: want tokens or keystone", name);
	if (c->api.keystone)
		return fleet_config_keystone(c, name, err);
	if (!c->api.tokens[0])
		return error_set(err, "%s: [api] tokens: missing (the token file)", name);
	return 0;
}

/* Derived defaults and the checks that span keys. */
static int fleet_config_finish(struct fleet_parse *parse, const char *name, struct error *err)
{
	struct fleet_config *c = parse->config;
	unsigned per_second;

	if (fleet_config_auth(c, name, err) < 0)
		return -1;
	if (!c->db.path[0] == !c->db.url[0])
		return error_set(err, "%s: [db]: set exactly one of path and url", name);
	if (c->db.url[0] && strncmp(c->db.url, "postgresql://", 13) &&
	    strncmp(c->db.url, "postgres://", 11))
		return error_set(err, "%s: [db] url: want postgresql://...", name);
	if (!c->api.burst) {	/* 0 is refused in the file: not given */
		per_second = c->api.rate_period_ms == 1000 ? c->api.rate_count :
			     (c->api.rate_count + 59) / 60;
		c->api.burst = per_second ? per_second : 1;
	}
	if (config_queue_type_ok(c->amqp.queue_type) < 0)
		return error_set(err, "%s: [amqp] queue_type: not classic or quorum", name);
	if (!c->amqp.queue[0] &&
	    snprintf(c->amqp.queue, sizeof c->amqp.queue, "slotfleet.%s", c->amqp.conductor_topic) >=
		    (int)sizeof c->amqp.queue)
		return error_set(err, "%s: [amqp] conductor_topic: too long", name);
	return 0;
}

int fleet_config_load_string(struct fleet_config *config, const char *text, const char *name,
			     struct error *err)
{
	struct fleet_parse parse = { .config = config, .err = err };
	int line;

	fleet_config_defaults(config);
	snprintf(config->path, sizeof config->path, "%s", name);
	if (ini_text_check(text, strlen(text), name, err) < 0)
		return -1;
	line = ini_parse_string(text, fleet_config_handle, &parse);
	if (line != 0) {
		if (!parse.failed)
			error_set(err, "syntax error");
		return error_prefix(err, "%s:%d: ", name, line);
	}
	return fleet_config_finish(&parse, name, err);
}

int fleet_config_load(struct fleet_config *config, const char *path, struct error *err)
{
	char *text = NULL;
	size_t len;
	int rc;

	if (!path)
		path = FLEET_CONFIG_DEFAULT_PATH;
	fleet_config_defaults(config);
	if (atomic_read_file(AT_FDCWD, path, 1 << 20, &text, &len, err) < 0)
		return -1;
	rc = fleet_config_load_string(config, text, path, err);
	free(text);
	return rc;
}

void fleet_config_amqp(const struct fleet_config *config, struct config *out)
{
	config_defaults(out);
	snprintf(out->path, sizeof out->path, "%s", config->path);
	snprintf(out->amqp.url, sizeof out->amqp.url, "%s", config->amqp.url);
	snprintf(out->amqp.exchange, sizeof out->amqp.exchange, "%s", config->amqp.exchange);
	out->amqp.exchange_durable = config->amqp.exchange_durable;
	snprintf(out->amqp.conductor_topic, sizeof out->amqp.conductor_topic, "%s",
		 config->amqp.conductor_topic);
	snprintf(out->amqp.queue, sizeof out->amqp.queue, "%s", config->amqp.queue);
	snprintf(out->amqp.ca_path, sizeof out->amqp.ca_path, "%s", config->amqp.ca_path);
	snprintf(out->amqp.queue_type, sizeof out->amqp.queue_type, "%s", config->amqp.queue_type);
}
