/*
 * crypto_kdf.c — `native.crypto_kdf`: pbkdf2, scrypt and hkdf.
 *
 * These take a work factor (pbkdf2's iterations, scrypt's N), so besides
 * the synchronous form each has a threadpool form, like fs.c: the job is
 * plain C data (inputs copied, so the Lua strings may be collected), run by
 * one function on either the calling thread or a libuv pool thread, and the
 * callback gets (err, key) back on the loop.  A job records OpenSSL's error
 * on the thread that ran it and clears that thread's queue before returning.
 */
#include "crypto.h"
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <stdlib.h>
#include <string.h>

enum { KDF_PBKDF2, KDF_SCRYPT, KDF_HKDF };

typedef struct {
  uv_work_t req;
  lstr_state *s;
  int cb_ref;
  int kind;
  const EVP_MD *md;
  unsigned char *pw, *salt, *info;
  size_t pwlen, saltlen, infolen;
  uint64_t iter, N, r, p, maxmem;
  size_t keylen;
  unsigned char *out;
  int failed;
  char code[96], msg[256];
} kdf_job;

static void free_job(kdf_job *j) {
  if (!j) return;
  if (j->pw) OPENSSL_cleanse(j->pw, j->pwlen);
  free(j->pw);
  free(j->salt);
  free(j->info);
  if (j->out) OPENSSL_cleanse(j->out, j->keylen);
  free(j->out);
  free(j);
}

static unsigned char *dup_bytes(const char *p, size_t n) {
  unsigned char *d = malloc(n ? n : 1);
  if (d && n) memcpy(d, p, n);
  return d;
}

static EVP_KDF *hkdf_kdf;
static uv_once_t hkdf_once = UV_ONCE_INIT;
static void hkdf_fetch(void) { hkdf_kdf = EVP_KDF_fetch(NULL, "HKDF", NULL); ERR_clear_error(); }

static int run_hkdf(kdf_job *j) {
  uv_once(&hkdf_once, hkdf_fetch);
  if (!hkdf_kdf) return 0;
  EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(hkdf_kdf);
  if (!ctx) return 0;
  OSSL_PARAM params[5], *q = params;
  *q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)EVP_MD_get0_name(j->md), 0);
  *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, j->pw, j->pwlen);
  *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, j->salt, j->saltlen);
  *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, j->info, j->infolen);
  *q = OSSL_PARAM_construct_end();
  int ok = EVP_KDF_derive(ctx, j->out, j->keylen, params) == 1;
  EVP_KDF_CTX_free(ctx);
  return ok;
}

static void run_job(kdf_job *j) {
  int ok = 0;
  j->out = malloc(j->keylen ? j->keylen : 1);
  if (!j->out) {
    j->failed = 1;
    snprintf(j->code, sizeof j->code, "ERR_OUT_OF_MEMORY");
    snprintf(j->msg, sizeof j->msg, "key derivation: out of memory");
    return;
  }
  switch (j->kind) {
    case KDF_PBKDF2:
      ok = PKCS5_PBKDF2_HMAC((const char *)j->pw, (int)j->pwlen, j->salt, (int)j->saltlen,
                             (int)j->iter, j->md, (int)j->keylen, j->out);
      break;
    case KDF_SCRYPT:
      ok = EVP_PBE_scrypt((const char *)j->pw, j->pwlen, j->salt, j->saltlen, j->N, j->r, j->p,
                          j->maxmem, j->out, j->keylen);
      break;
    case KDF_HKDF:
      ok = j->keylen == 0 || run_hkdf(j);
      break;
  }
  if (!ok) {
    j->failed = 1;
    lstr_crypto_take_error(j->code, sizeof j->code, j->msg, sizeof j->msg, "ERR_CRYPTO_OPERATION_FAILED");
  }
}

/* (err, key) for a finished job */
static void push_result(lua_State *L, kdf_job *j) {
  if (j->failed) {
    lstr_push_error(L, j->code, "%s", j->msg);
    lua_pushnil(L);
  } else {
    lua_pushnil(L);
    lua_pushlstring(L, (const char *)j->out, j->keylen);
  }
}

static void work_cb(uv_work_t *req) { run_job(req->data); }

static void after_work_cb(uv_work_t *req, int status) {
  kdf_job *j = req->data;
  lua_State *L = j->s->L;
  if (L && j->cb_ref != LUA_NOREF) {
    lstr_push_ref(L, j->cb_ref);
    lstr_unref(L, &j->cb_ref);
    if (status == UV_ECANCELED) {
      j->failed = 1;
      snprintf(j->code, sizeof j->code, "ECANCELED");
      snprintf(j->msg, sizeof j->msg, "key derivation cancelled");
    }
    push_result(L, j);
    lstr_dispatch(j->s, 2);
  }
  free_job(j);
}

/* Run j now (no callback at cb_idx: returns the key or raises) or on the
 * threadpool (a callback: returns nothing). */
