/* reader.c: reads and verifies a bundle as a stream (see updater/bundle/bundle.h). */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "bundle/bundle.h"
#include "extract/tar_gate.h"
#include "text.h"

static const char *const bundle_members[] = { "manifest.ini", "manifest.sig", "blocks.sha256",
					      "delta.index", "payload" };
enum { MEMBER_INDEX = 3, MEMBER_PAYLOAD = 4 };

/* The raw bundle, read through the container gate before libarchive. */
struct container {
	int fd, failed, eof;
	struct tar_gate gate;
	struct error err;
	unsigned char buf[64 << 10];
};

struct reader {
	struct archive *archive;
	struct container *container;
	const struct bundle_reader_options *options;
	struct bundle_manifest manifest;
	unsigned char *hashes;		/* the blocks.sha256 member: block_count entries */
	size_t entry;			/* bytes per entry: 32, or 36 in format 2 */
	size_t block_max;		/* the longest block */
	unsigned char *block;		/* one block, as stored, decrypted in place */
	EVP_CIPHER_CTX *cipher;
	EVP_MD_CTX *payload_hash;
};

/* libarchive's read callback: every byte passes the gate first. */
static la_ssize_t container_read(struct archive *a, void *context, const void **buf)
{
	struct container *c = context;
	ssize_t n;

	*buf = c->buf;
	if (c->failed)
		return -1;
	do
		n = read(c->fd, c->buf, sizeof c->buf);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		error_errno(&c->err, "bundle: read");
	} else if (n == 0) {
		c->eof = 1;
		return 0;
	} else if (tar_gate_feed(&c->gate, c->buf, (size_t)n, &c->err) == 0) {
		return n;
	}
	if (n > 0)
		error_prefix(&c->err, "bundle: not a bundle container: ");
	c->failed = 1;
	archive_set_error(a, EINVAL, "%s", c->err.text);
	return -1;
}

/* After the last member: the rest must be zero padding, then the end. */
static int container_finish(struct container *c, struct error *err)
{
	const void *buf;

	while (!c->failed && !c->eof && container_read(NULL, c, &buf) > 0)
		;
	if (!c->failed && tar_gate_finish(&c->gate, &c->err) < 0) {
		error_prefix(&c->err, "bundle: not a bundle container: ");
		c->failed = 1;
	}
	if (c->failed)
		*err = c->err;
	return c->failed ? -1 : 0;
}

/* The error explaining a libarchive failure: the gate's, if it stopped it. */
static int reader_archive_error(struct reader *r, const char *what, struct error *err)
{
	if (r->container->failed) {
		*err = r->container->err;
		return -1;
	}
	return error_set(err, "bundle: %s: %s", what, archive_error_string(r->archive));
}

static int reader_sha256(const void *data, size_t len, char hex[65])
{
	unsigned char digest[32];

	if (EVP_Digest(data, len, digest, NULL, EVP_sha256(), NULL) != 1)
		return -1;
	bundle_hex(digest, 32, hex);
	return 0;
}

/* The next member must be `index`: a regular file of at most max bytes. */
static int reader_next_member(struct reader *r, unsigned index, uint64_t max, uint64_t *size,
			      struct error *err)
{
	struct archive_entry *entry;
	const char *name;
	char shown[128];
	int rc = archive_read_next_header(r->archive, &entry);

	/* the payload is the 4th member before format 3, the 5th in it */
	unsigned shown_at = index == MEMBER_PAYLOAD && r->manifest.format != BUNDLE_FORMAT_DELTA ?
			    index : index + 1;

	if (rc == ARCHIVE_EOF)
		return error_set(err, "bundle: member %u '%s' is missing (truncated?)", shown_at,
				 bundle_members[index]);
	if (rc != ARCHIVE_OK)
		return reader_archive_error(r, "not a bundle", err);
	name = archive_entry_pathname(entry);
	if (!name || strcmp(name, bundle_members[index]) != 0)
		return error_set(err, "bundle: member %u is '%s', expected '%s'", shown_at,
				 text_sanitize(name ? name : "", shown, sizeof shown),
				 bundle_members[index]);
	if (archive_entry_filetype(entry) != AE_IFREG || !archive_entry_size_is_set(entry))
		return error_set(err, "bundle: member '%s' is not a regular file",
				 bundle_members[index]);
	*size = (uint64_t)archive_entry_size(entry);
	if (*size > max)
		return error_set(err, "bundle: member '%s' is %llu bytes, more than %llu",
				 bundle_members[index], (unsigned long long)*size,
				 (unsigned long long)max);
	return 0;
}

