/* local.c: the commands that ask the local slotd over its control socket
 * (include/control.h): status, rollback [--force], mark-good, mark-bad,
 * restart.  Replies are parsed by the protocol's module; what is printed
 * comes from the parsed struct, sanitised, never from the raw line.  When
 * slotd cannot be reached, status builds the same struct from the state
 * file (agent "not supervised") and prints it the same way. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "control.h"
#include "flip.h"
#include "slotctl.h"
#include "text.h"

#define LOCAL_STATUS_TIMEOUT_MS 5000
#define LOCAL_COMMAND_TIMEOUT_MS 60000

/* slotd is down: the status as the state on disk has it. */
static int local_status_from_disk(const struct config *c, struct control_status *st,
				  struct error *err)
{
	struct layout layout;
	struct slot_state state;
	int fresh, current, i;

	if (layout_open(&layout, c->slots.root, 0, err) < 0)
		return -1;
	if (state_load(&layout, &state, &fresh, err) < 0 ||
	    slot_current(&layout, &current, err) < 0) {
		layout_close(&layout);
		return -1;
	}
	layout_close(&layout);
	memset(st, 0, sizeof *st);
	st->current = current;
	st->agent.state = CONTROL_AGENT_UNSUPERVISED;
	st->agent.slot = SLOT_NONE;
	for (i = 0; i < SLOT_COUNT; i++) {
		st->slot[i].status = state.slot[i].status;
		st->slot[i].attempts = state.slot[i].attempts;
		snprintf(st->slot[i].version, sizeof st->slot[i].version, "%s",
			 state.slot[i].version);
		snprintf(st->slot[i].reason, sizeof st->slot[i].reason, "%s", state.slot[i].reason);
	}
	return 0;
}

static const char *local_slot_name(int slot)
{
	return slot == SLOT_NONE ? "none" : layout_slot_name(slot);
}

/* Values from slotd (the agent's STATUS= text above all) are printable ASCII
 * once sanitised: no escape sequence reaches the terminal, no invalid UTF-8
 * reaches jansson. */
static json_t *local_json_text(const char *value)
{
	char shown[4 * STATE_REASON_MAX];

	return json_string(text_sanitize(value, shown, sizeof shown));
}

static void local_print_json(const struct control_status *st)
{
	json_t *root = json_object(), *slots = json_object(), *agent = json_object(), *slot;
	int i;

	json_object_set_new(root, "current", json_string(local_slot_name(st->current)));
	for (i = 0; i < SLOT_COUNT; i++) {
		slot = json_object();
		json_object_set_new(slot, "status",
				    json_string(state_status_name(st->slot[i].status)));
		json_object_set_new(slot, "version", local_json_text(st->slot[i].version));
		json_object_set_new(slot, "attempts", json_integer(st->slot[i].attempts));
		json_object_set_new(slot, "reason", local_json_text(st->slot[i].reason));
		json_object_set_new(slots, layout_slot_name(i), slot);
	}
	json_object_set_new(root, "slots", slots);
	json_object_set_new(agent, "pid", json_integer(st->agent.pid));
	json_object_set_new(agent, "state", json_string(control_agent_state_name(st->agent.state)));
	json_object_set_new(agent, "healthy", json_boolean(st->agent.healthy));
	json_object_set_new(agent, "slot", json_string(local_slot_name(st->agent.slot)));
	json_object_set_new(agent, "status", local_json_text(st->agent.status));
	json_object_set_new(agent, "leftover", local_json_text(st->agent.leftover));
	json_object_set_new(root, "agent", agent);
	json_dumpf(root, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
	putchar('\n');
	json_decref(root);
}

static void local_print_table(const struct control_status *st)
{
	char version[4 * STATE_VERSION_MAX], reason[4 * STATE_REASON_MAX];
	char leftover[4 * CONTROL_LEFTOVER_MAX];
	int i;

	printf("current: %s\nagent:   %s", local_slot_name(st->current),
	       control_agent_state_name(st->agent.state));
	if (st->agent.pid)
		printf(" (pid %d, slot %s, %s)", st->agent.pid, local_slot_name(st->agent.slot),
		       st->agent.healthy ? "healthy" : "not yet healthy");
	if (st->agent.leftover[0])
		printf("\nleftover: %s", text_sanitize(st->agent.leftover, leftover, sizeof leftover));
	printf("\n\n%-5s %-11s %-16s %-9s %s\n", "SLOT", "STATUS", "VERSION", "ATTEMPTS", "REASON");
	for (i = 0; i < SLOT_COUNT; i++) {
		text_sanitize(st->slot[i].version, version, sizeof version);
		text_sanitize(st->slot[i].reason, reason, sizeof reason);
		printf("%-5s %-11s %-16s %-9u %s\n", layout_slot_name(i),
		       state_status_name(st->slot[i].status), version[0] ? version : "-",
		       st->slot[i].attempts, reason);
	}
}

/* An error reply, for people: "slotctl: REQUEST: KIND TEXT". */
static void local_print_refusal(const char *request, const struct control_reply *reply)
{
	char text[4 * CONTROL_TEXT_MAX];

	fprintf(stderr, "slotctl: %s: %s%s%s\n", request, control_kind_name(reply->kind),
		reply->text[0] ? " " : "", text_sanitize(reply->text, text, sizeof text));
}

int local_status(const struct config *c, int json)
{
	char line[CONTROL_LINE_MAX + 1];	/* +1: an over-long reply shows */
	struct control_status st;
	struct control_reply reply;
	struct error err = { "" };
	int len;

	len = control_exchange(c->supervisor.control_socket, "status", line, sizeof line,
			       LOCAL_STATUS_TIMEOUT_MS, &err);
	if (len < 0) {
		fprintf(stderr, "slotctl: %s: showing the state on disk\n", err.text);
		if (local_status_from_disk(c, &st, &err) < 0) {
			fprintf(stderr, "slotctl: %s\n", err.text);
			return 1;
		}
	} else if (control_status_parse(line, (size_t)len, &st, &reply, &err) < 0) {
		fprintf(stderr, "slotctl: slotd's answer to 'status': %s\n", err.text);
		return 1;
	} else if (reply.kind != CONTROL_OK) {
		local_print_refusal("status", &reply);
		return 1;
	}
	if (json)
		local_print_json(&st);
	else
		local_print_table(&st);
	return 0;
}

int local_command(const struct config *c, const struct control_request *request)
{
	char words[32], text[4 * CONTROL_TEXT_MAX];
	struct control_reply reply;
	struct error err = { "" };

	if (control_request_format(request, words, sizeof words, &err) < 0 ||
	    control_call(c->supervisor.control_socket, request, &reply, LOCAL_COMMAND_TIMEOUT_MS,
			 &err) < 0) {
		fprintf(stderr, "slotctl: %s\n", err.text);
		return 1;
	}
	if (reply.kind != CONTROL_OK) {
		local_print_refusal(words, &reply);
		return 1;
	}
	printf("%s\n", reply.text[0] ? text_sanitize(reply.text, text, sizeof text) : "ok");
	return 0;
}
