/* writer.c: bundle_create(): payload, hashes, manifest, signature, one file. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "bundle/bundle.h"
#include "bundle/bundle_index.h"

struct writer {
	const struct bundle_create_options *options;
	struct bundle_manifest manifest;
	int plain_fd, stored_fd, out_fd, dir_fd;
	int index_fd;			/* format 3: delta.index, else -1 */
	char out_name[256], tmp_name[256 + 8];
	unsigned char *hashes;		/* the blocks.sha256 member */
	unsigned char key[32];
	unsigned char *block, *stored;	/* buffer_size each */
	size_t buffer_size;
	uint32_t *members, member_count;	/* format 2: stored length of each member */
};

/* An unnamed temp file beside the output: never left behind. */
static int writer_temp(const struct writer *w, struct error *err)
{
	int fd = openat(w->dir_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd < 0)
		return error_errno(err, "%s: temporary file", w->options->output);
	return fd;
}

static int writer_read_block(int fd, unsigned char *buf, size_t len, size_t *got)
{
	ssize_t n;

	*got = 0;
	while (*got < len) {
		n = read(fd, buf + *got, len - *got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		*got += (size_t)n;
	}
	return 0;
}

/* The next block's length: format 1 cuts fixed blocks, format 2 one per member. */
static size_t writer_block_len(const struct writer *w)
{
	const struct bundle_manifest *m = &w->manifest;

	if (m->format == BUNDLE_FORMAT_BLOCKS)
		return m->block_size;
	return m->block_count < w->member_count ? w->members[m->block_count] : 0;
}

/* The hash list entry of the block just stored (FORMAT.md). */
static int writer_entry(struct writer *w, const unsigned char *stored, size_t len)
{
	struct bundle_manifest *m = &w->manifest;
	size_t entry = m->format == BUNDLE_FORMAT_BLOCKS ? 32 : BUNDLE_ENTRY_CHUNKED;
	unsigned char *e;

	if (m->block_count == BUNDLE_BLOCKS_MAX)
		return -1;	/* the chunker refuses first, with the reason */

	e = reallocarray(w->hashes, (size_t)m->block_count + 1, entry);
	if (!e)
		return -1;
	w->hashes = e;
	e += (size_t)m->block_count * entry;
	if (entry == BUNDLE_ENTRY_CHUNKED) {
		e[0] = (unsigned char)(len >> 24);
		e[1] = (unsigned char)(len >> 16);
		e[2] = (unsigned char)(len >> 8);
		e[3] = (unsigned char)len;
		e += 4;
	}
	return EVP_Digest(stored, len, e, NULL, EVP_sha256(), NULL) == 1 ? 0 : -1;
}

static int writer_list_digest(struct writer *w, const unsigned char *whole_digest)
{
	struct bundle_manifest *m = &w->manifest;
	size_t entry = m->format == BUNDLE_FORMAT_BLOCKS ? 32 : BUNDLE_ENTRY_CHUNKED;
	unsigned char digest[32];

	bundle_hex(whole_digest, 32, m->payload_sha256);
	if (EVP_Digest(w->hashes, (size_t)m->block_count * entry, digest, NULL, EVP_sha256(),
		       NULL) != 1)
		return -1;
	bundle_hex(digest, 32, m->blocks_sha256);
	return 0;
}

static EVP_CIPHER_CTX *writer_cipher(struct writer *w, struct error *err)
{
	struct bundle_manifest *m = &w->manifest;
	EVP_CIPHER_CTX *cipher;
	unsigned char iv[16];

	if (bundle_key_load(w->options->encrypt_key_path, w->key, err) < 0)
		return NULL;
	cipher = EVP_CIPHER_CTX_new();
	if (!cipher || RAND_bytes(iv, sizeof iv) != 1 ||
	    EVP_EncryptInit_ex(cipher, EVP_aes_256_ctr(), NULL, w->key, iv) != 1) {
		EVP_CIPHER_CTX_free(cipher);
		error_set(err, "%s: cannot set up AES-256-CTR", w->options->output);
		return NULL;
	}
	bundle_hex(iv, sizeof iv, m->iv);
	bundle_key_id(w->key, m->key_id);
	return cipher;
}

/* Encrypts (optionally) the plain payload into the stored one, hashing each
 * stored block.  CTR runs on across blocks: one key stream for the payload. */
static int writer_blocks(struct writer *w, struct error *err)
{
	struct bundle_manifest *m = &w->manifest;
	EVP_MD_CTX *whole = EVP_MD_CTX_new();
	EVP_CIPHER_CTX *cipher = NULL;
	unsigned char digest[32];
	size_t got, len;
	int out_len, rc = -1;

	if (!whole || EVP_DigestInit_ex(whole, EVP_sha256(), NULL) != 1)
		goto fail;
	if (w->options->encrypt_key_path && !(cipher = writer_cipher(w, err)))
		goto out;
	if (lseek(w->plain_fd, 0, SEEK_SET) < 0)
		goto fail;
	while ((len = writer_block_len(w)) > 0) {
		if (writer_read_block(w->plain_fd, w->block, len, &got) < 0)
			goto fail;
		if (got == 0 && m->format == BUNDLE_FORMAT_BLOCKS)
			break;
		if (got != len && m->format != BUNDLE_FORMAT_BLOCKS) {
			error_set(err, "%s: payload: member %u is short", w->options->output,
				  m->block_count);
			goto out;
		}
		const unsigned char *stored = w->block;
		if (cipher) {
			if (EVP_EncryptUpdate(cipher, w->stored, &out_len, w->block, (int)got) != 1)
				goto fail;
			stored = w->stored;
		}
		if (writer_entry(w, stored, got) < 0 || EVP_DigestUpdate(whole, stored, got) != 1 ||
		    atomic_write_all(w->stored_fd, stored, got) < 0)
			goto fail;
		m->block_count++;
		m->payload_size += got;
	}
	if (EVP_DigestFinal_ex(whole, digest, NULL) != 1 || writer_list_digest(w, digest) < 0)
		goto fail;
	rc = 0;
	goto out;
fail:
	error_errno(err, "%s: payload", w->options->output);
out:
	EVP_CIPHER_CTX_free(cipher);
	EVP_MD_CTX_free(whole);
	return rc;
}

/* Format 3: the index's size and SHA-256 for the manifest. */
static int writer_index_digest(struct writer *w, struct error *err)
{
	struct bundle_manifest *m = &w->manifest;
	EVP_MD_CTX *md;
	unsigned char digest[32];
	size_t got;
	int rc = -1;

	if (w->index_fd < 0)
		return 0;
	md = EVP_MD_CTX_new();
	if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    lseek(w->index_fd, 0, SEEK_SET) < 0)
		goto fail;
	do {
		if (writer_read_block(w->index_fd, w->block, w->buffer_size, &got) < 0 ||
		    EVP_DigestUpdate(md, w->block, got) != 1)
			goto fail;
		m->index_size += got;
	} while (got > 0);
	if (EVP_DigestFinal_ex(md, digest, NULL) != 1)
		goto fail;
	bundle_hex(digest, 32, m->index_sha256);
	rc = 0;
	if (m->index_size > BUNDLE_INDEX_MAX)
		rc = error_set(err, "delta.index: %llu bytes, more than a guest reads (%u)",
			       (unsigned long long)m->index_size, BUNDLE_INDEX_MAX);
	goto out;
fail:
	error_errno(err, "delta.index");
out:
	EVP_MD_CTX_free(md);
	return rc;
}

