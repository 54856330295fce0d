/* http.c: the `http` and `swift` strategies on libcurl (see updater/fetch/fetch.h). */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fetch/fetch.h"
#include "fetch/fetch_backoff.h"
#include "fetch/fetch_http.h"

struct transfer {
	const struct fetch_job *job;
	CURL *curl;
	unsigned long long delivered;	/* bytes the sink accepted, over all attempts */
	unsigned long long skip;	/* bytes to drop: server ignored our Range */
	unsigned long long range_start;	/* what this attempt asked for */
	int started;			/* first body byte of this attempt seen */
	int sink_failed;
	struct error sink_err;
	long retry_after;		/* seconds, -1 if none */
	long long content_range_start;	/* -1 if none */
};

int fetch_http_check(const char *location, struct error *err)
{
	CURLU *url = curl_url();
	char *scheme = NULL, *host = NULL, shown[FETCH_SHOWN_MAX];
	int rc = -1;

	if (!url)
		return error_set(err, "out of memory");
	fetch_location_shown(location, shown, sizeof shown);
	if (curl_url_set(url, CURLUPART_URL, location, 0) != CURLUE_OK) {
		error_set(err, "'%s' is not a URL", shown);
		goto out;
	}
	if (curl_url_get(url, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcmp(scheme, "http") && strcmp(scheme, "https"))) {
		error_set(err, "'%s': scheme must be http or https", shown);
		goto out;
	}
	if (curl_url_get(url, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host[0]) {
		error_set(err, "'%s': no host", shown);
		goto out;
	}
	rc = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(url);
	return rc;
}

static long http_status(CURL *curl)
{
	long status = 0;

	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

static size_t http_header(char *data, size_t size, size_t count, void *context)
{
	struct transfer *t = context;
	size_t len = size * count;
	char line[256];
	long long start;

	if (len >= sizeof line)
		return len;
	memcpy(line, data, len);
	line[len] = '\0';
	if (!strncasecmp(line, "HTTP/", 5)) {	/* a new response (redirect, retry) */
		t->retry_after = -1;
		t->content_range_start = -1;
	} else if (!strncasecmp(line, "Retry-After:", 12)) {
		t->retry_after = strtol(line + 12, NULL, 10);
	} else if (!strncasecmp(line, "Content-Range:", 14) &&
		   sscanf(line + 14, " bytes %lld-", &start) == 1) {
		t->content_range_start = start;
	}
	return len;
}

/* Checks, on the first body byte, that the body starts where we need it. */
static int http_first_byte(struct transfer *t)
{
	long status = http_status(t->curl);

	t->started = 1;
	if (status == 200 && t->range_start > 0) {
		t->skip = t->range_start;	/* Range ignored: drop what we have */
	} else if (status == 206 && (unsigned long long)t->content_range_start != t->range_start) {
		error_set(&t->sink_err, "http: resumed at byte %lld, asked for %llu",
			  t->content_range_start, t->range_start);
		return -1;
	}
	return 0;
}

static size_t http_body(char *data, size_t size, size_t count, void *context)
{
	struct transfer *t = context;
	size_t len = size * count, drop;

	if (http_status(t->curl) / 100 != 2)
		return len;	/* an error page: the status says it all */
	if (!t->started && http_first_byte(t) < 0) {
		t->sink_failed = 1;
		return 0;
	}
	drop = t->skip < len ? (size_t)t->skip : len;
	t->skip -= drop;
	if (len - drop == 0)
		return len;
	if (t->job->sink(data + drop, len - drop, t->job->ctx, &t->sink_err) < 0) {
		t->sink_failed = 1;
		return 0;
	}
	t->delivered += len - drop;
	return len;
}

static int http_progress(void *context, curl_off_t total, curl_off_t now, curl_off_t up_total,
			 curl_off_t up_now)
{
	struct transfer *t = context;

	(void)now;
	(void)up_total;
	(void)up_now;
	if (t->job->progress)
		t->job->progress(t->job->ctx, t->delivered,
				 total > 0 ? t->range_start + (unsigned long long)total : 0);
	return 0;
}

static void http_setup(struct transfer *t, struct curl_slist *headers, char *errbuf)
{
	CURL *curl = t->curl;
	char range[32];

	fetch_http_options(curl, t->job, headers, errbuf);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, http_header);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, http_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, http_progress);
	curl_easy_setopt(curl, CURLOPT_XFERINFODATA, t);
	curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	t->range_start = t->delivered;
	t->started = 0;
	t->skip = 0;
	if (t->delivered > 0) {
		snprintf(range, sizeof range, "%llu-", t->delivered);
		curl_easy_setopt(curl, CURLOPT_RANGE, range);
	} else {
		curl_easy_setopt(curl, CURLOPT_RANGE, NULL);
	}
}

