/* api_rollout.c: slotctl's rollout commands, clients of slotfleet's
 * .../mgmt/rollouts (docs/fleet.md "Rollouts").
 *
 *   rollout create --version V --location URL
 *           (--instances ID[,ID...] (repeatable) | --below V) --waves P[,P...]
 *           [--max-failure-rate F] [--rate N] [--probation D] [--timeout D]
 *           [--strategy S] [--sha256 HEX] [--id ID]         prints "ID STATE"
 *   rollout show ID [--json]
 *   rollout list [--state S] [--limit N] [--json]
 *   rollout pause|resume|cancel ID                          prints "ID STATE"
 *   rollout rollback-failed|rollback-all ID   and "INSTANCE UPGRADE_ID STATE"
 *                                             for each rollback cast
 * What can be checked here is checked before anything is sent (exit 2):
 * ids, the version, the location, the waves' and rates' numbers; the rest
 * is the API's (exit 1 with its field and message). */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "number.h"
#include "request_check.h"

/* "1,10,100" as a JSON array of numbers; NULL (message printed) if not. */
static json_t *rollout_waves(const char *text)
{
	json_t *waves = json_array();
	char copy[256], *part, *save = NULL;
	unsigned long long n;

	if (strlen(text) >= sizeof copy)
		goto bad;
	strcpy(copy, text);
	for (part = strtok_r(copy, ",", &save); part; part = strtok_r(NULL, ",", &save)) {
		if (number_parse(part, 100, &n) < 0)
			goto bad;
		json_array_append_new(waves, json_integer((json_int_t)n));
	}
	if (json_array_size(waves))
		return waves;
bad:
	fprintf(stderr, "slotctl: rollout: --waves: want percents 1..100, e.g. 1,10,50,100\n");
	json_decref(waves);
	return NULL;
}

/* The --instances lists, each "ID[,ID...]", as one JSON array. */
static json_t *rollout_instances(const struct api_call *call)
{
	json_t *list = json_array();
	struct error err = { "" };
	char id[REQUEST_INSTANCE_MAX + 2];
	const char *p, *end;
	int i;

	for (i = 0; i < call->instances_count; i++) {
		for (p = call->instances[i]; *p; p = *end ? end + 1 : end) {
			end = p + strcspn(p, ",");
			snprintf(id, sizeof id, "%.*s", (int)(end - p), p);
			if (request_check_id("--instances", id, REQUEST_INSTANCE_MAX, &err) < 0) {
				fprintf(stderr, "slotctl: rollout: %s\n", err.text);
				json_decref(list);
				return NULL;
			}
			json_array_append_new(list, json_string(id));
		}
	}
	return list;
}

/* A number option as JSON: a fraction or a rate. */
static int rollout_number(json_t *body, const char *key, const char *option, const char *text)
{
	char *end;
	double v;

	if (!text)
		return 0;
	v = strtod(text, &end);
	if (end == text || *end || !(v >= 0)) {
		fprintf(stderr, "slotctl: rollout: %s: not a number\n", option);
		return -1;
	}
	json_object_set_new(body, key, json_real(v));
	return 0;
}

static json_t *rollout_body(const struct api_call *call)
{
	struct error err = { "" };
	json_t *body, *targets, *waves;

	if (!call->version || !call->location || !call->waves ||
	    !call->instances_count == !call->below) {
		fprintf(stderr, "slotctl: rollout create: --version, --location, --waves and one "
				"of --instances and --below are required\n");
		return NULL;
	}
	if (request_check_version("--version", call->version, &err) < 0 ||
	    (call->below && request_check_version("--below", call->below, &err) < 0) ||
	    request_check_location("--location", call->strategy ? call->strategy : "http",
				   call->location, &err) < 0 ||
	    (call->sha256 && request_check_sha256("--sha256", call->sha256, &err) < 0) ||
	    (call->id && request_check_id("--id", call->id, REQUEST_ID_MAX, &err) < 0)) {
		fprintf(stderr, "slotctl: rollout create: %s\n", err.text);
		return NULL;
	}
	targets = call->below ? json_pack("{s:s}", "agent_version_below", call->below) :
		  json_pack("{s:o*}", "instances", rollout_instances(call));
	waves = rollout_waves(call->waves);
	if (!targets || !json_object_get(targets, call->below ? "agent_version_below" :
					 "instances") || !waves) {
		json_decref(targets);
		json_decref(waves);
		return NULL;
	}
	body = json_pack("{s:s, s:s, s:o, s:o}", "instance_version", call->version, "location",
			 call->location, "targets", targets, "waves", waves);
	if (call->strategy)
		json_object_set_new(body, "strategy", json_string(call->strategy));
	if (call->sha256)
		json_object_set_new(body, "sha256", json_string(call->sha256));
	if (call->id)
		json_object_set_new(body, "rollout_id", json_string(call->id));
	if (call->probation)
		json_object_set_new(body, "probation", json_string(call->probation));
	if (call->timeout)
		json_object_set_new(body, "timeout", json_string(call->timeout));
	if (rollout_number(body, "max_failure_rate", "--max-failure-rate",
			   call->max_failure_rate) < 0 ||
	    rollout_number(body, "rate", "--rate", call->rate) < 0) {
		json_decref(body);
		return NULL;
	}
	return body;
}

