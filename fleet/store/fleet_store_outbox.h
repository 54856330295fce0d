/* fleet_store_outbox.h: the transactional outbox of the API's casts
 * (schema v7, table casts; docs/fleet.md "The outbox").
 *
 * Promises, the same on both backends (tests/unit/test_fleet_store_outbox.c):
 * - A cast is queued with its record: a fleet_store_batch() insert item
 *   with `cast` set writes the cast's row in the same transaction, and only
 *   when the record was inserted (an id that exists queues nothing).  A
 *   committed record thus has its cast pending, and no cast exists without
 *   its record.  The record reads FLEET_CAST_STATE_PENDING until it is settled.
 * - Casts are sent and settled in the order they were queued (seq).
 * - fleet_store_outbox_claim() leases the oldest pending casts to owner
 *   until lease_until_us: at most max, and rows past bytes_max of args
 *   (counted after the first) are left for the next claim.  On PostgreSQL a
 *   cast another owner leases (until a time not yet passed) is skipped, and
 *   so is one another claim is taking at the same moment (FOR UPDATE SKIP
 *   LOCKED): two slotfleets never hold one cast at once.  The claim holds
 *   a session advisory lock named after owner (taken again at each claim)
 *   and marks its leases with it: a lease whose holder's session is gone
 *   (the process died, its connection broke) ends at once; one that
 *   expired (its holder took longer than the lease) ends too.  Such a cast
 *   is then sent again, with the same upgrade id, which the guest takes as
 *   the same attempt.  On SQLite (one slotfleet per file) leases
 *   are not looked at: a restarted slotfleet sends what is pending at once.
 * - fleet_store_outbox_settle() records, in one transaction and in the
 *   order given, each cast queued or refused; a refused cast's record
 *   becomes FAILED with reason "cast not queued: WHY" (source "fleet", its
 *   event appended) unless it is final already.  Only pending rows change:
 *   settling twice changes nothing.
 * - fleet_store_outbox_release() hands leases back (casts not sent: the
 *   broker could not be reached), so any slotfleet may send them at once.
 * - Texts are checked as every store input (store_check_text): a method,
 *   version or args too long or not UTF-8 refuses the batch item (EINVAL).
 */
#ifndef SLOTFLEET_STORE_OUTBOX_H
#define SLOTFLEET_STORE_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "store/fleet_store.h"

#define FLEET_CAST_METHOD_MAX 16
#define FLEET_CAST_ARGS_MAX (4 * 1024 * 1024)	/* bytes of JSON; the API's bodies are smaller */

/* A cast as the API queues it (fleet_batch_item.cast). */
struct fleet_outbox_cast {
	const char *method;			/* "upgrade", "rollback" */
	const char *version;			/* the envelope's (docs/wire.md); NULL: "1.0" */
	const char *args;			/* the cast's args, JSON text */
};

/* A cast as the publisher gets it back. */
struct fleet_outbox_row {
	int64_t seq;
	char upgrade_id[FLEET_ID_MAX];
	char instance_id[FLEET_INSTANCE_MAX];
	char method[FLEET_CAST_METHOD_MAX];
	char version[FLEET_RPC_API_MAX];
	char *args;				/* malloc()ed; fleet_outbox_rows_free() */
	int64_t attempts;			/* leases taken, this one included */
	/* For fleet_store_outbox_settle(): */
	enum fleet_cast_state result;		/* QUEUED or REFUSED */
	char why[FLEET_REASON_MAX];		/* REFUSED: the broker's words */
};

int fleet_store_outbox_claim(struct fleet_store *store, const char *owner, int64_t now_us,
			     int64_t lease_until_us, size_t max, size_t bytes_max,
			     struct fleet_outbox_row *rows, size_t *count, struct error *err);
/* rows[i].result says what became of each (only QUEUED and REFUSED). */
int fleet_store_outbox_settle(struct fleet_store *store, const struct fleet_outbox_row *rows,
			      size_t n, int64_t at_us, struct error *err);
int fleet_store_outbox_release(struct fleet_store *store, const char *owner,
			       const struct fleet_outbox_row *rows, size_t n, struct error *err);
/* How many casts are pending (the metrics' gauge). */
int fleet_store_outbox_pending(struct fleet_store *store, uint64_t *count, struct error *err);
/* Frees each row's args (the rows themselves are the caller's). */
void fleet_outbox_rows_free(struct fleet_outbox_row *rows, size_t n);

#endif
