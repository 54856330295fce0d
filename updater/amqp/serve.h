/* serve.h: `slotupd serve`, upgrades and rollbacks over RabbitMQ.
 *
 * Two processes (docs/architecture.md, Privilege separation).  The AMQP
 * process (serve_child_main(), `slotupd --amqp-child`, re-executed by
 * serve_run() like the fetch process) owns the broker connection: it drops
 * to [updater] fetch_user, sets no_new_privs, Landlock (read CA, resolver
 * and library paths; write nothing) and non-dumpable before it connects,
 * consumes, parses and unseals (it holds rpc_key and the broker password),
 * acknowledges, and publishes the casts.  It hands each message to the
 * calling, privileged process as one fixed-size request (serve_wire.h),
 * which is checked again there, and holds its delivery until the verdict.
 * The privileged side runs install, writes the history, asks slotd for the
 * heartbeat's data and keeps every hold and timer described below.  If the
 * AMQP process dies it is logged and restarted after 1 s, doubled up to
 * 60 s while it keeps dying; its unacknowledged message comes back from the
 * broker.  If the privileged side dies, the AMQP process is killed
 * (PR_SET_PDEATHSIG).
 *
 * One message at a time (prefetch 1).  Each is parsed (rpc_message.h); a bad
 * one gets a FAILED history record and an outcome cast naming what was
 * wrong, and is acknowledged; one that is not ours (another method, Trove's
 * datastore `upgrade`) is acknowledged and ignored.  A valid request runs
 * through `install` (install_run() in slotupd, a fake in tests) with the
 * message's id, so a redelivered message whose attempt is already final is a
 * no-op (its final outcome is cast again: the first one may have been lost
 * with the broker).  The message is acknowledged only after install returned
 * 0, i.e. after the outcome is durable in the history.  An attempt DEFERRED
 * because the agent holds the inhibitor keeps its message unacknowledged
 * (prefetch 1: nothing else arrives meanwhile) and is retried every
 * [amqp] retry_interval from the main loop, which goes on sending heartbeats:
 * never dropped.  If the connection drops meanwhile, the broker requeues it
 * and it comes back after the reconnect.  With [amqp] download_jitter, a
 * new upgrade is held the same way for a random delay up to it before it
 * starts, so a fleet notified at once does not download at once.  Every
 * state change of an attempt (and each retry of a deferred one, so the
 * control plane sees it still waits) is cast to [amqp] conductor_topic as
 * guest_upgrade_outcome(instance_id, upgrade_id, from_version, to_version,
 * state, reason, sent).  A heartbeat(instance_id, payload {agent_version,
 * agent_slot}, sent) goes out every heartbeat_interval, only while slotd says
 * the agent runs on a good slot; it carries no service_status.  A lost
 * connection is reopened with exponential backoff and jitter (1 s to 60 s).
 * An upgrade reported SUCCESS is watched while its slot is on probation
 * (outcome_watch.h): if slotd reverts it, FAILED with slotd's reason is cast
 * for the same upgrade id.
 * SIGTERM or SIGINT: finish the current message, then return 0 (the AMQP
 * process ignores both: it sends the last ack and casts, then sees the
 * socketpair close, closes the connection and exits). */
#ifndef SLOTD_SERVE_H
#define SLOTD_SERVE_H

#include "config.h"
#include "install/install.h"

typedef int (*serve_install_fn)(const struct config *config, const struct install_request *r,
				const struct install_progress *progress,
				struct install_result *result, struct error *err);

struct serve_options {
	serve_install_fn install;
};

int serve_run(const struct config *config, const struct serve_options *options,
	      struct error *err);

/* The AMQP process's side: `slotupd --amqp-child` (SERVE_CHILD_ARG,
 * serve_wire.h), handed over first thing in main().  Returns the exit code. */
int serve_child_main(void);

#endif