/* POSTs body (stolen) to path; prints "ID STATE" (and rollbacks) on `want`. */
static int rollout_post(const struct api_call *call, const char *what, const char *path,
			json_t *body, long want)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_t *answer, *r, *up;
	long status = 0;
	size_t i;

	json_decref(body);
	answer = text ? api_request(call, "POST", path, text, &status) : NULL;
	free(text);
	r = json_object_get(answer, "rollout");
	if (status != want || !r) {
		api_refused(what, status, answer);
		json_decref(answer);
		return 1;
	}
	printf("%s %s\n", api_text(r, "id"), api_text(r, "state"));
	json_array_foreach(json_object_get(answer, "rollbacks"), i, up)
		printf("%s %s %s\n", api_text(up, "instance_id"), api_text(up, "id"),
		       api_text(up, "state"));
	json_decref(answer);
	return 0;
}

static void rollout_print(json_t *r)
{
	json_t *wave, *failed, *states, *count;
	const char *state;
	size_t i;

	printf("rollout:  %s\nstate:    %s\nreason:   %s\nversion:  %s\nlocation: %s\n"
	       "wave:     %lld of %zu\n", api_text(r, "id"), api_text(r, "state"),
	       api_text(r, "reason"), api_text(r, "instance_version"), api_text(r, "location"),
	       json_integer_value(json_object_get(r, "current_wave")),
	       json_array_size(json_object_get(r, "waves")));
	json_array_foreach(json_object_get(r, "waves"), i, wave) {
		printf("wave %lld: %lld instances:", json_integer_value(json_object_get(wave, "wave")),
		       json_integer_value(json_object_get(wave, "size")));
		states = json_object_get(wave, "states");
		json_object_foreach(states, state, count)
			printf(" %s %lld", state, json_integer_value(count));
		putchar('\n');
	}
	json_array_foreach(json_object_get(r, "failed"), i, failed)
		printf("failed:   %s %s wave %lld: %s\n", api_text(failed, "instance_id"),
		       api_text(failed, "upgrade_id"),
		       json_integer_value(json_object_get(failed, "wave")),
		       api_text(failed, "reason"));
}

static int rollout_get(const struct api_call *call, const char *path, const char *key)
{
	json_t *answer, *value, *r;
	long status;
	size_t i;

	answer = api_request(call, "GET", path, NULL, &status);
	value = json_object_get(answer, key);
	if (status != 200 || !value) {
		api_refused("rollout", status, answer);
		json_decref(answer);
		return 1;
	}
	if (call->json) {
		json_dumpf(value, stdout, JSON_INDENT(2));
		putchar('\n');
	} else if (json_is_array(value)) {
		printf("%-33s %-9s %-5s %-9s %s\n", "ID", "STATE", "WAVE", "VERSION", "CREATED");
		json_array_foreach(value, i, r)
			printf("%-33s %-9s %-5lld %-9s %s\n", api_text(r, "id"), api_text(r, "state"),
			       json_integer_value(json_object_get(r, "current_wave")),
			       api_text(r, "instance_version"), api_text(r, "created"));
	} else {
		rollout_print(value);
	}
	json_decref(answer);
	return 0;
}

static int rollout_list(const struct api_call *call)
{
	char path[512] = "/rollouts";
	CURL *curl = curl_easy_init();
	char *escaped;

	if (!curl)
		return 1;
	if (call->state && (escaped = curl_easy_escape(curl, call->state, 0))) {
		snprintf(path + strlen(path), sizeof path - strlen(path), "?state=%s", escaped);
		curl_free(escaped);
	}
	if (call->limit && (escaped = curl_easy_escape(curl, call->limit, 0))) {
		snprintf(path + strlen(path), sizeof path - strlen(path), "%slimit=%s",
			 strchr(path, '?') ? "&" : "?", escaped);
		curl_free(escaped);
	}
	curl_easy_cleanup(curl);
	return rollout_get(call, path, "rollouts");
}

int api_rollout(const struct api_call *call)
{
	static const char *const actions[][2] = {
		{ "pause", "pause" }, { "resume", "resume" }, { "cancel", "cancel" },
		{ "rollback-failed", "rollback_failed" }, { "rollback-all", "rollback_all" },
	};
	const char *sub = call->operand ? call->operand : "";
	struct error err = { "" };
	char path[256];
	size_t i;

	if (!strcmp(sub, "create")) {
		json_t *body = call->operand2 ? NULL : rollout_body(call);

		return body ? rollout_post(call, "rollout create", "/rollouts", body, 202) : 2;
	}
	if (!strcmp(sub, "list"))
		return call->operand2 ? 2 : rollout_list(call);
	if (!call->operand2 || request_check_id("rollout id", call->operand2, REQUEST_ID_MAX,
						&err) < 0) {
		fprintf(stderr, "slotctl: rollout %s: %s\n", sub,
			call->operand2 ? err.text : "want a rollout id");
		return 2;
	}
	snprintf(path, sizeof path, "/rollouts/%s", call->operand2);
	if (!strcmp(sub, "show"))
		return rollout_get(call, path, "rollout");
	for (i = 0; i < sizeof actions / sizeof actions[0]; i++) {
		if (strcmp(sub, actions[i][0]))
			continue;
		snprintf(path, sizeof path, "/rollouts/%s/action", call->operand2);
		return rollout_post(call, sub, path, json_pack("{s:{}}", actions[i][1]),
				    strncmp(sub, "rollback", 8) ? 200 : 202);
	}
	fprintf(stderr, "slotctl: rollout: unknown command '%.40s'\n", sub);
	return 2;
}