static int writer_member(struct archive *a, const char *name, int64_t size, int64_t mtime,
			 struct error *err)
{
	struct archive_entry *entry = archive_entry_new();
	int rc = 0;

	if (!entry)
		return error_errno(err, "%s", name);
	archive_entry_set_pathname(entry, name);
	archive_entry_set_filetype(entry, AE_IFREG);
	archive_entry_set_perm(entry, 0644);
	archive_entry_set_size(entry, size);
	archive_entry_set_mtime(entry, mtime, 0);
	if (archive_write_header(a, entry) != ARCHIVE_OK)
		rc = error_set(err, "%s: %s", name, archive_error_string(a));
	archive_entry_free(entry);
	return rc;
}

static int writer_data(struct archive *a, const void *data, size_t len, struct error *err)
{
	if (len && archive_write_data(a, data, len) != (la_ssize_t)len)
		return error_set(err, "bundle: %s", archive_error_string(a));
	return 0;
}

/* A temp file's bytes as the current member's data. */
static int writer_copy(struct writer *w, struct archive *a, int fd, struct error *err)
{
	size_t got;

	if (lseek(fd, 0, SEEK_SET) < 0)
		return error_errno(err, "payload");
	do {
		if (writer_read_block(fd, w->block, w->buffer_size, &got) < 0)
			return error_errno(err, "payload");
		if (writer_data(a, w->block, got, err) < 0)
			return -1;
	} while (got > 0);
	return 0;
}

