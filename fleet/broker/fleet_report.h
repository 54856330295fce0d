/* fleet_report.h: a guest's casts to the conductor, as slotfleet reads them.
 *
 * Accepts the oslo envelope (rpc_message_unwrap) of
 *   guest_upgrade_outcome(instance_id, upgrade_id, from_version, to_version,
 *                         state, reason, sent)          -> FLEET_MSG_OUTCOME
 *   heartbeat(instance_id, payload{agent_version, agent_slot,
 *             rpc_api_version}, sent)                   -> FLEET_MSG_HEARTBEAT
 *   anything else, and a heartbeat without agent_version (the agent's own,
 *   or another guest's)                                 -> FLEET_MSG_IGNORE
 * Sealed reports (Trove's ConductorGuestSerializer: `_context_csz-instance-id`,
 * each arg the JSON text {"entity": ..., "csz-instance-id": ...}) are
 * unsealed with that instance's key from rpc_keys.h; a sealed report whose
 * instance has no key, whose args name another instance, or a plain report
 * for an instance that has a key, is refused.  Ids must pass
 * request_check.h, the state must be a state name, versions printable,
 * rpc_api_version MAJOR.MINOR (rpc_api_version_parse; a heartbeat without
 * one is from a guest older than API versions: "1.0", docs/wire.md);
 * reasons are kept as data with control characters replaced.  Every refusal
 * names the field ("args.state: ..."). */
#ifndef SLOTFLEET_REPORT_H
#define SLOTFLEET_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "rpc_keys.h"
#include "store/fleet_store.h"

enum fleet_msg_kind { FLEET_MSG_IGNORE, FLEET_MSG_OUTCOME, FLEET_MSG_HEARTBEAT };

struct fleet_msg {
	enum fleet_msg_kind kind;
	int sealed;
	char instance_id[FLEET_INSTANCE_MAX];
	char upgrade_id[FLEET_ID_MAX];
	char from_version[FLEET_VERSION_MAX], to_version[FLEET_VERSION_MAX];
	enum fleet_state state;
	char reason[FLEET_REASON_MAX];
	char agent_version[FLEET_VERSION_MAX], agent_slot[8];
	char rpc_api_version[FLEET_RPC_API_MAX];	/* heartbeats: never "" */
	int64_t sent_us;		/* 0: not given or not plausible */
	char why_ignored[128];
};

/* A len over RPC_BODY_MAX is refused before body is read (body may then be
 * NULL: the AMQP link drops such bodies unread). */
int fleet_report_parse(const char *body, size_t len, const struct rpc_keys *keys,
		       struct fleet_msg *msg, struct error *err);

#endif
