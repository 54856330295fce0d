/* child_wire.h: the records between fetch_child_run() and the fetch child
 * (updater/fetch/fetch_child.h); private to updater/fetch/. */
#ifndef SLOTD_FETCH_CHILD_WIRE_H
#define SLOTD_FETCH_CHILD_WIRE_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "fetch/fetch_program.h"

enum fetch_record {
	FETCH_RECORD_DATA = 1,
	FETCH_RECORD_TOTAL,
	FETCH_RECORD_DONE,
	FETCH_RECORD_FAILED,
};

#define FETCH_CHILD_LOCATION_MAX 4096
#define FETCH_CHILD_JOB_MAGIC 0x736c6633u	/* "slf3": a parent and child of one build */
/* Ranges follow the job in messages of at most this many struct fetch_range. */
#define FETCH_CHILD_RANGES_PER_MSG 4096u

/* Parent to child, once, with the file's descriptor for `file`. */
struct fetch_child_job {
	uint32_t magic;
	pid_t parent;			/* the child dies if it is not its parent's any more */
	char fetch_user[64];		/* [updater] fetch_user: resolved by the child */
	char strategy[32];
	char location[FETCH_CHILD_LOCATION_MAX];
	char ca_path[PATH_MAX];
	char swift_token[CONFIG_STRING_MAX];
	uint64_t max_rate;
	unsigned retries, low_speed_time_ms, retry_backoff_ms, retry_backoff_max_ms;
	unsigned max_redirects;
	uint64_t max_bytes;
	/* A deployer strategy: its section (program.fetch "" for a built-in)
	 * and the JSON its program reads (updater/fetch/fetch_program.h). */
	struct config_strategy program;
	char input[FETCH_PROGRAM_INPUT_MAX];
	/* job->ranges: range_count of them in the messages after this one */
	uint32_t range_count;
	uint32_t range_open_end;
};

#endif
