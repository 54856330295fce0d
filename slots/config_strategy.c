/* config_strategy.c: strategy names and the [strategy.NAME] sections (see
 * include/config.h and slots/config_strategy.h).  The built-in names live
 * here, not in the updater's registry, because slotd, slotctl and slotfleet
 * need them too and link only libslots. */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "config_strategy.h"

#define STRATEGY_NAME_CHARS "abcdefghijklmnopqrstuvwxyz0123456789_-"

static const char *const strategy_builtins[STRATEGY_BUILTIN_COUNT] = {
	[STRATEGY_HTTP] = "http", [STRATEGY_SWIFT] = "swift", [STRATEGY_FILE] = "file",
};

static const char *const strategy_formats[] = {
	[STRATEGY_FORMAT_BUNDLE] = "bundle", [STRATEGY_FORMAT_PIP] = "pip",
};
#define STRATEGY_FORMAT_COUNT (sizeof strategy_formats / sizeof strategy_formats[0])

enum strategy_key {
	KEY_FETCH, KEY_FORMAT, KEY_TIMEOUT, KEY_READ,
	KEY_PACKAGE, KEY_EXEC, KEY_PYTHON, KEY_BUILD_TIMEOUT,	/* format = pip */
	KEY_COUNT
};
static const char *const strategy_keys[KEY_COUNT] = {
	[KEY_FETCH] = "fetch", [KEY_FORMAT] = "format", [KEY_TIMEOUT] = "timeout",
	[KEY_READ] = "read", [KEY_PACKAGE] = "package", [KEY_EXEC] = "exec",
	[KEY_PYTHON] = "python", [KEY_BUILD_TIMEOUT] = "build_timeout",
};
#define KEYS_PIP_ONLY ((1u << KEY_PACKAGE) | (1u << KEY_EXEC) | (1u << KEY_PYTHON) | \
		       (1u << KEY_BUILD_TIMEOUT))

/* A PEP 508 distribution name: letters, digits, '.', '_', '-', starting
 * and ending with a letter or digit.  It becomes a word of pip's argv. */
static int strategy_package_ok(const char *name)
{
	size_t len = strlen(name);
	const char *alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

	return len > 0 && len < CONFIG_STRATEGY_PACKAGE_MAX &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
	       len && strchr(alnum, name[0]) && strchr(alnum, name[len - 1]);
}

/* The agent's command inside the venv: its first word relative, without a
 * ".." component (it must name a file of the slot). */
static int strategy_exec_ok(const char *value)
{
	size_t len = strcspn(value, " \t");
	const char *p = value;

	if (!len || value[0] == '/')
		return 0;
	while (p < value + len) {
		size_t part = strcspn(p, "/ \t");

		if (part == 2 && p[0] == '.' && p[1] == '.')
			return 0;
		p += part + (p[part] == '/');
	}
	return 1;
}

int config_strategy_name_ok(const char *name)
{
	size_t len = strnlen(name, CONFIG_STRATEGY_NAME_MAX + 1);

	return len > 0 && len <= CONFIG_STRATEGY_NAME_MAX &&
	       strspn(name, STRATEGY_NAME_CHARS) == len;
}

const char *config_strategy_builtin_name(enum strategy_builtin which)
{
	return strategy_builtins[which];
}

int config_strategy_builtin(const char *name)
{
	int i;

	for (i = 0; name && i < STRATEGY_BUILTIN_COUNT; i++)
		if (!strcmp(strategy_builtins[i], name))
			return i;
	return -1;
}

const struct config_strategy *config_strategy_find(const struct config *config, const char *name)
{
	unsigned i;

	for (i = 0; config && name && i < config->strategies.count; i++)
		if (!strcmp(config->strategies.list[i].name, name))
			return &config->strategies.list[i];
	return NULL;
}

void config_strategy_known(const struct config *config, char *out, size_t len)
{
	size_t used = 0;
	unsigned i;
	int n;

	out[0] = '\0';
	for (i = 0; i < STRATEGY_BUILTIN_COUNT + (config ? config->strategies.count : 0); i++) {
		n = snprintf(out + used, len - used, "%s%s", i ? ", " : "",
			     i < STRATEGY_BUILTIN_COUNT ? strategy_builtins[i] :
			     config->strategies.list[i - STRATEGY_BUILTIN_COUNT].name);
		if (n < 0 || (size_t)n >= len - used)
			return;
		used += (size_t)n;
	}
}

