/* outcome_watch.c: see updater/amqp/outcome_watch.h. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "amqp/outcome_watch.h"

static void outcome_watch_stop(struct outcome_watch *w)
{
	w->id[0] = '\0';
	w->next = LLONG_MAX;
}

void outcome_watch_start(struct outcome_watch *w, const struct config *config, const char *id,
			 int64_t at)
{
	outcome_watch_stop(w);
	if (!config->agent.probation_ms || at + config->agent.probation_ms / 1000 +
					       OUTCOME_WATCH_MARGIN_S < (int64_t)time(NULL))
		return;
	snprintf(w->id, sizeof w->id, "%s", id);
	w->until = at + config->agent.probation_ms / 1000 + OUTCOME_WATCH_MARGIN_S;
	w->next = 0;
}

static int outcome_watch_latest(const struct history_record *r, void *context)
{
	struct history_record *latest = context;

	if (r->state == HISTORY_SUCCESS && !strcmp(r->kind, "upgrade") &&
	    r->updated >= latest->updated)
		*latest = *r;
	return 0;
}

void outcome_watch_resume(struct outcome_watch *w, const struct config *config)
{
	struct history_record latest = { .updated = 0 };
	struct layout layout;
	struct error err = { "" };

	outcome_watch_stop(w);
	if (!config->agent.probation_ms)
		return;
	if (layout_open(&layout, config->slots.root, 1, &err) < 0) {
		log_warn("probation watch: %s", err.text);
		return;
	}
	if (history_read(&layout, NULL, outcome_watch_latest, &latest, NULL, &err) < 0)
		log_warn("probation watch: %s", err.text);
	layout_close(&layout);
	if (latest.id[0])
		outcome_watch_start(w, config, latest.id, latest.updated);
	if (w->id[0])
		log_info("watching upgrade %s until its probation is over", w->id);
}

long long outcome_watch_due(const struct outcome_watch *w)
{
	return w->id[0] ? w->next : LLONG_MAX;
}

int outcome_watch_poll(struct outcome_watch *w, const struct config *config, long long now,
		       struct history_record *record)
{
	struct layout layout;
	struct error err = { "" };
	int found;

	if (!w->id[0] || now < w->next)
		return 0;
	w->next = now + OUTCOME_WATCH_POLL_MS;
	if (layout_open(&layout, config->slots.root, 1, &err) < 0) {
		log_warn("probation watch: %s", err.text);
		return 0;
	}
	found = history_find(&layout, w->id, record, &err);
	layout_close(&layout);
	if (found < 0)
		log_warn("probation watch: %s", err.text);
	if (found > 0 && record->state == HISTORY_FAILED) {
		outcome_watch_stop(w);
		return 1;
	}
	if ((int64_t)time(NULL) > w->until)
		outcome_watch_stop(w);
	return 0;
}

void outcome_watch_again(struct outcome_watch *w, const char *id, long long now)
{
	snprintf(w->id, sizeof w->id, "%s", id);
	w->next = now + OUTCOME_WATCH_POLL_MS;
}
