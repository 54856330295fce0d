/* config.h: the one INI file all programs share (docs/architecture.md, The fixed contract).
 *
 * config_load() starts from the defaults below, then applies the file.  An
 * unknown section or key, a malformed number, duration or boolean, or a value
 * too long for its field is an error "PATH:LINE: [section] key: what".
 * Durations take an optional unit: "250ms", "30s", "5m", "12h", "90d"; bare
 * numbers are seconds.  Most duration fields are 32-bit milliseconds (at most
 * 49d); max_bundle_age is 64-bit.  Secrets (swift_token, rpc_key, decrypt_key contents) are never
 * logged.  Adding a key: a field here and one row in slots/config.c's table. */
#ifndef SLOTD_CONFIG_H
#define SLOTD_CONFIG_H

#include <limits.h>
#include <stdint.h>
#include "error.h"

#define CONFIG_DEFAULT_PATH "/etc/slotd/slotd.ini"
#define CONFIG_STRING_MAX 1024
#define CONFIG_ARGV_MAX 32

enum health_kind { HEALTH_NOTIFY, HEALTH_EXEC, HEALTH_HTTP, HEALTH_UPTIME };

/* [strategy.NAME] sections (slots/config_strategy.c, docs/strategies.md): a
 * deployer's own download strategy, a program run in the confined fetch
 * process that writes the artifact to its stdout, or (format = pip) a
 * tarball of Python distributions built into a virtualenv in the slot,
 * fetched by that program or by the built-in http/file.  At most
 * CONFIG_STRATEGY_MAX, NAME 1..CONFIG_STRATEGY_NAME_MAX of [a-z0-9_-] and
 * not a built-in (http, swift, file); a section given twice is an error. */
#define CONFIG_STRATEGY_MAX 16
#define CONFIG_STRATEGY_NAME_MAX 31
#define CONFIG_STRATEGY_FETCH_MAX 512
#define CONFIG_STRATEGY_READ_MAX 8	/* paths in a `read` value */
#define CONFIG_STRATEGY_PACKAGE_MAX 128	/* a distribution name, PEP 508 */
#define CONFIG_STRATEGY_PYTHON_MAX 256
#define CONFIG_STRATEGY_BUILD_TIMEOUT_MS (10u * 60 * 1000)

/* What the fetcher writes.  Room to grow: a new format is a new row in
 * config_strategy.c's table and a branch where the artifact is consumed. */
enum strategy_format {
	STRATEGY_FORMAT_BUNDLE,		/* a signed slotpack bundle: the verifier's input */
	STRATEGY_FORMAT_PIP,		/* a tarball of wheels/sdists, checked against the
					 * request's sha256, built into <slot>/venv
					 * (updater/install/install_pip.h) */
};

struct config_strategy {
	char name[CONFIG_STRATEGY_NAME_MAX + 1];
	char fetch[CONFIG_STRATEGY_FETCH_MAX];	/* absolute path of the program; "" only
						 * with format = pip: the built-in http or
						 * file, by the location */
	enum strategy_format format;		/* bundle */
	unsigned timeout_ms;			/* 0: no bound of its own; silence on its
						 * stdout for [updater] low_speed_time kills it */
	char read[CONFIG_STRING_MAX];		/* "": none; more absolute paths it may read,
						 * blank-separated */
	/* format = pip only (required: package, exec) */
	char package[CONFIG_STRATEGY_PACKAGE_MAX];	/* the distribution to install */
	char exec[CONFIG_STRING_MAX];		/* the agent's command, relative to the venv */
	char python[CONFIG_STRATEGY_PYTHON_MAX];	/* /usr/bin/python3 */
	unsigned build_timeout_ms;		/* venv + pip + version check, 10m */
};

/* The built-in strategies' names, in the registry's order (updater/fetch/fetch.c). */
enum strategy_builtin { STRATEGY_HTTP, STRATEGY_SWIFT, STRATEGY_FILE, STRATEGY_BUILTIN_COUNT };

