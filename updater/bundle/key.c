/* key.c: payload encryption keys: files of 64 hex characters. */
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bundle/bundle.h"

void bundle_hex(const unsigned char *bytes, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[bytes[i] >> 4];
		out[2 * i + 1] = digits[bytes[i] & 15];
	}
	out[2 * len] = '\0';
}

int bundle_key_load(const char *path, unsigned char key[32], struct error *err)
{
	char text[80];
	unsigned value;
	ssize_t n;
	int fd, i, rc = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return error_errno(err, "%s", path);
	n = read(fd, text, sizeof text - 1);
	close(fd);
	if (n < 0)
		return error_errno(err, "%s", path);
	text[n] = '\0';
	if (n >= 64 && strspn(text, "0123456789abcdefABCDEF") == 64 &&
	    (n == 64 || (n == 65 && text[64] == '\n'))) {
		for (i = 0; i < 32; i++) {
			sscanf(text + 2 * i, "%2x", &value);
			key[i] = (unsigned char)value;
		}
		rc = 0;
	} else {
		error_set(err, "%s: not a key file (64 hex characters expected)", path);
	}
	OPENSSL_cleanse(text, sizeof text);
	return rc;
}

void bundle_key_id(const unsigned char key[32], char id[33])
{
	static const char label[] = "slotd-key-id:";
	unsigned char digest[32];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	memset(digest, 0, sizeof digest);
	if (ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, label, sizeof label - 1) == 1 &&
	    EVP_DigestUpdate(ctx, key, 32) == 1)
		EVP_DigestFinal_ex(ctx, digest, NULL);
	EVP_MD_CTX_free(ctx);
	bundle_hex(digest, 16, id);
}
