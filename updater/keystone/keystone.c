/* keystone.c: Keystone's v3 token API over libcurl (see keystone.h).
 * Safe to call from several threads at once: one easy handle per call,
 * no signals (CURLOPT_NOSIGNAL), nothing shared; the caller has run
 * curl_global_init() before starting threads. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "curl_body.h"
#include "keystone.h"

struct keystone_answer {
	struct curl_body body;	/* .max KEYSTONE_ANSWER_MAX */
	char *token;		/* X-Subject-Token's value: token_size bytes */
	size_t token_size;
	int token_seen;		/* 1: found and fit; -1: found, did not fit */
};

/* Only X-Subject-Token is kept, and only when the caller asked for it. */
static size_t keystone_header(char *data, size_t size, size_t count, void *ctx)
{
	static const char name[] = "x-subject-token:";
	struct keystone_answer *a = ctx;
	size_t n = size * count, len;

	if (!a->token || n <= sizeof name - 1 || strncasecmp(data, name, sizeof name - 1))
		return n;
	data += sizeof name - 1;
	len = n - (sizeof name - 1);
	while (len > 0 && (*data == ' ' || *data == '\t'))
		data++, len--;
	while (len > 0 && strchr(" \t\r\n", data[len - 1]))
		len--;
	if (len >= a->token_size || keystone_token_check(data, len) < 0) {
		a->token_seen = -1;
		return n;
	}
	memcpy(a->token, data, len);
	a->token[len] = '\0';
	a->token_seen = 1;
	return n;
}

/* One request; *status 0 when there was no answer (err says why). */
static int keystone_perform(CURL *curl, const char *ca_file, long timeout_ms,
			    struct curl_slist *headers, struct keystone_answer *answer,
			    long *status, struct error *err)
{
	CURLcode rc;

	*status = 0;
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 1L);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, curl_body_write);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer->body);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, keystone_header);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, answer);
	if (ca_file && *ca_file)
		curl_easy_setopt(curl, CURLOPT_CAINFO, ca_file);
	rc = curl_easy_perform(curl);
	if (rc != CURLE_OK)
		return error_set(err, "keystone: %s", curl_easy_strerror(rc));
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
	return 0;
}

/* The status of an answer, its body read into info when 200/201. */
static enum keystone_status keystone_judge(long status, long ok, const struct keystone_answer *a,
					   struct keystone_token *info, struct error *err)
{
	if (status == 404)
		return error_set(err, "keystone: 404 (token not found)"), KEYSTONE_NOT_FOUND;
	if (status == 401)
		return error_set(err, "keystone: 401 (unauthorized)"), KEYSTONE_UNAUTHORIZED;
	if (status != ok)
		return error_set(err, "keystone: answered %ld", status), KEYSTONE_FAILED;
	if (!a->body.data || keystone_token_parse(a->body.data, a->body.len, info, err) < 0)
		return error_set(err, "keystone: malformed token answer"), KEYSTONE_FAILED;
	return KEYSTONE_OK;
}

enum keystone_status keystone_issue(const struct keystone_auth *auth, long timeout_ms,
				    char *token, size_t token_size, struct keystone_token *info,
				    struct error *err)
{
	struct keystone_answer answer = { .body.max = KEYSTONE_ANSWER_MAX, .token = token,
					  .token_size = token_size };
	struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
	enum keystone_status result = KEYSTONE_FAILED;
	char url[2048], *body = keystone_auth_body(auth);
	CURL *curl = curl_easy_init();
	long status = 0;

	token[0] = '\0';
	if (!curl || !headers || !body) {
		error_set(err, "keystone: out of memory");
		goto out;
	}
	if (keystone_tokens_url(auth->auth_url, url, sizeof url) < 0) {
		error_set(err, "keystone: auth_url: want http:// or https://");
		goto out;
	}
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	if (keystone_perform(curl, auth->ca_file, timeout_ms, headers, &answer, &status, err) < 0)
		goto out;
	result = keystone_judge(status, 201, &answer, info, err);
	if (result == KEYSTONE_OK && answer.token_seen != 1) {
		error_set(err, "keystone: no usable X-Subject-Token in the answer");
		result = KEYSTONE_FAILED;
	}
out:
	if (body)
		memset(body, 0, strlen(body));	/* it holds the password */
	free(body);
	free(answer.body.data);
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	if (result != KEYSTONE_OK)
		token[0] = '\0';
	return result;
}

static struct curl_slist *keystone_token_header(struct curl_slist *list, const char *name,
						const char *token)
{
	char header[KEYSTONE_TOKEN_MAX + 32];
	struct curl_slist *grown;

	snprintf(header, sizeof header, "%s: %s", name, token);
	grown = curl_slist_append(list, header);
	memset(header, 0, sizeof header);
	if (!grown)
		curl_slist_free_all(list);
	return grown;
}

enum keystone_status keystone_validate(const char *auth_url, const char *ca_file, long timeout_ms,
				       const char *own_token, const char *subject,
				       struct keystone_token *info, struct error *err)
{
	struct keystone_answer answer = { .body.max = KEYSTONE_ANSWER_MAX };
	struct curl_slist *headers = NULL;
	enum keystone_status result = KEYSTONE_FAILED;
	CURL *curl = NULL;
	char url[2048];
	long status = 0;

	if (keystone_token_check(own_token, strlen(own_token)) < 0 ||
	    keystone_token_check(subject, strlen(subject)) < 0)
		return error_set(err, "keystone: not a token"), KEYSTONE_NOT_FOUND;
	if (keystone_tokens_url(auth_url, url, sizeof url) < 0)
		return error_set(err, "keystone: auth_url: want http:// or https://"), KEYSTONE_FAILED;
	headers = keystone_token_header(NULL, "X-Auth-Token", own_token);
	if (headers)
		headers = keystone_token_header(headers, "X-Subject-Token", subject);
	curl = curl_easy_init();
	if (!curl || !headers) {
		error_set(err, "keystone: out of memory");
		goto out;
	}
	curl_easy_setopt(curl, CURLOPT_URL, url);
	if (keystone_perform(curl, ca_file, timeout_ms, headers, &answer, &status, err) == 0)
		result = keystone_judge(status, 200, &answer, info, err);
out:
	free(answer.body.data);
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	return result;
}
