/*
 * crypto_pkey.c — `native.crypto_pkey`: signatures and key pairs (RSA,
 * RSA-PSS, ECDSA, Ed25519/Ed448, X25519/X448), keys as PEM or DER text.
 *
 * Keys cross the Lua boundary as encoded strings only (PEM by default), so
 * a key can be stored, sent to a worker or compared as plain data; each call
 * decodes it again (decoding is cheap next to the signature itself).
 * Key generation can be slow (RSA), so it also runs on the threadpool.
 * ECDSA signatures are DER as OpenSSL makes them, or IEEE P1363 (r || s,
 * what JWT uses) when asked, converted here.
 */
#include "crypto.h"
#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

/* ---- decoding keys ---- */

/* A private key (PEM or DER, any structure OpenSSL decodes). */
static EVP_PKEY *load_private(const char *p, size_t n, const char *pass) {
  EVP_PKEY *pk = NULL;
  OSSL_DECODER_CTX *dc = OSSL_DECODER_CTX_new_for_pkey(&pk, NULL, NULL, NULL, EVP_PKEY_KEYPAIR, NULL, NULL);
  if (!dc) return NULL;
  if (pass) OSSL_DECODER_CTX_set_passphrase(dc, (const unsigned char *)pass, strlen(pass));
  const unsigned char *d = (const unsigned char *)p;
  size_t left = n;
  OSSL_DECODER_from_data(dc, &d, &left);
  OSSL_DECODER_CTX_free(dc);
  return pk;
}

/* A public key: SPKI/PKCS#1 public, a certificate, or a private key (whose
 * public half is used), as Node's createPublicKey accepts. */
static EVP_PKEY *load_public(const char *p, size_t n) {
  EVP_PKEY *pk = NULL;
  OSSL_DECODER_CTX *dc = OSSL_DECODER_CTX_new_for_pkey(&pk, NULL, NULL, NULL, EVP_PKEY_PUBLIC_KEY, NULL, NULL);
  if (dc) {
    const unsigned char *d = (const unsigned char *)p;
    size_t left = n;
    OSSL_DECODER_from_data(dc, &d, &left);
    OSSL_DECODER_CTX_free(dc);
  }
  if (pk) return pk;
  ERR_clear_error();
  BIO *bio = BIO_new_mem_buf(p, (int)n);
  X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
  BIO_free(bio);
  if (cert) {
    pk = X509_get_pubkey(cert);
    X509_free(cert);
    return pk;
  }
  ERR_clear_error();
  return load_private(p, n, NULL);
}

/* ---- ECDSA signature encodings ---- */

static int ec_field_bytes(EVP_PKEY *pk) {
  int bits = EVP_PKEY_get_bits(pk);
  return (bits + 7) / 8;
}

/* DER -> r || s, each padded to the field size */
static int der_to_p1363(const unsigned char *der, size_t n, int fb, unsigned char *out) {
  ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &der, (long)n);
  if (!sig) return 0;
  const BIGNUM *r, *s;
  ECDSA_SIG_get0(sig, &r, &s);
  int ok = BN_bn2binpad(r, out, fb) == fb && BN_bn2binpad(s, out + fb, fb) == fb;
  ECDSA_SIG_free(sig);
  return ok;
}

/* r || s -> DER (malloc'ed in *der) */
static int p1363_to_der(const unsigned char *p, size_t n, unsigned char **der) {
  ECDSA_SIG *sig = ECDSA_SIG_new();
  BIGNUM *r = BN_bin2bn(p, (int)(n / 2), NULL), *s = BN_bin2bn(p + n / 2, (int)(n / 2), NULL);
  if (!sig || !r || !s || !ECDSA_SIG_set0(sig, r, s)) {
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return -1;
  }
  *der = NULL;
  int len = i2d_ECDSA_SIG(sig, der);
  ECDSA_SIG_free(sig);
  return len;
}

/* ---- sign / verify ---- */

typedef struct {
  const char *digest;    /* NULL for Ed25519/Ed448 */
  const char *pass;
  int padding;           /* 0 = the key type's default */
  int salt_len;          /* RSA-PSS; -2 = the default (max) */
  int p1363;             /* dsaEncoding = 'ieee-p1363' */
} sig_opts;

