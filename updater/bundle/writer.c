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
#include "bundle.h"

struct writer {
	const struct bundle_create_options *options;
	struct bundle_manifest manifest;
	int plain_fd, stored_fd, out_fd, dir_fd;
	char out_name[256], tmp_name[256 + 8];
	unsigned char *hashes;
	unsigned char key[32];
	unsigned char *block, *stored;
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

/* Encrypts (optionally) the plain payload into the stored one, hashing each stored block. */
static int writer_blocks(struct writer *w, struct error *err)
{
	struct bundle_manifest *m = &w->manifest;
	EVP_MD_CTX *whole = EVP_MD_CTX_new();
	EVP_CIPHER_CTX *cipher = NULL;
	unsigned char iv[16], digest[32];
	size_t got, cap = 0;
	int out_len, rc = -1;

	if (!whole || EVP_DigestInit_ex(whole, EVP_sha256(), NULL) != 1)
		goto fail;
	if (w->options->encrypt_key_path) {
		if (bundle_key_load(w->options->encrypt_key_path, w->key, err) < 0)
			goto out;
		if (RAND_bytes(iv, sizeof iv) != 1)
			goto fail;
		bundle_hex(iv, sizeof iv, m->iv);
		bundle_key_id(w->key, m->key_id);
		cipher = EVP_CIPHER_CTX_new();
		if (!cipher || EVP_EncryptInit_ex(cipher, EVP_aes_256_ctr(), NULL, w->key, iv) != 1)
			goto fail;
	}
	if (lseek(w->plain_fd, 0, SEEK_SET) < 0)
		goto fail;
	for (;;) {
		if (writer_read_block(w->plain_fd, w->block, m->block_size, &got) < 0)
			goto fail;
		if (got == 0)
			break;
		const unsigned char *stored = w->block;
		if (cipher) {
			if (EVP_EncryptUpdate(cipher, w->stored, &out_len, w->block, (int)got) != 1)
				goto fail;
			stored = w->stored;
		}
		if ((size_t)m->block_count * 32 + 32 > cap) {
			cap = cap ? 2 * cap : 4096;
			unsigned char *grown = realloc(w->hashes, cap);
			if (!grown)
				goto fail;
			w->hashes = grown;
		}
		if (EVP_Digest(stored, got, w->hashes + (size_t)m->block_count * 32, NULL,
			       EVP_sha256(), NULL) != 1 ||
		    EVP_DigestUpdate(whole, stored, got) != 1 ||
		    atomic_write_all(w->stored_fd, stored, got) < 0)
			goto fail;
		m->block_count++;
		m->payload_size += got;
	}
	if (EVP_DigestFinal_ex(whole, digest, NULL) != 1)
		goto fail;
	bundle_hex(digest, 32, m->payload_sha256);
	if (EVP_Digest(w->hashes, (size_t)m->block_count * 32, digest, NULL, EVP_sha256(),
		       NULL) != 1)
		goto fail;
	bundle_hex(digest, 32, m->blocks_sha256);
	rc = 0;
	goto out;
fail:
	error_errno(err, "%s: payload", w->options->output);
out:
	EVP_CIPHER_CTX_free(cipher);
	EVP_MD_CTX_free(whole);
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

/* The outer ustar: manifest.ini, manifest.sig, blocks.sha256, payload. */
static int writer_container(struct writer *w, const char *manifest, size_t manifest_len,
			    const unsigned char *sig, size_t sig_len, struct error *err)
{
	const struct bundle_manifest *m = &w->manifest;
	struct archive *a = archive_write_new();
	size_t got;
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
	    writer_member(a, "blocks.sha256", (int64_t)m->block_count * 32, m->created, err) < 0 ||
	    writer_data(a, w->hashes, (size_t)m->block_count * 32, err) < 0 ||
	    writer_member(a, "payload", (int64_t)m->payload_size, m->created, err) < 0)
		goto out;
	if (lseek(w->stored_fd, 0, SEEK_SET) < 0) {
		error_errno(err, "payload");
		goto out;
	}
	do {
		if (writer_read_block(w->stored_fd, w->block, m->block_size, &got) < 0) {
			error_errno(err, "payload");
			goto out;
		}
		if (writer_data(a, w->block, got, err) < 0)
			goto out;
	} while (got > 0);
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

int bundle_create(const struct bundle_create_options *options, struct error *err)
{
	struct writer w = { .options = options, .plain_fd = -1, .stored_fd = -1, .out_fd = -1,
			    .dir_fd = -1 };
	struct bundle_manifest *m = &w.manifest;
	char manifest[BUNDLE_MANIFEST_MAX];
	unsigned char *sig = NULL;
	size_t sig_len;
	int len, rc = -1;

	m->format = BUNDLE_FORMAT;
	m->created = options->created;
	m->block_size = BUNDLE_BLOCK_SIZE;
	snprintf(m->version, sizeof m->version, "%s", options->version);
	snprintf(m->compatible, sizeof m->compatible, "%s", options->compatible);
	snprintf(m->compression, sizeof m->compression, "%s",
		 options->compression ? options->compression : "gzip");
	snprintf(m->encryption, sizeof m->encryption, "%s",
		 options->encrypt_key_path ? "aes-256-ctr" : "none");
	w.block = malloc(m->block_size);
	w.stored = malloc(m->block_size);
	if (!w.block || !w.stored) {
		error_errno(err, "bundle");
		goto out;
	}
	if (writer_open_dir(&w, err) < 0 || (w.plain_fd = writer_temp(&w, err)) < 0 ||
	    (w.stored_fd = writer_temp(&w, err)) < 0 || (w.out_fd = writer_temp(&w, err)) < 0)
		goto out;
	if (bundle_payload_write(w.plain_fd, options->directory, m->compression, m->created,
				 err) < 0 || writer_blocks(&w, err) < 0)
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
	return rc;
}
