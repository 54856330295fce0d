/* prom.h: metrics files in the Prometheus text format, for node_exporter's
 * textfile collector (--collector.textfile.directory; it reads *.prom).
 *
 * prom_write() replaces the file atomically (atomic.h: PATH.tmp, fsync,
 * rename, fsync of the directory), so a scrape never sees half a file; the
 * collector ignores the .tmp name.  prom_escape() makes a label value of any
 * text (\\, " and newline escaped; other control bytes dropped). */
#ifndef SLOTD_PROM_H
#define SLOTD_PROM_H

#include <stddef.h>
#include "error.h"

/* A page built in a fixed buffer: prom_emit() appends printf-style; once a
 * piece does not fit, overflow is set and nothing more is appended (the
 * caller then refuses the page rather than publish half of it). */
struct prom_text {
	char *buf;
	size_t size, used;
	int overflow;
};

void prom_emit(struct prom_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int prom_write(const char *path, const char *text, size_t len, struct error *err);
const char *prom_escape(const char *in, char *out, size_t len);

#endif
