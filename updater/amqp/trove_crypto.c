/* trove_crypto.c: see include/trove_crypto.h (OpenSSL EVP only). */
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "trove_crypto.h"

/* The AES key: the MD5 of rpc_key, as 32 lowercase hex characters. */
static int trove_key(const char *rpc_key, unsigned char key[32])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md5[16];
	int i;

	if (EVP_Digest(rpc_key, strlen(rpc_key), md5, NULL, EVP_md5(), NULL) != 1)
		return -1;
	for (i = 0; i < 16; i++) {
		key[2 * i] = (unsigned char)digits[md5[i] >> 4];
		key[2 * i + 1] = (unsigned char)digits[md5[i] & 15];
	}
	return 0;
}

/* base64 to bytes; *out malloc()ed. */
static int trove_unbase64(const char *b64, unsigned char **out, int *out_len)
{
	EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
	int len = (int)strlen(b64), n = 0, tail = 0, rc = -1;

	*out = malloc((size_t)len + 1);
	if (!ctx || !*out)
		goto out;
	EVP_DecodeInit(ctx);
	if (EVP_DecodeUpdate(ctx, *out, &n, (const unsigned char *)b64, len) < 0 ||
	    EVP_DecodeFinal(ctx, *out + n, &tail) != 1)
		goto out;
	*out_len = n + tail;
	rc = 0;
out:
	EVP_ENCODE_CTX_free(ctx);
	if (rc < 0) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

int trove_decrypt(const char *rpc_key, const char *b64, char **json_text, struct error *err)
{
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char key[32], *raw = NULL, *plain = NULL;
	int raw_len = 0, n = 0, tail = 0, rc = -1;
	json_t *check;

	*json_text = NULL;
	if (trove_unbase64(b64, &raw, &raw_len) < 0 || raw_len < 32 || (raw_len - 16) % 16) {
		error_set(err, "encrypted value is not base64 of IV and AES blocks");
		goto out;
	}
	plain = malloc((size_t)raw_len + 1);
	ctx = EVP_CIPHER_CTX_new();
	if (!plain || !ctx || trove_key(rpc_key, key) < 0 ||
	    EVP_DecryptInit_ex(ctx, EVP_aes_256_cbc(), NULL, key, raw) != 1 ||
	    EVP_DecryptUpdate(ctx, plain, &n, raw + 16, raw_len - 16) != 1 ||
	    EVP_DecryptFinal_ex(ctx, plain + n, &tail) != 1) {
		error_set(err, "cannot decrypt the message: wrong [amqp] rpc_key?");
		goto out;
	}
	plain[n + tail] = '\0';
	check = json_loads((char *)plain, JSON_DECODE_ANY, NULL);
	if (!check) {
		error_set(err, "decrypted value is not JSON: wrong [amqp] rpc_key?");
		goto out;
	}
	json_decref(check);
	*json_text = (char *)plain;
	plain = NULL;
	rc = 0;
out:
	OPENSSL_cleanse(key, sizeof key);
	EVP_CIPHER_CTX_free(ctx);
	free(raw);
	free(plain);
	return rc;
}

int trove_encrypt(const char *rpc_key, const char *json_text, char **b64, struct error *err)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	size_t len = strlen(json_text);
	unsigned char key[32], *raw = malloc(len + 48);
	int n = 0, tail = 0, rc = -1;

	*b64 = NULL;
	if (!ctx || !raw || trove_key(rpc_key, key) < 0 || RAND_bytes(raw, 16) != 1 ||
	    EVP_EncryptInit_ex(ctx, EVP_aes_256_cbc(), NULL, key, raw) != 1 ||
	    EVP_EncryptUpdate(ctx, raw + 16, &n, (const unsigned char *)json_text, (int)len) != 1 ||
	    EVP_EncryptFinal_ex(ctx, raw + 16 + n, &tail) != 1) {
		error_set(err, "cannot encrypt the message");
		goto out;
	}
	*b64 = malloc(((size_t)(16 + n + tail) + 2) / 3 * 4 + 1);
	if (!*b64) {
		error_set(err, "out of memory");
		goto out;
	}
	EVP_EncodeBlock((unsigned char *)*b64, raw, 16 + n + tail);
	rc = 0;
out:
	OPENSSL_cleanse(key, sizeof key);
	EVP_CIPHER_CTX_free(ctx);
	free(raw);
	return rc;
}
