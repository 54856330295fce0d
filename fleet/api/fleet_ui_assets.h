/* fleet_ui_assets.h: the web UI's files (fleet/ui/), compiled into
 * slotfleet by fleet/ui/embed.sh (a generated ui_assets.c): each one's name
 * under /ui/, its Content-Type and its bytes.  Read-only, built once. */
#ifndef SLOTFLEET_UI_ASSETS_H
#define SLOTFLEET_UI_ASSETS_H

#include <stddef.h>

struct fleet_ui_asset {
	const char *name;		/* "index.html": served as /ui/index.html */
	const char *type;		/* its Content-Type */
	const unsigned char *data;
	size_t len;
};

extern const struct fleet_ui_asset fleet_ui_assets[];
extern const size_t fleet_ui_asset_count;

#endif
