/*
 * tls_context.c — `native.tls`: secure contexts from Node's options, and
 * TLS engines (tls_engine.h) for lua/tls.lua, which drives them over
 * native.socket.  The HTTP server uses the same contexts (tls_http.c).
 *
 *   context{server=, cert=, key=, passphrase=, ca=, requestCert=,
 *           rejectUnauthorized=, ALPNProtocols=, minVersion=, maxVersion=,
 *           ciphers=, sniAsync=, sessionTimeout=}      -> ctx
 *   ctx:engine(is_server[, servername]) -> eng
 *   eng:feed(ciphertext)
 *   eng:handshake() -> 'want'|'done'|'sni'|'error', out, servername|err
 *   eng:read()      -> plaintext, 'want'|'closed'|'error', out, err
 *   eng:write(p)    -> out | nil, err        eng:shutdown() -> out
 *   eng:eof()       -> 'closed' | 'error', err
 *   eng:verify() -> nil | code, message      eng:check_host(name) -> bool
 *   eng:sni_answer([ctx])  eng:session()  eng:set_session(der)  eng:reused()
 *   eng:alpn()  eng:protocol()  eng:cipher()  eng:servername()
 *   eng:peer_certificate()  eng:certificate()  eng:close()
 * `out` is the ciphertext the step produced for the peer ('' if none):
 * the caller sends it whatever the status.
 *
 * Ownership: a ctx userdata holds one SSL_CTX reference; each SSL holds
 * its own (OpenSSL counts them), so a context lives while any connection
 * made from it does.  Per-context settings live in the SSL_CTX's ex_data
 * (tls_ctx_opts) and are freed with it.
 */
#include "lstr.h"
#include "tls_engine.h"
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#define CTX_MT "luster.tls.context"
#define ENGINE_MT "luster.tls.engine"

int lstr_tls_push_info(lua_State *L, tls_engine *e, const char *what, int arg);   /* tls_info.c */

static int opts_idx = -1;
static uv_once_t opts_once = UV_ONCE_INIT;
static void opts_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp);
static void make_opts_index(void) { opts_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, opts_free); }

static void opts_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp) {
  (void)parent; (void)ad; (void)idx; (void)argl; (void)argp;
  tls_ctx_opts *o = ptr;
  if (!o) return;
  free(o->alpn);
  free(o);
}

tls_ctx_opts *tls_ctx_get_opts(SSL_CTX *ctx) {
  return opts_idx < 0 ? NULL : SSL_CTX_get_ex_data(ctx, opts_idx);
}

static int tls_raise(lua_State *L, const char *fallback) {
  char code[96], msg[256];
  tls_take_error(code, sizeof code, msg, sizeof msg, fallback);
  return lstr_error(L, code, "%s", msg);
}

SSL_CTX *lstr_tls_check_ctx(lua_State *L, int idx) {
  SSL_CTX **p = luaL_checkudata(L, idx, CTX_MT);
  if (!*p) luaL_argerror(L, idx, "closed context");
  return *p;
}

/* ---- building a context ---- */

static int field_bool(lua_State *L, int t, const char *name, int def) {
  lua_getfield(L, t, name);
  int v = lua_isnil(L, -1) ? def : lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

/* Call each(L, string at -1, arg) for opts[name]: a string or a list of them. */
static int each_string(lua_State *L, int t, const char *name, int (*each)(lua_State *, SSL_CTX *, size_t),
                       SSL_CTX *ctx) {
  lua_getfield(L, t, name);
  int count = 0;
  if (lua_isstring(L, -1)) {
    each(L, ctx, 0);
    count = 1;
  } else if (lua_istable(L, -1)) {
    size_t n = lua_objlen(L, -1);
    for (size_t i = 1; i <= n; i++) {
      lua_rawgeti(L, -1, (int)i);
      if (!lua_isstring(L, -1)) luaL_error(L, "options.%s[%d] must be a string (PEM)", name, (int)i);
      each(L, ctx, i);
      lua_pop(L, 1);
      count++;
    }
  } else if (!lua_isnil(L, -1)) {
    lstr_error(L, "ERR_INVALID_ARG_TYPE", "The \"options.%s\" property must be a string or an array of strings", name);
  }
  lua_pop(L, 1);
  return count;
}

static BIO *pem_bio(lua_State *L) {
  size_t n;
  const char *p = lua_tolstring(L, -1, &n);
  BIO *b = BIO_new_mem_buf(p, (int)n);
  if (!b) lstr_error(L, "ERR_OUT_OF_MEMORY", "tls: out of memory");
  return b;
}

/* every certificate of a PEM bundle into the context's trust store */
static int add_ca(lua_State *L, SSL_CTX *ctx, size_t i) {
  (void)i;
  BIO *b = pem_bio(L);
  X509_STORE *store = SSL_CTX_get_cert_store(ctx);
  int added = 0;
  X509 *x;
  while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
    X509_STORE_add_cert(store, x);
    X509_free(x);
    added++;
  }
  BIO_free(b);
  ERR_clear_error(); /* the end of the bundle reads as "no start line" */
  if (!added) lstr_error(L, "ERR_OSSL_PEM_NO_START_LINE", "error:0480006C:PEM routines::no start line (options.ca)");
  return 0;
}

