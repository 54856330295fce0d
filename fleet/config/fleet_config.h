/* fleet_config.h: slotfleet's INI file (docs/fleet.md, "API contract").
 *
 * fleet_config_load() starts from the defaults below, then applies the file
 * (default /etc/slotd/slotfleet.ini).  An unknown section or key, a key given
 * twice, or a malformed value is an error "PATH:LINE: [section] key: what";
 * values are never echoed (a URL may hold a password).  Exactly one of
 * [db] path and [db] url must be set.  [api] auth = tokens (the default)
 * needs [api] tokens; auth = keystone needs [keystone] auth_url, username,
 * project_name and exactly one of password and password_file (the
 * [keystone] section is ignored with tokens, [api] tokens with keystone).
 * Adding a key: a field here and one row
 * in config/config.c's table. */
#ifndef SLOTFLEET_CONFIG_H
#define SLOTFLEET_CONFIG_H

#include <limits.h>
#include <stddef.h>

#include "config.h"
#include "error.h"

#define FLEET_CONFIG_DEFAULT_PATH "/etc/slotd/slotfleet.ini"

struct fleet_config {
	char path[PATH_MAX];
	struct {
		char listen[256];		/* HOST:PORT or [V6]:PORT, 127.0.0.1:8779 */
		char host[256];			/* split from listen */
		unsigned port;			/* 0: any free port (tests) */
		char auth[16];			/* "tokens" (default) or "keystone" */
		int keystone;			/* auth = keystone */
		char tokens[PATH_MAX];		/* token file, required with tokens */
		unsigned rate_count;		/* rate = rate_count per rate_period_ms: 20/s */
		unsigned rate_period_ms;
		unsigned burst;			/* default: the rate per second, at least 1 */
		size_t max_body;		/* 64 KiB */
		unsigned threads;		/* 4: request threads (MHD thread pool) */
		unsigned connection_limit;	/* 256 */
		unsigned timeout_ms;		/* 30s: an idle connection is closed */
		int ui;				/* yes: the web UI at /ui/ (docs/dashboard.md) */
	} api;
	struct {
		char auth_url[CONFIG_STRING_MAX];	/* http(s)://HOST:5000/v3 */
		char username[256];		/* the service user */
		char password[256];		/* or password_file */
		char password_file[PATH_MAX];	/* its first line is the password */
		char user_domain_name[256];	/* Default */
		char project_name[256];		/* the service project */
		char project_domain_name[256];	/* Default */
		char ca_file[PATH_MAX];		/* "" : system CAs */
		unsigned cache_ttl_ms;		/* 300s: a validation is trusted this long */
		char admin_roles[512];		/* "admin": comma list, any one grants */
		unsigned timeout_ms;		/* 5s: a request waits on Keystone at most this */
	} keystone;
	struct {
		char path[PATH_MAX];		/* SQLite file */
		char url[CONFIG_STRING_MAX];	/* postgresql://... */
	} db;
	struct {
		char url[CONFIG_STRING_MAX];	/* amqp://guest:guest@127.0.0.1:5672/ */
		char exchange[128];		/* trove */
		int exchange_durable;		/* false */
		char conductor_topic[128];	/* trove-conductor */
		char queue[256];		/* slotfleet.<conductor_topic> */
		char rpc_keys[PATH_MAX];	/* "" : no instance has a key */
		char ca_path[PATH_MAX];		/* amqps:// CA, "" : system CAs */
		unsigned prefetch;		/* 16 unacknowledged reports at most */
		char queue_type[16];		/* classic | quorum: its own queue */
		char rpc_version_cap[16];	/* "auto" (each instance's own) or MAJOR.MINOR:
						 * the highest guest RPC API a cast may use */
	} amqp;
};

void fleet_config_defaults(struct fleet_config *config);
/* path NULL: FLEET_CONFIG_DEFAULT_PATH.  A missing file is an error. */
int fleet_config_load(struct fleet_config *config, const char *path, struct error *err);
int fleet_config_load_string(struct fleet_config *config, const char *text, const char *name,
			     struct error *err);
/* "N/s" or "N/m", N from 1 to 1000000. */
int fleet_config_parse_rate(const char *text, unsigned *count, unsigned *period_ms);
/* The AMQP part as the updater's struct config (amqp_link.h, rpc_message.h
 * take one): defaults plus url, exchange, durability, topic, queue, its
 * type, CA. */
void fleet_config_amqp(const struct fleet_config *config, struct config *out);

#endif
