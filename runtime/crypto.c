/*
 * crypto.c — `native.crypto`: message digests, HMAC, random bytes,
 * constant-time comparison and the byte encodings (hex, base64, base64url)
 * that lua/crypto.lua builds Node's `crypto` API on.
 *
 * Digests are fetched from OpenSSL once per process and cached by the name
 * the script used (EVP_MD_fetch is the slow part of a one-shot hash in
 * OpenSSL 3; the fetched EVP_MD is immutable and shared by every thread).
 * A Hash/Hmac object is a userdata owning one EVP_MD_CTX / HMAC context,
 * freed by __gc; the one-shot forms (`hash`, `hmac`) allocate nothing but
 * the result string, which is what makes many small hashes cheap.
 */
#include "crypto.h"
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define HASH_MT "luster.crypto.Hash"
#define HMAC_MT "luster.crypto.Hmac"

/* ---- errors ---- */

void lstr_crypto_take_error(char *code, size_t codelen, char *msg, size_t msglen,
                            const char *fallback) {
  unsigned long e = ERR_get_error();
  if (!e) {
    snprintf(code, codelen, "%s", fallback);
    snprintf(msg, msglen, "%s", fallback);
    return;
  }
  const char *reason = ERR_reason_error_string(e);
  const char *lib = ERR_lib_error_string(e);
  snprintf(msg, msglen, "error:%08lX:%s routines::%s", e, lib ? lib : "unknown",
           reason ? reason : "unknown");
  /* Node's code: ERR_OSSL_ + the reason, upper-cased, words joined by '_' */
  size_t n = (size_t)snprintf(code, codelen, "ERR_OSSL_");
  for (const char *r = reason ? reason : "UNKNOWN"; *r && n + 1 < codelen; r++)
    code[n++] = isalnum((unsigned char)*r) ? (char)toupper((unsigned char)*r) : '_';
  code[n] = '\0';
  ERR_clear_error();
}

int lstr_crypto_error(lua_State *L, const char *fallback) {
  char code[96], msg[256];
  lstr_crypto_take_error(code, sizeof code, msg, sizeof msg, fallback);
  return lstr_error(L, code, "%s", msg);
}

/* ---- the digest cache ---- */

#define DIGEST_CACHE 48
static struct { char name[32]; const EVP_MD *md; } digest_cache[DIGEST_CACHE];
static int digest_count;
static uv_mutex_t digest_lock;
static uv_once_t digest_once = UV_ONCE_INIT;
static void digest_init(void) { uv_mutex_init(&digest_lock); }

const EVP_MD *lstr_crypto_digest(const char *name) {
  uv_once(&digest_once, digest_init);
  const EVP_MD *md = NULL;
  uv_mutex_lock(&digest_lock);
  for (int i = 0; i < digest_count; i++)
    if (strcmp(digest_cache[i].name, name) == 0) { md = digest_cache[i].md; break; }
  if (!md) {
    /* the legacy table knows every alias ('RSA-SHA256', 'SHA256'...);
     * fetching by its canonical name gives the fast provider object */
    const EVP_MD *legacy = EVP_get_digestbyname(name);
    if (legacy) {
      EVP_MD *fetched = EVP_MD_fetch(NULL, EVP_MD_get0_name(legacy), NULL);
      md = fetched ? fetched : legacy;
      if (digest_count < DIGEST_CACHE && strlen(name) < sizeof digest_cache[0].name) {
        strcpy(digest_cache[digest_count].name, name);
        digest_cache[digest_count++].md = md;
      } /* else: a fetched md is leaked once per unusual name; bounded by usage */
    }
    ERR_clear_error();
  }
  uv_mutex_unlock(&digest_lock);
  return md;
}

const EVP_MD *lstr_crypto_check_digest(lua_State *L, int idx) {
  const char *name = luaL_checkstring(L, idx);
  const EVP_MD *md = lstr_crypto_digest(name);
  if (!md) lstr_error(L, "ERR_CRYPTO_INVALID_DIGEST", "Invalid digest: %s", name);
  return md;
}

