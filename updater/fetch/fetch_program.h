/* fetch_program.h: a deployer strategy's program ([strategy.NAME] fetch,
 * docs/strategies.md), run by the confined fetch process
 * (updater/fetch/fetch_child.h); private to libupdater.
 *
 * fetch_program() runs it without a shell, in a process group of its own
 * that dies with the fetch process (PR_SET_PDEATHSIG), with
 *   stdin   job->input, one JSON object on one line (fetch_program_input())
 *   stdout  the artifact, handed to job->sink as it comes: the same
 *           verification as a downloaded bundle
 *   stderr  logged line by line (the first 50 lines of a run, 200 bytes
 *           each, sanitised); its first line is the reason of a failure
 *   env     PATH=/usr/local/bin:/usr/bin:/bin, LC_ALL=C, SLOTD_STRATEGY=NAME
 * and the fetch process's identity, no_new_privs and Landlock domain (the
 * caller confined itself with privsep_program_paths() first).
 *
 * Bounds: more than [updater] max_bytes on stdout kills its group and fails
 * for good ("wrote more than [updater] max_bytes"); a run longer than the
 * section's timeout, or without one, silent on stdout for [updater]
 * low_speed_time, kills its group.  Its group is killed after every run, so
 * nothing it started outlives it.
 *
 * Retries ([updater] retries, with fetch_backoff_ms()): after a timeout, a
 * death by signal and exit 75 (EX_TEMPFAIL); any other non-zero exit is
 * final ("strategy NAME: fetcher exited 3: artifact not found").  A retry
 * runs the program again from the start, and the first bytes the sink
 * already took are skipped: the program must write the same artifact. */
#ifndef SLOTD_FETCH_PROGRAM_H
#define SLOTD_FETCH_PROGRAM_H

#include "fetch/fetch.h"

#define FETCH_PROGRAM_EX_TEMPFAIL 75
#define FETCH_PROGRAM_INPUT_MAX 8192

int fetch_program(const struct fetch_job *job, const struct config_strategy *s, struct error *err);

/* {"location": ..., "metadata": {"sha256": ..., ...}, "instance_version":
 * ..., "strategy": NAME} into out (at most FETCH_PROGRAM_INPUT_MAX bytes),
 * UTF-8: metadata is job->metadata re-read (an object within
 * REQUEST_METADATA_MAX, else -1 naming it) with job->sha256 set in it; a
 * metadata key or the version is left out when the request had none. */
int fetch_program_input(const char *strategy, const struct fetch_job *job, char *out, size_t len,
			struct error *err);

#endif
