/* slotpack: the packager's tool (docs/architecture.md, The fixed contract).
 *
 *   slotpack create  -d DIR -V VERSION -C COMPATIBLE -k KEY.pem -c CERT.pem
 *                    [-e KEYFILE] [-z gzip|xz|zstd] [--signing-time SECONDS]
 *                    [--format 1|2|3] [--chunk-size BYTES] -o OUT
 *   slotpack verify  -K KEYRING [TRUST] [-e KEYFILE] BUNDLE
 *   slotpack inspect BUNDLE
 *   slotpack extract -K KEYRING [TRUST] [-e KEYFILE] -o DIR BUNDLE
 *   slotpack diff    -K KEYRING [TRUST] [-e KEYFILE] OLD.bundle NEW.bundle
 * TRUST is what a guest's [updater] keys say (config.h, packaging/KEYS.md):
 *   --crl PATH  --allowed-signer CN (repeatable)  --max-age DURATION
 * KEYRING and PATH are each a PEM file or a directory of *.pem files.
 * --signing-time sets the CMS signingTime (default now): for tests of
 * --max-age, and for re-signing a manifest at the time it was first signed.
 * --format 1 writes the one-stream payload that guests older than format 2
 * read; --format 3 the delta-capable one (docs/delta.md); --chunk-size sets
 * the chunk of formats 2 and 3 (packaging/FORMAT.md).  diff prints what a
 * guest running OLD would fetch of NEW (diff.c).
 * Options may come before or after the operand.
 *
 * Exit 0 on success, 1 when the operation fails (the bundle is bad), 2 on a
 * usage error. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "bundle/bundle.h"
#include "config.h"
#include "extract/extract_worker.h"
#include "slotpack.h"

#define SLOTPACK_VERSION "0.1.0"

struct arguments {
	const char *directory, *version, *compatible, *key, *cert, *encrypt_key, *compression;
	const char *keyring, *crl, *output, *bundle, *second;
	char allowed_signers[CONFIG_STRING_MAX];	/* --allowed-signer, joined by commas */
	uint64_t max_age_ms;
	int64_t signing_time;
	unsigned format;
	uint32_t chunk_size;
};

enum { OPT_CRL = 256, OPT_ALLOWED_SIGNER, OPT_MAX_AGE, OPT_SIGNING_TIME, OPT_FORMAT,
       OPT_CHUNK_SIZE };

static void usage(FILE *out)
{
	fprintf(out,
		"usage: slotpack create  -d DIR -V VERSION -C COMPATIBLE -k KEY.pem -c CERT.pem\n"
		"                        [-e KEYFILE] [-z gzip|xz|zstd] [--signing-time SECONDS]\n"
		"                        [--format 1|2|3] [--chunk-size BYTES] -o OUT\n"
		"       slotpack verify  -K KEYRING [TRUST] [-e KEYFILE] BUNDLE\n"
		"       slotpack inspect BUNDLE\n"
		"       slotpack extract -K KEYRING [TRUST] [-e KEYFILE] -o DIR BUNDLE\n"
		"       slotpack diff    -K KEYRING [TRUST] [-e KEYFILE] OLD.bundle NEW.bundle\n"
		"       slotpack --help | --version\n"
		"TRUST: [--crl PATH] [--allowed-signer CN]... [--max-age DURATION]\n"
		"KEYRING, PATH: a PEM file or a directory of *.pem files\n");
}

/* --allowed-signer CN: appended to the comma-separated list the library takes. */
static int add_allowed_signer(struct arguments *a, const char *cn)
{
	size_t used = strlen(a->allowed_signers), len = strlen(cn);

	if (!len || strchr(cn, ',')) {
		fprintf(stderr, "slotpack: --allowed-signer: empty, or a CN with a comma\n");
		return -1;
	}
	if (used + 1 + len >= sizeof a->allowed_signers) {
		fprintf(stderr, "slotpack: --allowed-signer: too many signers\n");
		return -1;
	}
	if (used)
		a->allowed_signers[used++] = ',';
	memcpy(a->allowed_signers + used, cn, len + 1);
	return 0;
}

