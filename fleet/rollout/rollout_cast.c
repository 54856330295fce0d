/* rollout_cast.c: publishing a recorded upgrade or rollback of a rollout,
 * and what the store learns of the outcome (see rollout/fleet_rollout.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rollout/fleet_rollout.h"
#include "log.h"
#include "request_check.h"

static int64_t cast_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void fleet_rollout_duration(char *buf, size_t len, int64_t us)
{
	static const struct { int64_t scale; const char *unit; } units[] = {
		{ INT64_C(86400000000), "d" }, { INT64_C(3600000000), "h" },
		{ 60000000, "m" }, { 1000000, "s" }, { 1000, "ms" },
	};
	size_t i;

	for (i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (us >= units[i].scale && us % units[i].scale == 0) {
			snprintf(buf, len, "%" PRId64 "%s", us / units[i].scale, units[i].unit);
			return;
		}
	}
	snprintf(buf, len, "%" PRId64 "us", us);
}

/* The cast's args, as the upgrade POST and the rollback action build them;
 * a policy's say automatic (guest RPC API 1.1). */
static json_t *cast_args(const struct fleet_upgrade *up, const char *metadata, int automatic)
{
	struct request_upgrade req = { .upgrade_id = up->id, .instance_id = up->instance_id,
		.version = up->to_version, .location = up->location, .strategy = up->strategy,
		.sha256 = up->sha256[0] ? up->sha256 : NULL };
	json_t *meta = NULL, *args;

	if (!strcmp(up->kind, "rollback"))
		return request_rollback_args(up->id);
	if (metadata && metadata[0])
		meta = json_loads(metadata, 0, NULL);
	req.metadata = json_is_object(meta) ? meta : NULL;
	args = request_upgrade_args(&req);
	json_decref(meta);
	if (args && automatic)
		json_object_set_new(args, "automatic", json_true());
	return args;
}

int fleet_fail_silent(struct fleet_store *store, const char *owner, const char *upgrade_id,
		      const char *instance_id, int64_t timeout_us, int64_t now_us,
		      struct error *err)
{
	char reason[64], t[32];
	struct fleet_report rep = { .upgrade_id = upgrade_id, .instance_id = instance_id,
				    .state = FLEET_FAILED, .reason = reason, .at_us = now_us,
				    .source = "fleet" };

	fleet_rollout_duration(t, sizeof t, timeout_us);
	snprintf(reason, sizeof reason, "no answer within %s", t);
	if (fleet_store_report(store, &rep, NULL, err) < 0)
		return -1;
	log_info("%s: %s on %s: %s", owner, upgrade_id, instance_id, reason);
	return 0;
}

int fleet_rollout_fail(struct fleet_store *store, const struct fleet_upgrade *up,
		       const char *why, struct error *err)
{
	char reason[FLEET_REASON_MAX];
	struct fleet_report report = { .upgrade_id = up->id, .instance_id = up->instance_id,
				       .state = FLEET_FAILED, .reason = reason,
				       .at_us = cast_now_us(), .source = "fleet" };

	snprintf(reason, sizeof reason, "cast not queued: %.400s", why);
	return fleet_store_report(store, &report, NULL, err);
}

int fleet_rollout_send(struct fleet_store *store, struct fleet_publisher *pub,
		       const struct fleet_upgrade *up, const char *metadata, int target,
		       struct error *err)
{
	json_t *args = cast_args(up, metadata, 0);
	struct error cast_err = { "" };
	int rc;

	if (!args)
		return error_set(err, "upgrade %s: cannot build its cast", up->id);
	rc = fleet_publisher_cast(pub, up->instance_id, strcmp(up->kind, "rollback") ?
				  "upgrade" : "rollback", args, &cast_err);
	if (rc == FLEET_CAST_UNREACHABLE) {
		*err = cast_err;
		return rc;
	}
	if (rc == FLEET_CAST_REFUSED && fleet_rollout_fail(store, up, cast_err.text, err) < 0)
		return -1;
	/* Refused or sent: either way this cast is settled, never sent again. */
	if (target && fleet_store_rollout_cast_done(store, up->rollout_id, up->instance_id,
						    cast_now_us(), err) < 0)
		return -1;
	if (rc < 0)
		*err = cast_err;
	return rc;
}

/* Each cast's outcome: the refused recorded FAILED (counted in *refused);
 * the upgrades settled (sent or refused) in settled[]; how many, or -1. */
static int cast_settle(struct fleet_store *store, const struct fleet_upgrade *ups, size_t n,
		       const struct fleet_publisher_cast *casts,
		       const struct fleet_upgrade **settled, size_t *refused, struct error *err)
{
	size_t i, done = 0;

	for (i = 0; i < n; i++) {
		const char *by = ups[i].rollout_id[0] ? ups[i].rollout_id : ups[i].policy_id;

		if (casts[i].rc == FLEET_CAST_UNREACHABLE) {
			log_warn("%s: %s to %s not sent (will retry): %s", by, ups[i].id,
				 ups[i].instance_id, casts[i].err.text);
			continue;	/* planned, not confirmed: the next step sends it */
		}
		if (casts[i].rc == FLEET_CAST_REFUSED) {
			log_warn("%s: %s to %s FAILED: %s", by, ups[i].id, ups[i].instance_id,
				 casts[i].err.text);
			if (fleet_rollout_fail(store, &ups[i], casts[i].err.text, err) < 0)
				return -1;
			++*refused;
		}
		settled[done++] = &ups[i];
	}
	return (int)done;
}

int fleet_cast_many(struct fleet_store *store, struct fleet_publisher *pub,
		    const struct fleet_upgrade *ups, size_t n, const char *metadata,
		    const char *version, int automatic, const struct fleet_upgrade **settled,
		    size_t *refused, struct error *err)
{
	struct fleet_publisher_cast *casts = calloc(n ? n : 1, sizeof *casts);
	size_t i;
	int rc = -1;

	if (!casts) {
		error_set(err, "cast: out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		casts[i] = (struct fleet_publisher_cast){ .instance_id = ups[i].instance_id,
							  .method = "upgrade", .version = version };
		if (!(casts[i].args = cast_args(&ups[i], metadata, automatic))) {
			error_set(err, "upgrade %s: cannot build its cast", ups[i].id);
			goto out;
		}
	}
	if (n && fleet_publisher_cast_many(pub, n, casts, err) < 0)
		goto out;
	rc = cast_settle(store, ups, n, casts, settled, refused, err);
out:
	for (i = 0; casts && i < n; i++)
		json_decref(casts[i].args);	/* NULL once published */
	free(casts);
	return rc;
}

int fleet_rollout_send_many(struct fleet_store *store, struct fleet_publisher *pub,
			    const struct fleet_upgrade *ups, size_t n, const char *metadata,
			    size_t *refused, struct error *err)
{
	const struct fleet_upgrade **settled = calloc(n ? n : 1, sizeof *settled);
	const char **ids = calloc(n ? n : 1, sizeof *ids);
	int done = -1, i;

	if (!settled || !ids) {
		error_set(err, "rollout: out of memory");
		goto out;
	}
	done = fleet_cast_many(store, pub, ups, n, metadata, NULL, 0, settled, refused, err);
	for (i = 0; i < done; i++)
		ids[i] = settled[i]->instance_id;
	if (done > 0 && fleet_store_rollout_cast_done_many(store, ups[0].rollout_id, ids,
							   (size_t)done, cast_now_us(), err) < 0)
		done = -1;
out:
	free(settled);
	free(ids);
	return done;
}
