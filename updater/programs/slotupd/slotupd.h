/* slotupd.h: the subcommands of slotupd that live in their own files. */
#ifndef SLOTD_SLOTUPD_H
#define SLOTD_SLOTUPD_H

#include "config.h"

/* `slotupd serve`: the RabbitMQ consumer; returns the exit code. */
int slotupd_serve(const struct config *config);

#endif
