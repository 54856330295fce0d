/* crc32.h: CRC-32 (IEEE 802.3, as zlib's crc32) for torn-write detection in
 * the state file and history records.  Not a security measure. */
#ifndef SLOTD_CRC32_H
#define SLOTD_CRC32_H

#include <stddef.h>
#include <stdint.h>

uint32_t crc32_compute(const void *data, size_t len);

#endif
