/* fetch.h: download strategies (docs/architecture.md, An upgrade, end to end).
 *
 * A strategy is one row in fetch.c's table: a name, a location check and a
 * fetch function.  Adding one is adding a file and a row.  Built in:
 *   http   http:// and https:// via libcurl
 *   swift  the same, with "X-Auth-Token: [updater] swift_token" (never logged)
 *   file   file:///absolute/path or /absolute/path
 *
 * http promises: TLS verification always on ([updater] ca_path optional);
 * only http/https, also for redirects, at most max_redirects; retries
 * ([updater] retries) on transport errors, 408, 429 and 5xx with exponential
 * backoff plus up to 50% random jitter, capped at retry_backoff_max, and a
 * Retry-After (seconds) honoured within that cap; other 4xx are final; a
 * broken transfer resumes with "Range: bytes=N-" where N is what the sink
 * accepted (a server that ignores Range and answers 200 has its first N bytes
 * skipped; a 206 starting elsewhere is an error); a transfer below 1 KiB/s
 * for low_speed_time is aborted and retried; max_rate caps the bandwidth.
 * Credentials in a URL never appear in messages.
 *
 * fetch_run() runs the strategy in the calling process; the updater calls
 * it only inside its confined fetch process (updater/fetch/fetch_child.h). */
#ifndef SLOTD_FETCH_H
#define SLOTD_FETCH_H

#include <stddef.h>
#include "config.h"
#include "error.h"

/* Receives the file's bytes in order.  -1 (err set) aborts the whole fetch,
 * without retry. */
typedef int (*fetch_sink_fn)(const void *data, size_t len, void *ctx, struct error *err);

struct fetch_job {
	const struct config *config;
	const char *location;
	const char *file_beneath;	/* `file`: NULL, any path; else only beneath this dir */
	fetch_sink_fn sink;
	void *ctx;
	void (*progress)(void *ctx, unsigned long long done, unsigned long long total);
};

struct fetch_strategy {
	const char *name;
	int (*check_location)(const char *location, struct error *err);
	int (*fetch)(const struct fetch_job *job, struct error *err);
};

const struct fetch_strategy *fetch_strategy_find(const char *name);
/* location as an error may quote it (location.c): user:password redacted, at most 100
 * bytes (out: at least FETCH_SHOWN_MAX) */
#define FETCH_SHOWN_MAX 104
void fetch_location_shown(const char *location, char *out, size_t len);
/* "unknown strategy 'x'" / "malformed location ..." */
int fetch_validate(const char *strategy, const char *location, struct error *err);
int fetch_run(const char *strategy, const struct fetch_job *job, struct error *err);

/* The strategies' own entry points (one file each). */
int fetch_http_check(const char *location, struct error *err);
int fetch_http(const struct fetch_job *job, struct error *err);
int fetch_swift(const struct fetch_job *job, struct error *err);
int fetch_file_check(const char *location, struct error *err);
/* 0 when a `file` location names a path beneath dir (absolute, no trailing
 * slash needed) without a ".." component, else -1 ("not beneath ...");
 * an empty dir admits nothing. */
int fetch_file_beneath(const char *location, const char *dir, struct error *err);
int fetch_file(const struct fetch_job *job, struct error *err);
/* fetch_file in two halves, so that a privileged process can open the file
 * and a confined one read it (updater/fetch/fetch_child.h).  _open returns an
 * O_RDONLY descriptor of a regular file, or -1.  With beneath (not NULL) the
 * path must pass fetch_file_beneath() and is resolved by the kernel without
 * leaving that directory (openat2 RESOLVE_BENEATH: no "..", no symlink out). */
int fetch_file_open(const char *location, const char *beneath, struct error *err);
int fetch_file_read(int fd, const struct fetch_job *job, struct error *err);

#endif