const char *config_strategy_format_name(enum strategy_format format)
{
	return (size_t)format < STRATEGY_FORMAT_COUNT ? strategy_formats[format] : "?";
}

static int strategy_format_parse(const char *text, enum strategy_format *out)
{
	size_t i;

	for (i = 0; i < STRATEGY_FORMAT_COUNT; i++)
		if (!strcmp(text, strategy_formats[i])) {
			*out = (enum strategy_format)i;
			return 0;
		}
	return -1;
}

/* "want one of bundle" / "want one of bundle, pip" */
static void strategy_format_list(char *out, size_t len)
{
	size_t i, used = 0;

	out[0] = '\0';
	for (i = 0; i < STRATEGY_FORMAT_COUNT && used < len; i++)
		used += (size_t)snprintf(out + used, len - used, "%s%s", i ? ", " : "",
					 strategy_formats[i]);
}

/* Every blank-separated word of a `read` value is an absolute path, and
 * there are at most CONFIG_STRATEGY_READ_MAX. */
static int strategy_read_ok(const char *value)
{
	const char *p = value;
	unsigned words = 0;

	while (*(p += strspn(p, " \t"))) {
		if (*p != '/' || ++words > CONFIG_STRATEGY_READ_MAX)
			return 0;
		p += strcspn(p, " \t");
	}
	return 1;
}

/* The section's entry, made on its first key; -1 err set. */
static int strategy_open(struct config *config, struct config_strategy_parse *parse,
			 const char *section, struct error *err)
{
	const char *name = section + strlen(CONFIG_STRATEGY_PREFIX);
	struct config_strategy *s;
	int returning = strcmp(parse->section, section) != 0;

	snprintf(parse->section, sizeof parse->section, "%.*s", (int)sizeof parse->section - 1,
		 section);
	if (!config_strategy_name_ok(name))
		return error_set(err, "[%.48s]: not a strategy name: want 1 to %d of [a-z0-9_-]",
				 section, CONFIG_STRATEGY_NAME_MAX);
	if (config_strategy_builtin(name) >= 0)
		return error_set(err, "[%s]: '%s' is a built-in strategy", section, name);
	s = (struct config_strategy *)config_strategy_find(config, name);
	if (s && returning)
		return error_set(err, "[%s]: section given twice", section);
	if (s)
		return (int)(s - config->strategies.list);
	if (config->strategies.count == CONFIG_STRATEGY_MAX)
		return error_set(err, "[%s]: more than %d strategy sections", section,
				 CONFIG_STRATEGY_MAX);
	s = &config->strategies.list[config->strategies.count];
	memset(s, 0, sizeof *s);
	snprintf(s->name, sizeof s->name, "%s", name);
	s->format = STRATEGY_FORMAT_BUNDLE;
	snprintf(s->python, sizeof s->python, "/usr/bin/python3");
	s->build_timeout_ms = CONFIG_STRATEGY_BUILD_TIMEOUT_MS;
	return (int)config->strategies.count++;
}

/* The keys of format = pip; NULL or the complaint. */
static const char *strategy_store_pip(struct config_strategy *s, enum strategy_key key,
				      const char *value)
{
	switch (key) {
	case KEY_PACKAGE:
		if (!strategy_package_ok(value))
			return "not a distribution name (letters, digits, '.', '_', '-')";
		snprintf(s->package, sizeof s->package, "%s", value);
		return NULL;
	case KEY_EXEC:
		if (!strategy_exec_ok(value))
			return "want a command whose first word is relative to the venv, "
			       "without '..'";
		if (strlen(value) >= sizeof s->exec)
			return "value too long";
		snprintf(s->exec, sizeof s->exec, "%s", value);
		return NULL;
	case KEY_PYTHON:
		if (value[0] != '/')
			return "must be an absolute path";
		if (strlen(value) >= sizeof s->python)
			return "value too long";
		snprintf(s->python, sizeof s->python, "%s", value);
		return NULL;
	case KEY_BUILD_TIMEOUT:
		if (config_parse_duration(value, &s->build_timeout_ms) < 0)
			return "not a duration (e.g. 500ms, 30s, 5m, 2h, up to 49d)";
		if (s->build_timeout_ms < 1000)
			return "at least 1s";
		return NULL;
	default:
		break;
	}
	return "unknown key";
}