/* opts table at idx: {passphrase=, padding=, saltLength=, dsaEncoding=} */
static void read_opts(lua_State *L, int idx, sig_opts *o) {
  o->salt_len = -2;
  if (!lua_istable(L, idx)) return;
  lua_getfield(L, idx, "passphrase");
  o->pass = lua_tostring(L, -1);
  lua_getfield(L, idx, "padding");
  o->padding = (int)lua_tointeger(L, -1);
  lua_getfield(L, idx, "saltLength");
  if (lua_isnumber(L, -1)) o->salt_len = (int)lua_tointeger(L, -1);
  lua_getfield(L, idx, "dsaEncoding");
  const char *enc = lua_tostring(L, -1);
  if (enc && strcmp(enc, "ieee-p1363") == 0) o->p1363 = 1;
  else if (enc && strcmp(enc, "der") != 0)
    luaL_argerror(L, idx, "dsaEncoding must be 'der' or 'ieee-p1363'");
  lua_pop(L, 4); /* the strings stay referenced by the opts table */
}

static EVP_MD_CTX *start(lua_State *L, EVP_PKEY *pk, const sig_opts *o, int verify) {
  const EVP_MD *md = NULL;
  if (o->digest) {
    md = lstr_crypto_digest(o->digest);
    if (!md) {
      EVP_PKEY_free(pk);
      lstr_error(L, "ERR_CRYPTO_INVALID_DIGEST", "Invalid digest: %s", o->digest);
    }
  }
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX *pctx = NULL;
  int ok = ctx && (verify ? EVP_DigestVerifyInit(ctx, &pctx, md, NULL, pk)
                          : EVP_DigestSignInit(ctx, &pctx, md, NULL, pk)) == 1;
  if (ok && o->padding) ok = EVP_PKEY_CTX_set_rsa_padding(pctx, o->padding) == 1;
  if (ok && o->padding == RSA_PKCS1_PSS_PADDING && o->salt_len != -2)
    ok = EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, o->salt_len) == 1;
  if (!ok) {
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pk);
    lstr_crypto_error(L, "ERR_CRYPTO_SIGN_KEY_REQUIRED");
  }
  return ctx;
}

/* sign(digest|nil, data, keyPem[, opts]) -> signature */
static int pkey_sign(lua_State *L) {
  sig_opts o = { .digest = luaL_optstring(L, 1, NULL) };
  size_t n, klen;
  const char *data = luaL_checklstring(L, 2, &n);
  const char *key = luaL_checklstring(L, 3, &klen);
  read_opts(L, 4, &o);
  EVP_PKEY *pk = load_private(key, klen, o.pass);
  if (!pk) return lstr_crypto_error(L, "ERR_CRYPTO_INVALID_KEY");
  EVP_MD_CTX *ctx = start(L, pk, &o, 0);
  size_t siglen = 0;
  unsigned char *sig = NULL;
  int ok = EVP_DigestSign(ctx, NULL, &siglen, (const unsigned char *)data, n) == 1 &&
           (sig = malloc(siglen)) != NULL &&
           EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)data, n) == 1;
  if (ok && o.p1363 && EVP_PKEY_get_base_id(pk) == EVP_PKEY_EC) {
    int fb = ec_field_bytes(pk);
    unsigned char *raw = malloc((size_t)fb * 2);
    ok = raw && der_to_p1363(sig, siglen, fb, raw);
    free(sig);
    sig = raw;
    siglen = (size_t)fb * 2;
  }
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(pk);
  if (ok) lua_pushlstring(L, (const char *)sig, siglen);
  free(sig);
  return ok ? 1 : lstr_crypto_error(L, "ERR_CRYPTO_OPERATION_FAILED");
}

/* verify(digest|nil, data, keyPem, signature[, opts]) -> boolean */
static int pkey_verify(lua_State *L) {
  sig_opts o = { .digest = luaL_optstring(L, 1, NULL) };
  size_t n, klen, slen;
  const char *data = luaL_checklstring(L, 2, &n);
  const char *key = luaL_checklstring(L, 3, &klen);
  const unsigned char *sig = (const unsigned char *)luaL_checklstring(L, 4, &slen);
  read_opts(L, 5, &o);
  EVP_PKEY *pk = load_public(key, klen);
  if (!pk) return lstr_crypto_error(L, "ERR_CRYPTO_INVALID_KEY");
  unsigned char *der = NULL;
  if (o.p1363 && EVP_PKEY_get_base_id(pk) == EVP_PKEY_EC) {
    int len = slen == (size_t)ec_field_bytes(pk) * 2 ? p1363_to_der(sig, slen, &der) : -1;
    if (len < 0) {  /* a wrong-sized signature simply does not verify */
      EVP_PKEY_free(pk);
      ERR_clear_error();
      lua_pushboolean(L, 0);
      return 1;
    }
    sig = der;
    slen = (size_t)len;
  }
  EVP_MD_CTX *ctx = start(L, pk, &o, 1);
  int rc = EVP_DigestVerify(ctx, sig, slen, (const unsigned char *)data, n);
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(pk);
  OPENSSL_free(der);
  ERR_clear_error();  /* a bad signature queues an error; it is an answer, not a failure */
  lua_pushboolean(L, rc == 1);
  return 1;
}

