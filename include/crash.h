/* crash.h: numbered crash points for crash-safety tests.
 *
 * Every durable step of the slot engine (each write, fsync, rename, symlink)
 * calls crash_point().  In a build with -DSLOTS_CRASH_POINTS (the `make check`
 * build) the points are numbered in the order a process passes them: 1, 2, ...
 * If SLOTS_CRASH_AT=N is set, the process calls _exit(CRASH_EXIT_CODE) at the
 * N-th point, simulating a power cut right before that step.  If
 * SLOTS_CRASH_TRACE=PATH is set, each point appends "N label\n" to PATH, so a
 * test can count the points a scenario passes.  Release builds compile the
 * call away: nothing in production reads these variables. */
#ifndef SLOTD_CRASH_H
#define SLOTD_CRASH_H

#define CRASH_EXIT_CODE 86

#ifdef SLOTS_CRASH_POINTS
void crash_point(const char *label);
/* Restarts the numbering (a forked test child counts its own points). */
void crash_point_reset(void);
#else
static inline void crash_point(const char *label) { (void)label; }
#endif

#endif
