/*
 * tls_info.c — what a TLS session tells about itself, as Node's TLSSocket
 * getters: the peer's verification, certificates, protocol, cipher, ALPN
 * and SNI names.  One function serves both the engines lua/tls.lua holds
 * (tls_context.c's eng:* methods) and the https server's connections
 * (tls_http.c's native.tls.http_info).
 */
#include "lstr.h"
#include "tls_engine.h"
#include <string.h>

int lstr_tls_push_cert(lua_State *L, X509 *x);   /* tls_cert.c */

static const char *const WHAT[] = {
  "verify", "check_host", "reused", "alpn", "protocol", "cipher", "servername",
  "peer_certificate", "certificate", NULL,
};

/* Push what `what` (a WHAT name) asks of e; returns the number of values. */
int lstr_tls_push_info(lua_State *L, tls_engine *e, const char *what, int arg) {
  SSL *ssl = tls_engine_ssl(e);
  int i = 0;
  while (WHAT[i] && strcmp(WHAT[i], what) != 0) i++;
  switch (i) {
  case 0: { /* nil when verified, else Node's code and the reason */
    const char *msg = NULL;
    const char *code = tls_engine_verify_code(e, &msg);
    if (!code) return 0;
    lua_pushstring(L, code);
    lua_pushstring(L, msg ? msg : code);
    return 2;
  }
  case 1:
    lua_pushboolean(L, tls_engine_check_host(e, luaL_checkstring(L, arg)));
    return 1;
  case 2:
    lua_pushboolean(L, SSL_session_reused(ssl));
    return 1;
  case 3: {
    const unsigned char *p;
    unsigned n;
    SSL_get0_alpn_selected(ssl, &p, &n);
    if (n) lua_pushlstring(L, (const char *)p, n);
    else lua_pushboolean(L, 0);
    return 1;
  }
  case 4:
    if (!tls_engine_secure(e)) return 0;
    lua_pushstring(L, SSL_get_version(ssl));
    return 1;
  case 5: {
    const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
    if (!c) return 0;
    lua_createtable(L, 0, 3);
    lua_pushstring(L, SSL_CIPHER_get_name(c));
    lua_setfield(L, -2, "name");
    lua_pushstring(L, SSL_CIPHER_standard_name(c));
    lua_setfield(L, -2, "standardName");
    lua_pushstring(L, SSL_CIPHER_get_version(c));
    lua_setfield(L, -2, "version");
    return 1;
  }
  case 6: {
    const char *n = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (!n) return 0;
    lua_pushstring(L, n);
    return 1;
  }
  case 7: {
    X509 *x = SSL_get0_peer_certificate(ssl);
    return x ? lstr_tls_push_cert(L, x) : 0;
  }
  case 8: {
    X509 *x = SSL_get_certificate(ssl);
    return x ? lstr_tls_push_cert(L, x) : 0;
  }
  default:
    return luaL_error(L, "tls: unknown session property '%s'", what);
  }
}