/* The outer ustar: manifest.ini, manifest.sig, blocks.sha256, payload. */
static int writer_container(struct writer *w, const char *manifest, size_t manifest_len,
			    const unsigned char *sig, size_t sig_len, struct error *err)
{
	const struct bundle_manifest *m = &w->manifest;
	struct archive *a = archive_write_new();
	size_t list_len = (size_t)m->block_count *
			       (m->format == BUNDLE_FORMAT_BLOCKS ? 32 : BUNDLE_ENTRY_CHUNKED);
	int rc = -1;

	if (!a || archive_write_set_format_ustar(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
	    archive_write_open_fd(a, w->out_fd) != ARCHIVE_OK) {
		error_set(err, "bundle: %s", a ? archive_error_string(a) : "no memory");
		goto out;
	}
	if (writer_member(a, "manifest.ini", (int64_t)manifest_len, m->created, err) < 0 ||
	    writer_data(a, manifest, manifest_len, err) < 0 ||
	    writer_member(a, "manifest.sig", (int64_t)sig_len, m->created, err) < 0 ||
	    writer_data(a, sig, sig_len, err) < 0 ||
	    writer_member(a, "blocks.sha256", (int64_t)list_len, m->created, err) < 0 ||
	    writer_data(a, w->hashes, list_len, err) < 0)
		goto out;
	if (m->format == BUNDLE_FORMAT_DELTA &&
	    (writer_member(a, "delta.index", (int64_t)m->index_size, m->created, err) < 0 ||
	     writer_copy(w, a, w->index_fd, err) < 0))
		goto out;
	if (writer_member(a, "payload", (int64_t)m->payload_size, m->created, err) < 0 ||
	    writer_copy(w, a, w->stored_fd, err) < 0)
		goto out;
	if (archive_write_close(a) != ARCHIVE_OK) {
		error_set(err, "bundle: %s", archive_error_string(a));
		goto out;
	}
	rc = 0;
out:
	if (a)
		archive_write_free(a);
	return rc;
}

/* Gives the finished temp file its name: link it in, then make it durable. */
static int writer_publish(struct writer *w, struct error *err)
{
	char proc[64];

	while (fsync(w->out_fd) < 0)
		if (errno != EINTR)
			return error_errno(err, "%s: fsync", w->options->output);
	/* O_TMPFILE made it 0600; a bundle is for publishing. */
	if (fchmod(w->out_fd, 0644) < 0)
		return error_errno(err, "%s: chmod", w->options->output);
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", w->out_fd);
	unlinkat(w->dir_fd, w->tmp_name, 0);
	if (linkat(AT_FDCWD, proc, w->dir_fd, w->tmp_name, AT_SYMLINK_FOLLOW) < 0)
		return error_errno(err, "%s: link", w->options->output);
	if (renameat(w->dir_fd, w->tmp_name, w->dir_fd, w->out_name) < 0)
		return error_errno(err, "%s: rename", w->options->output);
	return atomic_fsync_dir(w->dir_fd, w->options->output, err);
}

static int writer_open_dir(struct writer *w, struct error *err)
{
	char copy[PATH_MAX];

	if (snprintf(copy, sizeof copy, "%s", w->options->output) >= (int)sizeof copy)
		return error_set(err, "%s: path too long", w->options->output);
	snprintf(w->out_name, sizeof w->out_name, "%s", basename(copy));
	snprintf(w->tmp_name, sizeof w->tmp_name, ".%s.tmp", w->out_name);
	snprintf(copy, sizeof copy, "%s", w->options->output);
	w->dir_fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->dir_fd < 0)
		return error_errno(err, "%s: directory", w->options->output);
	return 0;
}

