/* probation.c: what main.c does for the machine's PROBATION (machine.h).
 *
 * A slot committed good is on probation for [agent] probation after its
 * commit: if its agent exits more than probation_max_exits times within
 * that window, the slot is reverted as a failed trial is (bad with the
 * reason, `current` back to the other slot, relaunch), provided the other
 * slot is still good; else the slot is kept and that is recorded.
 *
 * The window counts from the slot's `updated` time in the state file, which
 * for a good slot is when it became good (state.h): a slotd restarted during
 * the window, even after a SIGKILL, keeps it.  The exit count is slotd's
 * memory and starts again at 0 after a restart (a restart does not happen
 * in a crash loop of the agent; slotd is not the one crashing).
 *
 * The history gets two snapshots: the attempt that installed the slot (the
 * last upgrade or rollback that reached SUCCESS into this slot with this
 * version) goes to FAILED with the reason, so `slotupd serve`, watching the
 * id it reported SUCCESS for, casts FAILED for it; and an entry of its own,
 * kind "probation", names that upgrade id. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "history.h"
#include "log.h"
#include "slotd.h"

int64_t probation_left(const struct supervisor *s)
{
	int64_t window = s->config->agent.probation_ms, now, end;
	const struct slot_info *info;
	struct timespec ts;

	if (!window || s->slot < 0 || s->slot >= SLOT_COUNT)
		return 0;
	info = &s->slots.state.slot[s->slot];
	if (info->status != SLOT_GOOD)
		return 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	end = info->updated * 1000 + window;
	if (end <= now)
		return 0;
	return end - now > window ? window : end - now;	/* the clock went back */
}

/* "10m", "90s", "1500ms": the window as the configuration would say it. */
static void probation_duration(unsigned ms, char *buf, size_t len)
{
	if (ms % 60000 == 0)
		snprintf(buf, len, "%um", ms / 60000);
	else if (ms % 1000 == 0)
		snprintf(buf, len, "%us", ms / 1000);
	else
		snprintf(buf, len, "%ums", ms);
}

struct probation_search {
	const char *slot, *version;
	struct history_record *found;
	int hit;
};

static int probation_visit(const struct history_record *r, void *context)
{
	struct probation_search *search = context;

	if (r->state == HISTORY_SUCCESS && !strcmp(r->slot, search->slot) &&
	    !strcmp(r->to_version, search->version) &&
	    (!strcmp(r->kind, "upgrade") || !strcmp(r->kind, "rollback"))) {
		*search->found = *r;	/* the last one wins */
		search->hit = 1;
	}
	return 0;
}

/* The attempt that installed `slot` with `version`: 1 found, else 0. */
static int probation_attempt(struct supervisor *s, int slot, const char *version,
			     struct history_record *found)
{
	struct probation_search search = { layout_slot_name(slot), version, found, 0 };
	struct error err = { "" };

	if (history_read(&s->slots.layout, NULL, probation_visit, &search, NULL, &err) < 0)
		log_warn("history: %s", err.text);
	return search.hit;
}

static void probation_record(struct supervisor *s, int slot, const char *version,
			     struct history_record *attempt, const char *reason, int reverted)
{
	struct history_record r = { .kind = "probation", .state = HISTORY_FAILED };
	struct error err = { "" };

	if (attempt && reverted) {
		attempt->state = HISTORY_FAILED;
		snprintf(attempt->error, sizeof attempt->error, "%s", reason);
		if (history_append(&s->slots.layout, attempt, &err) < 0)
			log_error("history: %s", err.text);
	}
	if (history_new_id(r.id, sizeof r.id, &err) < 0) {
		log_error("history: %s", err.text);
		return;
	}
	snprintf(r.instance, sizeof r.instance, "%s", s->config->amqp.instance_id);
	snprintf(r.from_version, sizeof r.from_version, "%s", version);
	if (reverted && s->slots.current != SLOT_NONE)
		snprintf(r.to_version, sizeof r.to_version, "%s",
			 s->slots.state.slot[s->slots.current].version);
	snprintf(r.slot, sizeof r.slot, "%s", layout_slot_name(slot));
	snprintf(r.error, sizeof r.error, "%.420s%s%.64s%s", reason,
		 attempt ? " (upgrade " : "", attempt ? attempt->id : "", attempt ? ")" : "");
	if (history_append(&s->slots.layout, &r, &err) < 0)
		log_error("history: %s", err.text);
}

/* The machine's FLIP PROBATION: 1 reverted, 0 kept (no good slot to go to). */
int probation_revert(struct supervisor *s, int exits)
{
	char reason[STATE_REASON_MAX], window[32], version[STATE_VERSION_MAX], kept[HISTORY_ERROR_MAX];
	struct history_record attempt;
	struct error err = { "" };
	int slot = s->slot, found, rc;

	probation_duration(s->config->agent.probation_ms, window, sizeof window);
	snprintf(reason, sizeof reason, "probation: agent exited %d times within %s after commit",
		 exits, window);
	snprintf(version, sizeof version, "%s", s->slots.state.slot[slot].version);
	found = probation_attempt(s, slot, version, &attempt);
	rc = slots_mark_bad(&s->slots, reason, &err);
	if (rc < 0) {
		log_error("slot %s failed its probation (%s), kept: %s", layout_slot_name(slot),
			  reason, err.text);
		snprintf(kept, sizeof kept, "%.200s; kept: %.280s", reason, err.text);
		probation_record(s, slot, version, found ? &attempt : NULL, kept, 0);
		return 0;
	}
	log_error("slot %s failed its probation: %s; reverted to slot %s", layout_slot_name(slot),
		  reason, layout_slot_name(s->slots.current));
	probation_record(s, slot, version, found ? &attempt : NULL, reason, 1);
	return 1;
}
