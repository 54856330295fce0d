/* serve.c: `slotupd serve`, the RabbitMQ consumer.  Not built yet: it
 * reports so clearly instead of pretending (see the README's status). */
#include <stdio.h>

#include "slotupd.h"

int slotupd_serve(const struct config *config)
{
	(void)config;
	fprintf(stderr, "slotupd: serve: the RabbitMQ consumer is not implemented yet\n");
	return 2;
}