/* the leaf, then its chain */
static int use_cert(lua_State *L, SSL_CTX *ctx, size_t i) {
  (void)i;
  BIO *b = pem_bio(L);
  X509 *leaf = PEM_read_bio_X509_AUX(b, NULL, NULL, NULL);
  if (!leaf || SSL_CTX_use_certificate(ctx, leaf) != 1) {
    X509_free(leaf);
    BIO_free(b);
    tls_raise(L, "ERR_OSSL_PEM_NO_START_LINE");
  }
  X509_free(leaf);
  SSL_CTX_clear_chain_certs(ctx);
  X509 *x;
  while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
    if (SSL_CTX_add0_chain_cert(ctx, x) != 1) X509_free(x);
  BIO_free(b);
  ERR_clear_error();
  return 0;
}

static _Thread_local const char *passphrase;   /* for pass_cb, during one context() call */
static int pass_cb(char *buf, int size, int rw, void *u) {
  (void)rw;
  const char *p = u;
  if (!p) return 0;
  int n = (int)strlen(p);
  if (n > size) n = size;
  memcpy(buf, p, (size_t)n);
  return n;
}

static int use_key(lua_State *L, SSL_CTX *ctx, size_t i) {
  (void)i;
  BIO *b = pem_bio(L);
  EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, pass_cb, (void *)passphrase);
  BIO_free(b);
  if (!k || SSL_CTX_use_PrivateKey(ctx, k) != 1) {
    EVP_PKEY_free(k);
    tls_raise(L, "ERR_OSSL_BAD_DECRYPT");
  }
  EVP_PKEY_free(k);
  return 0;
}

static int version_of(lua_State *L, int t, const char *name) {
  lua_getfield(L, t, name);
  const char *v = lua_tostring(L, -1);
  lua_pop(L, 1);
  if (!v) return 0;
  static const struct { const char *name; int v; } versions[] = {
    {"TLSv1", TLS1_VERSION}, {"TLSv1.1", TLS1_1_VERSION}, {"TLSv1.2", TLS1_2_VERSION}, {"TLSv1.3", TLS1_3_VERSION},
  };
  for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++)
    if (strcmp(versions[i].name, v) == 0) return versions[i].v;
  return lstr_error(L, "ERR_TLS_INVALID_PROTOCOL_VERSION", "%s is not a valid %s TLS protocol version", v, name);
}

