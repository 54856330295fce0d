/* slotupd: the updater.
 *
 *   slotupd [-c CONFIG] install LOCATION [--strategy S] [--version V]
 *                                [--id ID] [--sha256 HEX] [--metadata JSON]
 *                                [--allow-downgrade]
 *   slotupd [-c CONFIG] serve
 *
 * Options go before or after the command and its operand, in any order
 * (`slotupd install URL --strategy http -c slotd.ini`); `--` ends them.
 * Exit 0 on SUCCESS, 1 on FAILED or DEFERRED (the reason on stderr and in the
 * history), 2 on a usage or configuration error. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "request_check.h"
#include "fetch/fetch_child.h"
#include "install/install.h"
#include "log.h"
#include "amqp/serve.h"
#include "amqp/serve_wire.h"
#include "slotupd.h"

#define SLOTUPD_VERSION "0.1.0"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: slotupd [-c CONFIG] install LOCATION [--strategy S] [--version V]\n"
		"                            [--id ID] [--sha256 HEX] [--metadata JSON]\n"
		"                            [--allow-downgrade]\n"
		"       slotupd [-c CONFIG] serve\n"
		"       slotupd --help | --version\n");
}

/* A TTY gets a progress bar; anything else gets the log lines only. */
struct progress_bar {
	struct timespec start;
	unsigned long long last_done;
	int tty;
};

static double seconds_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static void progress_bytes(void *context, unsigned long long done, unsigned long long total)
{
	struct progress_bar *bar = context;
	double elapsed = seconds_since(&bar->start), rate;
	char eta[32] = "";
	int width = 30, filled = 0;

	/* Redraw at most every 256 KiB: the terminal is not the bottleneck we want. */
	if (!bar->tty || (done - bar->last_done < (256u << 10) && done != total))
		return;
	bar->last_done = done;
	rate = elapsed > 0 ? (double)done / elapsed : 0;
	if (total > 0) {
		filled = (int)((double)width * (double)done / (double)total);
		if (rate > 0)
			snprintf(eta, sizeof eta, " ETA %.0fs", (double)(total - done) / rate);
	}
	fprintf(stderr, "\r[%-*.*s] %6.1f MiB %6.1f MiB/s%s   ", width, filled,
		"##############################", (double)done / 1048576, rate / 1048576, eta);
	if (done == total)
		fputc('\n', stderr);
}

static void progress_step(void *context, enum history_state state, const char *detail)
{
	struct progress_bar *bar = context;

	if (bar->tty && bar->last_done)
		fputc('\n', stderr);
	bar->last_done = 0;
	(void)state;
	(void)detail;	/* install_run logs each step itself */
}

static int load_config(struct config *config, const char *path)
{
	struct error err = { "" };

	if (config_load(config, path, &err) == 0)
		return 0;
	fprintf(stderr, "slotupd: %s\n", err.text);
	return -1;
}

/* --metadata, the object a cast carries as args.metadata: bounded as a
 * cast's, and its sha256 is --sha256 (both given must agree). */
struct install_metadata {
	char text[REQUEST_METADATA_WIRE_MAX + 1];
	char sha256[65];
};

/* metadata's sha256 (NULL: none) against --sha256, or as --sha256. */
static int install_metadata_sha256(json_t *sha256, struct install_request *request,
				   struct install_metadata *m, struct error *err)
{
	if (!sha256)
		return 0;
	if (!json_is_string(sha256))
		return error_set(err, "--metadata: sha256: not a string");
	if (request_check_sha256("--metadata: sha256", json_string_value(sha256), err) < 0)
		return -1;
	if (request->expected_sha256)
		return strcmp(request->expected_sha256, json_string_value(sha256)) ?
		       error_set(err, "--metadata: its sha256 is not --sha256") : 0;
	snprintf(m->sha256, sizeof m->sha256, "%s", json_string_value(sha256));
	request->expected_sha256 = m->sha256;
	return 0;
}

