/* ranges.c: job->ranges of an http(s) file by range requests (see
 * updater/fetch/fetch.h).  Up to RANGES_BATCH ranges go in one request; a
 * multipart/byteranges answer is cut into its parts, each of which must be
 * exactly the next range wanted.  A server that answers a request of several
 * ranges with 200 (nginx past its max_ranges) is asked one range at a time;
 * one that answers a single range with 200 does not do ranges: the fetch
 * fails at its first body byte, before the body comes.  Every byte the sink
 * gets is one it asked for, in order; a retry asks for what is still missing.
 * Memory: the ranges still wanted, and one header or part line. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fetch/fetch_backoff.h"
#include "fetch/fetch_http.h"

#define RANGES_BATCH 64
#define RANGES_LINE_MAX 256

struct ranged {
	const struct fetch_job *job;
	CURL *curl;
	struct fetch_range *want;	/* what is still missing, from want[first] */
	size_t first, count;
	size_t batch;			/* ranges asked for by this request */
	int single;			/* one range per request */
	unsigned long long delivered, total;
	/* this response */
	long long cr_start, cr_end, cr_total;	/* Content-Range, -1 if none */
	char boundary[76];		/* "--" and multipart's boundary, or "" */
	int started, refused_multi, ended;
	int in_part, part_headers;	/* multipart: in a part's headers or data */
	unsigned long long part_left;
	size_t overhead;		/* multipart bytes outside parts' data */
	char line[RANGES_LINE_MAX];
	size_t line_len;
	int failed;
	struct error err;
	long retry_after;
};

