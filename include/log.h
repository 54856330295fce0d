/* log.h: one line per event on stderr, "prog: level: message".
 *
 * Programs call log_init() once with their name.  Nothing here allocates; safe
 * to use from PID 1.  Secrets must never be passed to these functions. */
#ifndef SLOTD_LOG_H
#define SLOTD_LOG_H

void log_init(const char *program_name);
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
