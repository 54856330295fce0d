/* serve_wire.h: the records between `slotupd serve` (root) and its AMQP
 * process, `slotupd --amqp-child` (docs/architecture.md, Privilege
 * separation; updater/amqp/serve.h).
 *
 * One SOCK_SEQPACKET socketpair; every record is one message of a fixed
 * size, so a cut or padded record is refused by its length alone:
 *   job      parent to child, once, first: the [amqp] keys the child needs
 *            (url with its password, rpc_key: the child consumes and unseals),
 *            the user to drop to, the parent's pid.
 *   request  child to parent: an upgrade or rollback it parsed, unsealed and
 *            checked; a message it refused (the reason, and its id when the
 *            message had a trustworthy one); or news of the link: up (so
 *            the first heartbeat need not wait), down (a delivery it held
 *            went back to the broker, which will redeliver it).
 *   reply    parent to child: the verdict on a request (ack it, or drop the
 *            connection so that the broker redelivers), an outcome to cast
 *            to the conductor, or a heartbeat's data (slotd's view, which
 *            only the parent may ask for).
 * A held (DEFERRED, jittered) request gets no reply until it is settled.
 *
 * serve_wire_request_decode() is what the parent runs on every request: the
 * exact size, the magic, a known type and flags, every string NUL-terminated
 * within its field and printable ASCII, and the fields each type may carry,
 * checked with the guest's own rules (request_check.h: ids, version grammar,
 * strategy and location, sha256, metadata an object within its bound whose
 * sha256 is the request's; `file` only beneath [amqp] file_dir).  The child runs the same checks before it
 * sends (serve_wire_request_check), so a message that fails them is refused
 * there, with the reason recorded, and a request that fails them on receipt
 * comes from a child that is not doing its job. */
#ifndef SLOTD_SERVE_WIRE_H
#define SLOTD_SERVE_WIRE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "error.h"
#include "history.h"
#include "request_check.h"

#define SERVE_CHILD_ARG "--amqp-child"
#define SERVE_WIRE_MAGIC 0x736c6133u	/* "sla3": a parent and child of one build */

struct serve_wire_job {
	uint32_t magic;
	pid_t parent;			/* the child exits when it is not its parent's */
	char user[64];			/* [updater] fetch_user, resolved by the child */
	char url[CONFIG_STRING_MAX];
	char exchange[128];
	char instance_id[128];
	char queue[256];
	char conductor_topic[128];
	char rpc_key[256];
	char ca_path[PATH_MAX];
	char strategy[32];		/* [updater] strategy: a location's default */
	char file_dir[PATH_MAX];	/* [amqp] file_dir: where `file` may point */
	char strategies[CONFIG_STRATEGY_MAX][CONFIG_STRATEGY_NAME_MAX + 1];	/* [strategy.NAME]s */
	uint32_t strategy_fetchers;	/* bit i: strategies[i] has a fetch program, so its
					 * location is opaque text, not a pip tarball's URL */
	uint32_t exchange_durable;
	uint32_t max_age_ms;
	uint32_t automatic;		/* [updater] automatic: the child refuses policies' casts */
};

enum serve_request_type {
	SERVE_REQ_UPGRADE = 1,
	SERVE_REQ_ROLLBACK,
	SERVE_REQ_REFUSED,		/* reason; id when the message had one */
	SERVE_REQ_LINK_UP,		/* connected and consuming: time for a heartbeat */
	SERVE_REQ_LINK_DOWN,		/* disconnected: a held delivery is the broker's */
};

#define SERVE_FLAG_SEALED 1u		/* unsealed with [amqp] rpc_key */
#define SERVE_FLAG_ADMIN 2u		/* an admin context (required for rollback) */
#define SERVE_FLAG_REDELIVERED 4u	/* the broker's redelivered bit */
#define SERVE_FLAGS_ALL 7u

struct serve_wire_request {
	uint32_t magic;
	uint32_t type;			/* enum serve_request_type */
	uint32_t flags;
	uint64_t seq;			/* the child's delivery number (1..), echoed back */
	char id[HISTORY_ID_MAX];
	char version[64];
	char location[HISTORY_LOCATION_MAX];
	char strategy[32];		/* "": the guest's default */
	char sha256[65];		/* "": none */
	/* args.metadata whole, as request_metadata_encode() writes it
	 * (request_check.h): "" none, else an object whose sha256, if any,
	 * is the field above */
	char metadata[REQUEST_METADATA_WIRE_MAX + 1];
	char reason[HISTORY_ERROR_MAX];
};

enum serve_reply_type {
	SERVE_REPLY_ACK = 1,		/* final and durable: acknowledge seq */
	SERVE_REPLY_DROP,		/* not recorded: reconnect, the broker redelivers */
	SERVE_REPLY_OUTCOME,		/* cast guest_upgrade_outcome */
	SERVE_REPLY_HEARTBEAT,		/* cast heartbeat */
};

struct serve_wire_reply {
	uint32_t magic;
	uint32_t type;			/* enum serve_reply_type */
	uint64_t seq;			/* ACK, DROP */
	char id[HISTORY_ID_MAX];	/* OUTCOME */
	char from[HISTORY_FIELD_MAX], to[HISTORY_FIELD_MAX];
	char state[16];
	char reason[HISTORY_ERROR_MAX];
	char agent_version[HISTORY_FIELD_MAX];	/* HEARTBEAT */
	char agent_slot[4];
};

/* See above: 0 with *out filled, or -1 with err naming what was wrong.
 * From config: [updater] strategy, a location's default; the strategies
 * (fetch_validate(): a built-in or a [strategy.NAME]); [amqp] file_dir: an
 * upgrade whose strategy is `file` must name a path beneath it (none when
 * it is empty). */
int serve_wire_request_decode(const void *buf, size_t len, const struct config *config,
			      struct serve_wire_request *out, struct error *err);
int serve_wire_request_check(const struct serve_wire_request *r, const struct config *config,
			     struct error *err);
/* The reply's size, magic, type and fields (the child trusts its parent,
 * but not a record cut in two). */
int serve_wire_reply_decode(const void *buf, size_t len, struct serve_wire_reply *out,
			    struct error *err);

/* One record (MSG_NOSIGNAL, plus flags such as MSG_DONTWAIT): 0 or -1. */
int serve_wire_send(int fd, const void *record, size_t len, int flags, struct error *err);
/* One record into buf (at least len + 1 bytes, so a longer one shows),
 * without waiting: its length (MSG_TRUNC: the real one, even when cut), 0
 * at end of file, -1 with err and errno set (EAGAIN: none there). */
ssize_t serve_wire_recv(int fd, void *buf, size_t len, struct error *err);

#endif
