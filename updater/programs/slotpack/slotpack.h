/* slotpack.h: what slotpack's files share (private to slotpack). */
#ifndef SLOTD_SLOTPACK_H
#define SLOTD_SLOTPACK_H

#include "bundle/bundle.h"

/* extract.c: bundle's verified tree into dir_fd; errors printed; 0 or -1. */
int slotpack_extract_into(const char *bundle, const struct bundle_reader_options *o,
			  int dir_fd);
/* diff.c: `slotpack diff`; the exit code. */
int slotpack_diff(const char *old_path, const char *new_path,
		  const struct bundle_reader_options *o);

#endif