/* Reads exactly len bytes of the current member. */
static int reader_read(struct reader *r, void *buf, size_t len, const char *what,
		       struct error *err)
{
	size_t done = 0;
	la_ssize_t n;

	while (done < len) {
		n = archive_read_data(r->archive, (char *)buf + done, len - done);
		if (n < 0)
			return reader_archive_error(r, what, err);
		if (n == 0)
			return error_set(err, "bundle: %s: truncated", what);
		done += (size_t)n;
	}
	return 0;
}

/* Reads a small member whole (NUL-terminated for text). */
static char *reader_small_member(struct reader *r, unsigned index, uint64_t max, size_t *len,
				 struct error *err)
{
	uint64_t size;
	char *buf;

	if (reader_next_member(r, index, max, &size, err) < 0)
		return NULL;
	buf = malloc((size_t)size + 1);
	if (!buf) {
		error_errno(err, "bundle");
		return NULL;
	}
	if (reader_read(r, buf, (size_t)size, bundle_members[index], err) < 0) {
		free(buf);
		return NULL;
	}
	buf[size] = '\0';
	*len = (size_t)size;
	return buf;
}

/* The signature is verified over the manifest's bytes before one of them is
 * interpreted: a forged manifest never reaches the INI parser.  Only
 * inspection (no keyring) parses an unverified manifest, to print it. */
static int reader_manifest(struct reader *r, struct error *err)
{
	char *text = NULL, *sig = NULL, signer[sizeof r->manifest.signer] = "";
	size_t text_len, sig_len;
	int rc = -1;

	text = reader_small_member(r, 0, BUNDLE_MANIFEST_MAX, &text_len, err);
	sig = text ? reader_small_member(r, 1, BUNDLE_SIGNATURE_MAX, &sig_len, err) : NULL;
	if (!sig)
		goto out;
	if (!r->options->keyring_path)
		rc = bundle_signature_signer(sig, sig_len, signer, sizeof signer, err);
	else
		rc = bundle_signature_verify(text, text_len, sig, sig_len, r->options,
					     signer, sizeof signer, err);
	if (rc < 0)
		goto out;
	rc = -1;
	if (bundle_manifest_parse(text, text_len, &r->manifest, err) < 0)
		goto out;
	text_sanitize(signer, r->manifest.signer, sizeof r->manifest.signer);
	if (reader_sha256(text, text_len, r->manifest.digest) < 0) {
		error_set(err, "bundle: sha256 failed");
		goto out;
	}
	rc = 0;
out:
	free(text);
	free(sig);
	return rc;
}

/* Block i's stored length: fixed in format 1, from the signed list in 2. */
static size_t reader_block_len(const struct reader *r, uint32_t index, uint64_t left)
{
	const unsigned char *e = r->hashes + (size_t)index * r->entry;

	if (r->manifest.format == BUNDLE_FORMAT_BLOCKS)
		return left < r->manifest.block_size ? (size_t)left : r->manifest.block_size;
	return (size_t)e[0] << 24 | (size_t)e[1] << 16 | (size_t)e[2] << 8 | e[3];
}

/* Format 2: the signed lengths are each 1 .. BUNDLE_MEMBER_MAX(chunk_size)
 * and add up to the payload's size, so every member's boundaries are known
 * and bounded before the payload is read: a member holding a bomb costs at
 * most that, whatever it decodes to. */