/* ALPNProtocols {'h2', 'http/1.1'} -> wire format (length-prefixed names) */
static unsigned char *alpn_wire(lua_State *L, int t, unsigned *len) {
  *len = 0;
  lua_getfield(L, t, "ALPNProtocols");
  if (!lua_istable(L, -1)) { lua_pop(L, 1); return NULL; }
  size_t n = lua_objlen(L, -1), total = 0;
  for (size_t i = 1; i <= n; i++) {
    lua_rawgeti(L, -1, (int)i);
    size_t l = 0;
    if (!lua_tolstring(L, -1, &l) || l == 0 || l > 255)
      lstr_error(L, "ERR_OUT_OF_RANGE", "ALPNProtocols[%d] must be a string of 1 to 255 bytes", (int)i);
    total += 1 + l;
    lua_pop(L, 1);
  }
  unsigned char *w = total ? malloc(total) : NULL;
  if (total && !w) lstr_error(L, "ERR_OUT_OF_MEMORY", "tls: out of memory");
  size_t at = 0;
  for (size_t i = 1; i <= n; i++) {
    lua_rawgeti(L, -1, (int)i);
    size_t l;
    const char *s = lua_tolstring(L, -1, &l);
    w[at++] = (unsigned char)l;
    memcpy(w + at, s, l);
    at += l;
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  *len = (unsigned)total;
  return w;
}

static const unsigned char SESSION_ID_CONTEXT[] = "luster";

static int new_context(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  uv_once(&opts_once, make_opts_index);   /* process-wide, whichever thread is first */
  int server = field_bool(L, 1, "server", 0);
  SSL_CTX **cell = lua_newuserdata(L, sizeof *cell);
  *cell = NULL;
  luaL_getmetatable(L, CTX_MT);
  lua_setmetatable(L, -2);
  /* one method for both roles: a context made by tls.createSecureContext
   * serves an SNICallback's answer as well as a client's secureContext */
  SSL_CTX *ctx = SSL_CTX_new(TLS_method());
  if (!ctx) return tls_raise(L, "ERR_OUT_OF_MEMORY");
  *cell = ctx; /* from here the cell's __gc frees it, whatever raises below */
  tls_ctx_opts *o = calloc(1, sizeof *o);
  if (!o) return lstr_error(L, "ERR_OUT_OF_MEMORY", "tls: out of memory");
  SSL_CTX_set_ex_data(ctx, opts_idx, o);
  o->is_server = server;
  o->request_cert = field_bool(L, 1, "requestCert", 0);
  o->reject_unauthorized = field_bool(L, 1, "rejectUnauthorized", 1);
  o->sni_async = field_bool(L, 1, "sniAsync", 0);
  tls_engine_install(ctx);

  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);  /* Node's default minVersion */
  int minv = version_of(L, 1, "minVersion"), maxv = version_of(L, 1, "maxVersion");
  if (minv) SSL_CTX_set_min_proto_version(ctx, minv);
  if (maxv) SSL_CTX_set_max_proto_version(ctx, maxv);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  /* a renegotiation would make a write wait for a read; Node limits
   * client renegotiations, we refuse them */
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);

  lua_getfield(L, 1, "ciphers");
  const char *ciphers = lua_tostring(L, -1);
  if (ciphers && SSL_CTX_set_cipher_list(ctx, ciphers) != 1) {
    /* TLS 1.3 suites have their own list; accept a list of only those */
    ERR_clear_error();
    if (SSL_CTX_set_ciphersuites(ctx, ciphers) != 1) return tls_raise(L, "ERR_SSL_NO_CIPHER_MATCH");
  }
  lua_pop(L, 1);

  lua_getfield(L, 1, "passphrase");
  passphrase = lua_tostring(L, -1);
  int certs = each_string(L, 1, "cert", use_cert, ctx);
  int keys = each_string(L, 1, "key", use_key, ctx);
  passphrase = NULL;
  lua_pop(L, 1);
  if (certs && keys && SSL_CTX_check_private_key(ctx) != 1) return tls_raise(L, "ERR_OSSL_X509_KEY_VALUES_MISMATCH");

  /* `ca` replaces the default trust store, as in Node; without it, OpenSSL's
   * default paths (so SSL_CERT_FILE / SSL_CERT_DIR apply) */
  if (each_string(L, 1, "ca", add_ca, ctx) == 0) {
    SSL_CTX_set_default_verify_paths(ctx);
    ERR_clear_error();
  }

  /* server: session ids (and tickets, OpenSSL's default) for resumption;
   * client: sessions are also handed to the engine (new_session_cb) for
   * getSession() */
  SSL_CTX_set_session_id_context(ctx, SESSION_ID_CONTEXT, sizeof SESSION_ID_CONTEXT - 1);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_BOTH);
  o->alpn = alpn_wire(L, 1, &o->alpn_len);
  /* a server chooses in tls_engine.c's callback; a client offers these */
  if (o->alpn) {
    if (SSL_CTX_set_alpn_protos(ctx, o->alpn, o->alpn_len) != 0) return tls_raise(L, "ERR_OUT_OF_MEMORY");
  }
  {
    if (o->request_cert) {
      /* ask for a certificate signed by one of our CAs */
      STACK_OF(X509_NAME) *names = sk_X509_NAME_new_null();
      STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx));
      for (int i = 0; names && i < sk_X509_OBJECT_num(objs); i++) {
        X509 *x = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));
        X509_NAME *n = x ? X509_NAME_dup(X509_get_subject_name(x)) : NULL;
        if (n && !sk_X509_NAME_push(names, n)) X509_NAME_free(n);
      }
      if (names) SSL_CTX_set_client_CA_list(ctx, names);
    }
  }
  lua_getfield(L, 1, "sessionTimeout");
  if (lua_isnumber(L, -1)) SSL_CTX_set_timeout(ctx, (long)lua_tonumber(L, -1));
  lua_pop(L, 1);
  ERR_clear_error();
  return 1;
}