/* ---- encodings ---- */

enum { ENC_RAW, ENC_HEX, ENC_BASE64, ENC_BASE64URL };
static const char *const enc_names[] = { "latin1", "hex", "base64", "base64url", "binary", "buffer", NULL };

static int check_encoding(lua_State *L, int idx) {
  if (lua_isnoneornil(L, idx)) return ENC_RAW;
  int e = luaL_checkoption(L, idx, NULL, enc_names);
  return e >= 4 ? ENC_RAW : e;
}

static void push_encoded(lua_State *L, const unsigned char *p, size_t n, int enc) {
  static const char hexd[] = "0123456789abcdef";
  if (enc == ENC_RAW) { lua_pushlstring(L, (const char *)p, n); return; }
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  if (enc == ENC_HEX) {
    for (size_t i = 0; i < n; i++) {
      luaL_addchar(&b, hexd[p[i] >> 4]);
      luaL_addchar(&b, hexd[p[i] & 15]);
    }
    luaL_pushresult(&b);
    return;
  }
  /* base64 in blocks that fit LUAL_BUFFERSIZE */
  for (size_t i = 0; i < n; i += 768) {
    size_t m = n - i < 768 ? n - i : 768;
    char out[1025 + 4];
    int len = EVP_EncodeBlock((unsigned char *)out, p + i, (int)m);
    if (enc == ENC_BASE64URL) {
      while (len > 0 && out[len - 1] == '=') len--;
      for (int k = 0; k < len; k++) out[k] = out[k] == '+' ? '-' : out[k] == '/' ? '_' : out[k];
    }
    luaL_addlstring(&b, out, (size_t)len);
  }
  luaL_pushresult(&b);
}

