/* trove_crypto.h: Trove's per-instance RPC encryption (docs/wire.md).
 *
 * key  = the ASCII hex MD5 of the instance's rpc_key (32 characters, used as
 *        the 32-byte AES-256 key, as trove/common/crypto_utils.py does)
 * text = base64(IV(16) || AES-256-CBC(key, IV, PKCS#7-padded JSON text))
 * A wrong key is detected (bad padding, or a plaintext that is not JSON) and
 * reported as such, never returned as garbage. */
#ifndef SLOTD_TROVE_CRYPTO_H
#define SLOTD_TROVE_CRYPTO_H

#include "error.h"

/* *json_text is malloc()ed and NUL-terminated. */
int trove_decrypt(const char *rpc_key, const char *b64, char **json_text, struct error *err);
/* *b64 is malloc()ed. */
int trove_encrypt(const char *rpc_key, const char *json_text, char **b64, struct error *err);

#endif
