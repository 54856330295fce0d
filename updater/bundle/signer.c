/* signer.c: who may sign, and when: the allowed-signer list and the
 * signing-time freshness rule (packaging/KEYS.md), on plain values so they
 * are tested without certificates.  signature.c extracts the values.
 *
 * Freshness is against freeze attacks: a mirror that keeps serving an old,
 * validly signed bundle cannot hold a guest back further than max_age.  The
 * signing time is the signer's claim, so it is only as good as the signer's
 * key; a small skew allows for clocks a little ahead of this one. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bundle/bundle.h"

int bundle_signer_allowed(const char *cn, const char *list, struct error *err)
{
	size_t cn_len = strlen(cn), len;
	const char *p = list, *end;

	while (*p) {
		p += strspn(p, " \t");
		end = p + strcspn(p, ",");
		len = (size_t)(end - p);
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		/* An empty entry (a stray comma) allows nobody. */
		if (len && len == cn_len && !memcmp(p, cn, len))
			return 0;
		p = *end ? end + 1 : end;
	}
	return error_set(err, "its CN is not one of the allowed signers");
}

/* "2026-01-31T12:00:00Z" */
static void signer_time_text(int64_t when, char *out, size_t len)
{
	time_t t = (time_t)when;
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, len, "@%" PRId64, when);
}

/* The largest unit that divides ms: "90d", "36h", "1500ms". */
static void signer_duration_text(uint64_t ms, char *out, size_t len)
{
	static const struct { uint64_t scale; const char *unit; } units[] = {
		{ 86400000, "d" }, { 3600000, "h" }, { 60000, "m" }, { 1000, "s" }, { 1, "ms" },
	};
	size_t i;

	for (i = 0; ms && ms % units[i].scale; i++)
		;
	snprintf(out, len, "%" PRIu64 "%s", ms ? ms / units[i].scale : 0, ms ? units[i].unit : "s");
}

int bundle_signer_fresh(int64_t signed_at, int64_t now, uint64_t max_age_ms, struct error *err)
{
	char at[32], limit[32];
	uint64_t age_s;

	signer_time_text(signed_at, at, sizeof at);
	if (signed_at > now && (uint64_t)signed_at - (uint64_t)now > BUNDLE_CLOCK_SKEW)
		return error_set(err, "signed at %s, in the future (more than %ds ahead of this "
				 "clock)", at, BUNDLE_CLOCK_SKEW);
	if (signed_at >= now)
		return 0;
	age_s = (uint64_t)now - (uint64_t)signed_at;
	if (age_s > max_age_ms / 1000) {
		signer_duration_text(max_age_ms, limit, sizeof limit);
		return error_set(err, "signed at %s, older than the maximum bundle age (%s)", at,
				 limit);
	}
	return 0;
}
