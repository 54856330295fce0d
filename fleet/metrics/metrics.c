/* metrics.c: slotfleet's counters and their exposition (see
 * metrics/fleet_metrics.h).  Text escaping is prom.h's, as slotd's. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "metrics/fleet_metrics.h"
#include "store/fleet_store_outbox.h"
#include "prom.h"

/* The statuses the API answers; any other is counted as "other". */
static const unsigned metrics_statuses[] = { 200, 202, 400, 401, 403, 404, 405, 409, 413,
					     429, 500, 502, 503 };
#define METRICS_STATUSES (sizeof metrics_statuses / sizeof metrics_statuses[0])
#define METRICS_TEXT_MAX (256 * 1024)	/* bounded: routes x statuses + 51 versions */

struct fleet_metrics {
	const struct fleet_metrics_routes *routes;
	int64_t started;
	atomic_uint_fast64_t requests[FLEET_METRICS_ROUTES][METRICS_STATUSES + 1];
	atomic_uint_fast64_t rate_limited;
	atomic_uint_fast64_t keystone[FLEET_KEYSTONE_RESULTS], keystone_issued;
	atomic_uint_fast64_t ingested, refused;
	atomic_uint_fast64_t lag_count, lag_sum_us;	/* reports with a `sent` */
	atomic_int_fast64_t lag_last_us;		/* -1: none yet */
};

int fleet_metrics_new(struct fleet_metrics **out, const struct fleet_metrics_routes *routes,
		      struct error *err)
{
	struct fleet_metrics *m = calloc(1, sizeof *m);

	*out = NULL;
	if (!m)
		return error_set(err, "out of memory");
	m->routes = routes;
	m->started = (int64_t)time(NULL);
	atomic_store(&m->lag_last_us, -1);
	*out = m;
	return 0;
}

void fleet_metrics_free(struct fleet_metrics *m)
{
	free(m);
}

void fleet_metrics_request(struct fleet_metrics *m, size_t route, unsigned status)
{
	size_t s;

	if (!m)
		return;
	if (route >= FLEET_METRICS_ROUTES)
		route = m->routes->unmatched;
	for (s = 0; s < METRICS_STATUSES && metrics_statuses[s] != status; s++)
		;
	atomic_fetch_add_explicit(&m->requests[route][s], 1, memory_order_relaxed);
}

void fleet_metrics_rate_limited(struct fleet_metrics *m)
{
	if (m)
		atomic_fetch_add_explicit(&m->rate_limited, 1, memory_order_relaxed);
}

void fleet_metrics_keystone(struct fleet_metrics *m, enum fleet_metrics_keystone result)
{
	if (m && (unsigned)result < FLEET_KEYSTONE_RESULTS)
		atomic_fetch_add_explicit(&m->keystone[result], 1, memory_order_relaxed);
}

void fleet_metrics_keystone_issued(struct fleet_metrics *m)
{
	if (m)
		atomic_fetch_add_explicit(&m->keystone_issued, 1, memory_order_relaxed);
}

void fleet_metrics_ingested(struct fleet_metrics *m, int64_t lag_us, int has_sent)
{
	if (!m)
		return;
	atomic_fetch_add_explicit(&m->ingested, 1, memory_order_relaxed);
	if (!has_sent)
		return;
	if (lag_us < 0)		/* the guest's clock is ahead: no lag to speak of */
		lag_us = 0;
	atomic_fetch_add_explicit(&m->lag_count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->lag_sum_us, (uint64_t)lag_us, memory_order_relaxed);
	atomic_store_explicit(&m->lag_last_us, lag_us, memory_order_relaxed);
}

void fleet_metrics_refused(struct fleet_metrics *m, size_t count)
{
	if (m)
		atomic_fetch_add_explicit(&m->refused, count, memory_order_relaxed);
}

