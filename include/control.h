/* control.h: the line protocol on slotd's control socket, and its client.
 *
 * SOCK_STREAM unix socket (mode 0660).  The client sends one request line,
 * slotd answers with one reply line and closes.  Peers are checked with
 * SO_PEERCRED: root, admin_uid or updater_uid; anyone else gets
 * "error refused: uid N is not allowed" and a log line.
 *
 *   status                 -> ok current=a agent.pid=12 agent.state=running
 *                             agent.healthy=1 a.status=good a.version=v1 ...
 *                             (space separated key=value; values %-encoded)
 *   activate a|b           -> answered when the outcome is known:
 *                             ok good <version>         trial passed, committed
 *                             error health <reason>     reverted, slot is bad
 *                             error busy <reason>       inhibitor stayed held
 *                             error refused <reason>    not installed, trial running...
 *   rollback [--force]     -> ok current=<slot> | error <reason>
 *   mark-good | mark-bad   -> ok | error <reason>
 *   restart                -> ok | error <reason>
 * Anything else: "error usage <what>".  Lines are at most CONTROL_LINE_MAX. */
#ifndef SLOTD_CONTROL_H
#define SLOTD_CONTROL_H

#include <stddef.h>
#include "error.h"

#define CONTROL_LINE_MAX 4096

/* Connects, sends `request` (no newline needed), reads the reply line into
 * reply (newline stripped).  timeout_ms bounds the whole exchange (0 = none).
 * Returns 0 when a reply was read (check whether it starts with "ok"), -1 on
 * a transport error. */
int control_request(const char *socket_path, const char *request, char *reply,
		    size_t reply_len, unsigned timeout_ms, struct error *err);

#endif
