/* ui.c: the web UI at /ui/ (docs/dashboard.md), served from the files
 * compiled into slotfleet (fleet_ui_assets.h), on the API's listener.
 *
 *   [api] ui = no      every /ui path is the API's 404 "no such resource"
 *   /ui                301 to /ui/ (the pages load their files relative to it)
 *   /ui/               index.html
 *   /ui/NAME           the file NAME (no folders), else 404
 *   not GET or HEAD    405, Allow: GET, HEAD
 * No token: the files hold no tenant's data; the pages ask the JSON API,
 * with the token the user typed, for everything else.  Every answer under
 * /ui carries the security headers (http.c adds them when res->ui is set):
 * a Content-Security-Policy that allows this origin's files only and no
 * inline script, nosniff, no referrer. */
#include <stdio.h>
#include <string.h>

#include "api/fleet_http.h"
#include "api/fleet_ui_assets.h"

int fleet_ui_path(const char *path)
{
	return !strncmp(path, "/ui", 3) && (path[3] == '\0' || path[3] == '/');
}

static const struct fleet_ui_asset *ui_find(const char *name)
{
	size_t i;

	if (!name[0])
		name = "index.html";
	for (i = 0; i < fleet_ui_asset_count; i++)
		if (!strcmp(fleet_ui_assets[i].name, name))
			return &fleet_ui_assets[i];
	return NULL;
}

void fleet_handle_ui(struct fleet_request *req, struct fleet_response *res)
{
	const struct fleet_ui_asset *asset;

	if (!req->deps->config->api.ui) {
		fleet_reply_error(res, 404, "", "no such resource");
		return;
	}
	res->ui = 1;
	if (strcmp(req->method, "GET") && strcmp(req->method, "HEAD")) {
		snprintf(res->allow, sizeof res->allow, "GET, HEAD");
		fleet_reply_error(res, 405, "", "method %s not allowed here", req->method);
		return;
	}
	if (!req->path[3]) {
		snprintf(res->location, sizeof res->location, "/ui/");
		fleet_reply(res, 301, json_pack("{s:s}", "location", "/ui/"));
		return;
	}
	asset = ui_find(req->path + 4);
	if (!asset) {
		fleet_reply_error(res, 404, "", "no such resource");
		return;
	}
	res->status = 200;
	res->asset = asset->data;
	res->asset_len = asset->len;
	res->asset_type = asset->type;
}
