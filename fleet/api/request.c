/* request.c: what every handler shares of its request and answer (see
 * api/fleet_http.h): the query arguments checked, the answer's body set,
 * the error body of docs/fleet.md.  Apart from http.c and routes.c, which call the
 * handlers, so that a handler never calls back into them. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api/fleet_http.h"
#include "store/fleet_text.h"

void fleet_reply(struct fleet_response *res, unsigned status, json_t *body)
{
	json_decref(res->body);
	res->status = status;
	res->body = body;
}

int fleet_reply_error(struct fleet_response *res, unsigned status, const char *field,
		      const char *fmt, ...)
{
	char message[512], clean[512], name[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);
	/* field may be a hostile JSON key or query name: cut and cleaned too. */
	fleet_text_clean(name, sizeof name, field);
	fleet_text_clean(clean, sizeof clean, message);
	fleet_reply(res, status, json_pack("{s:{s:i, s:s, s:s}}", "error", "code", (int)status,
					   "field", name, "message", clean));
	if (!res->body)	/* not UTF-8 */
		fleet_reply(res, status, json_pack("{s:{s:i, s:s, s:s}}", "error", "code",
						   (int)status, "field", "", "message", "bad input"));
	return -1;
}

int fleet_query(const struct fleet_request *req, const char *const *allowed, size_t count,
		const char **values, struct fleet_response *res)
{
	size_t i, j;

	if (req->query_overflow)
		return fleet_reply_error(res, 400, "", "more than %d query arguments",
					 FLEET_QUERY_MAX);
	for (j = 0; j < count; j++)
		values[j] = NULL;
	for (i = 0; i < req->query_count; i++) {
		for (j = 0; j < count && strcmp(req->query[i].key, allowed[j]); j++)
			;
		if (j == count)
			return fleet_reply_error(res, 400, req->query[i].key, "unknown query argument");
		if (values[j])
			return fleet_reply_error(res, 400, req->query[i].key, "given twice");
		values[j] = req->query[i].value;
	}
	return 0;
}
