#!/bin/sh
# Layout (issue 24; docs/architecture.md, Layout): the build's files call
# each other one way only (no cycle in the file -> file graph read from the
# objects with nm), and include/ holds only headers that more than one
# area's code includes (or the slot engine's).  The measuring is
# tests/support/layout_graph.py; it prints every cycle and every misplaced
# header, then "layout: N cycles, M shared headers, K objects".
objdir=$SLOTD_BIN/../obj
command -v nm >/dev/null || { echo "layout: nm missing (apt-get install binutils)" >&2; exit 77; }
[ -x /usr/bin/python3 ] || { echo "layout: /usr/bin/python3 missing" >&2; exit 77; }
[ -d "$objdir" ] || { echo "layout: no objects in $objdir (build first)" >&2; exit 77; }
exec /usr/bin/python3 "$SLOTD_SRC/tests/support/layout_graph.py" "$SLOTD_SRC" "$objdir"
