/* test_fleet_rollout_pace.c: the pacing of rollout/fleet_rollout.h
 * (rollout_pace.c), driven with a clock of our own: casts never above the
 * rate in any second, batches bounded by what fell due and by
 * ROLLOUT_CAST_BATCH, no burst after falling behind, and the full step's
 * cadence from its cost. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rollout/fleet_rollout.h"

#define SEC INT64_C(1000000)
#define T0 (INT64_C(1700000000) * SEC)

static struct fleet_rollout_pace *pace_new(void)
{
	struct fleet_rollout_pace *p = calloc(1, sizeof *p);

	assert_non_null(p);
	return p;
}

/* Steps every `step_us` for `span_us`, each casting all the room it gets
 * (a batch costing `cost_us`); at[] the casts' times; returns how many. */
static size_t pace_drive(struct fleet_rollout_pace *p, int64_t interval, int64_t step_us,
			 int64_t cost_us, int64_t span_us, int64_t *at, size_t max)
{
	int64_t now = T0;
	size_t n = 0, room, i;

	while (now < T0 + span_us && n < max) {
		fleet_pace_begin(p, now);
		while ((room = fleet_pace_room(p, interval, now, max - n))) {
			assert_true(room <= ROLLOUT_CAST_BATCH);
			now += cost_us;
			for (i = 0; i < room; i++)
				at[n++] = now;
			fleet_pace_add(p, interval, now, room);
		}
		fleet_pace_next(p, interval, n < max);
		now += step_us;
	}
	return n;
}

/* The most casts in any window of one second. */
static size_t most_in_a_second(const int64_t *at, size_t n)
{
	size_t i, j = 0, most = 0;

	for (i = 0; i < n; i++) {
		while (at[j] <= at[i] - SEC)
			j++;
		if (i - j + 1 > most)
			most = i - j + 1;
	}
	return most;
}

/* At 1,000/s with batches costing 30 ms (a busy PostgreSQL): batches grow
 * to what fell due, the rate is held and nearly reached. */
static void test_rate_held_with_costly_batches(void **unused)
{
	struct fleet_rollout_pace *p = pace_new();
	int64_t *at = calloc(20000, sizeof *at);
	size_t n;

	(void)unused;
	assert_non_null(at);
	n = pace_drive(p, 1000, 1000, 30000, 10 * SEC, at, 20000);
	assert_true(most_in_a_second(at, n) <= 1000);
	assert_true(n >= 9000);		/* the rate, not the batch cost, bounds it */
	free(at);
	free(p);
}

/* A batch never holds more than ROLLOUT_CAST_BATCH even when far behind,
 * and a driver more than a tick behind does not burst to catch up. */
static void test_no_burst_after_a_stall(void **unused)
{
	struct fleet_rollout_pace *p = pace_new();
	int64_t now = T0;
	size_t room;

	(void)unused;
	fleet_pace_begin(p, now);
	room = fleet_pace_room(p, 1000, now, 100000);
	assert_int_equal(room, 1);
	fleet_pace_add(p, 1000, now, room);
	now += 5 * SEC;		/* stalled (a slow store, a paused broker) */
	fleet_pace_begin(p, now);
	room = fleet_pace_room(p, 1000, now, 100000);
	assert_int_equal(room, 1);	/* from now, not 5,000 owed */
	now += 200000;			/* 200 ms later: 200 due, one batch's worth */
	fleet_pace_add(p, 1000, now - 200000, room);
	assert_int_equal(fleet_pace_room(p, 1000, now, 100000), ROLLOUT_CAST_BATCH);
	assert_int_equal(fleet_pace_room(p, 1000, now, 7), 7);	/* and never past pending */
	free(p);
}

/* A slow rate: one cast per interval, and due_us says when the next is. */
static void test_slow_rate_due(void **unused)
{
	struct fleet_rollout_pace *p = pace_new();
	int64_t now = T0;

	(void)unused;
	fleet_pace_begin(p, now);
	assert_int_equal(fleet_pace_room(p, 500000, now, 10), 1);	/* 2/s */
	fleet_pace_add(p, 500000, now, 1);
	fleet_pace_next(p, 500000, 1);
	assert_true(p->due_us == now + 500000);
	assert_int_equal(fleet_pace_room(p, 500000, now + 499999, 10), 0);
	assert_int_equal(fleet_pace_room(p, 500000, now + 500000, 10), 1);
	fleet_pace_next(p, 500000, 0);
	assert_true(p->due_us == 0);	/* nothing left: no step due */
	free(p);
}

/* The full step: every tick while cheap, ROLLOUT_JUDGE_SPACING times its
 * cost when costly, never more than ROLLOUT_JUDGE_MAX_MS apart; a zeroed
 * judged_us (the driver's kick) makes the next one due at once. */
static void test_judge_cadence(void **unused)
{
	struct fleet_rollout_pace *p = pace_new();
	int64_t tick = ROLLOUT_TICK_MS * 1000;

	(void)unused;
	assert_int_equal(fleet_pace_judge_due(p, T0), 1);
	fleet_pace_judged(p, T0, 5000);			/* 5 ms: a tick apart */
	assert_int_equal(fleet_pace_judge_due(p, T0 + tick - 1), 0);
	assert_int_equal(fleet_pace_judge_due(p, T0 + tick), 1);
	fleet_pace_judged(p, T0, 165000);		/* 165 ms: 660 ms apart */
	assert_int_equal(fleet_pace_judge_due(p, T0 + tick), 0);
	assert_int_equal(fleet_pace_judge_due(p, T0 + 165000 * ROLLOUT_JUDGE_SPACING - 1), 0);
	assert_int_equal(fleet_pace_judge_due(p, T0 + 165000 * ROLLOUT_JUDGE_SPACING), 1);
	fleet_pace_judged(p, T0, 10 * SEC);		/* pathological: capped */
	assert_int_equal(fleet_pace_judge_due(p, T0 + ROLLOUT_JUDGE_MAX_MS * 1000 - 1), 0);
	assert_int_equal(fleet_pace_judge_due(p, T0 + ROLLOUT_JUDGE_MAX_MS * 1000), 1);
	fleet_pace_judged(p, T0, 165000);
	p->judged_us = 0;				/* kicked: a FAILED stored */
	assert_int_equal(fleet_pace_judge_due(p, T0 + 1), 1);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rate_held_with_costly_batches),
		cmocka_unit_test(test_no_burst_after_a_stall),
		cmocka_unit_test(test_slow_rate_due),
		cmocka_unit_test(test_judge_cadence),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
