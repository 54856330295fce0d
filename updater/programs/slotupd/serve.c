/* serve.c: `slotupd serve`: the RabbitMQ consumer with the real installer. */
#include <stdio.h>

#include "install/install.h"
#include "amqp/serve.h"
#include "slotupd.h"

int slotupd_serve(const struct config *config)
{
	struct serve_options options = { .install = install_run };
	struct error err = { "" };

	if (serve_run(config, &options, &err) < 0) {
		fprintf(stderr, "slotupd: serve: %s\n", err.text);
		return 2;
	}
	return 0;
}
