/* bundle_keyring.h: the trust store bundle signatures are checked against
 * (internal to updater/bundle; the policy is in packaging/KEYS.md).
 *
 * The keyring and the CRLs are each a PEM file or a directory whose *.pem
 * files are all loaded.  Certificates are taken only from the keyring and
 * CRLs only from the CRL path.  With CRLs, the store checks every certificate
 * of a chain (X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL). */
#ifndef SLOTD_BUNDLE_KEYRING_H
#define SLOTD_BUNDLE_KEYRING_H

#include <openssl/x509.h>
#include "bundle/bundle.h"

/* Most *.pem files read from one directory, and most bytes in one file. */
#define BUNDLE_KEYRING_DIR_MAX 256
#define BUNDLE_KEYRING_FILE_MAX (1u << 20)

/* A new store with trust->keyring_path's certificates and, if
 * trust->crl_path is set, its CRLs and the CRL checks; NULL (err names the
 * file) when a file is unreadable, too big, or holds none of what it should. */
X509_STORE *bundle_keyring_store(const struct bundle_reader_options *trust, struct error *err);

#endif
