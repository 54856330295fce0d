/* location.c: a location as a message may show it (updater/fetch/fetch.h,
 * fetch_location_shown): credentials redacted, at most 100 bytes.  Apart
 * from the registry (fetch.c) because the strategies call it and the
 * registry calls the strategies: here, the arrows between the files of
 * fetch/ go one way. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetch/fetch.h"
#include "history.h"

void fetch_location_shown(const char *location, char *out, size_t len)
{
	/* redacted whole, then cut: a cut first could drop the '@' that marks
	 * the credentials and leave half a password in the text */
	size_t size = strlen(location) + 4;	/* "***" may replace less */
	char *copy = malloc(size);

	if (!copy) {
		snprintf(out, len, "(location)");
		return;
	}
	memcpy(copy, location, size - 3);
	history_redact_location(copy, size);
	snprintf(out, len, "%.100s", copy);
	free(copy);
}
