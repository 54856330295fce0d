/* rollout_claim.c: which rollouts or policies this process drives (see
 * fleet_claims_update() in rollout/fleet_rollout.h): the driving lock
 * taken for each one wanted, let go for each one no longer wanted. */
#include <string.h>

#include "rollout/fleet_rollout.h"
#include "store/fleet_text.h"
#include "log.h"

static void claims_warn(const struct fleet_claims *c, const char *what, const char *id,
			const struct error *err)
{
	char clean[sizeof err->text];

	log_warn("%s %s: %s: %s", c->what, id, what,
		 fleet_text_clean(clean, sizeof clean, err->text));
}

static struct fleet_driven *claims_find(struct fleet_claims *c, const char *id)
{
	size_t i;

	for (i = 0; i < c->count; i++)
		if (!strcmp(c->driven[i].id, id))
			return &c->driven[i];
	return NULL;
}

/* Drops those not wanted any more, releasing their lock. */
static void claims_release(struct fleet_claims *c, struct fleet_store *store)
{
	struct error err = { "" };
	size_t i = 0;

	while (i < c->count) {
		if (c->driven[i].seen) {
			i++;
			continue;
		}
		if (c->unlock(store, c->driven[i].id, &err) < 0)
			claims_warn(c, "unlock", c->driven[i].id, &err);
		log_info("%s %s: not driven here any more", c->what, c->driven[i].id);
		c->driven[i] = c->driven[--c->count];
	}
}

void fleet_claims_update(struct fleet_claims *c, struct fleet_store *store,
			 char (*wanted)[FLEET_ID_MAX], size_t count)
{
	struct error err = { "" };
	struct fleet_driven *x;
	size_t i;
	int held;

	for (i = 0; i < c->count; i++)
		c->driven[i].seen = 0;
	for (i = 0; i < count; i++) {
		x = claims_find(c, wanted[i]);
		if (c->lock(store, wanted[i], &held, &err) < 0) {
			claims_warn(c, "lock", wanted[i], &err);
			held = x != NULL;	/* the store is away: nothing happens anyway */
		}
		if (!held && x)
			log_warn("%s %s: another slotfleet drives it now", c->what, x->id);
		if (!held || (!x && c->count == c->max))
			continue;
		if (!x) {
			x = &c->driven[c->count++];
			memset(x, 0, sizeof *x);
			memcpy(x->id, wanted[i], sizeof x->id);
			log_info("%s %s: driving it", c->what, x->id);
		}
		x->seen = 1;
	}
	claims_release(c, store);
}