/* ---- key pairs ---- */

typedef struct {
  uv_work_t req;
  lstr_state *s;
  int cb_ref;
  char type[16], curve[32];
  unsigned bits;
  unsigned long exponent;
  char pub_structure[32], priv_structure[32], pub_format[4], priv_format[4];
  char *cipher, *pass;
  char *pub, *priv;
  size_t pub_len, priv_len;
  int failed;
  char code[96], msg[256];
} keygen_job;

static void free_keygen(keygen_job *j) {
  free(j->cipher);
  if (j->pass) OPENSSL_cleanse(j->pass, strlen(j->pass));
  free(j->pass);
  free(j->pub);
  if (j->priv) OPENSSL_cleanse(j->priv, j->priv_len);
  free(j->priv);
  free(j);
}

static EVP_PKEY *generate(const keygen_job *j) {
  EVP_PKEY *pk = NULL;
  const char *alg = strcmp(j->type, "rsa") == 0 ? "RSA" : strcmp(j->type, "rsa-pss") == 0 ? "RSA-PSS"
                  : strcmp(j->type, "ec") == 0 ? "EC" : j->type;
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, alg, NULL);
  if (!ctx || EVP_PKEY_keygen_init(ctx) != 1) goto done;
  if (strcmp(alg, "RSA") == 0 || strcmp(alg, "RSA-PSS") == 0) {
    BIGNUM *e = BN_new();
    int ok = e && BN_set_word(e, j->exponent) && EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, (int)j->bits) == 1 &&
             EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx, e) == 1;
    BN_free(e);
    if (!ok) goto done;
  } else if (strcmp(alg, "EC") == 0) {
    if (EVP_PKEY_CTX_set_group_name(ctx, j->curve) != 1) goto done;
  }
  EVP_PKEY_keygen(ctx, &pk);
done:
  EVP_PKEY_CTX_free(ctx);
  return pk;
}

/* Encode one half of pk with OpenSSL's encoders into a malloc'ed string. */
static int encode_key(EVP_PKEY *pk, int selection, const char *structure, const char *format,
                      const char *cipher, const char *pass, char **out, size_t *len) {
  OSSL_ENCODER_CTX *ec = OSSL_ENCODER_CTX_new_for_pkey(pk, selection, format, structure, NULL);
  if (!ec || OSSL_ENCODER_CTX_get_num_encoders(ec) == 0) { OSSL_ENCODER_CTX_free(ec); return 0; }
  int ok = 1;
  if (cipher) ok = OSSL_ENCODER_CTX_set_cipher(ec, cipher, NULL) == 1 &&
                   OSSL_ENCODER_CTX_set_passphrase(ec, (const unsigned char *)pass, pass ? strlen(pass) : 0) == 1;
  unsigned char *data = NULL;
  size_t n = 0;
  ok = ok && OSSL_ENCODER_to_data(ec, &data, &n) == 1;
  OSSL_ENCODER_CTX_free(ec);
  if (!ok) return 0;
  *out = malloc(n ? n : 1);
  if (*out) memcpy(*out, data, n);
  *len = n;
  OPENSSL_free(data);
  return *out != NULL;
}

static void run_keygen(keygen_job *j) {
  EVP_PKEY *pk = generate(j);
  int ok = pk &&
    encode_key(pk, EVP_PKEY_PUBLIC_KEY, j->pub_structure, j->pub_format, NULL, NULL, &j->pub, &j->pub_len) &&
    encode_key(pk, EVP_PKEY_KEYPAIR, j->priv_structure, j->priv_format, j->cipher, j->pass, &j->priv, &j->priv_len);
  EVP_PKEY_free(pk);
  if (!ok) {
    j->failed = 1;
    lstr_crypto_take_error(j->code, sizeof j->code, j->msg, sizeof j->msg, "ERR_CRYPTO_OPERATION_FAILED");
  }
}

static void push_keygen(lua_State *L, keygen_job *j) {
  if (j->failed) {
    lstr_push_error(L, j->code, "%s", j->msg);
    lua_pushnil(L);
    lua_pushnil(L);
    return;
  }
  lua_pushnil(L);
  lua_pushlstring(L, j->pub, j->pub_len);
  lua_pushlstring(L, j->priv, j->priv_len);
}

static void keygen_work(uv_work_t *req) { run_keygen(req->data); }

