/* fetch.c: the strategy registry (see include/fetch.h). */
#include <string.h>

#include "fetch.h"

static const struct fetch_strategy fetch_strategies[] = {
	{ "http", fetch_http_check, fetch_http },
	{ "swift", fetch_http_check, fetch_swift },
	{ "file", fetch_file_check, fetch_file },
};

const struct fetch_strategy *fetch_strategy_find(const char *name)
{
	size_t i;

	for (i = 0; name && i < sizeof fetch_strategies / sizeof fetch_strategies[0]; i++)
		if (!strcmp(fetch_strategies[i].name, name))
			return &fetch_strategies[i];
	return NULL;
}

int fetch_validate(const char *strategy, const char *location, struct error *err)
{
	const struct fetch_strategy *s = fetch_strategy_find(strategy);
	const unsigned char *p;

	if (!s)
		return error_set(err, "request: unknown strategy '%.40s'", strategy ? strategy : "");
	if (!location || !location[0])
		return error_set(err, "request: location is missing");
	for (p = (const unsigned char *)location; *p; p++)
		if (*p <= 0x20 || *p == 0x7f)
			return error_set(err, "request: malformed location: control character or "
					 "blank at offset %zu", (size_t)(p - (const unsigned char *)location));
	if (s->check_location(location, err) < 0)
		return error_prefix(err, "request: malformed location: ");
	return 0;
}

int fetch_run(const char *strategy, const struct fetch_job *job, struct error *err)
{
	const struct fetch_strategy *s = fetch_strategy_find(strategy);

	if (fetch_validate(strategy, job->location, err) < 0)
		return -1;
	return s->fetch(job, err);
}
