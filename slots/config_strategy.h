/* config_strategy.h: the [strategy.NAME] sections of the configuration
 * (include/config.h), parsed for config.c; private to slots/. */
#ifndef SLOTD_CONFIG_STRATEGY_H
#define SLOTD_CONFIG_STRATEGY_H

#include "config.h"

#define CONFIG_STRATEGY_PREFIX "strategy."

/* What the parse remembers between keys: inih reports keys, not sections,
 * so a section given twice shows as a return to a name already seen. */
struct config_strategy_parse {
	char section[CONFIG_STRATEGY_NAME_MAX + 16];	/* the last key's section */
	unsigned seen[CONFIG_STRATEGY_MAX];		/* keys given, one bit each */
};

/* One key of a section whose name starts with CONFIG_STRATEGY_PREFIX:
 * 0, or -1 with err "[strategy.NAME] key: what" (never the value). */
int config_strategy_key(struct config *config, struct config_strategy_parse *parse,
			const char *section, const char *name, const char *value,
			struct error *err);
/* After the file: every section has what its format needs (a bundle its
 * fetch, pip its package and exec, pip's keys only with pip), [updater]
 * strategy names a known strategy.  file is the file's name for messages. */
int config_strategy_finish(const struct config *config, const struct config_strategy_parse *parse,
			   const char *file, struct error *err);

#endif
