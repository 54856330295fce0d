/* request_metadata.c: a cast's args.metadata, bounded, as text between the
 * guest's processes (see include/request_check.h). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "request_check.h"

/* Its size as the bound counts it: compact UTF-8, the form a sender
 * (slotfleet, slotctl) measures too. */
static int metadata_size(const char *field, const json_t *metadata, struct error *err)
{
	char *text = json_dumps(metadata, JSON_COMPACT | JSON_PRESERVE_ORDER);
	size_t size = text ? strlen(text) : 0;

	free(text);
	if (!text)
		return error_set(err, "%s: cannot encode it as JSON", field);
	if (size > REQUEST_METADATA_MAX)
		return error_set(err, "%s: %zu bytes as JSON, more than %d", field, size,
				 REQUEST_METADATA_MAX);
	return 0;
}

int request_metadata_encode(const char *field, const json_t *metadata, char *out, size_t len,
			    struct error *err)
{
	char *text;
	int rc = -1;

	out[0] = '\0';
	if (!metadata || json_is_null(metadata))
		return 0;
	if (!json_is_object(metadata))
		return error_set(err, "%s: not an object", field);
	if (metadata_size(field, metadata, err) < 0)
		return -1;
	/* ASCII only: the wire records carry printable ASCII and nothing else */
	text = json_dumps(metadata, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
	if (!text)
		error_set(err, "%s: cannot encode it as JSON", field);
	else if (strlen(text) >= len)
		error_set(err, "%s: %zu bytes escaped, more than %zu", field, strlen(text), len - 1);
	else {
		memcpy(out, text, strlen(text) + 1);
		rc = 0;
	}
	free(text);
	return rc;
}

json_t *request_metadata_decode(const char *field, const char *text, struct error *err)
{
	json_error_t jerr;
	json_t *metadata;
	size_t len = text ? strnlen(text, REQUEST_METADATA_WIRE_MAX + 1) : 0;

	if (!len)
		return json_object();
	if (len > REQUEST_METADATA_WIRE_MAX) {
		error_set(err, "%s: more than %d bytes", field, REQUEST_METADATA_WIRE_MAX);
		return NULL;
	}
	metadata = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(metadata)) {
		error_set(err, "%s: %s", field, metadata ? "not an object" : "not JSON");
		json_decref(metadata);
		return NULL;
	}
	if (metadata_size(field, metadata, err) < 0) {
		json_decref(metadata);
		return NULL;
	}
	return metadata;
}