/* The [updater] trust keys (packaging/KEYS.md tells how to run them):
 *   keyring = PATH          a PEM file of trusted CA certificates, or a
 *                           directory whose *.pem files each hold some (all
 *                           are trusted: a new CA can be added before any
 *                           bundle is signed under it).
 *   crl = PATH              a PEM file of CRLs, or a directory of *.pem CRL
 *                           files.  When set, every certificate of the chain
 *                           is checked (OpenSSL's CRL_CHECK | CRL_CHECK_ALL):
 *                           each CA in the keyring needs a current CRL, even
 *                           an empty one, or every bundle is refused.
 *   allowed_signers = A, B  Common Names of the signer certificates allowed
 *                           to sign bundles, comma-separated, surrounding
 *                           blanks ignored; a signer matches when its subject
 *                           has exactly one CN equal to an entry, byte for
 *                           byte.  Empty: any certificate chaining to the
 *                           keyring may sign.
 *   max_bundle_age = 90d    refuse bundles whose CMS signingTime is older than
 *                           this, or missing, or more than 5 minutes ahead
 *                           of this machine's clock.  0 (default): no check.
 * Certificates (and CRLs) are checked against the current time. */
struct config {
	char path[PATH_MAX];
	struct {
		char root[PATH_MAX];			/* /var/lib/slotd */
		char compatible[256];			/* "" : must be set for installs */
	} slots;
	struct {
		char exec[CONFIG_STRING_MAX];		/* relative to current/, words split on blanks */
		enum health_kind health;		/* uptime */
		char health_exec[CONFIG_STRING_MAX];
		char health_url[CONFIG_STRING_MAX];	/* http://IP[:PORT]/PATH (http_url.h) */
		char health_http_helper[PATH_MAX];	/* "": slotd-httpcheck installed
							 * with slotd (../lib/slotd/) */
		unsigned startup_timeout_ms;		/* 30s */
		unsigned min_uptime_ms;			/* 10s */
		unsigned max_attempts;			/* 3 */
		unsigned stop_timeout_ms;		/* 10s */
		unsigned restart_backoff_max_ms;	/* 60s */
		unsigned health_timeout_ms;		/* 10s, for health=exec|http */
		unsigned probation_ms;			/* 0: off; after a commit */
		unsigned probation_max_exits;		/* 3: more exits within it revert */
	} agent;
	struct {
		char control_socket[PATH_MAX];		/* <root>/run/control.sock */
		long admin_uid;				/* -1: root only */
		long updater_uid;			/* -1: root only */
		unsigned inhibit_timeout_ms;		/* 60s */
		char metrics_file[PATH_MAX];		/* "": none; Prometheus text */
	} supervisor;
	struct {
		char strategy[32];			/* http */
		char keyring[PATH_MAX];
		char crl[PATH_MAX];			/* "" : no revocation check */
		char allowed_signers[CONFIG_STRING_MAX];	/* "" : any chained signer */
		uint64_t max_bundle_age_ms;		/* 0 : no freshness check */
		char decrypt_key[PATH_MAX];
		unsigned retries;			/* 5 */
		char cache[PATH_MAX];			/* <root>/cache */
		char swift_token[CONFIG_STRING_MAX];
		char ca_path[PATH_MAX];			/* "" : system CAs */
		uint64_t max_rate;			/* bytes/s, 0 = unlimited */
		unsigned low_speed_time_ms;		/* 30s below 1 KiB/s aborts */
		unsigned retry_backoff_ms;		/* 1s, doubled per retry */
		unsigned retry_backoff_max_ms;		/* 60s */
		unsigned max_redirects;			/* 5 */
		unsigned activate_timeout_ms;		/* 10m */
		uint64_t max_bytes;			/* 4 GiB unpacked */
		uint64_t max_entries;			/* 100000 */
		int allow_setuid;			/* false */
		int automatic;				/* true: obey policies' casts */
		int delta;				/* true: format 3 bundles by range
							 * requests from the running slot */
		char fetch_user[64];			/* the download's and serve's AMQP process's;
							 * "" : _slotupd-fetch, else nobody */
		char metrics_file[PATH_MAX];		/* "": none; Prometheus text */
	} updater;
	struct {
		char url[CONFIG_STRING_MAX];		/* amqp://guest:guest@127.0.0.1:5672/ */
		char exchange[128];			/* trove */
		int exchange_durable;			/* false (oslo default) */
		char instance_id[128];
		char queue[256];			/* slotupd.<instance_id> */
		char conductor_topic[128];		/* trove-conductor */
		unsigned heartbeat_interval_ms;		/* 60s */
		unsigned retry_interval_ms;		/* 10s: a DEFERRED message is retried */
		unsigned download_jitter_ms;		/* 0: an upgrade starts within this */
		char rpc_key[256];
		char rpc_keys[PATH_MAX];		/* slotctl notify: "INSTANCE_ID KEY" lines */
		unsigned max_age_ms;			/* 0: off; else casts need a recent args.sent */
		char ca_path[PATH_MAX];
		char file_dir[PATH_MAX];		/* "": `file` refused over AMQP; else beneath it */
		char queue_type[16];			/* classic | quorum (RabbitMQ clusters) */
	} amqp;
	struct {
		struct config_strategy list[CONFIG_STRATEGY_MAX];
		unsigned count;
	} strategies;
	struct {	/* programs slotupd runs around an upgrade (updater/install/hooks.c) */
		char pre_install[PATH_MAX];		/* "": none; before anything is written */
		char pre_activate[PATH_MAX];		/* "": none; new slot written, before the flip */
		char post_commit[PATH_MAX];		/* "": none; after the trial passed */
		unsigned timeout_ms;			/* 10m: then the hook is killed */
	} hooks;
};

