/* recovery.c: clean up after an interrupted slotupd
 * (see updater/install/install_recovery.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "extract/extract.h"
#include "history.h"
#include "install/install_recovery.h"
#include "log.h"

static int recover_slots(struct slots *slots, struct error *err)
{
	int slot, fd;

	for (slot = 0; slot < SLOT_COUNT; slot++) {
		if (slots->state.slot[slot].status != SLOT_INSTALLING)
			continue;
		log_warn("slot %s: half-written by an interrupted install; clearing it",
			 layout_slot_name(slot));
		fd = layout_open_slot_dir(&slots->layout, slot, err);
		if (fd < 0)
			return -1;
		if (extract_clear(fd, err) < 0) {
			close(fd);
			return -1;
		}
		close(fd);
		if (slots_abort_install(slots, slot, err) < 0)
			return -1;
	}
	return 0;
}

struct pending {
	struct history_record *records;
	size_t count, capacity;
	const char *except_id;
};

static int collect_pending(const struct history_record *record, void *context)
{
	struct pending *p = context;
	struct history_record *grown;

	if (history_state_final(record->state) || record->state == HISTORY_DEFERRED)
		return 0;
	if (p->except_id && !strcmp(p->except_id, record->id))
		return 0;
	if (p->count == p->capacity) {
		p->capacity = p->capacity ? 2 * p->capacity : 8;
		grown = realloc(p->records, p->capacity * sizeof *grown);
		if (!grown)
			return 1;
		p->records = grown;
	}
	p->records[p->count++] = *record;
	return 0;
}

int install_trial_verdict(const struct slots *slots, struct history_record *r)
{
	int slot = layout_slot_parse(r->slot);
	const struct slot_info *info;

	if (r->state != HISTORY_ACTIVATING || slot == SLOT_NONE) {
		snprintf(r->error, sizeof r->error, "interrupted during %s: slotupd stopped",
			 history_state_name(r->state));
		return HISTORY_FAILED;
	}
	info = &slots->state.slot[slot];
	if (info->status == SLOT_TRIAL)
		return -1;
	if (info->status == SLOT_GOOD && !strcmp(info->version, r->to_version))
		return HISTORY_SUCCESS;
	snprintf(r->error, sizeof r->error, "health: %s",
		 info->reason[0] ? info->reason : "slot did not become good");
	return HISTORY_FAILED;
}

int install_recover(struct slots *slots, const char *except_id, struct error *err)
{
	struct pending pending = { .except_id = except_id };
	int rc = -1, outcome;
	size_t i;

	if (slots_reload(slots, err) < 0 || recover_slots(slots, err) < 0)
		return -1;
	if (history_read(&slots->layout, NULL, collect_pending, &pending, NULL, err) < 0)
		goto out;
	for (i = 0; i < pending.count; i++) {
		outcome = install_trial_verdict(slots, &pending.records[i]);
		if (outcome < 0)
			continue;
		pending.records[i].state = (enum history_state)outcome;
		log_warn("attempt %s: %s (%s)", pending.records[i].id,
			 history_state_name(pending.records[i].state), pending.records[i].error);
		if (history_append(&slots->layout, &pending.records[i], err) < 0)
			goto out;
	}
	rc = 0;
out:
	free(pending.records);
	return rc;
}
