/* fuzz_manifest.c: bundle_manifest_parse() on hostile manifest.ini text.
 *
 * Oracles beyond the sanitizers: the blocks can hold the payload (format 1:
 * block_count fixed blocks cover it; format 2: block_count members of 1 ..
 * BUNDLE_MEMBER_MAX(chunk_size) bytes can hold it); a manifest that parses
 * is written back with
 * bundle_manifest_format() and must parse again to the same struct (what a
 * packager writes, a guest reads the same way), unless the written form
 * is refused, as bundle_create() then refuses to write it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bundle/bundle.h"
#include "support_fuzz.h"

static void fuzz_manifest_fields(const struct bundle_manifest *m)
{
	fuzz_check_terminated(m->version, sizeof m->version, "version");
	fuzz_check_terminated(m->compatible, sizeof m->compatible, "compatible");
	fuzz_check_terminated(m->payload_sha256, sizeof m->payload_sha256, "sha256");
	fuzz_check_terminated(m->compression, sizeof m->compression, "compression");
	fuzz_check_terminated(m->encryption, sizeof m->encryption, "encryption");
	fuzz_check_terminated(m->iv, sizeof m->iv, "iv");
	fuzz_check_terminated(m->key_id, sizeof m->key_id, "key_id");
	fuzz_check_terminated(m->blocks_sha256, sizeof m->blocks_sha256, "blocks_sha256");
	uint64_t most = m->format != BUNDLE_FORMAT_BLOCKS ? BUNDLE_MEMBER_MAX(m->chunk_size) :
			m->block_size;

	if (m->format != BUNDLE_FORMAT_BLOCKS ?
	    m->block_size || m->chunk_size < BUNDLE_CHUNK_MIN || m->chunk_size > BUNDLE_CHUNK_MAX ||
	    m->block_count > m->payload_size :
	    m->chunk_size || m->block_size < 4096)
		fuzz_fail("accepted format %u with block_size %u, chunk_size %u, %u blocks of %llu "
			  "bytes", m->format, m->block_size, m->chunk_size, m->block_count,
			  (unsigned long long)m->payload_size);
	if ((uint64_t)m->block_count * most < m->payload_size)
		fuzz_fail("accepted blocks (%u x at most %llu) that do not cover %llu bytes",
			  m->block_count, (unsigned long long)most,
			  (unsigned long long)m->payload_size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bundle_manifest m, again;
	struct error err = { "" };
	char text[BUNDLE_MANIFEST_MAX];
	int len;

	if (size > BUNDLE_MANIFEST_MAX)	/* the reader refuses more */
		return -1;
	if (bundle_manifest_parse((const char *)data, size, &m, &err) < 0) {
		fuzz_check_terminated(err.text, sizeof err.text, "error text");
		return 0;
	}
	fuzz_manifest_fields(&m);
	len = bundle_manifest_format(&m, text, sizeof text);
	if (len < 0)
		fuzz_fail("a parsed manifest does not format");
	/* The written form may be refused: "compatible=<188 bytes>" fits a
	 * line and "compatible = <188 bytes>" does not; "compatible =;x" is
	 * ";x" and "compatible = ;x" a comment.  bundle_create() parses what
	 * it formats and refuses such bundles, so they never reach a guest.
	 * What parses back must be what was read. */
	if (bundle_manifest_parse(text, (size_t)len, &again, &err) < 0)
		return 0;
	if (memcmp(&m, &again, sizeof m) != 0)
		fuzz_fail("the manifest changed in a format/parse round trip:\n%s", text);
	return 0;
}
