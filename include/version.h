/* version.h: agent version strings and their total order.
 *
 * Grammar:  [v|V] NUM ( "." NUM ){0,7} [ "-" PRE ] [ "+" BUILD ]
 *   NUM   decimal digits, at most 9 of them
 *   PRE   dot-separated identifiers of [0-9A-Za-z-]
 *   BUILD like PRE; ignored for ordering (semver)
 * Examples: v1.0.1, 1.2.0-rc1, 2014.1.
 *
 * Order: numeric components compared left to right, missing ones are 0
 * (1.0 == 1.0.0); then a version with a pre-release is lower than the same
 * version without (1.2.0-rc1 < 1.2.0); pre-releases compare identifier by
 * identifier: numeric ones numerically, numeric < alphanumeric, others by
 * ASCII, a shorter list lower when it is a prefix (semver 2.0.0 rule 11).
 * Anything else (empty, "1..2", "v", spaces, 1.2.3.4.5.6.7.8.9) is an error. */
#ifndef SLOTD_VERSION_H
#define SLOTD_VERSION_H

#include <stdint.h>
#include "error.h"

#define VERSION_MAX_COMPONENTS 8
#define VERSION_TEXT_MAX 64

struct version {
	uint32_t number[VERSION_MAX_COMPONENTS];
	unsigned count;
	char prerelease[VERSION_TEXT_MAX];	/* "" when none */
};

int version_parse(const char *text, struct version *version, struct error *err);
/* <0, 0, >0 like strcmp. */
int version_compare(const struct version *a, const struct version *b);
/* Parses both; sets *result; -1 with err naming the bad string. */
int version_compare_text(const char *a, const char *b, int *result, struct error *err);

#endif
