/* fetch.c: the strategy registry (see updater/fetch/fetch.h): the built-in rows
 * below and the configuration's [strategy.NAME] sections. */
#include <string.h>

#include "fetch/fetch.h"
#include "fetch/fetch_program.h"

static const struct fetch_strategy fetch_strategies[STRATEGY_BUILTIN_COUNT] = {
	[STRATEGY_HTTP] = { "http", fetch_http_check, fetch_http },
	[STRATEGY_SWIFT] = { "swift", fetch_http_check, fetch_swift },
	[STRATEGY_FILE] = { "file", fetch_file_check, fetch_file },
};

const struct fetch_strategy *fetch_strategy_find(const char *name)
{
	int i = config_strategy_builtin(name);

	return i < 0 ? NULL : &fetch_strategies[i];
}

/* What every location shares: present, no control character; blanks only
 * in an opaque one (a URL or path never needs them). */
static int fetch_location_text(const char *location, int opaque, struct error *err)
{
	const unsigned char *p;

	if (!location || !location[0])
		return error_set(err, "request: location is missing");
	for (p = (const unsigned char *)location; *p; p++)
		if (*p < 0x20 || *p == 0x7f || (*p == 0x20 && !opaque))
			return error_set(err, "request: malformed location: control character%s "
					 "at offset %zu", opaque ? "" : " or blank",
					 (size_t)(p - (const unsigned char *)location));
	if (opaque && p - (const unsigned char *)location > FETCH_OPAQUE_MAX)
		return error_set(err, "request: malformed location: longer than %d bytes",
				 FETCH_OPAQUE_MAX);
	return 0;
}

static int fetch_builtin_validate(const struct fetch_strategy *s, const char *location,
				  struct error *err)
{
	if (fetch_location_text(location, 0, err) < 0)
		return -1;
	if (s->check_location(location, err) < 0)
		return error_prefix(err, "request: malformed location: ");
	return 0;
}

const char *fetch_transport(const struct config *config, const char *strategy,
			    const char *location)
{
	const struct config_strategy *own = config_strategy_find(config, strategy);

	if (!own || own->fetch[0])
		return strategy;
	if (location && (location[0] == '/' || !strncmp(location, "file:", 5)))
		return "file";
	return "http";
}

int fetch_validate(const struct config *config, const char *strategy, const char *location,
		   struct error *err)
{
	const struct fetch_strategy *s = fetch_strategy_find(strategy);
	char known[CONFIG_STRATEGY_MAX * (CONFIG_STRATEGY_NAME_MAX + 2) + 32];
	const char *transport;

	if (s)
		return fetch_builtin_validate(s, location, err);
	if (config_strategy_find(config, strategy)) {
		transport = fetch_transport(config, strategy, location);
		return transport == strategy ? fetch_location_text(location, 1, err) :
		       fetch_builtin_validate(fetch_strategy_find(transport), location, err);
	}
	config_strategy_known(config, known, sizeof known);
	if (!strategy || !config_strategy_name_ok(strategy))
		return error_set(err, "request: unknown strategy: not a strategy name (known: %s)",
				 known);
	return error_set(err, "request: unknown strategy '%s' (known: %s)", strategy, known);
}

int fetch_validate_relayed(const char *strategy, const char *location, struct error *err)
{
	const struct fetch_strategy *s = fetch_strategy_find(strategy);

	if (s)
		return fetch_builtin_validate(s, location, err);
	if (!strategy || !config_strategy_name_ok(strategy))
		return error_set(err, "request: strategy: want 1 to %d of [a-z0-9_-]",
				 CONFIG_STRATEGY_NAME_MAX);
	return fetch_location_text(location, 1, err);
}

int fetch_run(const char *strategy, const struct fetch_job *job, struct error *err)
{
	const struct fetch_strategy *s = fetch_strategy_find(strategy);
	const struct config_strategy *own = config_strategy_find(job->config, strategy);

	if (fetch_validate(job->config, strategy, job->location, err) < 0)
		return -1;
	return s ? s->fetch(job, err) : fetch_program(job, own, err);
}