/* encode(bytes, enc) -> string */
static int crypto_encode(lua_State *L) {
  size_t n;
  const unsigned char *p = (const unsigned char *)luaL_checklstring(L, 1, &n);
  push_encoded(L, p, n, check_encoding(L, 2));
  return 1;
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  c |= 32;
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* decode(text, enc) -> bytes.  Lenient like Node's Buffer.from: hex stops
 * at the first non-hex pair, base64 accepts either alphabet, skips
 * whitespace and missing padding. */
static int crypto_decode(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  int enc = check_encoding(L, 2);
  if (enc == ENC_RAW) { lua_settop(L, 1); return 1; }
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  if (enc == ENC_HEX) {
    for (size_t i = 0; i + 1 < n; i += 2) {
      int hi = hexval((unsigned char)s[i]), lo = hexval((unsigned char)s[i + 1]);
      if (hi < 0 || lo < 0) break;
      luaL_addchar(&b, (char)(hi << 4 | lo));
    }
    luaL_pushresult(&b);
    return 1;
  }
  /* normalise to padded standard base64 in blocks of 4, then let OpenSSL
   * decode each block */
  unsigned char quad[4], out[3];
  int q = 0;
  for (size_t i = 0; i < n; i++) {
    int c = (unsigned char)s[i];
    if (c == '-') c = '+';
    else if (c == '_') c = '/';
    if (c == '=') break;                                  /* padding ends the data */
    if (!(isalnum(c) || c == '+' || c == '/')) continue;  /* whitespace, junk */
    quad[q++] = (unsigned char)c;
    if (q == 4) {
      if (EVP_DecodeBlock(out, quad, 4) < 0) break;
      luaL_addlstring(&b, (const char *)out, 3);
      q = 0;
    }
  }
  if (q >= 2) {
    int have = q;
    while (q < 4) quad[q++] = '=';
    if (EVP_DecodeBlock(out, quad, 4) >= 0) luaL_addlstring(&b, (const char *)out, (size_t)(have - 1));
  }
  luaL_pushresult(&b);
  return 1;
}

/* ---- Hash ---- */

typedef struct {
  EVP_MD_CTX *ctx;
  size_t xof_len;     /* output length for XOFs (shake*), else 0 */
  int finalized;
} hash_obj;

static hash_obj *check_hash(lua_State *L) {
  hash_obj *h = luaL_checkudata(L, 1, HASH_MT);
  if (h->finalized) lstr_error(L, "ERR_CRYPTO_HASH_FINALIZED", "Digest already called");
  return h;
}

static size_t xof_length(lua_State *L, const EVP_MD *md, int idx) {
  if (!(EVP_MD_get_flags(md) & EVP_MD_FLAG_XOF)) return 0;
  if (lua_isnoneornil(L, idx)) return (size_t)EVP_MD_get_size(md);
  lua_Integer n = luaL_checkinteger(L, idx);
  luaL_argcheck(L, n >= 0 && n <= (1 << 24), idx, "outputLength out of range");
  return (size_t)n;
}

/* hash_new(alg[, outputLength]) -> Hash */
static int hash_new(lua_State *L) {
  const EVP_MD *md = lstr_crypto_check_digest(L, 1);
  size_t xof = xof_length(L, md, 2);
  hash_obj *h = lua_newuserdata(L, sizeof *h);
  memset(h, 0, sizeof *h);
  luaL_getmetatable(L, HASH_MT);
  lua_setmetatable(L, -2);
  h->ctx = EVP_MD_CTX_new();
  if (!h->ctx) return lstr_error(L, "ERR_OUT_OF_MEMORY", "EVP_MD_CTX_new failed");
  if (!EVP_DigestInit_ex(h->ctx, md, NULL)) return lstr_crypto_error(L, "ERR_CRYPTO_INVALID_DIGEST");
  h->xof_len = xof;
  return 1;
}

static int hash_update(lua_State *L) {
  hash_obj *h = check_hash(L);
  size_t n;
  const char *p = luaL_checklstring(L, 2, &n);
  if (!EVP_DigestUpdate(h->ctx, p, n)) return lstr_crypto_error(L, "ERR_CRYPTO_HASH_UPDATE_FAILED");
  lua_settop(L, 1);
  return 1;
}

static int hash_digest(lua_State *L) {
  hash_obj *h = check_hash(L);
  int enc = check_encoding(L, 2);
  unsigned char small[EVP_MAX_MD_SIZE];
  unsigned char *out = small;
  unsigned int len = 0;
  int ok;
  if (h->xof_len) {
    out = h->xof_len <= sizeof small ? small : malloc(h->xof_len);
    if (!out) return lstr_error(L, "ERR_OUT_OF_MEMORY", "digest: out of memory");
    ok = EVP_DigestFinalXOF(h->ctx, out, h->xof_len);
    len = (unsigned int)h->xof_len;
  } else {
    ok = EVP_DigestFinal_ex(h->ctx, out, &len);
  }
  h->finalized = 1;
  if (ok) push_encoded(L, out, len, enc);
  if (out != small) free(out);
  return ok ? 1 : lstr_crypto_error(L, "ERR_CRYPTO_HASH_FINALIZED");
}

static int hash_copy(lua_State *L) {
  hash_obj *h = check_hash(L);
  hash_obj *c = lua_newuserdata(L, sizeof *c);
  memset(c, 0, sizeof *c);
  luaL_getmetatable(L, HASH_MT);
  lua_setmetatable(L, -2);
  c->ctx = EVP_MD_CTX_new();
  if (!c->ctx || !EVP_MD_CTX_copy_ex(c->ctx, h->ctx)) return lstr_crypto_error(L, "ERR_CRYPTO_HASH_COPY");
  c->xof_len = h->xof_len;
  return 1;
}

static int hash_gc(lua_State *L) {
  hash_obj *h = luaL_checkudata(L, 1, HASH_MT);
  EVP_MD_CTX_free(h->ctx);
  h->ctx = NULL;
  return 0;
}

/* ---- Hmac ---- */

typedef struct {
  HMAC_CTX *ctx;
  int finalized;
} hmac_obj;

static hmac_obj *check_hmac(lua_State *L) {
  hmac_obj *h = luaL_checkudata(L, 1, HMAC_MT);
  if (h->finalized) lstr_error(L, "ERR_CRYPTO_HASH_FINALIZED", "Digest already called");
  return h;
}

/* hmac_new(alg, key) -> Hmac.  (HMAC_CTX is deprecated in OpenSSL 3 in
 * favour of EVP_MAC, but EVP_MAC re-fetches per context; HMAC_CTX over a
 * cached EVP_MD is the faster of the two and stays supported in 3.x.) */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static int hmac_new(lua_State *L) {
  const EVP_MD *md = lstr_crypto_check_digest(L, 1);
  size_t klen;
  const char *key = luaL_checklstring(L, 2, &klen);
  hmac_obj *h = lua_newuserdata(L, sizeof *h);
  memset(h, 0, sizeof *h);
  luaL_getmetatable(L, HMAC_MT);
  lua_setmetatable(L, -2);
  h->ctx = HMAC_CTX_new();
  if (!h->ctx) return lstr_error(L, "ERR_OUT_OF_MEMORY", "HMAC_CTX_new failed");
  if (!HMAC_Init_ex(h->ctx, key, (int)klen, md, NULL)) return lstr_crypto_error(L, "ERR_CRYPTO_INVALID_DIGEST");
  return 1;
}

static int hmac_update(lua_State *L) {
  hmac_obj *h = check_hmac(L);
  size_t n;
  const char *p = luaL_checklstring(L, 2, &n);
  if (!HMAC_Update(h->ctx, (const unsigned char *)p, n)) return lstr_crypto_error(L, "ERR_CRYPTO_HASH_UPDATE_FAILED");
  lua_settop(L, 1);
  return 1;
}

static int hmac_digest(lua_State *L) {
  hmac_obj *h = check_hmac(L);
  int enc = check_encoding(L, 2);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  h->finalized = 1;
  if (!HMAC_Final(h->ctx, out, &len)) return lstr_crypto_error(L, "ERR_CRYPTO_HASH_FINALIZED");
  push_encoded(L, out, len, enc);
  return 1;
}

static int hmac_gc(lua_State *L) {
  hmac_obj *h = luaL_checkudata(L, 1, HMAC_MT);
  HMAC_CTX_free(h->ctx);
  h->ctx = NULL;
  return 0;
}
#pragma GCC diagnostic pop

/* ---- one-shot forms ---- */

/* hash(alg, data, enc) -> digest */
static int crypto_hash(lua_State *L) {
  const EVP_MD *md = lstr_crypto_check_digest(L, 1);
  size_t n;
  const char *p = luaL_checklstring(L, 2, &n);
  int enc = check_encoding(L, 3);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_MD_get_flags(md) & EVP_MD_FLAG_XOF) {
    /* XOFs need their length: take the slow path through a context */
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    len = (unsigned int)EVP_MD_get_size(md);
    int ok = ctx && EVP_DigestInit_ex(ctx, md, NULL) && EVP_DigestUpdate(ctx, p, n) &&
             EVP_DigestFinalXOF(ctx, out, len);
    EVP_MD_CTX_free(ctx);
    if (!ok) return lstr_crypto_error(L, "ERR_CRYPTO_HASH_FAILED");
  } else if (!EVP_Digest(p, n, out, &len, md, NULL)) {
    return lstr_crypto_error(L, "ERR_CRYPTO_HASH_FAILED");
  }
  push_encoded(L, out, len, enc);
  return 1;
}

