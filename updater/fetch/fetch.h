/* fetch.h: download strategies (docs/architecture.md, An upgrade, end to end;
 * docs/strategies.md).
 *
 * The registry (fetch.c) is the built-in strategies, one row each in its
 * table (a location check and a fetch function), and the deployer's
 * [strategy.NAME] sections of the configuration (include/config.h), whose
 * program writes the artifact to its stdout (updater/fetch/fetch_program.h).
 * Built in:
 *   http   http:// and https:// via libcurl
 *   swift  the same, with "X-Auth-Token: [updater] swift_token" (never logged)
 *   file   file:///absolute/path or /absolute/path
 * A deployer strategy's location is opaque text for its program: 1 to
 * FETCH_OPAQUE_MAX bytes without control characters.
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
#include <stdint.h>
#include "config.h"
#include "error.h"

/* A byte range of the file: offset and length. */
struct fetch_range {
	uint64_t offset, len;
};
/* At most this many ranges in one job (a format 3 bundle's blocks, merged). */
#define FETCH_RANGES_MAX 16400u

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
	/* For a deployer strategy's input (may be NULL): the request's
	 * instance_version, metadata sha256, and its whole metadata object as
	 * request_metadata_encode() writes it (request_check.h). */
	const char *instance_version, *sha256, *metadata;
	/* Set by the fetch process: the JSON object the program reads, and its
	 * socket to the updater, whose hang-up stops the program (0: none). */
	const char *input;
	int stop_fd;
	/* Only these ranges of the file (http and swift; none: all of it),
	 * ascending, apart, each len >= 1: the sink gets their bytes one after
	 * the other, exactly, whatever the server sends.  Several ranges go in
	 * one request (a multipart/byteranges answer), one per request where
	 * the server refuses that; a server answering 200, or another range,
	 * fails the fetch ("http: ... ignores range requests").  range_open_end:
	 * the last range may stop short at the end of the file. */
	const struct fetch_range *ranges;
	size_t range_count;
	int range_open_end;
};

struct fetch_strategy {
	const char *name;
	int (*check_location)(const char *location, struct error *err);
	int (*fetch)(const struct fetch_job *job, struct error *err);
};

/* A built-in strategy's row, or NULL. */
const struct fetch_strategy *fetch_strategy_find(const char *name);
/* location as an error may quote it (location.c): user:password redacted, at most 100
 * bytes (out: at least FETCH_SHOWN_MAX) */
#define FETCH_SHOWN_MAX 104
void fetch_location_shown(const char *location, char *out, size_t len);
#define FETCH_OPAQUE_MAX 1023
/* The guest's check: strategy is a built-in or one of config's [strategy.NAME]
 * (config NULL: built-ins only) and location well formed for it; else
 * "request: unknown strategy 'x' (known: http, swift, file, ...)" or
 * "request: malformed location: ...". */
int fetch_validate(const struct config *config, const char *strategy, const char *location,
		   struct error *err);
/* The strategy that moves the bytes: for a [strategy.NAME] section without
 * a fetch program (format = pip), the built-in `file` for a path or file:
 * URL and `http` for anything else (fetch_validate() checks the location as
 * that built-in would); strategy itself otherwise. */
const char *fetch_transport(const struct config *config, const char *strategy,
			    const char *location);
/* A sender's check (slotctl notify, slotfleet), which does not know the
 * guest's sections: a built-in as fetch_validate(); any other well-formed
 * name with an opaque location passes (the guest is the judge). */
int fetch_validate_relayed(const char *strategy, const char *location, struct error *err);
/* Runs strategy in the calling process; job->config has its section. */
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
