/* fetch_http.h: what http.c shares with ranges.c; private to updater/fetch/. */
#ifndef SLOTD_FETCH_HTTP_H
#define SLOTD_FETCH_HTTP_H

#include <curl/curl.h>

#include "fetch/fetch.h"

/* The URL without user:password, for messages. */
void fetch_http_redacted(const char *location, char *out, size_t len);
/* Every option a request of job shares: URL, protocols, redirects, TLS,
 * timeouts, low-speed abort, max_rate, user agent, headers, error buffer. */
void fetch_http_options(CURL *curl, const struct fetch_job *job, struct curl_slist *headers,
			char *errbuf);
/* job->ranges by range requests (ranges.c), token as for fetch_http. */
int fetch_http_ranges(const struct fetch_job *job, const char *token, struct error *err);

#endif