/* hmac(alg, key, data, enc) -> digest */
static int crypto_hmac(lua_State *L) {
  const EVP_MD *md = lstr_crypto_check_digest(L, 1);
  size_t klen, n;
  const char *key = luaL_checklstring(L, 2, &klen);
  const char *p = luaL_checklstring(L, 3, &n);
  int enc = check_encoding(L, 4);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(md, key, (int)klen, (const unsigned char *)p, n, out, &len))
    return lstr_crypto_error(L, "ERR_CRYPTO_HASH_FAILED");
  push_encoded(L, out, len, enc);
  return 1;
}

/* random_bytes(n) -> bytes from OpenSSL's CSPRNG */
static int crypto_random_bytes(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  luaL_argcheck(L, n >= 0 && n <= 0x7fffffff, 1, "size out of range");
  unsigned char small[256];
  unsigned char *p = n <= (lua_Integer)sizeof small ? small : malloc((size_t)n);
  if (!p) return lstr_error(L, "ERR_OUT_OF_MEMORY", "randomBytes: out of memory");
  int ok = RAND_bytes(p, (int)n) == 1;
  if (ok) lua_pushlstring(L, (const char *)p, (size_t)n);
  if (p != small) free(p);
  return ok ? 1 : lstr_crypto_error(L, "ERR_CRYPTO_RANDOM_FAILED");
}