static int ctx_gc(lua_State *L) {
  SSL_CTX **p = luaL_checkudata(L, 1, CTX_MT);
  if (*p) SSL_CTX_free(*p);
  *p = NULL;
  return 0;
}

static int ctx_is_server(lua_State *L) {
  tls_ctx_opts *o = tls_ctx_get_opts(lstr_tls_check_ctx(L, 1));
  lua_pushboolean(L, o && o->is_server);
  return 1;
}

/* ---- engines ---- */

static tls_engine *check_engine(lua_State *L) {
  tls_engine **p = luaL_checkudata(L, 1, ENGINE_MT);
  if (!*p) lstr_error(L, "ERR_SOCKET_CLOSED", "TLS session is closed");
  return *p;
}

static int ctx_engine(lua_State *L) {
  SSL_CTX *ctx = lstr_tls_check_ctx(L, 1);
  int is_server = lua_toboolean(L, 2);
  const char *servername = luaL_optstring(L, 3, NULL);
  tls_engine **cell = lua_newuserdata(L, sizeof *cell);
  *cell = tls_engine_new(ctx, is_server);
  if (!*cell) return lstr_error(L, "ERR_OUT_OF_MEMORY", "tls: out of memory");
  luaL_getmetatable(L, ENGINE_MT);
  lua_setmetatable(L, -2);
  /* SNI carries names only, never IP literals (RFC 6066) */
  if (servername && *servername && !strchr(servername, ':') && strspn(servername, "0123456789.") != strlen(servername))
    SSL_set_tlsext_host_name(tls_engine_ssl(*cell), servername);
  ERR_clear_error();
  return 1;
}

/* An engine made elsewhere (an https connection that upgraded) as a Lua
 * engine, which owns it from now on. */
void lstr_tls_push_engine(lua_State *L, tls_engine *e) {
  tls_engine **cell = lua_newuserdata(L, sizeof *cell);
  *cell = e;
  luaL_getmetatable(L, ENGINE_MT);
  lua_setmetatable(L, -2);
}

static void push_out(lua_State *L, tls_engine *e) {
  const char *p;
  size_t n = tls_engine_out(e, &p);
  lua_pushlstring(L, n ? p : "", n);
  tls_engine_out_clear(e);
}

static void push_engine_error(lua_State *L, tls_engine *e) {
  lstr_push_error(L, tls_engine_error_code(e), "%s", tls_engine_error_message(e));
}

static int eng_feed(lua_State *L) {
  tls_engine *e = check_engine(L);
  size_t n;
  const char *p = luaL_checklstring(L, 2, &n);
  if (tls_engine_feed(e, p, n) != 0) return lstr_error(L, "ERR_OUT_OF_MEMORY", "tls: out of memory");
  return 0;
}

static int eng_handshake(lua_State *L) {
  tls_engine *e = check_engine(L);
  int rc = tls_engine_handshake(e);
  static const char *names[] = {"want", "done", "sni"};
  lua_pushstring(L, rc == TLS_ERROR ? "error" : names[rc]);
  push_out(L, e);
  if (rc == TLS_ERROR) push_engine_error(L, e);
  else if (rc == TLS_SNI && tls_engine_sni_name(e)) lua_pushstring(L, tls_engine_sni_name(e));
  else lua_pushnil(L);
  return 3;
}

static int eng_read(lua_State *L) {
  tls_engine *e = check_engine(L);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  int rc;
  for (;;) {
    char *buf = luaL_prepbuffer(&b);
    size_t got;
    rc = tls_engine_read(e, buf, LUAL_BUFFERSIZE, &got);
    luaL_addsize(&b, got);
    if (rc != TLS_WANT || got < LUAL_BUFFERSIZE) break;
  }
  luaL_pushresult(&b);
  lua_pushstring(L, rc == TLS_CLOSED ? "closed" : rc == TLS_ERROR ? "error" : "want");
  push_out(L, e);
  if (rc == TLS_ERROR) push_engine_error(L, e);
  else lua_pushnil(L);
  return 4;
}

