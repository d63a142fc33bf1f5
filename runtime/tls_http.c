/*
 * tls_http.c — the HTTP server's connections over TLS (https.createServer).
 *
 * http_conn.c stays a plaintext HTTP/1.1 connection; when its server has a
 * context (`tls_ctx`, set by native.tls.http_attach) each connection gets
 * an engine, and three hooks route through here:
 *   tls_http_read    ciphertext read from the socket -> handshake, then
 *                    plaintext into http_conn_feed (the unchanged parser)
 *   tls_http_write   http_conn_write's plaintext -> records -> the raw
 *                    writer (http_conn_write_raw: try_write, then queue)
 *   tls_http_close_notify  before our side shuts down
 * Everything else — limits, timeouts, keep-alive, pipelining, cluster
 * adoption of fds — is the plain server's: a client that stalls in the
 * handshake is an idle connection before its first request and meets
 * headersTimeout (a 408 it cannot read, then the close).
 * A failed handshake (a plaintext client, a bad certificate) flushes the
 * alert and closes; nothing is left on OpenSSL's error queue.
 */
#include "http.h"
#include "tls_engine.h"
#include <string.h>

#define TLS_RECORD_MAX 16384

SSL_CTX *lstr_tls_check_ctx(lua_State *L, int idx);   /* tls_context.c */

int tls_http_start(http_conn *c) {
  c->tls = tls_engine_new(c->srv->tls_ctx, 1);
  return c->tls ? 0 : -1;
}

void tls_http_free(http_conn *c) {
  tls_engine_free(c->tls);
  c->tls = NULL;
}

void tls_http_release_ctx(http_server *srv) {
  SSL_CTX_free(srv->tls_ctx);
  srv->tls_ctx = NULL;
}

/* Send whatever ciphertext the engine produced. */
static int flush(http_conn *c) {
  const char *p;
  size_t n = tls_engine_out(c->tls, &p);
  if (n == 0) return 0;
  uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
  int rc = http_conn_write_raw(c, &b, 1);
  if (c->tls) tls_engine_out_clear(c->tls);
  return rc;
}

void tls_http_read(http_conn *c, const char *p, size_t n) {
  static _Thread_local char plain[64 * 1024];
  tls_engine *e = c->tls;
  if (tls_engine_feed(e, p, n) != 0) { http_conn_close(c); return; }
  if (!tls_engine_secure(e)) {
    int rc = tls_engine_handshake(e);
    flush(c);
    if (rc == TLS_ERROR || rc == TLS_SNI) { http_conn_close(c); return; }
    if (rc == TLS_WANT || c->closing) return;
  }
  for (;;) {
    size_t got;
    int rc = tls_engine_read(e, plain, sizeof plain, &got);
    if (flush(c) != 0) return;
    /* the plaintext is parsed (or stashed in `pend`) before the next read
     * reuses the buffer; nothing in between can read another connection */
    if (got) http_conn_feed(c, plain, got);
    if (c->closing) return;
    if (rc == TLS_ERROR) { http_conn_close(c); return; }
    /* TLS_CLOSED: close_notify; the client's FIN follows and read_cb's
     * EOF path ends the connection as for plain HTTP */
    if (rc != TLS_WANT || got < sizeof plain) return;
  }
}

int tls_http_write(http_conn *c, uv_buf_t *bufs, int nbufs) {
  if (c->closing) return -1;
  size_t total = 0;
  for (int i = 0; i < nbufs; i++) total += bufs[i].len;
  int rc = 0;
  if (nbufs > 1 && total <= TLS_RECORD_MAX) {
    /* head and body of a small response in one record */
    char one[TLS_RECORD_MAX];
    size_t at = 0;
    for (int i = 0; i < nbufs; i++) {
      memcpy(one + at, bufs[i].base, bufs[i].len);
      at += bufs[i].len;
    }
    rc = tls_engine_write(c->tls, one, at);
  } else {
    for (int i = 0; i < nbufs && rc == 0; i++) rc = tls_engine_write(c->tls, bufs[i].base, bufs[i].len);
  }
  if (rc != 0) {
    http_conn_close(c);
    return -1;
  }
  return flush(c);
}

void tls_http_close_notify(http_conn *c) {
  tls_engine_shutdown(c->tls);
  flush(c);
}

/* native.tls.http_attach(server, ctx): serve every connection over TLS */
int lstr_tls_http_attach(lua_State *L) {
  http_server **ps = luaL_checkudata(L, 1, "luster.http.server");
  SSL_CTX *ctx = lstr_tls_check_ctx(L, 2);
  if (!*ps) return luaL_argerror(L, 1, "closed server");
  SSL_CTX_up_ref(ctx);
  if ((*ps)->tls_ctx) SSL_CTX_free((*ps)->tls_ctx);
  (*ps)->tls_ctx = ctx;
  return 0;
}
