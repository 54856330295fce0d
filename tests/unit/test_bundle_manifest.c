/* test_bundle_manifest.c: the manifest rules of packaging/FORMAT.md, one
 * refusal each, naming the key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "bundle/bundle.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* A valid manifest with one line replaced (or added when `add`). */
static int parse_with(const char *key, const char *line, struct error *err)
{
	static const char *const lines[] = {
		"[bundle]", "format = 1", "compatible = g", "version = v1.0.0",
		"created = 0", "[payload]", "size = 3000000", "sha256 = " HEX64,
		"compression = gzip", "encryption = none", "block_size = 1048576",
		"block_count = 3", "blocks_sha256 = " HEX64,
	};
	struct bundle_manifest m;
	char text[4096];
	size_t used = 0;
	int replaced = 0;

	for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) {
		const char *l = lines[i];

		if (key && !strncmp(l, key, strlen(key)) && l[strlen(key)] == ' ') {
			l = line;
			replaced = 1;
		}
		if (l[0])
			used += (size_t)snprintf(text + used, sizeof text - used, "%s\n", l);
	}
	if (key && !replaced)
		used += (size_t)snprintf(text + used, sizeof text - used, "%s\n", line);
	return bundle_manifest_parse(text, used, &m, err);
}

static void refused(const char *key, const char *line, const char *why)
{
	struct error err = { "" };

	if (parse_with(key, line, &err) == 0)
		fail_msg("'%s' accepted", line);
	if (!strstr(err.text, why))
		fail_msg("'%s': error '%s' does not mention '%s'", line, err.text, why);
}

static void test_valid(void **state)
{
	struct error err = { "" };

	(void)state;
	if (parse_with(NULL, NULL, &err) < 0)
		fail_msg("%s", err.text);
}

static void test_hex_is_lower_case(void **state)
{
	(void)state;
	refused("sha256", "sha256 = 0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
		"sha256: not a SHA-256 hex digest");
	refused("blocks_sha256", "blocks_sha256 = " HEX64 "0", "blocks_sha256: not a SHA-256");
}

static void test_size_range(void **state)
{
	(void)state;
	refused("size", "size = 0", "size: not a size");
	refused("size", "size = 8589934592", "size: not a size");
	refused("size", "size = 18446744073709551615", "size: not a size");	/* 2^64-1 */
	refused("size", "size = 3000001x", "size: not a size");
	refused("size", "size = 4000000", "block_count: 3 blocks do not cover 4000000 bytes");
}

static void test_blocks(void **state)
{
	(void)state;
	refused("block_size", "block_size = 2097152", "block_size: not a block size");
	refused("block_size", "block_size = 4095", "block_size: not a block size");
	refused("block_size", "block_size = 4104", "block_size: not a block size");
	refused("block_count", "block_count = 16385", "block_count: not a block count");
	refused("block_count", "block_count = 0", "block_count: not a block count");
}

static void test_values(void **state)
{
	(void)state;
	refused("compression", "compression = none", "compression: not one of gzip, xz, zstd");
	refused("compression", "compression = GZIP", "compression: not one of gzip, xz, zstd");
	refused("encryption", "encryption = aes-128-ctr", "encryption: not one of");
	refused("encryption", "encryption = aes-256-ctr", "needs iv and key_id");
	refused("iv", "iv = 000102030405060708090a0b0c0d0e0f", "iv/key_id given without encryption");
	refused("format", "format = 4", "format: unsupported format version");
	refused("format", "format = 0", "format: unsupported format version");
	refused("compatible", "compatible = g\x1b[2J", "compatible: not printable ASCII");
	refused("colour", "colour = blue", "[payload] colour: unknown key");
	refused("extra", "size = 3000000", "[payload] size: given twice");
	refused("version", "", "[bundle] version: missing");
}

/* Format 3: format 2's keys and a [delta] section naming the index; never
 * encrypted; no other format has a [delta] section. */
static int parse_format3(unsigned format, const char *payload_extra, const char *delta,
			 struct error *err)
{
	struct bundle_manifest m;
	char text[4096];
	int len = snprintf(text, sizeof text,
			   "[bundle]\nformat = %u\ncompatible = g\nversion = v1.0.0\ncreated = 0\n"
			   "[payload]\nsize = 300000\nsha256 = " HEX64 "\ncompression = zstd\n"
			   "%schunk_size = 131072\nblock_count = 3\nblocks_sha256 = " HEX64 "\n%s",
			   format, payload_extra, delta);

	return bundle_manifest_parse(text, (size_t)len, &m, err);
}

static void test_format3(void **state)
{
	const char *delta = "[delta]\nindex_size = 200\nindex_sha256 = " HEX64 "\n";
	struct error err = { "" };

	(void)state;
	assert_int_equal(parse_format3(3, "encryption = none\n", delta, &err), 0);
	assert_int_equal(parse_format3(3, "encryption = none\n", "", &err), -1);
	assert_non_null(strstr(err.text, "[delta] index_size: missing"));
	assert_int_equal(parse_format3(2, "encryption = none\n", delta, &err), -1);
	assert_non_null(strstr(err.text, "[delta] index_size: not a key of format 2"));
	assert_int_equal(parse_format3(3, "encryption = aes-256-ctr\niv = " "000102030405060708090a0b0c0d0e0f"
				       "\nkey_id = 000102030405060708090a0b0c0d0e0f\n", delta, &err), -1);
	assert_non_null(strstr(err.text, "format 3 is never encrypted"));
	assert_int_equal(parse_format3(3, "encryption = none\n",
				       "[delta]\nindex_size = 33554433\nindex_sha256 = " HEX64 "\n",
				       &err), -1);
	assert_non_null(strstr(err.text, "index_size: not an index size"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_hex_is_lower_case),
		cmocka_unit_test(test_size_range),
		cmocka_unit_test(test_blocks),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_format3),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