static int install_metadata(const char *json, struct install_request *request,
			    struct install_metadata *m, struct error *err)
{
	json_t *metadata = json_loads(json, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
	int rc;

	if (!metadata)
		return error_set(err, "--metadata: not JSON");
	rc = request_metadata_encode("--metadata", metadata, m->text, sizeof m->text, err);
	if (rc == 0)
		rc = install_metadata_sha256(json_object_get(metadata, "sha256"), request, m, err);
	request->metadata = m->text[0] ? m->text : NULL;
	json_decref(metadata);
	return rc;
}

/* Parses a command's options wherever they stand.  optind = 0 makes glibc
 * start afresh: with 1 it would keep the "+" (stop at the first operand)
 * mode of the global parse, and refuse options after LOCATION. */
static int command_install(const char *config_path, int argc, char **argv)
{
	static const struct option options[] = {
		{ "strategy", required_argument, NULL, 's' },
		{ "version", required_argument, NULL, 'V' },
		{ "id", required_argument, NULL, 'i' },
		{ "sha256", required_argument, NULL, 'S' },
		{ "metadata", required_argument, NULL, 'm' },
		{ "allow-downgrade", no_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	struct install_request request = { .kind = INSTALL_UPGRADE };
	struct progress_bar bar = { .tty = isatty(STDERR_FILENO) };
	struct install_progress progress = { progress_step, progress_bytes, &bar };
	struct install_result result;
	struct install_metadata metadata;
	const char *metadata_json = NULL;
	struct config config;
	struct error err = { "" };
	int opt;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "c:", options, NULL)) != -1) {
		switch (opt) {
		case 's': request.strategy = optarg; break;
		case 'V': request.expected_version = optarg; break;
		case 'i': request.id = optarg; break;
		case 'S': request.expected_sha256 = optarg; break;
		case 'm': metadata_json = optarg; break;
		case 'd': request.allow_downgrade = 1; break;
		case 'c': config_path = optarg; break;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "slotupd: install: expected exactly one LOCATION, got %d\n",
			argc - optind);
		return 2;
	}
	request.location = argv[optind];
	if (metadata_json && install_metadata(metadata_json, &request, &metadata, &err) < 0) {
		fprintf(stderr, "slotupd: install: %s\n", err.text);
		return 2;
	}
	request.authenticated = geteuid() == 0;	/* root's own command: no cast to trust */
	if (load_config(&config, config_path) < 0)
		return 2;
	clock_gettime(CLOCK_MONOTONIC, &bar.start);
	if (install_run(&config, &request, &progress, &result, &err) < 0) {
		fprintf(stderr, "slotupd: %s\n", err.text);
		return 1;
	}
	if (result.already_done)
		fprintf(stderr, "slotupd: attempt %s was already %s\n", result.record.id,
			history_state_name(result.record.state));
	if (result.outcome == INSTALL_SUCCESS) {
		printf("SUCCESS %s %s\n", result.record.id, result.record.to_version);
		return 0;
	}
	fprintf(stderr, "slotupd: %s %s: %s\n", history_state_name(result.record.state),
		result.record.id, result.record.error);
	return 1;
}

static int command_serve(const char *config_path, int argc, char **argv)
{
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	struct config config;
	int opt;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "c:", options, NULL)) != -1) {
		if (opt != 'c') {
			usage(stderr);
			return 2;
		}
		config_path = optarg;
	}
	if (optind != argc) {
		fprintf(stderr, "slotupd: serve: unexpected argument '%.60s'\n", argv[optind]);
		return 2;
	}
	if (load_config(&config, config_path) < 0)
		return 2;
	return slotupd_serve(&config);
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'v' },
		{ "config", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_path = NULL;
	int opt;

	/* Not options: how slotupd starts its download and AMQP processes. */
	if (argc == 2 && !strcmp(argv[1], FETCH_CHILD_ARG))
		return fetch_child_main();
	if (argc == 2 && !strcmp(argv[1], SERVE_CHILD_ARG))
		return serve_child_main();
	log_init("slotupd");
	while ((opt = getopt_long(argc, argv, "+c:", options, NULL)) != -1) {
		switch (opt) {
		case 'c': config_path = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'v': printf("slotupd %s\n", SLOTUPD_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[optind], "install"))
		return command_install(config_path, argc - optind, argv + optind);
	if (!strcmp(argv[optind], "serve"))
		return command_serve(config_path, argc - optind, argv + optind);
	fprintf(stderr, "slotupd: unknown command '%s'\n", argv[optind]);
	usage(stderr);
	return 2;
}
