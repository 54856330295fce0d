/* metrics.c: [supervisor] metrics_file, slotd's state in the Prometheus text
 * format (include/prom.h), for node_exporter's textfile collector.
 *
 * Rewritten after every step of the state machine whose text differs from
 * what was last written (a status request that finds nothing new writes
 * nothing), never on a timer: an idle slotd still has no wakeup.
 *   slotd_slot_info{slot,version,status} 1     each slot
 *   slotd_current_slot{slot} 1                 what `current` points at
 *   slotd_state{state} 0|1                     the machine's state
 *   slotd_agent_restarts_total                 exits of an agent on a good slot
 *   slotd_trials_total{result="pass|fail"}     trials committed / reverted
 *   slotd_reverts_total                        slots reverted (trial or probation)
 *   slotd_probation_reverts_total              of which in probation
 *   slotd_start_time_seconds                   when this slotd started
 * The counters count since slotd started and reset with it, as counters of
 * a textfile collector usually do; slotd_start_time_seconds shows when, and
 * rate()/increase() take a reset in their stride.  The history (slotctl
 * history) is the durable account. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "prom.h"
#include "slotd.h"

void metrics_init(struct supervisor *s)
{
	s->metrics.started = (int64_t)time(NULL);
	s->metrics.len = 0;
}

static void metrics_slots(struct supervisor *s, struct prom_text *t)
{
	char version[2 * STATE_VERSION_MAX];
	int slot;

	prom_emit(t, "# HELP slotd_slot_info A slot's version and status (always 1).\n"
		"# TYPE slotd_slot_info gauge\n");
	for (slot = 0; slot < SLOT_COUNT; slot++)
		prom_emit(t, "slotd_slot_info{slot=\"%s\",version=\"%s\",status=\"%s\"} 1\n",
		     layout_slot_name(slot),
		     prom_escape(s->slots.state.slot[slot].version, version, sizeof version),
		     state_status_name(s->slots.state.slot[slot].status));
	prom_emit(t, "# HELP slotd_current_slot The slot `current` points at (always 1).\n"
		"# TYPE slotd_current_slot gauge\n");
	if (s->slots.current != SLOT_NONE)
		prom_emit(t, "slotd_current_slot{slot=\"%s\"} 1\n", layout_slot_name(s->slots.current));
}

static void metrics_counters(struct supervisor *s, struct prom_text *t)
{
	const struct slotd_metrics *m = &s->metrics;
	int state;

	prom_emit(t, "# HELP slotd_state The supervisor's state (1: the one it is in).\n"
		"# TYPE slotd_state gauge\n");
	for (state = 0; state < MS_COUNT; state++)
		prom_emit(t, "slotd_state{state=\"%s\"} %d\n", machine_state_name(state),
		     s->machine.state == (enum machine_state)state);
	prom_emit(t, "# HELP slotd_agent_restarts_total Exits of an agent running a good slot.\n"
		"# TYPE slotd_agent_restarts_total counter\n"
		"slotd_agent_restarts_total %llu\n"
		"# HELP slotd_trials_total Trials by result (pass: committed, fail: reverted).\n"
		"# TYPE slotd_trials_total counter\n"
		"slotd_trials_total{result=\"pass\"} %llu\n"
		"slotd_trials_total{result=\"fail\"} %llu\n"
		"# HELP slotd_reverts_total Slots reverted, after a trial or in probation.\n"
		"# TYPE slotd_reverts_total counter\n"
		"slotd_reverts_total %llu\n"
		"# HELP slotd_probation_reverts_total Slots reverted in probation.\n"
		"# TYPE slotd_probation_reverts_total counter\n"
		"slotd_probation_reverts_total %llu\n"
		"# HELP slotd_start_time_seconds When this slotd started (counters count from it).\n"
		"# TYPE slotd_start_time_seconds gauge\n"
		"slotd_start_time_seconds %lld\n",
		m->restarts, m->trials_pass, m->trials_fail, m->trials_fail + m->probation_reverts,
		m->probation_reverts, (long long)m->started);
}

void metrics_update(struct supervisor *s)
{
	char text[sizeof s->metrics.last];
	struct prom_text t = { text, sizeof text, 0, 0 };
	struct error err = { "" };

	if (!s->config->supervisor.metrics_file[0])
		return;
	metrics_slots(s, &t);
	metrics_counters(s, &t);
	if (t.overflow) {
		log_error("metrics: more than %zu bytes", sizeof text);
		return;
	}
	if (t.used == s->metrics.len && !memcmp(text, s->metrics.last, t.used))
		return;
	if (prom_write(s->config->supervisor.metrics_file, text, t.used, &err) < 0) {
		log_warn("metrics: %s", err.text);
		return;	/* tried again at the next change */
	}
	memcpy(s->metrics.last, text, t.used);
	s->metrics.len = t.used;
}
