/* handlers_metrics.c: GET /metrics (metrics/fleet_metrics.h): the counters
 * and the store's counts, read on one of the pool's handles. */
#include "api/fleet_http.h"
#include "metrics/fleet_metrics.h"
#include "log.h"

void fleet_handle_metrics(struct fleet_request *req, struct fleet_response *res)
{
	struct fleet_store *store = fleet_pool_get(req->deps->pool);
	struct error err = { "" };
	int rc;

	rc = fleet_metrics_render(req->deps->metrics, store, &res->text, &res->text_len, &err);
	fleet_pool_put(req->deps->pool, store);
	if (rc < 0) {
		log_error("metrics: %s", err.text);
		fleet_reply_error(res, 503, "", "the store cannot be read; retry later");
		return;
	}
	res->status = 200;
}