static uint64_t load(atomic_uint_fast64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

/* Only the route and status pairs seen so far: a zero series says nothing. */
static void metrics_requests(struct fleet_metrics *m, struct prom_text *t)
{
	char buf[96], escaped[192];
	const char *label;
	size_t r, s;

	prom_emit(t, "# HELP slotfleet_http_requests_total API requests answered, by route and status.\n"
		"# TYPE slotfleet_http_requests_total counter\n");
	for (r = 0; (label = m->routes->label(r, buf, sizeof buf)); r++) {
		for (s = 0; s <= METRICS_STATUSES; s++) {
			uint64_t n = load(&m->requests[r][s]);

			if (!n)
				continue;
			prom_emit(t, "slotfleet_http_requests_total{route=\"%s\",status=\"",
			     prom_escape(label, escaped, sizeof escaped));
			if (s < METRICS_STATUSES)
				prom_emit(t, "%u\"} %ju\n", metrics_statuses[s], (uintmax_t)n);
			else
				prom_emit(t, "other\"} %ju\n", (uintmax_t)n);
		}
	}
	prom_emit(t, "# HELP slotfleet_http_rate_limited_total Writes refused with 429 (over the tenant's rate).\n"
		"# TYPE slotfleet_http_rate_limited_total counter\n"
		"slotfleet_http_rate_limited_total %ju\n", (uintmax_t)load(&m->rate_limited));
}

static void metrics_keystone(struct fleet_metrics *m, struct prom_text *t)
{
	static const char *const results[FLEET_KEYSTONE_RESULTS] = { "cached", "valid", "invalid",
								     "unavailable" };

	prom_emit(t, "# HELP slotfleet_keystone_validations_total Tokens checked with [api] auth = keystone, by result.\n"
		"# TYPE slotfleet_keystone_validations_total counter\n");
	for (size_t i = 0; i < FLEET_KEYSTONE_RESULTS; i++)
		prom_emit(t, "slotfleet_keystone_validations_total{result=\"%s\"} %ju\n", results[i],
			  (uintmax_t)load(&m->keystone[i]));
	prom_emit(t, "# HELP slotfleet_keystone_failures_total Requests Keystone could not answer (unreachable, slow, 5xx).\n"
		"# TYPE slotfleet_keystone_failures_total counter\n"
		"slotfleet_keystone_failures_total %ju\n"
		"# HELP slotfleet_keystone_service_tokens_total Tokens slotfleet got for itself.\n"
		"# TYPE slotfleet_keystone_service_tokens_total counter\n"
		"slotfleet_keystone_service_tokens_total %ju\n",
		(uintmax_t)load(&m->keystone[FLEET_KEYSTONE_UNAVAILABLE]),
		(uintmax_t)load(&m->keystone_issued));
}

static void metrics_reports(struct fleet_metrics *m, struct prom_text *t)
{
	int64_t last = atomic_load_explicit(&m->lag_last_us, memory_order_relaxed);

	prom_emit(t, "# HELP slotfleet_reports_ingested_total Reports and heartbeats committed to the store.\n"
		"# TYPE slotfleet_reports_ingested_total counter\n"
		"slotfleet_reports_ingested_total %ju\n"
		"# HELP slotfleet_reports_refused_total Deliveries acknowledged without being stored.\n"
		"# TYPE slotfleet_reports_refused_total counter\n"
		"slotfleet_reports_refused_total %ju\n"
		"# HELP slotfleet_report_ingest_lag_seconds From a report's sent time to its commit.\n"
		"# TYPE slotfleet_report_ingest_lag_seconds summary\n"
		"slotfleet_report_ingest_lag_seconds_sum %.6f\n"
		"slotfleet_report_ingest_lag_seconds_count %ju\n",
	     (uintmax_t)load(&m->ingested), (uintmax_t)load(&m->refused),
	     (double)load(&m->lag_sum_us) / 1e6, (uintmax_t)load(&m->lag_count));
	if (last >= 0)
		prom_emit(t, "# HELP slotfleet_report_ingest_lag_last_seconds The lag of the last report committed.\n"
			"# TYPE slotfleet_report_ingest_lag_last_seconds gauge\n"
			"slotfleet_report_ingest_lag_last_seconds %.6f\n", (double)last / 1e6);
}

static int metrics_upgrades(struct fleet_store *store, struct prom_text *t, struct error *err)
{
	uint64_t counts[FLEET_STATE_COUNT];
	int s;

	if (fleet_store_upgrade_counts(store, counts, err) < 0)
		return -1;
	prom_emit(t, "# HELP slotfleet_upgrades Upgrade records in the store, by state.\n"
		"# TYPE slotfleet_upgrades gauge\n");
	for (s = 0; s < FLEET_STATE_COUNT; s++)
		prom_emit(t, "slotfleet_upgrades{state=\"%s\"} %ju\n", fleet_state_name((enum fleet_state)s),
		     (uintmax_t)counts[s]);
	return 0;
}

/* The outbox's backlog: casts recorded, not yet confirmed by the broker. */
static int metrics_casts(struct fleet_store *store, struct prom_text *t, struct error *err)
{
	uint64_t pending;

	if (fleet_store_outbox_pending(store, &pending, err) < 0)
		return -1;
	prom_emit(t, "# HELP slotfleet_casts_pending The API's casts recorded but not yet confirmed by the broker (the outbox).\n"
		"# TYPE slotfleet_casts_pending gauge\n"
		"slotfleet_casts_pending %ju\n", (uintmax_t)pending);
	return 0;
}

/* The most common versions by name, the rest as "other"; "unknown" for
 * instances that never sent a heartbeat with a version.  Neither word is a
 * version (version.h: they start with a digit or v). */
static int metrics_versions(struct fleet_store *store, struct prom_text *t, struct error *err)
{
	struct fleet_version_count versions[FLEET_METRICS_VERSIONS];
	char escaped[2 * FLEET_VERSION_MAX];
	uint64_t total, shown = 0;
	size_t count, i;

	if (fleet_store_version_counts(store, versions, FLEET_METRICS_VERSIONS, &count, &total,
				       err) < 0)
		return -1;
	prom_emit(t, "# HELP slotfleet_instances Known instances by agent version (the %d most common, then other).\n"
		"# TYPE slotfleet_instances gauge\n", FLEET_METRICS_VERSIONS);
	for (i = 0; i < count; i++) {
		shown += versions[i].count;
		prom_emit(t, "slotfleet_instances{agent_version=\"%s\"} %ju\n",
		     versions[i].version[0] ? prom_escape(versions[i].version, escaped, sizeof escaped) :
		     "unknown", (uintmax_t)versions[i].count);
	}
	prom_emit(t, "slotfleet_instances{agent_version=\"other\"} %ju\n",
	     (uintmax_t)(total > shown ? total - shown : 0));
	return 0;
}

int fleet_metrics_render(struct fleet_metrics *m, struct fleet_store *store, char **text,
			 size_t *len, struct error *err)
{
	struct prom_text t = { .buf = malloc(METRICS_TEXT_MAX), .size = METRICS_TEXT_MAX };

	*text = NULL;
	*len = 0;
	if (!t.buf)
		return error_set(err, "out of memory");
	prom_emit(&t, "# HELP slotfleet_start_time_seconds When this slotfleet started (UNIX time).\n"
		 "# TYPE slotfleet_start_time_seconds gauge\n"
		 "slotfleet_start_time_seconds %jd\n", (intmax_t)m->started);
	metrics_requests(m, &t);
	metrics_keystone(m, &t);
	metrics_reports(m, &t);
	if (metrics_upgrades(store, &t, err) < 0 || metrics_casts(store, &t, err) < 0 ||
	    metrics_versions(store, &t, err) < 0) {
		free(t.buf);
		return -1;
	}
	if (t.overflow) {
		free(t.buf);
		return error_set(err, "metrics: more than %d bytes", METRICS_TEXT_MAX);
	}
	*text = t.buf;
	*len = t.used;
	return 0;
}
