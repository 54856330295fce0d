/* manifest.c: the manifest.ini of a bundle (keys in packaging/FORMAT.md). */
#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle/bundle.h"
#include "ini_text.h"
#include "number.h"
#include "version.h"

struct manifest_parse {
	struct bundle_manifest *m;
	struct error *err;
	int failed;
	unsigned seen;
};

enum { KEY_FORMAT, KEY_COMPATIBLE, KEY_VERSION, KEY_CREATED, KEY_SIZE, KEY_SHA256,
       KEY_COMPRESSION, KEY_ENCRYPTION, KEY_IV, KEY_KEY_ID, KEY_BLOCK_SIZE, KEY_CHUNK_SIZE,
       KEY_BLOCK_COUNT, KEY_BLOCKS_SHA256, KEY_INDEX_SIZE, KEY_INDEX_SHA256, KEY_COUNT };

/* required: 1 in every format, 0 optional; block_size, chunk_size and the
 * [delta] keys are required by their format (manifest_check). */
static const struct {
	const char *section, *name;
	int required;
} manifest_keys[KEY_COUNT] = {
	[KEY_FORMAT] = { "bundle", "format", 1 },
	[KEY_COMPATIBLE] = { "bundle", "compatible", 1 },
	[KEY_VERSION] = { "bundle", "version", 1 },
	[KEY_CREATED] = { "bundle", "created", 1 },
	[KEY_SIZE] = { "payload", "size", 1 },
	[KEY_SHA256] = { "payload", "sha256", 1 },
	[KEY_COMPRESSION] = { "payload", "compression", 1 },
	[KEY_ENCRYPTION] = { "payload", "encryption", 1 },
	[KEY_IV] = { "payload", "iv", 0 },
	[KEY_KEY_ID] = { "payload", "key_id", 0 },
	[KEY_BLOCK_SIZE] = { "payload", "block_size", 0 },
	[KEY_CHUNK_SIZE] = { "payload", "chunk_size", 0 },
	[KEY_BLOCK_COUNT] = { "payload", "block_count", 1 },
	[KEY_BLOCKS_SHA256] = { "payload", "blocks_sha256", 1 },
	[KEY_INDEX_SIZE] = { "delta", "index_size", 0 },
	[KEY_INDEX_SHA256] = { "delta", "index_sha256", 0 },
};

static int manifest_hex(const char *value, size_t digits, char *out)
{
	if (strlen(value) != digits || strspn(value, "0123456789abcdef") != digits)
		return -1;
	memcpy(out, value, digits + 1);
	return 0;
}

static int manifest_text(const char *value, char *out, size_t size)
{
	if (strlen(value) >= size || !value[0])
		return -1;
	memcpy(out, value, strlen(value) + 1);
	return 0;
}