/* Stores one value; NULL or the complaint. */
static const char *strategy_store(struct config_strategy *s, enum strategy_key key,
				  const char *value, char *buf, size_t len)
{
	switch (key) {
	case KEY_FETCH:
		if (value[0] != '/')
			return "must be an absolute path";
		if (strlen(value) >= sizeof s->fetch)
			return "value too long";
		snprintf(s->fetch, sizeof s->fetch, "%s", value);
		return NULL;
	case KEY_FORMAT:
		if (strategy_format_parse(value, &s->format) == 0)
			return NULL;
		snprintf(buf, len, "not a format: want one of ");
		strategy_format_list(buf + strlen(buf), len - strlen(buf));
		return buf;
	case KEY_TIMEOUT:
		if (config_parse_duration(value, &s->timeout_ms) < 0)
			return "not a duration (e.g. 500ms, 30s, 5m, 2h, up to 49d)";
		if (s->timeout_ms < 1000)
			return "at least 1s";
		return NULL;
	case KEY_READ:
		if (!strategy_read_ok(value))
			return "want at most 8 absolute paths separated by blanks";
		if (strlen(value) >= sizeof s->read)
			return "value too long";
		snprintf(s->read, sizeof s->read, "%s", value);
		return NULL;
	default:
		return strategy_store_pip(s, key, value);
	}
}

int config_strategy_key(struct config *config, struct config_strategy_parse *parse,
			const char *section, const char *name, const char *value,
			struct error *err)
{
	int index = strategy_open(config, parse, section, err);
	const char *complaint = "unknown key";
	char buf[128];
	unsigned key;

	if (index < 0)
		return -1;
	for (key = 0; key < KEY_COUNT; key++) {
		if (strcmp(strategy_keys[key], name))
			continue;
		complaint = parse->seen[index] & (1u << key) ? "given twice" :
			    strategy_store(&config->strategies.list[index], key, value, buf,
					   sizeof buf);
		parse->seen[index] |= 1u << key;
		break;
	}
	if (!complaint)
		return 0;
	return error_set(err, "[%s] %.40s: %s", section, name, complaint);
}

/* What a section needs for its format: a bundle its fetch, a pip section
 * its package and exec, and pip's keys only with pip. */
static int strategy_section_finish(const struct config_strategy *s, unsigned seen,
				   const char *file, struct error *err)
{
	const char *missing = NULL;
	unsigned key;

	if (s->format == STRATEGY_FORMAT_BUNDLE) {
		for (key = 0; key < KEY_COUNT; key++)
			if ((seen & KEYS_PIP_ONLY & (1u << key)))
				return error_set(err, "%s: [strategy.%s] %s: only with format = pip",
						 file, s->name, strategy_keys[key]);
		if (!s->fetch[0])
			missing = "fetch";
	} else if (!s->package[0]) {
		missing = "package";
	} else if (!s->exec[0]) {
		missing = "exec";
	}
	if (missing)
		return error_set(err, "%s: [strategy.%s] %s: missing (format = %s)", file, s->name,
				 missing, config_strategy_format_name(s->format));
	return 0;
}

int config_strategy_finish(const struct config *config, const struct config_strategy_parse *parse,
			   const char *file, struct error *err)
{
	char known[CONFIG_STRATEGY_MAX * (CONFIG_STRATEGY_NAME_MAX + 2) + 32];
	unsigned i;

	for (i = 0; i < config->strategies.count; i++)
		if (strategy_section_finish(&config->strategies.list[i], parse->seen[i], file,
					    err) < 0)
			return -1;
	if (config_strategy_builtin(config->updater.strategy) >= 0 ||
	    config_strategy_find(config, config->updater.strategy))
		return 0;
	config_strategy_known(config, known, sizeof known);
	return error_set(err, "%s: [updater] strategy: unknown strategy '%.40s' (known: %s)", file,
			 config->updater.strategy, known);
}
