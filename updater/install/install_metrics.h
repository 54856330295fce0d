/* install_metrics.h: [updater] metrics_file, slotupd's side of the metrics
 * (Prometheus text, prom.h), rewritten after every install that reached an
 * outcome (SUCCESS or FAILED; a DEFERRED attempt is not over yet):
 *   slotupd_last_install_duration_seconds   wall time of that attempt here
 *   slotupd_last_install_bytes              bundle bytes it fetched
 *   slotupd_last_install_timestamp_seconds  when it ended
 *   slotupd_last_install_success            1 SUCCESS, 0 FAILED
 *   slotupd_installs_total{outcome="success|failed"}
 * The totals are counted from the history (attempts of kind upgrade or
 * rollback in a final state), so they survive restarts of slotupd and count
 * `slotupd install` and `slotupd serve` alike; an attempt that later failed
 * its probation counts as failed. */
#ifndef SLOTD_INSTALL_METRICS_H
#define SLOTD_INSTALL_METRICS_H

#include "config.h"
#include "history.h"
#include "layout.h"

int install_metrics_write(const struct config *config, const struct layout *layout,
			  const struct history_record *record, double seconds,
			  unsigned long long bytes, struct error *err);

#endif
