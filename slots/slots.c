/* slots.c: the slot status machine and reconcile (see include/slots.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "flip.h"
#include "slots.h"

static int64_t slots_now(void)
{
	return (int64_t)time(NULL);
}

/* Appends "; <text>" to why: reconcile's account of what it changed. */
static void slots_note(char *why, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void slots_note(char *why, size_t len, const char *fmt, ...)
{
	size_t used;
	va_list ap;

	if (!why || !len)
		return;
	used = strlen(why);
	if (used && used + 2 < len) {
		memcpy(why + used, "; ", 3);
		used += 2;
	}
	va_start(ap, fmt);
	vsnprintf(why + used, len - used, fmt, ap);
	va_end(ap);
}

static int slots_bootable_status(enum slot_status status)
{
	return status == SLOT_GOOD || status == SLOT_TRIAL;
}

/* With no usable `current`: a trial wins (its activation was recorded), then
 * the most recently updated good slot. */
static int slots_pick_bootable(const struct slot_state *state)
{
	const struct slot_info *a = &state->slot[SLOT_A], *b = &state->slot[SLOT_B];

	if (a->status == SLOT_TRIAL)
		return SLOT_A;
	if (b->status == SLOT_TRIAL)
		return SLOT_B;
	if (a->status == SLOT_GOOD && b->status == SLOT_GOOD)
		return b->updated > a->updated ? SLOT_B : SLOT_A;
	if (a->status == SLOT_GOOD)
		return SLOT_A;
	if (b->status == SLOT_GOOD)
		return SLOT_B;
	return SLOT_NONE;
}

int slots_reconcile(const struct slot_state *state, int current, unsigned max_attempts,
		    struct slot_state *out_state, int *out_current, char *why, size_t why_len,
		    struct error *err)
{
	struct slot_state next = *state;
	int slot, cur = current, pick;

	if (why && why_len)
		why[0] = '\0';
	if (next.slot[SLOT_A].status == SLOT_TRIAL && next.slot[SLOT_B].status == SLOT_TRIAL)
		return error_set(err, "state: both slots are on trial; refusing to guess");
	for (slot = 0; slot < SLOT_COUNT; slot++) {
		struct slot_info *info = &next.slot[slot];

		if (info->status != SLOT_TRIAL)
			continue;
		if (info->attempts >= max_attempts) {
			state_set_status(info, SLOT_BAD, slots_now());
			snprintf(info->reason, sizeof info->reason,
				 "failed %u launch attempts", info->attempts);
			slots_note(why, why_len, "slot %s: gave up after %u attempts, now bad",
				   layout_slot_name(slot), info->attempts);
		} else if (cur != slot) {
			/* Trial recorded, flip not done: finish the activation. */
			cur = slot;
			slots_note(why, why_len, "slot %s: finishing interrupted activation",
				   layout_slot_name(slot));
		}
	}
	if (cur == SLOT_NONE || !slots_bootable_status(next.slot[cur].status)) {
		pick = slots_pick_bootable(&next);
		if (pick != SLOT_NONE && pick != cur) {
			slots_note(why, why_len, "current -> slot %s", layout_slot_name(pick));
			cur = pick;
		}
	}
	*out_state = next;
	*out_current = cur;
	return 0;
}

static int slots_load(struct slots *s, struct error *err)
{
	int fresh;

	if (state_load(&s->layout, &s->state, &fresh, err) < 0)
		return -1;
	if (slot_current(&s->layout, &s->current, err) < 0)
		return -1;
	/* No state but a `current`: the state file was lost, not never written.
	 * Starting fresh would forget which slot is good; make a human look. */
	if (fresh && s->current != SLOT_NONE)
		return error_set(err, "%s/state: missing while %s/current exists; refusing to "
				 "reset slot state", s->layout.root, s->layout.root);
	return 0;
}

int slots_open(struct slots *s, const char *root, unsigned max_attempts, struct error *err)
{
	memset(s, 0, sizeof *s);
	s->lock_fd = -1;
	s->max_attempts = max_attempts ? max_attempts : 1;
	if (layout_open(&s->layout, root, 1, err) < 0)
		return -1;
	s->lock_fd = openat(s->layout.root_fd, "run/state.lock",
			    O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (s->lock_fd < 0) {
		error_errno(err, "%s/run/state.lock", root);
		slots_close(s);
		return -1;
	}
	if (slots_load(s, err) < 0) {
		slots_close(s);
		return -1;
	}
	return 0;
}

void slots_close(struct slots *s)
{
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	s->lock_fd = -1;
	layout_close(&s->layout);
}

int slots_reload(struct slots *s, struct error *err)
{
	return slots_load(s, err);
}

/* Takes the state lock and re-reads; every mutation runs between this and slots_unlock. */
static int slots_lock(struct slots *s, struct error *err)
{
	while (flock(s->lock_fd, LOCK_EX) < 0) {
		if (errno != EINTR)
			return error_errno(err, "%s/run/state.lock: flock", s->layout.root);
	}
	if (slots_load(s, err) < 0) {
		flock(s->lock_fd, LOCK_UN);
		return -1;
	}
	return 0;
}

static int slots_unlock(struct slots *s, int rc)
{
	flock(s->lock_fd, LOCK_UN);
	return rc;
}

/* Saves `next` if it differs, then points `current` at `cur` if it differs:
 * the order that keeps invariants 1 and 3 across a crash between the two. */
static int slots_apply(struct slots *s, struct slot_state *next, int cur, struct error *err)
{
	char old_text[4096], new_text[4096];
	int old_len, new_len;

	next->generation = s->state.generation;
	old_len = state_format(&s->state, old_text, sizeof old_text);
	new_len = state_format(next, new_text, sizeof new_text);
	if (old_len != new_len || memcmp(old_text, new_text, (size_t)old_len) != 0) {
		if (state_save(&s->layout, next, err) < 0)
			return -1;
		s->state = *next;
	}
	if (cur != SLOT_NONE && cur != s->current) {
		if (slot_flip(&s->layout, cur, err) < 0)
			return -1;
		s->current = cur;
	}
	return 0;
}

static int slots_recover_locked(struct slots *s, char *why, size_t why_len, struct error *err)
{
	struct slot_state next;
	int cur;

	if (slots_reconcile(&s->state, s->current, s->max_attempts, &next, &cur, why, why_len,
			    err) < 0)
		return -1;
	return slots_apply(s, &next, cur, err);
}

int slots_recover(struct slots *s, char *why, size_t why_len, struct error *err)
{
	if (slots_lock(s, err) < 0)
		return -1;
	return slots_unlock(s, slots_recover_locked(s, why, why_len, err));
}

int slots_bootable(const struct slots *s)
{
	return s->current != SLOT_NONE && slots_bootable_status(s->state.slot[s->current].status);
}

static int slots_trial_running(const struct slots *s)
{
	return s->current != SLOT_NONE && s->state.slot[s->current].status == SLOT_TRIAL;
}

int slots_inactive(const struct slots *s, struct error *err)
{
	if (slots_trial_running(s)) {
		errno = EBUSY;
		return error_set(err, "slot %s is on trial; slot %s is the way back and may not "
				 "be written", layout_slot_name(s->current),
				 layout_slot_name(layout_other_slot(s->current)));
	}
	if (s->current != SLOT_NONE)
		return layout_other_slot(s->current);
	/* Nothing active yet: the first slot that holds nothing bootable. */
	return slots_bootable_status(s->state.slot[SLOT_A].status) ? SLOT_B : SLOT_A;
}

int slots_begin_install(struct slots *s, int slot, struct error *err)
{
	struct slot_state next;
	int inactive, rc = -1;

	if (slots_lock(s, err) < 0)
		return -1;
	inactive = slots_inactive(s, err);
	if (inactive == -1)
		goto out;
	if (slot != inactive) {
		errno = EBUSY;
		error_set(err, "slot %s is active; only slot %s may be written",
			  layout_slot_name(slot), layout_slot_name(inactive));
		goto out;
	}
	next = s->state;
	memset(&next.slot[slot], 0, sizeof next.slot[slot]);
	state_set_status(&next.slot[slot], SLOT_INSTALLING, slots_now());
	rc = slots_apply(s, &next, SLOT_NONE, err);
out:
	return slots_unlock(s, rc);
}

/* Moves `slot` from status `from` to `to`, or refuses naming the actual status. */
static int slots_transition(struct slots *s, int slot, enum slot_status from, enum slot_status to,
			    struct slot_state *next, struct error *err)
{
	if (s->state.slot[slot].status != from) {
		errno = EINVAL;
		return error_set(err, "slot %s is %s, not %s", layout_slot_name(slot),
				 state_status_name(s->state.slot[slot].status),
				 state_status_name(from));
	}
	*next = s->state;
	state_set_status(&next->slot[slot], to, slots_now());
	return 0;
}

int slots_finish_install(struct slots *s, int slot, const char *version, const char *digest,
			 struct error *err)
{
	struct slot_state next;
	int rc = -1;

	if (strlen(version) >= STATE_VERSION_MAX || strlen(digest) >= STATE_DIGEST_MAX)
		return error_set(err, "slot %s: version or digest too long", layout_slot_name(slot));
	if (slots_lock(s, err) < 0)
		return -1;
	if (slots_transition(s, slot, SLOT_INSTALLING, SLOT_INSTALLED, &next, err) < 0)
		goto out;
	strcpy(next.slot[slot].version, version);
	strcpy(next.slot[slot].digest, digest);
	rc = slots_apply(s, &next, SLOT_NONE, err);
out:
	return slots_unlock(s, rc);
}

int slots_abort_install(struct slots *s, int slot, struct error *err)
{
	struct slot_state next;
	int rc = -1;

	if (slots_lock(s, err) < 0)
		return -1;
	if (slots_transition(s, slot, SLOT_INSTALLING, SLOT_EMPTY, &next, err) == 0)
		rc = slots_apply(s, &next, SLOT_NONE, err);
	return slots_unlock(s, rc);
}

/* Puts `slot` on trial and points `current` at it. */
static int slots_start_trial(struct slots *s, int slot, struct error *err)
{
	struct slot_state next;

	if (slots_trial_running(s)) {
		errno = EBUSY;
		return error_set(err, "slot %s is already on trial", layout_slot_name(s->current));
	}
	if (slots_transition(s, slot, SLOT_INSTALLED, SLOT_TRIAL, &next, err) < 0)
		return -1;
	next.slot[slot].attempts = 0;
	return slots_apply(s, &next, slot, err);
}

int slots_activate(struct slots *s, int slot, struct error *err)
{
	if (slots_lock(s, err) < 0)
		return -1;
	return slots_unlock(s, slots_start_trial(s, slot, err));
}

int slots_prepare_launch(struct slots *s, int *slot, struct error *err)
{
	struct slot_state next;
	int rc = -1;

	*slot = SLOT_NONE;
	if (slots_lock(s, err) < 0)
		return -1;
	if (slots_recover_locked(s, NULL, 0, err) < 0)
		goto out;
	rc = 0;
	if (!slots_bootable(s))
		goto out;
	if (slots_trial_running(s)) {
		next = s->state;
		next.slot[s->current].attempts++;
		rc = slots_apply(s, &next, SLOT_NONE, err);
	}
	if (rc == 0)
		*slot = s->current;
out:
	return slots_unlock(s, rc);
}

int slots_commit(struct slots *s, struct error *err)
{
	struct slot_state next;
	int rc = -1;

	if (slots_lock(s, err) < 0)
		return -1;
	if (s->current == SLOT_NONE) {
		error_set(err, "no slot is active");
		goto out;
	}
	if (slots_transition(s, s->current, SLOT_TRIAL, SLOT_GOOD, &next, err) == 0)
		rc = slots_apply(s, &next, SLOT_NONE, err);
out:
	return slots_unlock(s, rc);
}

/* Marks the current slot bad and flips to the other one if that is good.
 * With require_way_back, refuses (changing nothing) when it is not. */
static int slots_leave_current(struct slots *s, const char *reason, int require_way_back,
			       struct error *err)
{
	int other = layout_other_slot(s->current);
	struct slot_state next = s->state;

	if (require_way_back && next.slot[other].status != SLOT_GOOD) {
		errno = EINVAL;
		return error_set(err, "slot %s is %s: no good slot to go back to",
				 layout_slot_name(other), state_status_name(next.slot[other].status));
	}
	state_set_status(&next.slot[s->current], SLOT_BAD, slots_now());
	snprintf(next.slot[s->current].reason, sizeof next.slot[s->current].reason, "%s", reason);
	return slots_apply(s, &next, next.slot[other].status == SLOT_GOOD ? other : SLOT_NONE, err);
}

int slots_revert(struct slots *s, const char *reason, struct error *err)
{
	int rc = -1;

	if (slots_lock(s, err) < 0)
		return -1;
	if (!slots_trial_running(s)) {
		errno = EINVAL;
		error_set(err, "no trial is running");
		goto out;
	}
	rc = slots_leave_current(s, reason, 0, err);
out:
	return slots_unlock(s, rc);
}

int slots_rollback(struct slots *s, int force, struct error *err)
{
	struct slot_state next;
	int other, rc = -1;

	if (slots_lock(s, err) < 0)
		return -1;
	if (s->current == SLOT_NONE) {
		error_set(err, "no slot is active: nothing to roll back from");
		goto out;
	}
	other = layout_other_slot(s->current);
	if (slots_trial_running(s)) {
		rc = slots_leave_current(s, "rolled back by admin during trial", 1, err);
	} else if (s->state.slot[other].status == SLOT_GOOD) {
		next = s->state;
		rc = slots_apply(s, &next, other, err);
	} else if (force && s->state.slot[other].status == SLOT_INSTALLED) {
		rc = slots_start_trial(s, other, err);
	} else {
		errno = EINVAL;
		error_set(err, "slot %s is %s: nothing to roll back to%s", layout_slot_name(other),
			  state_status_name(s->state.slot[other].status),
			  s->state.slot[other].status == SLOT_INSTALLED ? " (use --force)" : "");
	}
out:
	return slots_unlock(s, rc);
}

int slots_mark_good(struct slots *s, struct error *err)
{
	if (s->current != SLOT_NONE && s->state.slot[s->current].status == SLOT_GOOD)
		return 0;
	return slots_commit(s, err);
}

int slots_mark_bad(struct slots *s, const char *reason, struct error *err)
{
	int rc = -1;

	if (slots_lock(s, err) < 0)
		return -1;
	if (!slots_bootable(s)) {
		error_set(err, "no good or trial slot is active");
		goto out;
	}
	rc = slots_leave_current(s, reason, 1, err);
out:
	return slots_unlock(s, rc);
}