/* Stores one key; returns a complaint or NULL. */
static const char *manifest_store(struct bundle_manifest *m, int key, const char *v)
{
	unsigned long long n;

	switch (key) {
	case KEY_FORMAT:
		if (number_parse(v, 1000, &n) < 0)
			return "not a number";
		if (n < BUNDLE_FORMAT_BLOCKS || n > BUNDLE_FORMAT_DELTA)
			return "unsupported format version (1, 2 or 3)";
		m->format = (unsigned)n;
		return NULL;
	case KEY_COMPATIBLE:
		return manifest_text(v, m->compatible, sizeof m->compatible) ? "bad value" : NULL;
	case KEY_VERSION: {
		struct version parsed;
		if (version_parse(v, &parsed, NULL) < 0)
			return "not a version string";
		return manifest_text(v, m->version, sizeof m->version) ? "bad value" : NULL;
	}
	case KEY_CREATED:
		if (number_parse(v, INT64_MAX, &n) < 0)
			return "not a UNIX time";
		m->created = (int64_t)n;
		return NULL;
	case KEY_SIZE:
		if (number_parse(v, BUNDLE_PAYLOAD_MAX, &n) < 0 || n == 0)
			return "not a size (1 to 8589934591 bytes)";
		m->payload_size = n;
		return NULL;
	case KEY_SHA256:
		return manifest_hex(v, 64, m->payload_sha256) ? "not a SHA-256 hex digest" : NULL;
	case KEY_COMPRESSION:
		if (strcmp(v, "gzip") && strcmp(v, "xz") && strcmp(v, "zstd"))
			return "not one of gzip, xz, zstd";
		strcpy(m->compression, v);
		return NULL;
	case KEY_ENCRYPTION:
		if (strcmp(v, "none") && strcmp(v, "aes-256-ctr"))
			return "not one of none, aes-256-ctr";
		strcpy(m->encryption, v);
		return NULL;
	case KEY_IV:
		return manifest_hex(v, 32, m->iv) ? "not 16 bytes of hex" : NULL;
	case KEY_KEY_ID:
		return manifest_hex(v, 32, m->key_id) ? "not 16 bytes of hex" : NULL;
	case KEY_BLOCK_SIZE:
		if (number_parse(v, BUNDLE_BLOCK_MAX, &n) < 0 || n < BUNDLE_BLOCK_MIN || n % 16)
			return "not a block size (4096 to 1048576, a multiple of 16)";
		m->block_size = (uint32_t)n;
		return NULL;
	case KEY_CHUNK_SIZE:
		if (number_parse(v, BUNDLE_CHUNK_MAX, &n) < 0 || n < BUNDLE_CHUNK_MIN)
			return "not a chunk size (65536 to 983040)";
		m->chunk_size = (uint32_t)n;
		return NULL;
	case KEY_BLOCK_COUNT:
		if (number_parse(v, BUNDLE_BLOCKS_MAX, &n) < 0 || n == 0)
			return "not a block count (1 to 16384)";
		m->block_count = (uint32_t)n;
		return NULL;
	case KEY_BLOCKS_SHA256:
		return manifest_hex(v, 64, m->blocks_sha256) ? "not a SHA-256 hex digest" : NULL;
	case KEY_INDEX_SIZE:
		if (number_parse(v, BUNDLE_INDEX_MAX, &n) < 0 || n < 8)
			return "not an index size (8 to 33554432)";
		m->index_size = n;
		return NULL;
	case KEY_INDEX_SHA256:
		return manifest_hex(v, 64, m->index_sha256) ? "not a SHA-256 hex digest" : NULL;
	}
	return "unknown key";
}

static int manifest_handle(void *user, const char *section, const char *name, const char *value)
{
	struct manifest_parse *p = user;
	const char *complaint = "unknown key";
	int key;

	if (p->failed)
		return 0;
	for (const char *c = value; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e) {
			p->failed = 1;
			return error_set(p->err, "manifest.ini: [%s] %s: not printable ASCII",
					 section, name), 0;
		}
	for (key = 0; key < KEY_COUNT; key++) {
		if (strcmp(manifest_keys[key].section, section) || strcmp(manifest_keys[key].name, name))
			continue;
		complaint = (p->seen & (1u << key)) ? "given twice" : manifest_store(p->m, key, value);
		p->seen |= 1u << key;
		break;
	}
	if (!complaint)
		return 1;
	p->failed = 1;
	error_set(p->err, "manifest.ini: [%s] %s: %s", section, name, complaint);
	return 0;
}

/* The keys that depend on the format: format 1 cuts the stored payload into
 * block_size blocks; format 2 stores one member per block, each block's
 * length in the hash list, so only bounds can be checked here. */
static int manifest_check_blocks(const struct bundle_manifest *m, unsigned seen,
				 struct error *err)
{
	int chunked = m->format != BUNDLE_FORMAT_BLOCKS;
	int own = chunked ? KEY_CHUNK_SIZE : KEY_BLOCK_SIZE, other = chunked ? KEY_BLOCK_SIZE :
								  KEY_CHUNK_SIZE;
	uint64_t blocks;

	if (!(seen & (1u << own)))
		return error_set(err, "manifest.ini: [payload] %s: missing", manifest_keys[own].name);
	if (seen & (1u << other))
		return error_set(err, "manifest.ini: [payload] %s: not a key of format %u",
				 manifest_keys[other].name, m->format);
	if (chunked) {
		/* every block holds 1 .. BUNDLE_MEMBER_MAX(chunk_size) bytes */
		if (m->block_count > m->payload_size ||
		    (uint64_t)m->block_count * BUNDLE_MEMBER_MAX(m->chunk_size) < m->payload_size)
			return error_set(err, "manifest.ini: [payload] block_count: %u blocks of 1 to "
					 "%u bytes cannot hold %" PRIu64 " bytes", m->block_count,
					 BUNDLE_MEMBER_MAX(m->chunk_size), m->payload_size);
		return 0;
	}
	blocks = (m->payload_size + m->block_size - 1) / m->block_size;
	if (blocks != m->block_count)
		return error_set(err, "manifest.ini: [payload] block_count: %u blocks do not cover "
				 "%" PRIu64 " bytes", m->block_count, m->payload_size);
	return 0;
}

