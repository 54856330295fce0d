/* crc32.c: bitwise CRC-32; the inputs are a few hundred bytes, so a table
 * would only cost PID 1 memory. */
#include "crc32.h"

uint32_t crc32_compute(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint32_t crc = 0xffffffffu;
	int bit;

	while (len--) {
		crc ^= *p++;
		for (bit = 0; bit < 8; bit++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
	}
	return ~crc;
}