static int parse_long(struct arguments *a, int opt, const char *value)
{
	unsigned long long seconds;
	char *end;

	switch (opt) {
	case OPT_CRL:
		a->crl = value;
		return 0;
	case OPT_ALLOWED_SIGNER:
		return add_allowed_signer(a, value);
	case OPT_MAX_AGE:
		if (config_parse_duration64(value, &a->max_age_ms) == 0 && a->max_age_ms)
			return 0;
		fprintf(stderr, "slotpack: --max-age: not a positive duration (e.g. 12h, 90d)\n");
		return -1;
	case OPT_FORMAT:
		if (!strcmp(value, "1") || !strcmp(value, "2") || !strcmp(value, "3")) {
			a->format = (unsigned)(value[0] - '0');
			return 0;
		}
		fprintf(stderr, "slotpack: --format: not 1, 2 or 3\n");
		return -1;
	case OPT_CHUNK_SIZE:
		errno = 0;
		seconds = strtoull(value, &end, 10);
		if (value[0] >= '0' && value[0] <= '9' && !*end && !errno &&
		    seconds >= BUNDLE_CHUNK_MIN && seconds <= BUNDLE_CHUNK_MAX) {
			a->chunk_size = (uint32_t)seconds;
			return 0;
		}
		fprintf(stderr, "slotpack: --chunk-size: not %u to %u bytes\n", BUNDLE_CHUNK_MIN,
			BUNDLE_CHUNK_MAX);
		return -1;
	case OPT_SIGNING_TIME:
		errno = 0;
		seconds = strtoull(value, &end, 10);
		if (value[0] >= '0' && value[0] <= '9' && !*end && !errno && seconds &&
		    seconds < 253402300800ULL) {	/* before year 10000 */
			a->signing_time = (int64_t)seconds;
			return 0;
		}
		fprintf(stderr, "slotpack: --signing-time: not seconds since the epoch\n");
		return -1;
	}
	return -1;
}

static int parse(int argc, char **argv, struct arguments *a)
{
	static const struct option longs[] = {
		{ "crl", required_argument, NULL, OPT_CRL },
		{ "allowed-signer", required_argument, NULL, OPT_ALLOWED_SIGNER },
		{ "max-age", required_argument, NULL, OPT_MAX_AGE },
		{ "signing-time", required_argument, NULL, OPT_SIGNING_TIME },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "chunk-size", required_argument, NULL, OPT_CHUNK_SIZE },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "d:V:C:k:c:e:z:K:o:", longs, NULL)) != -1) {
		switch (opt) {
		case 'd': a->directory = optarg; break;
		case 'V': a->version = optarg; break;
		case 'C': a->compatible = optarg; break;
		case 'k': a->key = optarg; break;
		case 'c': a->cert = optarg; break;
		case 'e': a->encrypt_key = optarg; break;
		case 'z': a->compression = optarg; break;
		case 'K': a->keyring = optarg; break;
		case 'o': a->output = optarg; break;
		default:
			if (opt < OPT_CRL || parse_long(a, opt, optarg) < 0)
				return -1;
		}
	}
	if (optind < argc)
		a->bundle = argv[optind++];
	if (optind < argc)
		a->second = argv[optind++];	/* diff's NEW */
	return optind == argc ? 0 : -1;
}

static int missing(const char *command, const char *option)
{
	fprintf(stderr, "slotpack: %s: %s is required\n", command, option);
	return 2;
}

static int64_t source_date_epoch(void)
{
	const char *text = getenv("SOURCE_DATE_EPOCH");
	char *end;
	long long value;

	if (!text || !*text)
		return 0;
	value = strtoll(text, &end, 10);
	return (*end || value < 0) ? 0 : value;
}

static int command_create(const struct arguments *a)
{
	struct bundle_create_options o = {
		.directory = a->directory, .version = a->version, .compatible = a->compatible,
		.key_path = a->key, .cert_path = a->cert, .encrypt_key_path = a->encrypt_key,
		.compression = a->compression, .created = source_date_epoch(),
		.signing_time = a->signing_time, .output = a->output, .format = a->format,
		.chunk_size = a->chunk_size,
	};
	struct error err = { "" };

	if (!a->directory) return missing("create", "-d DIR");
	if (!a->version) return missing("create", "-V VERSION");
	if (!a->compatible) return missing("create", "-C COMPATIBLE");
	if (!a->key) return missing("create", "-k KEY.pem");
	if (!a->cert) return missing("create", "-c CERT.pem");
	if (!a->output) return missing("create", "-o OUT");
	if (a->chunk_size && a->format == BUNDLE_FORMAT_BLOCKS) {
		fprintf(stderr, "slotpack: create: --chunk-size is for formats 2 and 3\n");
		return 2;
	}
	if (a->encrypt_key && a->format == BUNDLE_FORMAT_DELTA) {
		fprintf(stderr, "slotpack: create: format 3 cannot be encrypted (-e): its index "
			"describes the plain tar\n");
		return 2;
	}
	if (bundle_create(&o, &err) < 0) {
		fprintf(stderr, "slotpack: create: %s\n", err.text);
		return 1;
	}
	return 0;
}