/* Format 3 names its index, and is never encrypted (D30); no other format
 * has an index. */
static int manifest_check_delta(const struct bundle_manifest *m, unsigned seen,
				struct error *err)
{
	for (int key = KEY_INDEX_SIZE; key <= KEY_INDEX_SHA256; key++) {
		if (m->format == BUNDLE_FORMAT_DELTA && !(seen & (1u << key)))
			return error_set(err, "manifest.ini: [delta] %s: missing",
					 manifest_keys[key].name);
		if (m->format != BUNDLE_FORMAT_DELTA && (seen & (1u << key)))
			return error_set(err, "manifest.ini: [delta] %s: not a key of format %u",
					 manifest_keys[key].name, m->format);
	}
	if (m->format == BUNDLE_FORMAT_DELTA && strcmp(m->encryption, "none"))
		return error_set(err, "manifest.ini: [payload] encryption: format 3 is never "
				 "encrypted");
	return 0;
}

/* Cross-key rules: sizes agree, encryption has what it needs. */
static int manifest_check(const struct bundle_manifest *m, unsigned seen, struct error *err)
{
	int key;

	for (key = 0; key < KEY_COUNT; key++)
		if (manifest_keys[key].required && !(seen & (1u << key)))
			return error_set(err, "manifest.ini: [%s] %s: missing",
					 manifest_keys[key].section, manifest_keys[key].name);
	if (manifest_check_blocks(m, seen, err) < 0 || manifest_check_delta(m, seen, err) < 0)
		return -1;
	if (!strcmp(m->encryption, "aes-256-ctr") && (!m->iv[0] || !m->key_id[0]))
		return error_set(err, "manifest.ini: [payload] encryption aes-256-ctr needs iv and key_id");
	if (!strcmp(m->encryption, "none") && (m->iv[0] || m->key_id[0]))
		return error_set(err, "manifest.ini: [payload] iv/key_id given without encryption");
	return 0;
}

int bundle_manifest_parse(const char *text, size_t len, struct bundle_manifest *m,
			  struct error *err)
{
	struct manifest_parse p = { .m = m, .err = err };
	char *copy;
	int line;

	memset(m, 0, sizeof *m);
	if (ini_text_check(text, len, "manifest.ini", err) < 0)
		return -1;
	copy = strndup(text, len);
	if (!copy)
		return error_errno(err, "manifest.ini");
	line = ini_parse_string(copy, manifest_handle, &p);
	free(copy);
	if (line != 0) {
		if (!p.failed)
			error_set(err, "manifest.ini:%d: syntax error", line);
		return -1;
	}
	return manifest_check(m, p.seen, err);
}

int bundle_manifest_format(const struct bundle_manifest *m, char *buf, size_t len)
{
	char blocks[64], delta[192] = "";
	int n;

	if (m->format != BUNDLE_FORMAT_BLOCKS)
		snprintf(blocks, sizeof blocks, "chunk_size = %u\n", m->chunk_size);
	else
		snprintf(blocks, sizeof blocks, "block_size = %u\n", m->block_size);
	if (m->format == BUNDLE_FORMAT_DELTA)
		snprintf(delta, sizeof delta, "[delta]\nindex_size = %" PRIu64 "\nindex_sha256 = %s\n",
			 m->index_size, m->index_sha256);
	n = snprintf(buf, len,
		     "# slotd bundle manifest: signed by manifest.sig\n"
		     "[bundle]\nformat = %u\ncompatible = %s\nversion = %s\ncreated = %" PRId64 "\n"
		     "[payload]\nsize = %" PRIu64 "\nsha256 = %s\ncompression = %s\nencryption = %s\n"
		     "%s%s%s%s%s%s"
		     "%sblock_count = %u\nblocks_sha256 = %s\n%s",
		     m->format, m->compatible, m->version, m->created, m->payload_size,
		     m->payload_sha256, m->compression, m->encryption,
		     m->iv[0] ? "iv = " : "", m->iv, m->iv[0] ? "\n" : "",
		     m->key_id[0] ? "key_id = " : "", m->key_id, m->key_id[0] ? "\n" : "",
		     blocks, m->block_count, m->blocks_sha256, delta);
	return (n < 0 || (size_t)n >= len) ? -1 : n;
}