void config_defaults(struct config *config);
/* Loads path (NULL: CONFIG_DEFAULT_PATH).  A missing file is an error. */
int config_load(struct config *config, const char *path, struct error *err);
/* Same, from text (tests); `name` is used in messages. */
int config_load_string(struct config *config, const char *text, const char *name,
		       struct error *err);

/* [amqp] queue_type, for slotupd and slotfleet alike: 0 for "classic" or
 * "quorum" (oslo.messaging's rabbit_quorum_queue), else -1. */
int config_queue_type_ok(const char *name);
/* Strategy names (slots/config_strategy.c).  _name_ok: 1..31 of [a-z0-9_-].
 * _builtin_name: "http", "swift", "file".  _builtin: the index of a built-in
 * name, or -1.  _find: the [strategy.NAME] section, or NULL.  _known: "http,
 * swift, file, NAME..." for messages (at most len bytes). */
int config_strategy_name_ok(const char *name);
const char *config_strategy_builtin_name(enum strategy_builtin which);
int config_strategy_builtin(const char *name);
const struct config_strategy *config_strategy_find(const struct config *config, const char *name);
void config_strategy_known(const struct config *config, char *out, size_t len);
/* The format's name, and its value by name (-1: unknown). */
const char *config_strategy_format_name(enum strategy_format format);

/* Splits a command line on blanks into argv (NULL-terminated, at most
 * CONFIG_ARGV_MAX-1 words), copying into storage.  No quoting, no shell. */
int config_split_words(const char *line, char **argv, char *storage, size_t storage_len,
		       struct error *err);

/* Parses "250ms", "30s", "5m", "12h", "2d", "2" (seconds) into milliseconds;
 * -1 if malformed or out of range (32 bits for the first). */
int config_parse_duration(const char *text, unsigned *ms);
int config_parse_duration64(const char *text, uint64_t *ms);

#endif
