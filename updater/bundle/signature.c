/* signature.c: CMS detached signatures over the manifest (OpenSSL 3).
 *
 * Trust: the keyring is a PEM file of trusted certificates (CAs or signer
 * certificates themselves).  The signer's certificate travels inside the
 * signature; it must chain to the keyring.  OpenSSL's default S/MIME signing
 * purpose applies: a certificate with an extendedKeyUsage must allow
 * emailProtection, and a keyUsage, if present, must allow digitalSignature.
 * The same check is `openssl cms -verify -binary -inform DER -in manifest.sig
 * -content manifest.ini -CAfile keyring.pem -out /dev/null`. */
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

#include "bundle.h"

/* The first OpenSSL error in the queue, as text, then clears the queue. */
static const char *signature_openssl_error(char *buf, size_t len)
{
	unsigned long code = ERR_peek_last_error();

	if (!code)
		snprintf(buf, len, "unknown OpenSSL error");
	else
		ERR_error_string_n(code, buf, len);
	ERR_clear_error();
	return buf;
}

static void signature_subject(X509 *cert, char *out, size_t len)
{
	X509_NAME_oneline(X509_get_subject_name(cert), out, (int)len);
}

static CMS_ContentInfo *signature_parse(const void *sig, size_t sig_len, struct error *err)
{
	const unsigned char *p = sig;
	CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long)sig_len);
	char reason[256];

	if (!cms)
		error_set(err, "manifest.sig: not a DER CMS signature (%s)",
			  signature_openssl_error(reason, sizeof reason));
	return cms;
}

int bundle_signature_signer(const void *sig, size_t sig_len, char *signer, size_t signer_len,
			    struct error *err)
{
	CMS_ContentInfo *cms = signature_parse(sig, sig_len, err);
	STACK_OF(X509) *certs;

	if (!cms)
		return -1;
	certs = CMS_get1_certs(cms);
	if (certs && sk_X509_num(certs) > 0)
		signature_subject(sk_X509_value(certs, 0), signer, signer_len);
	else
		snprintf(signer, signer_len, "(no certificate in the signature)");
	sk_X509_pop_free(certs, X509_free);
	CMS_ContentInfo_free(cms);
	return 0;
}

int bundle_signature_verify(const void *data, size_t len, const void *sig, size_t sig_len,
			    const char *keyring_path, char *signer, size_t signer_len,
			    struct error *err)
{
	CMS_ContentInfo *cms = NULL;
	X509_STORE *store = NULL;
	STACK_OF(X509) *signers = NULL;
	BIO *content = NULL;
	char reason[256];
	int rc = -1;

	cms = signature_parse(sig, sig_len, err);
	if (!cms)
		goto out;
	store = X509_STORE_new();
	if (!store || X509_STORE_load_file(store, keyring_path) != 1) {
		error_set(err, "%s: cannot load the keyring (%s)", keyring_path,
			  signature_openssl_error(reason, sizeof reason));
		goto out;
	}
	/* A buffer BIO over the memory BIO, not the memory BIO itself: given a
	 * memory BIO, OpenSSL 3.0's CMS_verify copies it and leaks the copy when
	 * the signature names no usable digest (openssl/openssl#30471; found by
	 * fuzz_bundle). */
	content = BIO_new(BIO_f_buffer());
	if (content)
		BIO_push(content, BIO_new_mem_buf(data, (int)len));
	if (!content || !BIO_next(content) ||
	    CMS_verify(cms, NULL, store, content, NULL, CMS_BINARY) != 1) {
		error_set(err, "manifest.sig: signature does not verify against %s (%s)",
			  keyring_path, signature_openssl_error(reason, sizeof reason));
		goto out;
	}
	signers = CMS_get0_signers(cms);
	if (signers && sk_X509_num(signers) > 0)
		signature_subject(sk_X509_value(signers, 0), signer, signer_len);
	rc = 0;
out:
	sk_X509_free(signers);
	BIO_free_all(content);
	X509_STORE_free(store);
	CMS_ContentInfo_free(cms);
	return rc;
}

static void *signature_read_pem(const char *path, int is_key, struct error *err)
{
	char reason[256];
	void *object;
	FILE *file;

	file = fopen(path, "re");
	if (!file) {
		error_errno(err, "%s", path);
		return NULL;
	}
	object = is_key ? (void *)PEM_read_PrivateKey(file, NULL, NULL, NULL) :
			  (void *)PEM_read_X509(file, NULL, NULL, NULL);
	fclose(file);
	if (!object)
		error_set(err, "%s: not a PEM %s (%s)", path, is_key ? "private key" : "certificate",
			  signature_openssl_error(reason, sizeof reason));
	return object;
}

int bundle_signature_create(const void *data, size_t len, const char *key_path,
			    const char *cert_path, unsigned char **sig, size_t *sig_len,
			    struct error *err)
{
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	BIO *content = NULL;
	CMS_ContentInfo *cms = NULL;
	char reason[256];
	int n, rc = -1;

	*sig = NULL;
	key = signature_read_pem(key_path, 1, err);
	cert = key ? signature_read_pem(cert_path, 0, err) : NULL;
	if (!cert)
		goto out;
	if (X509_check_private_key(cert, key) != 1) {
		error_set(err, "%s does not belong to %s", key_path, cert_path);
		goto out;
	}
	content = BIO_new_mem_buf(data, (int)len);
	cms = content ? CMS_sign(cert, key, NULL, content, CMS_BINARY | CMS_DETACHED) : NULL;
	n = cms ? i2d_CMS_ContentInfo(cms, sig) : -1;
	if (n <= 0) {
		error_set(err, "signing failed (%s)", signature_openssl_error(reason, sizeof reason));
		goto out;
	}
	*sig_len = (size_t)n;
	rc = 0;
out:
	CMS_ContentInfo_free(cms);
	BIO_free(content);
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}
