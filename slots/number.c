/* number.c: see include/number.h. */
#include <errno.h>
#include <stdlib.h>

#include "number.h"

int number_parse(const char *text, unsigned long long max, unsigned long long *out)
{
	char *end;

	if (text[0] < '0' || text[0] > '9')
		return -1;
	errno = 0;
	*out = strtoull(text, &end, 10);
	return (errno || *end || *out > max) ? -1 : 0;
}