/* The manifest's fixed part, from the options; 0 or -1 for bad options. */
static int writer_setup(struct writer *w, struct error *err)
{
	const struct bundle_create_options *o = w->options;
	struct bundle_manifest *m = &w->manifest;

	m->format = o->format ? o->format : BUNDLE_FORMAT;
	if (m->format < BUNDLE_FORMAT_BLOCKS || m->format > BUNDLE_FORMAT_DELTA)
		return error_set(err, "bundle format %u: not 1, 2 or 3", m->format);
	/* the index's hashes of the plain tar would let anyone test guesses
	 * about an encrypted payload (docs/decisions.md D27) */
	if (m->format == BUNDLE_FORMAT_DELTA && o->encrypt_key_path)
		return error_set(err, "format 3 (delta updates) cannot be encrypted: its index "
				 "describes the plain tar; use --format 2");
	m->created = o->created;
	if (m->format == BUNDLE_FORMAT_BLOCKS) {
		m->block_size = BUNDLE_BLOCK_SIZE;
	} else {
		m->chunk_size = o->chunk_size ? o->chunk_size : BUNDLE_CHUNK_SIZE;
		if (m->chunk_size < BUNDLE_CHUNK_MIN || m->chunk_size > BUNDLE_CHUNK_MAX)
			return error_set(err, "chunk size %u: not %u to %u bytes", m->chunk_size,
					 BUNDLE_CHUNK_MIN, BUNDLE_CHUNK_MAX);
	}
	snprintf(m->version, sizeof m->version, "%s", o->version);
	snprintf(m->compatible, sizeof m->compatible, "%s", o->compatible);
	/* zstd decodes faster than gzip at a smaller size (D24); format 1 keeps
	 * gzip, whose one-stream decoder needs no 2 MiB window on old guests */
	snprintf(m->compression, sizeof m->compression, "%s", o->compression ? o->compression :
		 m->format != BUNDLE_FORMAT_BLOCKS ? "zstd" : "gzip");
	snprintf(m->encryption, sizeof m->encryption, "%s",
		 o->encrypt_key_path ? "aes-256-ctr" : "none");
	w->buffer_size = BUNDLE_BLOCK_MAX;	/* a block of either format fits */
	w->block = malloc(w->buffer_size);
	w->stored = malloc(w->buffer_size);
	if (!w->block || !w->stored)
		return error_errno(err, "bundle");
	return 0;
}

int bundle_create(const struct bundle_create_options *options, struct error *err)
{
	struct writer w = { .options = options, .plain_fd = -1, .stored_fd = -1, .out_fd = -1,
			    .dir_fd = -1, .index_fd = -1 };
	struct bundle_manifest *m = &w.manifest;
	char manifest[BUNDLE_MANIFEST_MAX];
	unsigned char *sig = NULL;
	size_t sig_len;
	int len, rc = -1;

	if (writer_setup(&w, err) < 0)
		goto out;
	if (writer_open_dir(&w, err) < 0 || (w.plain_fd = writer_temp(&w, err)) < 0 ||
	    (w.stored_fd = writer_temp(&w, err)) < 0 || (w.out_fd = writer_temp(&w, err)) < 0)
		goto out;
	if (m->format == BUNDLE_FORMAT_DELTA && ((w.index_fd = writer_temp(&w, err)) < 0 ||
						 atomic_write_all(w.index_fd, BUNDLE_INDEX_MAGIC, 8) < 0))
		goto out;
	if (bundle_payload_write(w.plain_fd, options->directory, m->compression, m->created,
				 m->chunk_size, w.index_fd, &w.members, &w.member_count, err) < 0 ||
	    writer_blocks(&w, err) < 0 || writer_index_digest(&w, err) < 0)
		goto out;
	len = bundle_manifest_format(m, manifest, sizeof manifest);
	/* Parse what we wrote: the packager learns of a bad version or
	 * compatible string here, not on a guest. */
	struct bundle_manifest check;
	if (len < 0 || bundle_manifest_parse(manifest, (size_t)len, &check, err) < 0)
		goto out;
	if (bundle_signature_create(manifest, (size_t)len, options->key_path, options->cert_path,
				    options->signing_time, &sig, &sig_len, err) < 0 ||
	    writer_container(&w, manifest, (size_t)len, sig, sig_len, err) < 0 ||
	    writer_publish(&w, err) < 0)
		goto out;
	rc = 0;
out:
	OPENSSL_free(sig);
	OPENSSL_cleanse(w.key, sizeof w.key);
	free(w.hashes);
	free(w.members);
	free(w.block);
	free(w.stored);
	if (w.plain_fd >= 0)
		close(w.plain_fd);
	if (w.stored_fd >= 0)
		close(w.stored_fd);
	if (w.out_fd >= 0)
		close(w.out_fd);
	if (w.dir_fd >= 0)
		close(w.dir_fd);
	if (w.index_fd >= 0)
		close(w.index_fd);
	return rc;
}
