/* signature.c: CMS detached signatures over the manifest (OpenSSL 3).
 *
 * Verification, in order, each refusal naming the signer's subject:
 *   1. the signature is one SignerInfo whose signature over the manifest
 *      verifies with the certificate it carries;
 *   2. that certificate chains to the keyring (bundle_keyring_store: a file
 *      or a directory of CAs), at the current time, with the CRLs if any,
 *      for OpenSSL's S/MIME signing purpose: a certificate with an
 *      extendedKeyUsage must allow emailProtection, and a keyUsage, if
 *      present, must allow digitalSignature;
 *   3. with allowed_signers, its subject's one CN is on the list;
 *   4. with max_age_ms, its signingTime attribute is fresh (signer.c).
 * Steps 1 and 2 are `openssl cms -verify -binary -inform DER -in manifest.sig
 * -content manifest.ini -CAfile ca.pem -out /dev/null` (with CRLs: ca.pem
 * holding the CAs and their CRLs, and -crl_check_all).  They are split here
 * so that a refused chain says why (revoked, expired, unknown issuer) and of
 * which certificate; CMS_verify() would only say "certificate verify error". */
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bundle/bundle.h"
#include "bundle/bundle_keyring.h"

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

/* The one SignerInfo: several would each need the whole policy. */
static CMS_SignerInfo *signature_signer_info(CMS_ContentInfo *cms, struct error *err)
{
	STACK_OF(CMS_SignerInfo) *infos = CMS_get0_SignerInfos(cms);

	if (!infos || sk_CMS_SignerInfo_num(infos) != 1) {
		error_set(err, "manifest.sig: %d signers, exactly one expected",
			  infos ? sk_CMS_SignerInfo_num(infos) : 0);
		return NULL;
	}
	return sk_CMS_SignerInfo_value(infos, 0);
}

/* Step 1: the signature over data, with the certificate in the signature. */
static X509 *signature_check(CMS_ContentInfo *cms, const void *data, size_t len,
			     struct error *err)
{
	STACK_OF(X509) *signers;
	X509 *cert = NULL;
	BIO *content;
	char reason[256];

	/* A buffer BIO over the memory BIO, not the memory BIO itself: given a
	 * memory BIO, OpenSSL 3.0's CMS_verify copies it and leaks the copy when
	 * the signature names no usable digest (openssl/openssl#30471; found by
	 * fuzz_bundle). */
	content = BIO_new(BIO_f_buffer());
	if (content)
		BIO_push(content, BIO_new_mem_buf(data, (int)len));
	if (!content || !BIO_next(content) ||
	    CMS_verify(cms, NULL, NULL, content, NULL,
		       CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY) != 1) {
		error_set(err, "manifest.sig: signature does not verify (%s)",
			  signature_openssl_error(reason, sizeof reason));
	} else {
		signers = CMS_get0_signers(cms);
		if (signers && sk_X509_num(signers) == 1) {
			cert = sk_X509_value(signers, 0);
			X509_up_ref(cert);
		} else {
			error_set(err, "manifest.sig: no signer certificate");
		}
		sk_X509_free(signers);
	}
	BIO_free_all(content);
	return cert;
}

/* OpenSSL's words for "no CA of ours issued it" are obscure. */
static const char *signature_hint(int code)
{
	switch (code) {
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
		return ": it does not chain to the keyring";
	case X509_V_ERR_UNABLE_TO_GET_CRL:
		return ": the CRLs lack one from its issuer";
	}
	return "";
}

/* Step 2: the signer's chain to the keyring; the certificates the signature
 * carries may serve as intermediates, never as anchors. */
static int signature_chain(CMS_ContentInfo *cms, X509 *cert, X509_STORE *store,
			   const char *subject, struct error *err)
{
	STACK_OF(X509) *untrusted = CMS_get1_certs(cms);
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	char reason[256], at_subject[256];
	X509 *at;
	int code, rc = -1;

	if (!ctx || X509_STORE_CTX_init(ctx, store, cert, untrusted) != 1 ||
	    X509_STORE_CTX_set_default(ctx, "smime_sign") != 1) {
		error_set(err, "manifest.sig: cannot check the signer's chain (%s)",
			  signature_openssl_error(reason, sizeof reason));
		goto out;
	}
	if (X509_verify_cert(ctx) == 1) {
		rc = 0;
		goto out;
	}
	code = X509_STORE_CTX_get_error(ctx);
	at = X509_STORE_CTX_get_current_cert(ctx);
	if (at && X509_cmp(at, cert) != 0)
		signature_subject(at, at_subject, sizeof at_subject);
	else
		at_subject[0] = '\0';
	error_set(err, "manifest.sig: signer %s refused: %s%s%s%s%s", subject,
		  X509_verify_cert_error_string(code), at_subject[0] ? " (certificate " : "",
		  at_subject, at_subject[0] ? ")" : "", signature_hint(code));
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	sk_X509_pop_free(untrusted, X509_free);
	return rc;
}

