/* store_rollout_select.h (private to the store): what choosing a
 * rollout's targets (store_rollout_select.c) shares with taking a
 * selector's as the driver reaches them (store_rollout_fill.c) and with
 * the counts (store_rollout_plan.c). */
#ifndef SLOTFLEET_STORE_ROLLOUT_SELECT_H
#define SLOTFLEET_STORE_ROLLOUT_SELECT_H

#include "store/fleet_store_rollout.h"
#include "store/store_internal.h"

/* Rollout selection (store_rollout_select.c), shared with the fill.
 * store_rollout_waves: the kept waves for n targets (a wave that would be
 * empty is dropped): their ends (wave k ends at ceil(p_k * n / 100)) and
 * percents, returns how many; store_rollout_parse_waves: "[1,10,100]"
 * into percents, the count or 0; store_rollout_pick_versions: the
 * versions below `below` into the temporary table rollout_pick;
 * store_rollout_filter: the selector's SQL condition on instances i, the
 * version being $2. */
unsigned store_rollout_waves(const unsigned *percents, size_t count, int64_t n, int64_t *ends,
			     unsigned *kept);
size_t store_rollout_parse_waves(const char *text, unsigned *percents);
int store_rollout_pick_versions(struct db *db, const char *below, struct error *err);
const char *store_rollout_filter(enum fleet_rollout_select kind);
/* Up to limit instances matching the selector with ids after `after`, in
 * id order, as targets of rollout id in wave `wave` at seq from_seq...;
 * *added: how many.  A draft's selection and a fill's page. */
int store_rollout_take(struct db *db, const char *id, enum fleet_rollout_select kind,
		       const char *version, const char *after, int64_t from_seq, unsigned wave,
		       int64_t limit, int64_t *added, struct error *err);

/* The size of kept wave w (w < rf->wave_count) from the count announced. */
#define STORE_ROLLOUT_WAVE_SIZE(rf, w) ((rf)->ends[w] - ((w) ? (rf)->ends[(w) - 1] : 0))

/* Where a selector rollout's filling is (store_rollout_fill.c): filling 0
 * when every target is in (a list, a draft, a rollout from before v8) or
 * no instance was left; else the wave ends from its announced count and
 * how many were taken. */
struct store_rollout_fill {
	int filling;
	enum fleet_rollout_select kind;
	enum fleet_rollout_state state;
	unsigned current, wave_count;
	int64_t count;				/* taken so far: the next seq */
	int64_t ends[FLEET_ROLLOUT_WAVES_MAX];
	char version[FLEET_VERSION_MAX];
	char after[FLEET_INSTANCE_MAX];		/* the last instance taken */
};
int store_rollout_fill_read(struct db *db, struct store_rollout_fill *out, const char *id,
			    struct error *err);

#endif
