/* metrics.c: see updater/install/install_metrics.h. */
#include <stdio.h>
#include <string.h>

#include "install/install_metrics.h"
#include "prom.h"

struct install_totals {
	unsigned long long success, failed;
};

static int install_metrics_count(const struct history_record *r, void *context)
{
	struct install_totals *totals = context;

	if (strcmp(r->kind, "upgrade") && strcmp(r->kind, "rollback"))
		return 0;
	totals->success += r->state == HISTORY_SUCCESS;
	totals->failed += r->state == HISTORY_FAILED;
	return 0;
}

int install_metrics_write(const struct config *config, const struct layout *layout,
			  const struct history_record *record, double seconds,
			  unsigned long long bytes, struct error *err)
{
	struct install_totals totals = { 0, 0 };
	char text[2048];
	int len;

	if (!config->updater.metrics_file[0])
		return 0;
	if (history_read(layout, NULL, install_metrics_count, &totals, NULL, err) < 0)
		return -1;
	len = snprintf(text, sizeof text,
		"# HELP slotupd_last_install_duration_seconds Wall time of the last install "
		"that reached an outcome.\n"
		"# TYPE slotupd_last_install_duration_seconds gauge\n"
		"slotupd_last_install_duration_seconds %.3f\n"
		"# HELP slotupd_last_install_bytes Bundle bytes the last install fetched.\n"
		"# TYPE slotupd_last_install_bytes gauge\n"
		"slotupd_last_install_bytes %llu\n"
		"# HELP slotupd_last_install_timestamp_seconds When the last install ended.\n"
		"# TYPE slotupd_last_install_timestamp_seconds gauge\n"
		"slotupd_last_install_timestamp_seconds %lld\n"
		"# HELP slotupd_last_install_success 1 when the last install succeeded.\n"
		"# TYPE slotupd_last_install_success gauge\n"
		"slotupd_last_install_success %d\n"
		"# HELP slotupd_installs_total Installs by outcome, from the history.\n"
		"# TYPE slotupd_installs_total counter\n"
		"slotupd_installs_total{outcome=\"success\"} %llu\n"
		"slotupd_installs_total{outcome=\"failed\"} %llu\n",
		seconds, bytes, (long long)record->updated, record->state == HISTORY_SUCCESS,
		totals.success, totals.failed);
	if (len < 0 || (size_t)len >= sizeof text)
		return error_set(err, "metrics text too long");
	return prom_write(config->updater.metrics_file, text, (size_t)len, err);
}