static long ranged_status(CURL *curl)
{
	long status = 0;

	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

/* "bytes S-E/T" (T may be "*"); -1 if it is not that. */
static int ranged_content_range(const char *v, long long *s, long long *e, long long *t)
{
	char total[24];

	*t = -1;
	if (sscanf(v, " bytes %lld-%lld/%23s", s, e, total) != 3 || *s < 0 || *e < *s)
		return -1;
	if (strcmp(total, "*"))
		*t = strtoll(total, NULL, 10);
	return 0;
}

/* multipart/byteranges; boundary=B (B quoted or not): "--B" in r->boundary. */
static void ranged_boundary(struct ranged *r, const char *v)
{
	const char *b = strcasestr(v, "boundary=");
	size_t n;

	if (!strcasestr(v, "multipart/byteranges") || !b)
		return;
	b += 9;
	if (*b == '"')
		b++;
	n = strcspn(b, "\"; \r\n");
	if (n == 0 || n > 70)
		return;
	snprintf(r->boundary, sizeof r->boundary, "--%.*s", (int)n, b);
}

static size_t ranged_header(char *data, size_t size, size_t count, void *context)
{
	struct ranged *r = context;
	size_t len = size * count;
	char line[RANGES_LINE_MAX];

	if (len >= sizeof line)
		return len;
	memcpy(line, data, len);
	line[len] = '\0';
	if (!strncasecmp(line, "HTTP/", 5)) {	/* a new response (redirect, retry) */
		r->cr_start = r->cr_end = r->cr_total = -1;
		r->boundary[0] = '\0';
		r->retry_after = -1;
	} else if (!strncasecmp(line, "Content-Range:", 14)) {
		if (ranged_content_range(line + 14, &r->cr_start, &r->cr_end, &r->cr_total) < 0)
			r->cr_start = -2;	/* present and malformed */
	} else if (!strncasecmp(line, "Content-Type:", 13)) {
		ranged_boundary(r, line + 13);
	} else if (!strncasecmp(line, "Retry-After:", 12)) {
		r->retry_after = strtol(line + 12, NULL, 10);
	}
	return len;
}

/* A part or answer of [s, e] (of total t) must be the next range wanted; the
 * last range of an open-ended job may be cut at the file's end. */
static int ranged_expect(struct ranged *r, long long s, long long e, long long t)
{
	struct fetch_range *w = &r->want[r->first];

	if (r->first == r->count)
		return error_set(&r->err, "http: the server sent a range not asked for");
	if (r->job->range_open_end && r->first + 1 == r->count && t >= 0 &&
	    (unsigned long long)t < w->offset + w->len && (unsigned long long)s == w->offset &&
	    e == t - 1)
		w->len = (unsigned long long)t - w->offset;
	if (s < 0 || (unsigned long long)s != w->offset || (unsigned long long)(e - s) >= w->len)
		return error_set(&r->err, "http: the server answered bytes %lld-%lld, asked for "
				 "%llu-%llu", s, e, (unsigned long long)w->offset,
				 (unsigned long long)(w->offset + w->len - 1));
	r->part_left = (unsigned long long)(e - s) + 1;
	return 0;
}

/* Bytes of the part being received: the front of the next range wanted. */
static int ranged_deliver(struct ranged *r, const char *data, size_t len)
{
	struct fetch_range *w = &r->want[r->first];

	if (len > r->part_left)
		return error_set(&r->err, "http: the server sent more than the range it announced");
	if (r->job->sink(data, len, r->job->ctx, &r->err) < 0)
		return -1;
	r->part_left -= len;
	r->delivered += len;
	w->offset += len;
	w->len -= len;
	if (w->len == 0)
		r->first++;
	return 0;
}

/* One line of a multipart body outside a part's data. */
static int ranged_line(struct ranged *r)
{
	long long s, e, t;

	r->line[r->line_len] = '\0';
	if (r->line_len && r->line[r->line_len - 1] == '\r')
		r->line[--r->line_len] = '\0';
	if (!r->part_headers) {
		size_t b = strlen(r->boundary);

		if (r->line_len == 0)
			return 0;
		if (r->line_len == b + 2 && !strncmp(r->line, r->boundary, b) &&
		    !strcmp(r->line + b, "--")) {
			r->ended = 1;
			return 0;
		}
		if (strcmp(r->line, r->boundary))
			return error_set(&r->err, "http: a multipart answer without its boundary");
		r->part_headers = 1;
		r->cr_start = -1;
		return 0;
	}
	if (r->line_len == 0) {		/* the part's data follows */
		if (r->cr_start < 0)
			return error_set(&r->err, "http: a multipart part without Content-Range");
		r->part_headers = 0;
		r->in_part = 1;
		return ranged_expect(r, r->cr_start, r->cr_end, r->cr_total);
	}
	if (!strncasecmp(r->line, "Content-Range:", 14) &&
	    ranged_content_range(r->line + 14, &s, &e, &t) == 0) {
		r->cr_start = s;
		r->cr_end = e;
		r->cr_total = t;
	}
	return 0;
}

/* Boundaries and part headers of a multipart answer: a few hundred bytes a
 * part; more is a server padding the answer, refused. */
#define RANGES_OVERHEAD(batch) (1024u + 512u * (unsigned)(batch))

static int ranged_multipart(struct ranged *r, const char *data, size_t len)
{
	while (len > 0) {
		if (r->ended) {		/* the epilogue */
			r->overhead += len;
			break;
		}
		if (r->in_part) {
			size_t n = len < r->part_left ? len : (size_t)r->part_left;

			if (ranged_deliver(r, data, n) < 0)
				return -1;
			data += n;
			len -= n;
			if (r->part_left == 0)
				r->in_part = 0;
			continue;
		}
		const char *nl = memchr(data, '\n', len);
		size_t n = nl ? (size_t)(nl - data) : len;

		if (r->line_len + n >= sizeof r->line)
			return error_set(&r->err, "http: a multipart header line over %d bytes",
					 RANGES_LINE_MAX);
		memcpy(r->line + r->line_len, data, n);
		r->line_len += n;
		r->overhead += n + (nl ? 1 : 0);
		data += n + (nl ? 1 : 0);
		len -= n + (nl ? 1 : 0);
		if (nl) {
			if (ranged_line(r) < 0)
				return -1;
			r->line_len = 0;
		}
	}
	if (r->overhead > RANGES_OVERHEAD(r->batch))
		return error_set(&r->err, "http: a multipart answer with more than %u bytes around "
				 "its parts", RANGES_OVERHEAD(r->batch));
	return 0;
}

/* The first body byte says what the server made of the request. */
static int ranged_first_byte(struct ranged *r)
{
	long status = ranged_status(r->curl);

	r->started = 1;
	if (status == 200 && r->batch > 1 && !r->single) {
		r->refused_multi = 1;	/* asked again, one range at a time */
		return -1;
	}
	if (status == 200)
		return error_set(&r->err, "http: the server ignores range requests (200 to "
				 "\"Range: bytes=%llu-...\")",
				 (unsigned long long)r->want[r->first].offset);
	if (status != 206)
		return error_set(&r->err, "http: status %ld to a range request", status);
	if (r->boundary[0])
		return 0;
	if (r->cr_start < 0)
		return error_set(&r->err, "http: a 206 answer without a Content-Range");
	return ranged_expect(r, r->cr_start, r->cr_end, r->cr_total);
}

static size_t ranged_body(char *data, size_t size, size_t count, void *context)
{
	struct ranged *r = context;
	size_t len = size * count;

	if (ranged_status(r->curl) / 100 != 2)
		return len;	/* an error page: the status says it all */
	if (!r->started && ranged_first_byte(r) < 0) {
		r->failed = !r->refused_multi;
		return 0;
	}
	if (r->boundary[0] ? ranged_multipart(r, data, len) < 0 : ranged_deliver(r, data, len) < 0) {
		r->failed = 1;
		return 0;
	}
	return len;
}

static int ranged_progress(void *context, curl_off_t total, curl_off_t now, curl_off_t up_total,
			   curl_off_t up_now)
{
	struct ranged *r = context;

	(void)total;
	(void)now;
	(void)up_total;
	(void)up_now;
	if (r->job->progress)
		r->job->progress(r->job->ctx, r->delivered, r->total);
	return 0;
}

/* "a-b,c-d,..." for the next request. */
static void ranged_header_value(struct ranged *r, char *out, size_t len)
{
	size_t used = 0;

	r->batch = r->single ? 1 : (r->count - r->first < RANGES_BATCH ? r->count - r->first :
				    RANGES_BATCH);
	out[0] = '\0';
	for (size_t i = r->first; i < r->first + r->batch; i++) {
		const struct fetch_range *w = &r->want[i];

		used += (size_t)snprintf(out + used, len - used, "%s%llu-%llu", used ? "," : "",
					 (unsigned long long)w->offset,
					 (unsigned long long)(w->offset + w->len - 1));
	}
}

enum ranged_verdict { RANGED_PROGRESS, RANGED_RETRY, RANGED_FINAL };

static enum ranged_verdict ranged_attempt(struct ranged *r, struct curl_slist *headers,
					  const char *shown, struct error *err)
{
	char errbuf[CURL_ERROR_SIZE] = "", range[RANGES_BATCH * 44];
	size_t before = r->first;
	unsigned long long got = r->delivered;
	CURLcode rc;
	long status;

	fetch_http_options(r->curl, r->job, headers, errbuf);
	curl_easy_setopt(r->curl, CURLOPT_HEADERFUNCTION, ranged_header);
	curl_easy_setopt(r->curl, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(r->curl, CURLOPT_WRITEFUNCTION, ranged_body);
	curl_easy_setopt(r->curl, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->curl, CURLOPT_XFERINFOFUNCTION, ranged_progress);
	curl_easy_setopt(r->curl, CURLOPT_XFERINFODATA, r);
	curl_easy_setopt(r->curl, CURLOPT_NOPROGRESS, 0L);
	ranged_header_value(r, range, sizeof range);
	curl_easy_setopt(r->curl, CURLOPT_RANGE, range);
	r->started = r->refused_multi = r->ended = r->in_part = r->part_headers = 0;
	r->line_len = 0;
	r->overhead = 0;
	rc = curl_easy_perform(r->curl);
	if (r->failed) {
		*err = r->err;
		return RANGED_FINAL;
	}
	if (r->refused_multi) {
		r->single = 1;
		return RANGED_PROGRESS;
	}
	status = ranged_status(r->curl);
	if (rc == CURLE_OK && status / 100 == 2) {
		if (r->first > before || r->delivered > got)
			return RANGED_PROGRESS;
		error_set(err, "http: GET %s: an empty answer to a range request", shown);
		return RANGED_FINAL;
	}
	if (rc != CURLE_OK) {
		error_set(err, "http: GET %s: %s", shown, errbuf[0] ? errbuf : curl_easy_strerror(rc));
		return rc == CURLE_TOO_MANY_REDIRECTS || rc == CURLE_UNSUPPORTED_PROTOCOL ||
		       rc == CURLE_PEER_FAILED_VERIFICATION ? RANGED_FINAL : RANGED_RETRY;
	}
	error_set(err, "http: GET %s: status %ld", shown, status);
	return status == 408 || status == 429 || status / 100 == 5 ? RANGED_RETRY : RANGED_FINAL;
}

int fetch_http_ranges(const struct fetch_job *job, const char *token, struct error *err)
{
	struct ranged r = { .job = job, .count = job->range_count, .retry_after = -1 };
	struct curl_slist *headers = NULL;
	char shown[512], header[CONFIG_STRING_MAX + 32];
	enum ranged_verdict verdict = RANGED_PROGRESS;
	unsigned failures = 0;
	int rc = -1;

	fetch_http_redacted(job->location, shown, sizeof shown);
	if (job->range_count > FETCH_RANGES_MAX)
		return error_set(err, "http: %zu ranges, more than %u", job->range_count,
				 FETCH_RANGES_MAX);
	r.want = malloc(job->range_count * sizeof *r.want);
	r.curl = curl_easy_init();
	if (!r.want || !r.curl) {
		error_set(err, "http: cannot initialise libcurl");
		goto out;
	}
	memcpy(r.want, job->ranges, job->range_count * sizeof *r.want);
	for (size_t i = 0; i < r.count; i++)
		r.total += r.want[i].len;
	if (token) {
		snprintf(header, sizeof header, "X-Auth-Token: %s", token);
		headers = curl_slist_append(NULL, header);
		memset(header, 0, sizeof header);
	}
	while (r.first < r.count) {
		verdict = ranged_attempt(&r, headers, shown, err);
		if (verdict == RANGED_FINAL)
			goto out;
		if (verdict == RANGED_PROGRESS) {
			failures = 0;
			continue;
		}
		if (failures++ >= job->config->updater.retries) {
			error_prefix(err, "after %u attempts: ", failures);
			goto out;
		}
		fetch_sleep_ms(fetch_backoff_ms(job->config, failures - 1, r.retry_after));
	}
	rc = 0;
out:
	curl_slist_free_all(headers);
	if (r.curl)
		curl_easy_cleanup(r.curl);
	free(r.want);
	return rc;
}