static int print_manifest(const struct bundle_manifest *m, void *ctx, struct error *err)
{
	char blocks[96];

	(void)ctx;
	(void)err;
	if (m->format != BUNDLE_FORMAT_BLOCKS)
		snprintf(blocks, sizeof blocks, "%u members of %u bytes decoded", m->block_count,
			 m->chunk_size);
	else
		snprintf(blocks, sizeof blocks, "%u of %u bytes", m->block_count, m->block_size);
	printf("format:       %u\nversion:      %s\ncompatible:   %s\ncreated:      %" PRId64 "\n"
	       "signer:       %s\ndigest:       %s\npayload:      %" PRIu64 " bytes, %s\n"
	       "blocks:       %s\nencryption:   %s%s%s\n",
	       m->format, m->version, m->compatible, m->created, m->signer, m->digest,
	       m->payload_size, m->compression, blocks, m->encryption,
	       m->key_id[0] ? ", key id " : "", m->key_id);
	if (m->format == BUNDLE_FORMAT_DELTA)
		printf("delta index:  %" PRIu64 " bytes\n", m->index_size);
	return 0;
}

static int open_bundle(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		fprintf(stderr, "slotpack: %s: %s\n", path, strerror(errno));
	return fd;
}

/* The trust options of verify and extract, as a guest's [updater] keys give them. */
static struct bundle_reader_options reader_options(const struct arguments *a)
{
	struct bundle_reader_options o = {
		.keyring_path = a->keyring, .crl_path = a->crl,
		.allowed_signers = a->allowed_signers, .max_age_ms = a->max_age_ms,
		.decrypt_key_path = a->encrypt_key,
	};

	return o;
}

static int command_read(const struct arguments *a, int verify)
{
	struct bundle_reader_options o = reader_options(a);
	struct error err = { "" };
	int fd, rc;

	if (!a->bundle) return missing(verify ? "verify" : "inspect", "BUNDLE");
	if (verify && !a->keyring) return missing("verify", "-K KEYRING");
	if (!verify)
		o.keyring_path = NULL;
	fd = open_bundle(a->bundle);
	if (fd < 0)
		return 1;
	rc = bundle_read(fd, &o, verify ? NULL : print_manifest, NULL, NULL, &err);
	close(fd);
	if (rc < 0) {
		fprintf(stderr, "slotpack: %s: %s\n", a->bundle, err.text);
		return 1;
	}
	if (verify)
		printf("%s: OK\n", a->bundle);
	return 0;
}

static int command_extract(const struct arguments *a)
{
	struct bundle_reader_options o = reader_options(a);
	int dir_fd, rc;

	if (!a->keyring) return missing("extract", "-K KEYRING");
	if (!a->output) return missing("extract", "-o DIR");
	if (!a->bundle) return missing("extract", "BUNDLE");
	dir_fd = open(a->output, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0) {
		fprintf(stderr, "slotpack: %s: %s\n", a->output, strerror(errno));
		return 1;
	}
	rc = slotpack_extract_into(a->bundle, &o, dir_fd) < 0;
	close(dir_fd);
	return rc;
}

static int command_diff(const struct arguments *a)
{
	struct bundle_reader_options o = reader_options(a);

	if (!a->keyring) return missing("diff", "-K KEYRING");
	if (!a->bundle || !a->second) return missing("diff", "OLD.bundle NEW.bundle");
	return slotpack_diff(a->bundle, a->second, &o);
}

int main(int argc, char **argv)
{
	struct arguments a = { 0 };
	const char *command;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	command = argv[1];
	if (!strcmp(command, "--help") || !strcmp(command, "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(command, "--version")) {
		printf("slotpack %s\n", SLOTPACK_VERSION);
		return 0;
	}
	if (parse(argc - 1, argv + 1, &a) < 0) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(command, "create"))
		return command_create(&a);
	if (!strcmp(command, "verify"))
		return command_read(&a, 1);
	if (!strcmp(command, "inspect"))
		return command_read(&a, 0);
	if (a.second && strcmp(command, "diff")) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(command, "extract"))
		return command_extract(&a);
	if (!strcmp(command, "diff"))
		return command_diff(&a);
	fprintf(stderr, "slotpack: unknown command '%s'\n", command);
	usage(stderr);
	return 2;
}
