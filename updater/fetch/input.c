/* input.c: the JSON object a deployer strategy's program reads on its
 * stdin (see updater/fetch/fetch_program.h). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "fetch/fetch_program.h"
#include "request_check.h"

/* job->metadata re-read, not copied: text that is not one bounded object
 * never reaches the program, whoever wrote it. */
static json_t *input_metadata(const char *strategy, const struct fetch_job *job,
			      struct error *err)
{
	json_t *metadata = request_metadata_decode("metadata", job->metadata, err);

	if (!metadata) {
		error_prefix(err, "strategy %s: ", strategy);
		return NULL;
	}
	if (job->sha256 && job->sha256[0] &&
	    json_object_set_new(metadata, "sha256", json_string(job->sha256)) < 0) {
		error_set(err, "strategy %s: metadata.sha256: cannot encode it", strategy);
		json_decref(metadata);
		return NULL;
	}
	return metadata;
}

int fetch_program_input(const char *strategy, const struct fetch_job *job, char *out, size_t len,
			struct error *err)
{
	json_t *metadata = input_metadata(strategy, job, err), *input = NULL;
	char *text = NULL;
	int rc = -1;

	if (!metadata)
		return -1;
	/* location first: a shell fetcher may pick it out with sed */
	input = json_pack("{s:s, s:O, s:s, s:s}", "location", job->location, "metadata", metadata,
			  "instance_version", job->instance_version ? job->instance_version : "",
			  "strategy", strategy);
	if (input)
		text = json_dumps(input, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!text)
		error_set(err, "strategy %s: cannot encode its input (not UTF-8?)", strategy);
	else if (strlen(text) + 2 > len)
		error_set(err, "strategy %s: its input is longer than %zu bytes", strategy, len - 2);
	else
		rc = snprintf(out, len, "%s\n", text) < 0 ? -1 : 0;
	free(text);
	json_decref(input);
	json_decref(metadata);
	return rc;
}