enum http_verdict { HTTP_DONE, HTTP_RETRY, HTTP_FINAL };

/* One request; classifies the outcome and writes the reason into err. */
static enum http_verdict http_attempt(struct transfer *t, struct curl_slist *headers,
				      const char *shown, struct error *err)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	CURLcode rc;
	long status;

	http_setup(t, headers, errbuf);
	rc = curl_easy_perform(t->curl);
	if (t->sink_failed) {
		*err = t->sink_err;
		return HTTP_FINAL;
	}
	if (rc != CURLE_OK) {
		error_set(err, "http: GET %s: %s", shown, errbuf[0] ? errbuf : curl_easy_strerror(rc));
		return rc == CURLE_TOO_MANY_REDIRECTS || rc == CURLE_UNSUPPORTED_PROTOCOL ||
		       rc == CURLE_PEER_FAILED_VERIFICATION ? HTTP_FINAL : HTTP_RETRY;
	}
	status = http_status(t->curl);
	if (status / 100 == 2)
		return HTTP_DONE;
	error_set(err, "http: GET %s: status %ld", shown, status);
	if (status == 408 || status == 429 || status / 100 == 5)
		return HTTP_RETRY;
	return HTTP_FINAL;
}

static int http_fetch_with(const struct fetch_job *job, const char *token, struct error *err)
{
	struct transfer t = { .job = job, .retry_after = -1 };
	struct curl_slist *headers = NULL;
	char shown[512], header[CONFIG_STRING_MAX + 32];
	enum http_verdict verdict = HTTP_RETRY;
	unsigned attempt;

	if (job->range_count)
		return fetch_http_ranges(job, token, err);
	fetch_http_redacted(job->location, shown, sizeof shown);
	t.curl = curl_easy_init();
	if (!t.curl)
		return error_set(err, "http: cannot initialise libcurl");
	if (token) {
		snprintf(header, sizeof header, "X-Auth-Token: %s", token);
		headers = curl_slist_append(NULL, header);
		memset(header, 0, sizeof header);
	}
	for (attempt = 0; attempt <= job->config->updater.retries; attempt++) {
		if (attempt > 0)
			fetch_sleep_ms(fetch_backoff_ms(job->config, attempt - 1, t.retry_after));
		verdict = http_attempt(&t, headers, shown, err);
		if (verdict != HTTP_RETRY)
			break;
	}
	if (verdict == HTTP_RETRY)
		error_prefix(err, "after %u attempts: ", attempt);
	curl_slist_free_all(headers);
	curl_easy_cleanup(t.curl);
	return verdict == HTTP_DONE ? 0 : -1;
}

int fetch_http(const struct fetch_job *job, struct error *err)
{
	return http_fetch_with(job, NULL, err);
}

int fetch_swift(const struct fetch_job *job, struct error *err)
{
	if (!job->config->updater.swift_token[0])
		return error_set(err, "swift: [updater] swift_token is not configured");
	return http_fetch_with(job, job->config->updater.swift_token, err);
}