static int finish(lua_State *L, kdf_job *j, int cb_idx) {
  if (!lua_isfunction(L, cb_idx)) {
    run_job(j);
    push_result(L, j);
    free_job(j);
    if (!lua_isnil(L, -2)) { lua_pop(L, 1); return lua_error(L); }
    return 1;
  }
  j->s = lstr_ctx(L);
  lua_pushvalue(L, cb_idx);
  j->cb_ref = lstr_ref(L);
  j->req.data = j;
  int rc = uv_queue_work(j->s->loop, &j->req, work_cb, after_work_cb);
  if (rc) { lstr_unref(L, &j->cb_ref); free_job(j); return lstr_uv_error(L, rc, "uv_queue_work"); }
  return 0;
}

static kdf_job *new_job(lua_State *L, int kind, int pw_idx, int salt_idx) {
  size_t pwlen, saltlen;
  const char *pw = luaL_checklstring(L, pw_idx, &pwlen);
  const char *salt = luaL_checklstring(L, salt_idx, &saltlen);
  kdf_job *j = calloc(1, sizeof *j);
  if (j) {
    j->kind = kind;
    j->cb_ref = LUA_NOREF;
    j->pw = dup_bytes(pw, pwlen);
    j->pwlen = pwlen;
    j->salt = dup_bytes(salt, saltlen);
    j->saltlen = saltlen;
  }
  if (!j || !j->pw || !j->salt) {
    free_job(j);
    lstr_error(L, "ERR_OUT_OF_MEMORY", "key derivation: out of memory");
  }
  return j;
}

/* pbkdf2(password, salt, iterations, keylen, digest[, cb]) */
static int kdf_pbkdf2(lua_State *L) {
  const EVP_MD *md = lstr_crypto_check_digest(L, 5);
  lua_Integer iter = luaL_checkinteger(L, 3), keylen = luaL_checkinteger(L, 4);
  luaL_argcheck(L, iter >= 1 && iter <= 0x7fffffff, 3, "iterations out of range");
  luaL_argcheck(L, keylen >= 0 && keylen <= 0x7fffffff, 4, "keylen out of range");
  kdf_job *j = new_job(L, KDF_PBKDF2, 1, 2);
  j->md = md;
  j->iter = (uint64_t)iter;
  j->keylen = (size_t)keylen;
  return finish(L, j, 6);
}

/* scrypt(password, salt, keylen, N, r, p, maxmem[, cb]) */
static int kdf_scrypt(lua_State *L) {
  lua_Integer keylen = luaL_checkinteger(L, 3);
  luaL_argcheck(L, keylen >= 0 && keylen <= 0x7fffffff, 3, "keylen out of range");
  uint64_t N = (uint64_t)luaL_checknumber(L, 4), r = (uint64_t)luaL_checknumber(L, 5),
           p = (uint64_t)luaL_checknumber(L, 6), maxmem = (uint64_t)luaL_checknumber(L, 7);
  /* OpenSSL validates the parameters (and the memory bound) without
   * deriving when asked for no output */
  if (!EVP_PBE_scrypt(NULL, 0, NULL, 0, N, r, p, maxmem, NULL, 0)) {
    ERR_clear_error();
    return lstr_error(L, "ERR_CRYPTO_INVALID_SCRYPT_PARAMS", "Invalid scrypt params: N=%f r=%f p=%f maxmem=%f",
                      (double)N, (double)r, (double)p, (double)maxmem);
  }
  kdf_job *j = new_job(L, KDF_SCRYPT, 1, 2);
  j->keylen = (size_t)keylen;
  j->N = N;
  j->r = r;
  j->p = p;
  j->maxmem = maxmem;
  return finish(L, j, 8);
}

/* hkdf(digest, ikm, salt, info, keylen[, cb]) */
static int kdf_hkdf(lua_State *L) {
  const EVP_MD *md = lstr_crypto_check_digest(L, 1);
  size_t infolen;
  const char *info = luaL_checklstring(L, 4, &infolen);
  lua_Integer keylen = luaL_checkinteger(L, 5);
  if (keylen < 0 || keylen > 255 * EVP_MD_get_size(md))
    return lstr_error(L, "ERR_CRYPTO_INVALID_KEYLEN", "Invalid key length");
  kdf_job *j = new_job(L, KDF_HKDF, 2, 3);
  j->md = md;
  j->keylen = (size_t)keylen;
  j->info = dup_bytes(info, infolen);
  j->infolen = infolen;
  if (!j->info) { free_job(j); return lstr_error(L, "ERR_OUT_OF_MEMORY", "hkdf: out of memory"); }
  return finish(L, j, 6);
}

static const luaL_Reg kdf_funcs[] = {
  {"pbkdf2", kdf_pbkdf2},
  {"scrypt", kdf_scrypt},
  {"hkdf", kdf_hkdf},
  {NULL, NULL}
};

int luaopen_native_crypto_kdf(lua_State *L) {
  luaL_register(L, "native.crypto_kdf", kdf_funcs);
  return 1;
}