static int reader_block_lengths(struct reader *r, struct error *err)
{
	const struct bundle_manifest *m = &r->manifest;
	uint64_t total = 0;
	size_t len, max = BUNDLE_MEMBER_MAX(m->chunk_size);

	r->block_max = m->block_size;
	if (m->format == BUNDLE_FORMAT_BLOCKS)
		return 0;
	r->block_max = 0;
	for (uint32_t i = 0; i < m->block_count; i++) {
		len = reader_block_len(r, i, 0);
		if (len == 0 || len > max)
			return error_set(err, "bundle: blocks.sha256: block %u is %zu bytes, not 1 to "
					 "%zu (chunk_size %u)", i, len, max, m->chunk_size);
		total += len;
		if (len > r->block_max)
			r->block_max = len;
	}
	if (total != m->payload_size)
		return error_set(err, "bundle: blocks.sha256: blocks of %llu bytes in all, the "
				 "manifest says %llu", (unsigned long long)total,
				 (unsigned long long)m->payload_size);
	return 0;
}

/* The hash list's size is checked against the manifest before a byte of it
 * is read or allocated. */
static int reader_hash_list(struct reader *r, struct error *err)
{
	size_t expected;
	uint64_t size;
	char hex[65];

	r->entry = r->manifest.format == BUNDLE_FORMAT_BLOCKS ? 32 : BUNDLE_ENTRY_CHUNKED;
	expected = (size_t)r->manifest.block_count * r->entry;
	if (reader_next_member(r, 2, UINT64_MAX, &size, err) < 0)
		return -1;
	if (size != expected)
		return error_set(err, "bundle: blocks.sha256 is %llu bytes, the manifest says %u "
				 "blocks (%zu bytes)", (unsigned long long)size,
				 r->manifest.block_count, expected);
	r->hashes = malloc(expected);
	if (!r->hashes)
		return error_errno(err, "bundle");
	if (reader_read(r, r->hashes, expected, "blocks.sha256", err) < 0)
		return -1;
	if (reader_sha256(r->hashes, expected, hex) < 0 || strcmp(hex, r->manifest.blocks_sha256))
		return error_set(err, "bundle: blocks.sha256 does not match the signed manifest");
	return reader_block_lengths(r, err);
}

/* Format 3: delta.index, its size and hash checked against the manifest
 * (its records are read by bundle_index.h), copied to index_fd if >= 0. */
static int reader_index(struct reader *r, int index_fd, struct error *err)
{
	unsigned char digest[32], buf[16 << 10];
	uint64_t size, left;
	EVP_MD_CTX *md;
	char hex[65];
	size_t n;
	int rc = -1;

	if (r->manifest.format != BUNDLE_FORMAT_DELTA)
		return 0;
	if (reader_next_member(r, MEMBER_INDEX, r->manifest.index_size, &size, err) < 0)
		return -1;
	if (size != r->manifest.index_size)
		return error_set(err, "bundle: delta.index is %llu bytes, the manifest says %llu",
				 (unsigned long long)size, (unsigned long long)r->manifest.index_size);
	md = EVP_MD_CTX_new();
	if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		error_set(err, "bundle: sha256 failed");
		goto out;
	}
	for (left = size; left > 0; left -= n) {
		n = left < sizeof buf ? (size_t)left : sizeof buf;

		if (reader_read(r, buf, n, "delta.index", err) < 0)
			goto out;
		if (EVP_DigestUpdate(md, buf, n) != 1) {
			error_set(err, "bundle: sha256 failed");
			goto out;
		}
		if (index_fd >= 0 && atomic_write_all(index_fd, buf, n) < 0) {
			error_errno(err, "delta.index: write");
			goto out;
		}
	}
	if (EVP_DigestFinal_ex(md, digest, NULL) != 1) {
		error_set(err, "bundle: sha256 failed");
		goto out;
	}
	bundle_hex(digest, 32, hex);
	if (strcmp(hex, r->manifest.index_sha256)) {
		error_set(err, "bundle: delta.index does not match the signed manifest");
		goto out;
	}
	rc = 0;
out:
	EVP_MD_CTX_free(md);
	return rc;
}

