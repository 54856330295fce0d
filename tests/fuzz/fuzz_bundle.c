/* fuzz_bundle.c: bundle_read() on a hostile bundle file.
 *
 * Each input is read twice: inspected (no keyring: container, manifest and
 * the signature's DER parsed without trust) and verified against the
 * checked-in test keyring with the test payload key (keys/), which the seed
 * bundles (corpus/bundle/) are signed and encrypted with, so mutations of a
 * seed's hash list, payload and trailer reach the checks behind the
 * signature.  Oracle beyond the sanitizers: a verified read hands out
 * exactly the manifest's payload_size bytes, after the manifest callback. */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "bundle/bundle.h"
#include "support_fuzz.h"

struct fuzz_bundle {
	int manifest_seen;
	uint64_t payload_size, payload_bytes;
};

static char fuzz_keyring[4096], fuzz_payload_key[4096];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_file("keys/ca.pem", fuzz_keyring, sizeof fuzz_keyring);
	fuzz_file("keys/payload.key", fuzz_payload_key, sizeof fuzz_payload_key);
	return 0;
}

static int fuzz_on_manifest(const struct bundle_manifest *m, void *ctx, struct error *err)
{
	struct fuzz_bundle *b = ctx;

	(void)err;
	fuzz_check_terminated(m->signer, sizeof m->signer, "signer");
	fuzz_check_terminated(m->digest, sizeof m->digest, "digest");
	b->manifest_seen = 1;
	b->payload_size = m->payload_size;
	return 0;
}

static int fuzz_on_payload(const void *data, size_t len, void *ctx, struct error *err)
{
	struct fuzz_bundle *b = ctx;
	volatile unsigned char sink = 0;

	(void)err;
	if (!b->manifest_seen)
		fuzz_fail("payload before the manifest callback");
	if (len == 0 || len > BUNDLE_BLOCK_SIZE * 64u)
		fuzz_fail("payload chunk of %zu bytes", len);
	sink ^= ((const unsigned char *)data)[len - 1];	/* ASan: the chunk is readable */
	(void)sink;
	b->payload_bytes += len;
	return 0;
}

static void fuzz_bundle_read(const uint8_t *data, size_t size, const char *keyring)
{
	struct bundle_reader_options options = { .keyring_path = keyring,
						  .decrypt_key_path = fuzz_payload_key };
	struct fuzz_bundle b = { 0 };
	struct error err = { "" };
	int fd = fuzz_memfd(data, size), rc;

	rc = bundle_read(fd, &options, fuzz_on_manifest, fuzz_on_payload, &b, &err);
	close(fd);
	fuzz_check_terminated(err.text, sizeof err.text, "error text");
	if (rc == 0 && !b.manifest_seen)
		fuzz_fail("accepted without calling on_manifest");
	if (rc == 0 && keyring && b.payload_bytes != b.payload_size)
		fuzz_fail("accepted %llu payload bytes, the manifest says %llu",
			  (unsigned long long)b.payload_bytes, (unsigned long long)b.payload_size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_bundle_read(data, size, NULL);
	fuzz_bundle_read(data, size, fuzz_keyring);
	return 0;
}
