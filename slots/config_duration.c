/* config_duration.c: durations of the configuration ("250ms", "30s", "5m",
 * "12h", "2d", bare seconds; see include/config.h).  Apart from config.c
 * because the [strategy.NAME] sections (config_strategy.c), which config.c
 * calls, parse them too: the calls between slots/ files go one way. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int config_parse_duration64(const char *text, uint64_t *ms)
{
	static const struct { const char *unit; unsigned long long scale; } units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "", 1000 }, { "m", 60000 },
		{ "h", 3600000 }, { "d", 86400000 },
	};
	unsigned long long value;
	char *end;
	size_t i;

	if (text[0] < '0' || text[0] > '9')
		return -1;
	errno = 0;
	value = strtoull(text, &end, 10);
	if (errno)
		return -1;
	for (i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strcmp(end, units[i].unit))
			continue;
		if (value > UINT64_MAX / units[i].scale)
			return -1;
		*ms = value * units[i].scale;
		return 0;
	}
	return -1;
}

int config_parse_duration(const char *text, unsigned *ms)
{
	uint64_t value;

	if (config_parse_duration64(text, &value) < 0 || value > UINT32_MAX)
		return -1;
	*ms = (unsigned)value;
	return 0;
}