static int reader_setup_cipher(struct reader *r, struct error *err)
{
	unsigned char key[32], iv[16];
	char key_id[33];
	unsigned value;
	int i, rc = -1;

	if (!strcmp(r->manifest.encryption, "none"))
		return 0;
	if (!r->options->decrypt_key_path)
		return error_set(err, "bundle: payload is encrypted (key id %s) and no "
				 "decryption key is configured", r->manifest.key_id);
	if (bundle_key_load(r->options->decrypt_key_path, key, err) < 0)
		return -1;
	bundle_key_id(key, key_id);
	if (strcmp(key_id, r->manifest.key_id) != 0) {
		error_set(err, "bundle: wrong decryption key: %s has key id %s, the bundle needs %s",
			  r->options->decrypt_key_path, key_id, r->manifest.key_id);
		goto out;
	}
	for (i = 0; i < 16; i++) {
		sscanf(r->manifest.iv + 2 * i, "%2x", &value);
		iv[i] = (unsigned char)value;
	}
	r->cipher = EVP_CIPHER_CTX_new();
	if (!r->cipher || EVP_DecryptInit_ex(r->cipher, EVP_aes_256_ctr(), NULL, key, iv) != 1) {
		error_set(err, "bundle: cannot set up AES-256-CTR");
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(key, sizeof key);
	return rc;
}

/* One block: hash it, compare, only then decrypt and hand it out. */
static int reader_block(struct reader *r, uint32_t index, size_t len, bundle_payload_fn on_payload,
			void *ctx, struct error *err)
{
	unsigned char digest[32];
	int plain_len;

	if (EVP_Digest(r->block, len, digest, NULL, EVP_sha256(), NULL) != 1 ||
	    CRYPTO_memcmp(digest, r->hashes + (size_t)index * r->entry + (r->entry - 32), 32) != 0)
		return error_set(err, "bundle: payload block %u of %u does not match its signed hash",
				 index, r->manifest.block_count);
	if (EVP_DigestUpdate(r->payload_hash, r->block, len) != 1)
		return error_set(err, "bundle: sha256 failed");
	/* CTR is a stream cipher: in place is allowed and saves a block */
	if (r->cipher && (EVP_DecryptUpdate(r->cipher, r->block, &plain_len, r->block,
					    (int)len) != 1 || (size_t)plain_len != len))
		return error_set(err, "bundle: decryption of block %u failed", index);
	return on_payload ? on_payload(r->block, len, ctx, err) : 0;
}

static int reader_payload(struct reader *r, bundle_payload_fn on_payload, void *ctx,
			  struct error *err)
{
	struct bundle_manifest *m = &r->manifest;
	unsigned char digest[32];
	char what[64], hex[65];
	uint64_t size, left;
	uint32_t index;
	size_t len;

	if (reader_next_member(r, MEMBER_PAYLOAD, UINT64_MAX, &size, err) < 0)
		return -1;
	if (size != m->payload_size)
		return error_set(err, "bundle: payload is %llu bytes, the manifest says %llu",
				 (unsigned long long)size, (unsigned long long)m->payload_size);
	r->block = malloc(r->block_max);	/* <= BUNDLE_BLOCK_MAX: manifest and list said so */
	r->payload_hash = EVP_MD_CTX_new();
	if (!r->block || !r->payload_hash ||
	    EVP_DigestInit_ex(r->payload_hash, EVP_sha256(), NULL) != 1)
		return error_set(err, "bundle: out of memory");
	for (index = 0, left = size; left > 0; index++, left -= len) {
		len = reader_block_len(r, index, left);
		snprintf(what, sizeof what, "payload block %u of %u", index, m->block_count);
		if (reader_read(r, r->block, len, what, err) < 0 ||
		    reader_block(r, index, len, on_payload, ctx, err) < 0)
			return -1;
	}
	if (EVP_DigestFinal_ex(r->payload_hash, digest, NULL) != 1)
		return error_set(err, "bundle: sha256 failed");
	bundle_hex(digest, 32, hex);
	if (strcmp(hex, m->payload_sha256) != 0)
		return error_set(err, "bundle: payload sha256 does not match the manifest");
	return 0;
}

static int reader_end(struct reader *r, struct error *err)
{
	struct archive_entry *entry;
	int rc = archive_read_next_header(r->archive, &entry);
	const char *name;
	char shown[128];

	if (rc == ARCHIVE_EOF)
		return container_finish(r->container, err);
	if (rc == ARCHIVE_OK) {
		name = archive_entry_pathname(entry);
		return error_set(err, "bundle: an extra member after the payload ('%s')",
				 text_sanitize(name ? name : "", shown, sizeof shown));
	}
	return reader_archive_error(r, "after the payload", err);
}

/* The container open through its gate, libarchive reading it. */
static int reader_open(struct reader *r, int fd, struct error *err)
{
	r->container = calloc(1, sizeof *r->container);
	r->archive = archive_read_new();
	if (!r->container || !r->archive)
		return error_set(err, "bundle: out of memory");
	r->container->fd = fd;
	tar_gate_init(&r->container->gate, TAR_GATE_CONTAINER, TAR_GATE_TRAILER_MAX);
	if (archive_read_support_format_tar(r->archive) != ARCHIVE_OK ||
	    archive_read_open(r->archive, r->container, NULL, container_read, NULL) != ARCHIVE_OK)
		return reader_archive_error(r, "not a bundle", err);
	return 0;
}

static void reader_close(struct reader *r)
{
	if (r->archive)
		archive_read_free(r->archive);
	EVP_CIPHER_CTX_free(r->cipher);
	EVP_MD_CTX_free(r->payload_hash);
	free(r->hashes);
	free(r->block);
	free(r->container);
}

int bundle_read(int fd, const struct bundle_reader_options *options,
		bundle_manifest_fn on_manifest, bundle_payload_fn on_payload, void *ctx,
		struct error *err)
{
	struct reader r = { .options = options };
	int rc = -1;

	if (reader_open(&r, fd, err) < 0 || reader_manifest(&r, err) < 0)
		goto out;
	if (!options->keyring_path) {	/* inspect: the manifest is all we want */
		rc = on_manifest ? on_manifest(&r.manifest, ctx, err) : 0;
		goto out;
	}
	if (reader_hash_list(&r, err) < 0 || reader_index(&r, -1, err) < 0 ||
	    reader_setup_cipher(&r, err) < 0)
		goto out;
	rc = on_manifest ? on_manifest(&r.manifest, ctx, err) : 0;
	if (rc != 0)
		goto out;	/* refused (-1), or no payload wanted (1) */
	rc = -1;
	if (reader_payload(&r, on_payload, ctx, err) < 0 || reader_end(&r, err) < 0)
		goto out;
	rc = 0;
out:
	reader_close(&r);
	return rc;
}

int bundle_read_head(int fd, const struct bundle_reader_options *options, int index_fd,
		     struct bundle_head *head, struct error *err)
{
	struct reader r = { .options = options };
	uint64_t size;
	int rc = -1;

	memset(head, 0, sizeof *head);
	if (!options->keyring_path)
		return error_set(err, "bundle: no keyring to verify it with");
	if (reader_open(&r, fd, err) < 0 || reader_manifest(&r, err) < 0 ||
	    reader_hash_list(&r, err) < 0 || reader_index(&r, index_fd, err) < 0 ||
	    reader_next_member(&r, MEMBER_PAYLOAD, UINT64_MAX, &size, err) < 0)
		goto out;
	if (size != r.manifest.payload_size) {
		error_set(err, "bundle: payload is %llu bytes, the manifest says %llu",
			  (unsigned long long)size, (unsigned long long)r.manifest.payload_size);
		goto out;
	}
	/* the gate admits plain ustar headers only: one 512-byte header */
	head->payload_offset = (uint64_t)archive_read_header_position(r.archive) + 512;
	head->manifest = r.manifest;
	head->hashes = r.hashes;
	r.hashes = NULL;
	rc = 0;
out:
	reader_close(&r);
	return rc;
}

void bundle_head_free(struct bundle_head *head)
{
	free(head->hashes);
	head->hashes = NULL;
}

uint32_t bundle_head_block_len(const struct bundle_head *head, uint32_t i)
{
	const unsigned char *e = head->hashes + (size_t)i * BUNDLE_ENTRY_CHUNKED;

	return (uint32_t)e[0] << 24 | (uint32_t)e[1] << 16 | (uint32_t)e[2] << 8 | e[3];
}