static int eng_write(lua_State *L) {
  tls_engine *e = check_engine(L);
  size_t n;
  const char *p = luaL_checklstring(L, 2, &n);
  if (tls_engine_write(e, p, n) != 0) {
    lua_pushnil(L);
    push_engine_error(L, e);
    return 2;
  }
  push_out(L, e);
  return 1;
}

static int eng_shutdown(lua_State *L) {
  tls_engine *e = check_engine(L);
  tls_engine_shutdown(e);
  push_out(L, e);
  return 1;
}

static int eng_eof(lua_State *L) {
  tls_engine *e = check_engine(L);
  if (tls_engine_eof(e) == TLS_ERROR) {
    lua_pushliteral(L, "error");
    push_engine_error(L, e);
    return 2;
  }
  lua_pushliteral(L, "closed");
  return 1;
}

/* the session's own getters (tls_info.c) */
#define INFO(name, what) \
  static int name(lua_State *L) { return lstr_tls_push_info(L, check_engine(L), what, 2); }
INFO(eng_verify, "verify")
INFO(eng_check_host, "check_host")

static int eng_sni_answer(lua_State *L) {
  tls_engine *e = check_engine(L);
  tls_engine_sni_answer(e, lua_isnoneornil(L, 2) ? NULL : lstr_tls_check_ctx(L, 2));
  return 0;
}

/* -> der, seq (seq counts the sessions the server gave us), or nil, 0 */
static int eng_session(lua_State *L) {
  size_t n;
  tls_engine *e = check_engine(L);
  const unsigned char *p = tls_engine_session(e, &n);
  if (p) lua_pushlstring(L, (const char *)p, n);
  else lua_pushnil(L);
  lua_pushinteger(L, tls_engine_session_seq(e));
  return 2;
}

static int eng_session_seq(lua_State *L) {
  lua_pushinteger(L, tls_engine_session_seq(check_engine(L)));
  return 1;
}

static int eng_set_session(lua_State *L) {
  size_t n;
  tls_engine *e = check_engine(L);
  const char *p = luaL_checklstring(L, 2, &n);
  lua_pushboolean(L, tls_engine_set_session(e, (const unsigned char *)p, n) == 0);
  return 1;
}

INFO(eng_reused, "reused")
INFO(eng_alpn, "alpn")
INFO(eng_protocol, "protocol")
INFO(eng_cipher, "cipher")
INFO(eng_servername, "servername")
INFO(eng_peer_certificate, "peer_certificate")
INFO(eng_certificate, "certificate")
#undef INFO

static int eng_close(lua_State *L) {
  tls_engine **p = luaL_checkudata(L, 1, ENGINE_MT);
  tls_engine_free(*p);
  *p = NULL;
  return 0;
}

static const luaL_Reg ctx_methods[] = {
  {"engine", ctx_engine},
  {"is_server", ctx_is_server},
  {NULL, NULL}
};

static const luaL_Reg engine_methods[] = {
  {"feed", eng_feed},
  {"handshake", eng_handshake},
  {"read", eng_read},
  {"write", eng_write},
  {"shutdown", eng_shutdown},
  {"eof", eng_eof},
  {"verify", eng_verify},
  {"check_host", eng_check_host},
  {"sni_answer", eng_sni_answer},
  {"session", eng_session},
  {"set_session", eng_set_session},
  {"session_seq", eng_session_seq},
  {"reused", eng_reused},
  {"alpn", eng_alpn},
  {"protocol", eng_protocol},
  {"cipher", eng_cipher},
  {"servername", eng_servername},
  {"peer_certificate", eng_peer_certificate},
  {"certificate", eng_certificate},
  {"close", eng_close},
  {NULL, NULL}
};

/* tls_http.c */
int lstr_tls_http_attach(lua_State *L);
int lstr_tls_http_notify_secure(lua_State *L);
int lstr_tls_http_sni_answer(lua_State *L);
int lstr_tls_http_info(lua_State *L);

static const luaL_Reg tls_funcs[] = {
  {"context", new_context},
  {"http_attach", lstr_tls_http_attach},
  {"http_notify_secure", lstr_tls_http_notify_secure},
  {"http_sni_answer", lstr_tls_http_sni_answer},
  {"http_info", lstr_tls_http_info},
  {NULL, NULL}
};

int luaopen_native_tls(lua_State *L) {
  lstr_new_class(L, CTX_MT, ctx_methods, ctx_gc);
  lstr_new_class(L, ENGINE_MT, engine_methods, eng_close);
  luaL_register(L, "native.tls", tls_funcs);
  return 1;
}
