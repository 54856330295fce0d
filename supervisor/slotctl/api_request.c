/* api_request.c: what every command of slotctl's API client does with
 * slotfleet's management API (docs/fleet.md): one request, its answer read
 * (bounded, as JSON), a refusal shown, a member shown; the token file read.  Its own file so that
 * the commands (api.c and api_rollout.c) call it and it calls none of them:
 * api.c dispatches to api_rollout.c, and both come here, one way. */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "curl_body.h"

#define API_ANSWER_MAX (16u << 20)

json_t *api_request(const struct api_call *call, const char *method, const char *path,
			   const char *body, long *status)
{
	struct curl_body answer = { .max = API_ANSWER_MAX };
	struct curl_slist *headers = NULL;
	char url[4096], header[API_TOKEN_MAX + 32];
	CURL *curl = curl_easy_init();
	CURLcode rc;
	json_t *json = NULL;

	*status = 0;
	if (!curl)
		return NULL;
	snprintf(url, sizeof url, "%s/v1.0/%s/mgmt%s", call->api, call->tenant, path);
	snprintf(header, sizeof header, "X-Auth-Token: %s", call->token);
	headers = curl_slist_append(headers, header);
	headers = curl_slist_append(headers, "Content-Type: application/json");
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 90L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, curl_body_write);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
	if (body)
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	rc = curl_easy_perform(curl);
	if (rc != CURLE_OK)
		fprintf(stderr, "slotctl: %s %s: %s\n", method, call->api, curl_easy_strerror(rc));
	else
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
	if (rc == CURLE_OK && answer.data)
		json = json_loadb(answer.data, answer.len, 0, NULL);
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	free(answer.data);
	return json;
}

int api_refused(const char *what, long status, json_t *answer)
{
	json_t *error = json_object_get(answer, "error");
	const char *field = json_string_value(json_object_get(error, "field"));
	const char *message = json_string_value(json_object_get(error, "message"));

	if (status)
		fprintf(stderr, "slotctl: %s: %ld%s%s: %s\n", what, status, field && *field ? " " : "",
			field ? field : "", message ? message : "(no error message)");
	return 1;
}

const char *api_text(json_t *object, const char *key)
{
	const char *text = json_string_value(json_object_get(object, key));

	return text && *text ? text : "-";
}

/* The token: the first line that is not blank or a comment, trimmed. */
int api_read_token(struct api_call *call)
{
	FILE *file = fopen(call->token_file, "re");
	char line[API_TOKEN_MAX], *start, *end;
	int found = 0;

	if (!file) {
		fprintf(stderr, "slotctl: --token-file %s: %s\n", call->token_file, strerror(errno));
		return -1;
	}
	while (!found && fgets(line, sizeof line, file)) {
		for (start = line; *start == ' ' || *start == '\t'; start++)
			;
		end = start + strcspn(start, "\r\n");
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		*end = '\0';
		if (*start && *start != '#') {
			snprintf(call->token, sizeof call->token, "%s", start);
			found = 1;
		}
	}
	fclose(file);
	if (!found)
		fprintf(stderr, "slotctl: --token-file %s: no token in it\n", call->token_file);
	return found ? 0 : -1;
}