static void keygen_after(uv_work_t *req, int status) {
  keygen_job *j = req->data;
  lua_State *L = j->s->L;
  if (L && j->cb_ref != LUA_NOREF) {
    lstr_push_ref(L, j->cb_ref);
    lstr_unref(L, &j->cb_ref);
    if (status == UV_ECANCELED && !j->failed) {
      j->failed = 1;
      snprintf(j->code, sizeof j->code, "ECANCELED");
      snprintf(j->msg, sizeof j->msg, "key generation cancelled");
    }
    push_keygen(L, j);
    lstr_dispatch(j->s, 3);
  }
  free_keygen(j);
}

static void copy_field(lua_State *L, int t, const char *k, char *dst, size_t cap, const char *def) {
  lua_getfield(L, t, k);
  const char *v = lua_isstring(L, -1) ? lua_tostring(L, -1) : def;
  snprintf(dst, cap, "%s", v);
  lua_pop(L, 1);
}

static char *dup_field(lua_State *L, int t, const char *k) {
  lua_getfield(L, t, k);
  char *v = lua_isstring(L, -1) ? strdup(lua_tostring(L, -1)) : NULL;
  lua_pop(L, 1);
  return v;
}

/* keygen(type, {bits=, exponent=, curve=, pubStructure=, pubFormat=,
 *   privStructure=, privFormat=, cipher=, passphrase=}[, cb])
 *   -> err, publicKey, privateKey  (sync: publicKey, privateKey or raises) */
static int pkey_keygen(lua_State *L) {
  const char *type = luaL_checkstring(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  keygen_job *j = calloc(1, sizeof *j);
  if (!j) return lstr_error(L, "ERR_OUT_OF_MEMORY", "generateKeyPair: out of memory");
  j->cb_ref = LUA_NOREF;
  snprintf(j->type, sizeof j->type, "%s", type);
  lua_getfield(L, 2, "bits");
  j->bits = (unsigned)luaL_optinteger(L, -1, 2048);
  lua_getfield(L, 2, "exponent");
  j->exponent = (unsigned long)luaL_optnumber(L, -1, 65537);
  lua_pop(L, 2);
  copy_field(L, 2, "curve", j->curve, sizeof j->curve, "P-256");
  copy_field(L, 2, "pubStructure", j->pub_structure, sizeof j->pub_structure, "SubjectPublicKeyInfo");
  copy_field(L, 2, "privStructure", j->priv_structure, sizeof j->priv_structure, "PrivateKeyInfo");
  copy_field(L, 2, "pubFormat", j->pub_format, sizeof j->pub_format, "PEM");
  copy_field(L, 2, "privFormat", j->priv_format, sizeof j->priv_format, "PEM");
  j->cipher = dup_field(L, 2, "cipher");
  j->pass = dup_field(L, 2, "passphrase");
  if (!lua_isfunction(L, 3)) {
    run_keygen(j);
    push_keygen(L, j);
    free_keygen(j);
    if (!lua_isnil(L, -3)) { lua_pop(L, 2); return lua_error(L); }
    return 2;
  }
  j->s = lstr_ctx(L);
  lua_pushvalue(L, 3);
  j->cb_ref = lstr_ref(L);
  j->req.data = j;
  int rc = uv_queue_work(j->s->loop, &j->req, keygen_work, keygen_after);
  if (rc) { lstr_unref(L, &j->cb_ref); free_keygen(j); return lstr_uv_error(L, rc, "uv_queue_work"); }
  return 0;
}

/* key_type(pem) -> 'rsa' | 'ec' | 'ed25519' | ... (of a public or private key) */
static int pkey_key_type(lua_State *L) {
  size_t n;
  const char *key = luaL_checklstring(L, 1, &n);
  EVP_PKEY *pk = load_public(key, n);
  if (!pk) return lstr_crypto_error(L, "ERR_CRYPTO_INVALID_KEY");
  const char *name;
  switch (EVP_PKEY_get_base_id(pk)) {
    case EVP_PKEY_RSA: name = "rsa"; break;
    case EVP_PKEY_RSA_PSS: name = "rsa-pss"; break;
    case EVP_PKEY_EC: name = "ec"; break;
    case EVP_PKEY_ED25519: name = "ed25519"; break;
    case EVP_PKEY_ED448: name = "ed448"; break;
    case EVP_PKEY_X25519: name = "x25519"; break;
    case EVP_PKEY_X448: name = "x448"; break;
    default: name = "unknown";
  }
  lua_pushstring(L, name);
  EVP_PKEY_free(pk);
  return 1;
}

static const luaL_Reg pkey_funcs[] = {
  {"sign", pkey_sign},
  {"verify", pkey_verify},
  {"keygen", pkey_keygen},
  {"key_type", pkey_key_type},
  {NULL, NULL}
};

int luaopen_native_crypto_pkey(lua_State *L) {
  luaL_register(L, "native.crypto_pkey", pkey_funcs);
  return 1;
}