/* timing_safe_equal(a, b) -> boolean; equal lengths checked by the caller */
static int crypto_timing_safe_equal(lua_State *L) {
  size_t na, nb;
  const char *a = luaL_checklstring(L, 1, &na);
  const char *b = luaL_checklstring(L, 2, &nb);
  luaL_argcheck(L, na == nb, 2, "lengths differ");
  lua_pushboolean(L, CRYPTO_memcmp(a, b, na) == 0);
  return 1;
}

/* digest_size(alg) -> bytes of output (for callers that size buffers) */
static int crypto_digest_size(lua_State *L) {
  lua_pushinteger(L, EVP_MD_get_size(lstr_crypto_check_digest(L, 1)));
  return 1;
}

static void add_digest_name(const EVP_MD *md, const char *from, const char *to, void *arg) {
  (void)md; (void)to;
  lua_State *L = arg;
  if (!from) return;
  lua_pushstring(L, from);
  lua_rawseti(L, -2, (int)lua_objlen(L, -2) + 1);
}

/* hashes() -> list of digest names OpenSSL knows (unsorted) */
static int crypto_hashes(lua_State *L) {
  lua_newtable(L);
  EVP_MD_do_all_sorted(add_digest_name, L);
  return 1;
}

static const luaL_Reg hash_methods[] = {
  {"update", hash_update}, {"digest", hash_digest}, {"copy", hash_copy}, {NULL, NULL}
};
static const luaL_Reg hmac_methods[] = {
  {"update", hmac_update}, {"digest", hmac_digest}, {NULL, NULL}
};

static const luaL_Reg crypto_funcs[] = {
  {"hash_new", hash_new},
  {"hmac_new", hmac_new},
  {"hash", crypto_hash},
  {"hmac", crypto_hmac},
  {"random_bytes", crypto_random_bytes},
  {"timing_safe_equal", crypto_timing_safe_equal},
  {"digest_size", crypto_digest_size},
  {"hashes", crypto_hashes},
  {"encode", crypto_encode},
  {"decode", crypto_decode},
  {NULL, NULL}
};

int luaopen_native_crypto(lua_State *L) {
  lstr_new_class(L, HASH_MT, hash_methods, hash_gc);
  lstr_new_class(L, HMAC_MT, hmac_methods, hmac_gc);
  luaL_register(L, "native.crypto", crypto_funcs);
  /* the method tables, so the Lua side can accept typed arrays too */
  luaL_getmetatable(L, HASH_MT);
  lua_getfield(L, -1, "__index");
  lua_setfield(L, -3, "Hash");
  lua_pop(L, 1);
  luaL_getmetatable(L, HMAC_MT);
  lua_getfield(L, -1, "__index");
  lua_setfield(L, -3, "Hmac");
  lua_pop(L, 1);
  return 1;
}
