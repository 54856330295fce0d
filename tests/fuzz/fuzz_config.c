/* fuzz_config.c: config_load_string() on a hostile configuration file.
 *
 * Oracle beyond the sanitizers: every string field of an accepted config is
 * NUL-terminated, and a refusal's message is too. */
#include <stdint.h>
#include <stdlib.h>

#include "config.h"
#include "support_fuzz.h"

#define CHECK(field) fuzz_check_terminated(c->field, sizeof c->field, #field)

static void fuzz_config_fields(const struct config *c)
{
	CHECK(slots.root);
	CHECK(slots.compatible);
	CHECK(agent.exec);
	CHECK(agent.health_exec);
	CHECK(agent.health_url);
	CHECK(supervisor.control_socket);
	CHECK(updater.strategy);
	CHECK(updater.keyring);
	CHECK(updater.decrypt_key);
	CHECK(updater.cache);
	CHECK(updater.swift_token);
	CHECK(updater.ca_path);
	CHECK(amqp.url);
	CHECK(amqp.exchange);
	CHECK(amqp.instance_id);
	CHECK(amqp.queue);
	CHECK(amqp.conductor_topic);
	CHECK(amqp.rpc_key);
	CHECK(amqp.ca_path);
	for (unsigned i = 0; i < c->strategies.count; i++) {
		CHECK(strategies.list[i].name);
		CHECK(strategies.list[i].fetch);
		CHECK(strategies.list[i].read);
		if (!config_strategy_name_ok(c->strategies.list[i].name) ||
		    c->strategies.list[i].fetch[0] != '/')
			fuzz_fail("accepted strategy %u", i);
	}
	if (c->strategies.count > CONFIG_STRATEGY_MAX)
		fuzz_fail("%u strategies", c->strategies.count);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *c = malloc(sizeof *c);
	struct error err = { "" };
	char *text = fuzz_strndup(data, size);
	char *argv[CONFIG_ARGV_MAX], storage[CONFIG_STRING_MAX];

	if (!c)
		fuzz_fail("out of memory");
	if (config_load_string(c, text, "fuzz.ini", &err) == 0) {
		fuzz_config_fields(c);
		/* agent.exec is split into the agent's argv at every launch */
		config_split_words(c->agent.exec, argv, storage, sizeof storage, &err);
	}
	fuzz_check_terminated(err.text, sizeof err.text, "error text");
	free(text);
	free(c);
	return 0;
}
