/* http_options.c: what every libcurl request of the http and swift
 * strategies shares, whole downloads (http.c) and ranges (ranges.c) alike
 * (see updater/fetch/fetch_http.h). */
#include <curl/curl.h>
#include <stdio.h>

#include "fetch/fetch_http.h"

/* The URL without user:password, for messages. */
void fetch_http_redacted(const char *location, char *out, size_t len)
{
	CURLU *url = curl_url();
	char *text = NULL;

	snprintf(out, len, "(unparseable URL)");
	if (url && curl_url_set(url, CURLUPART_URL, location, 0) == CURLUE_OK &&
	    curl_url_set(url, CURLUPART_USER, NULL, 0) == CURLUE_OK &&
	    curl_url_set(url, CURLUPART_PASSWORD, NULL, 0) == CURLUE_OK &&
	    curl_url_get(url, CURLUPART_URL, &text, 0) == CURLUE_OK)
		snprintf(out, len, "%s", text);
	curl_free(text);
	curl_url_cleanup(url);
}

void fetch_http_options(CURL *curl, const struct fetch_job *job, struct curl_slist *headers,
			char *errbuf)
{
	const struct config *c = job->config;

	curl_easy_setopt(curl, CURLOPT_URL, job->location);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(curl, CURLOPT_MAXREDIRS, (long)c->updater.max_redirects);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->updater.ca_path[0])
		curl_easy_setopt(curl, CURLOPT_CAINFO, c->updater.ca_path);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
			 (long)(c->updater.low_speed_time_ms + 999) / 1000);
	if (c->updater.max_rate)
		curl_easy_setopt(curl, CURLOPT_MAX_RECV_SPEED_LARGE, (curl_off_t)c->updater.max_rate);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "slotupd/0.1");
	if (headers)
		curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
}

