/*
 * crypto.h — what the three crypto files share:
 *   crypto.c       `native.crypto`: digests, HMAC, random bytes, encodings
 *   crypto_kdf.c   `native.crypto_kdf`: pbkdf2, scrypt, hkdf (sync + threadpool)
 *   crypto_pkey.c  `native.crypto_pkey`: sign, verify, key pair generation
 *
 * luster does no cryptography of its own: every primitive is OpenSSL 3's.
 * Failures never leave anything on OpenSSL's per-thread error queue (a
 * later, unrelated call must not see a stale error): whoever reads an error
 * clears the queue.
 */
#ifndef LSTR_CRYPTO_H
#define LSTR_CRYPTO_H

#include "lstr.h"
#include <openssl/evp.h>

/* The digest named `name` ('sha256', 'SHA256', 'RSA-SHA256', 'sha3-256',
 * ...), fetched once per process and kept; NULL when OpenSSL has none.
 * Thread-safe; the result must not be freed. */
const EVP_MD *lstr_crypto_digest(const char *name);

/* The same for a Lua argument: raises ERR_CRYPTO_INVALID_DIGEST when unknown. */
const EVP_MD *lstr_crypto_check_digest(lua_State *L, int idx);

/* Copy OpenSSL's oldest queued error into buf as "<lib> routines::<reason>"
 * and a Node-style code ("ERR_OSSL_<REASON>"), then clear the queue.
 * Without a queued error, `fallback` is used for both. */
void lstr_crypto_take_error(char *code, size_t codelen, char *msg, size_t msglen,
                            const char *fallback);

/* Push an error table from the OpenSSL error queue (cleared) and return
 * lua_error's result. */
int lstr_crypto_error(lua_State *L, const char *fallback);

#endif