/* The subject's only CN, as UTF-8. */
static int signature_cn(X509 *cert, char *cn, size_t len, struct error *err)
{
	const X509_NAME *name = X509_get_subject_name(cert);
	int at = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	unsigned char *utf8 = NULL;
	int n = -1;

	if (at >= 0 && X509_NAME_get_index_by_NID(name, NID_commonName, at) < 0)
		n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, at)));
	if (n < 0 || (size_t)n >= len || memchr(utf8, '\0', (size_t)n)) {
		OPENSSL_free(utf8);
		ERR_clear_error();
		return error_set(err, "its subject has no single readable CN");
	}
	memcpy(cn, utf8, (size_t)n);
	cn[n] = '\0';
	OPENSSL_free(utf8);
	return 0;
}

/* The signingTime signed attribute (authenticated by step 1). */
static int signature_time(CMS_SignerInfo *si, int64_t *when, struct error *err)
{
	int at = CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1);
	X509_ATTRIBUTE *attr;
	ASN1_TYPE *value = NULL;
	struct tm tm;

	if (at < 0)
		return error_set(err, "no signing time (the signingTime attribute), which the "
				 "maximum bundle age needs");
	attr = CMS_signed_get_attr(si, at);
	if (CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, at) < 0 &&
	    X509_ATTRIBUTE_count(attr) == 1)
		value = X509_ATTRIBUTE_get0_type(attr, 0);
	if (!value || (value->type != V_ASN1_UTCTIME && value->type != V_ASN1_GENERALIZEDTIME) ||
	    ASN1_TIME_to_tm(value->value.utctime, &tm) != 1) {
		ERR_clear_error();
		return error_set(err, "malformed signing time");
	}
	*when = (int64_t)timegm(&tm);
	return 0;
}

/* Steps 3 and 4. */
static int signature_policy(CMS_SignerInfo *si, X509 *cert,
			    const struct bundle_reader_options *trust, struct error *err)
{
	char cn[256];
	int64_t when = 0;

	if (trust->allowed_signers && trust->allowed_signers[0] &&
	    (signature_cn(cert, cn, sizeof cn, err) < 0 ||
	     bundle_signer_allowed(cn, trust->allowed_signers, err) < 0))
		return -1;
	if (trust->max_age_ms &&
	    (signature_time(si, &when, err) < 0 ||
	     bundle_signer_fresh(when, (int64_t)time(NULL), trust->max_age_ms, err) < 0))
		return -1;
	return 0;
}

int bundle_signature_verify(const void *data, size_t len, const void *sig, size_t sig_len,
			    const struct bundle_reader_options *trust, char *signer,
			    size_t signer_len, struct error *err)
{
	CMS_ContentInfo *cms;
	CMS_SignerInfo *si;
	X509_STORE *store = NULL;
	X509 *cert = NULL;
	int rc = -1;

	cms = signature_parse(sig, sig_len, err);
	si = cms ? signature_signer_info(cms, err) : NULL;
	cert = si ? signature_check(cms, data, len, err) : NULL;
	if (!cert)
		goto out;
	signature_subject(cert, signer, signer_len);
	store = bundle_keyring_store(trust, err);
	if (!store || signature_chain(cms, cert, store, signer, err) < 0)
		goto out;
	if (signature_policy(si, cert, trust, err) < 0) {
		error_prefix(err, "manifest.sig: signer %s refused: ", signer);
		goto out;
	}
	rc = 0;
out:
	X509_free(cert);
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

/* CMS_sign() with the signingTime set here rather than by OpenSSL, which
 * keeps an attribute it finds: the same signature, at a chosen time. */
static CMS_ContentInfo *signature_sign(X509 *cert, EVP_PKEY *key, BIO *content, int64_t when)
{
	const unsigned flags = CMS_BINARY | CMS_DETACHED;
	CMS_ContentInfo *cms = CMS_sign(NULL, NULL, NULL, NULL, flags | CMS_PARTIAL);
	CMS_SignerInfo *si = cms ? CMS_add1_signer(cms, cert, key, NULL, flags) : NULL;
	ASN1_TIME *at = si ? ASN1_TIME_set(NULL, (time_t)(when ? when : time(NULL))) : NULL;

	if (!at || CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime, at->type, at, -1) != 1 ||
	    CMS_final(cms, content, NULL, flags) != 1) {
		CMS_ContentInfo_free(cms);
		cms = NULL;
	}
	ASN1_TIME_free(at);
	return cms;
}

int bundle_signature_create(const void *data, size_t len, const char *key_path,
			    const char *cert_path, int64_t signing_time, unsigned char **sig,
			    size_t *sig_len, struct error *err)
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
	cms = content ? signature_sign(cert, key, content, signing_time) : NULL;
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
