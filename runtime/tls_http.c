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

#define TLS_RECORD_MAX 16384   /* OpenSSL's default max_send_fragment */

SSL_CTX *lstr_tls_check_ctx(lua_State *L, int idx);   /* tls_context.c */
int lstr_tls_push_info(lua_State *L, tls_engine *e, const char *what, int arg);   /* tls_info.c */
void lstr_tls_push_engine(lua_State *L, tls_engine *e);   /* tls_context.c */

/* A busy connection keeps OpenSSL's record buffers (about 17 KiB each way)
 * instead of freeing them after every record (SSL_MODE_RELEASE_BUFFERS,
 * the context's default): the sweep frees them, and the engine's own, once
 * it is idle, so a server holding many idle keep-alive connections does
 * not hold those. */
int tls_http_start(http_conn *c) {
  c->tls = tls_engine_new(c->srv->tls_ctx, 1);
  if (!c->tls) return -1;
  SSL_clear_mode(tls_engine_ssl(c->tls), SSL_MODE_RELEASE_BUFFERS);
  return 0;
}

void tls_http_idle(http_conn *c) { tls_engine_release_buffers(c->tls); }

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

/* ---- the Lua side: sock:_tls_event(kind, a, b) ----
 * lua/https.lua gives an https server's sockets a metatable whose
 * `_tls_event` turns these into the server's events: 'secure' (the
 * handshake is done: 'secureConnection'), 'sni' (servername: run the
 * SNICallback, whose answer comes back through http_sni_answer),
 * 'client_error' (code, message: 'tlsClientError'). */

static int lua_alive(http_conn *c) {
  return !c->srv->s->exiting && c->srv->socket_mt_ref != LUA_NOREF;
}

static void tls_event(http_conn *c, const char *kind, const char *a, const char *b) {
  lua_State *L = c->srv->s->L;
  http_conn_push_sock(c);
  lua_getfield(L, -1, "_tls_event");
  if (!lua_isfunction(L, -1)) {
    lua_pop(L, 2);
    return;
  }
  lua_insert(L, -2);
  lua_pushstring(L, kind);
  if (a) lua_pushstring(L, a);
  else lua_pushnil(L);
  if (b) lua_pushstring(L, b);
  else lua_pushnil(L);
  lstr_dispatch(c->srv->s, 4);
}

/* The handshake failed: 'tlsClientError', then the close (the alert, if
 * any, is already written). */
static void client_error(http_conn *c) {
  tls_engine *e = c->tls;
  if (lua_alive(c)) tls_event(c, "client_error", tls_engine_error_code(e), tls_engine_error_message(e));
  http_conn_close(c);
}

/* Drive the handshake as far as the input allows: 1 once it is complete
 * (read on), 0 while it waits (for input or an SNI answer) or failed. */
static int handshake(http_conn *c) {
  tls_engine *e = c->tls;
  if (tls_engine_secure(e)) return 1;
  if (tls_engine_sni_waiting(e)) return 0;
  int rc = tls_engine_handshake(e);
  if (rc == TLS_SNI && !tls_engine_sni_name(e)) {
    /* no server_name: as Node, the SNICallback is not asked */
    tls_engine_sni_answer(e, NULL);
    rc = tls_engine_handshake(e);
  }
  flush(c);
  if (c->closing) return 0;
  switch (rc) {
  case TLS_ERROR:
    client_error(c);
    return 0;
  case TLS_SNI:
    if (!lua_alive(c)) { http_conn_close(c); return 0; }
    tls_event(c, "sni", tls_engine_sni_name(e), NULL);
    return 0;
  case TLS_DONE:
    if (c->srv->tls_notify_secure && lua_alive(c)) tls_event(c, "secure", NULL, NULL);
    return !c->closing;
  default:
    return 0;
  }
}

/* The handshake, then every record's plaintext into the parser. */
static void pump(http_conn *c) {
  static _Thread_local char plain[64 * 1024];
  tls_engine *e = c->tls;
  if (!handshake(c)) return;
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

void tls_http_read(http_conn *c, const char *p, size_t n) {
  if (tls_engine_feed(c->tls, p, n) != 0) { http_conn_close(c); return; }
  pump(c);
}

/* From the loop (resume_conn), after an SNI answer: the handshake goes on. */
void tls_http_resume(http_conn *c) {
  tls_engine *e = c->tls;
  if (!tls_engine_secure(e) && !tls_engine_sni_waiting(e) && !tls_engine_failed(e)) pump(c);
}

/* The connection closed before its handshake was done and nothing said
 * why: the client went away ('socket hang up', as Node's server says). */
void tls_http_closed(http_conn *c) {
  tls_engine *e = c->tls;
  if (tls_engine_secure(e) || tls_engine_failed(e) || !lua_alive(c)) return;
  tls_engine_fail(e, "ECONNRESET", "socket hang up");
  tls_event(c, "client_error", tls_engine_error_code(e), tls_engine_error_message(e));
  /* the socket table may be new (made for this event): its cell must not
   * outlive the connection, freed when this callback returns */
  if (c->cell) *c->cell = NULL;
  c->cell = NULL;
}

/* An upgrade hands the connection to Lua: its session goes too, as an
 * engine userdata lua/tls.lua drives (the connection no longer owns it). */
int tls_http_push_engine(http_conn *c) {
  lstr_tls_push_engine(c->srv->s->L, c->tls);
  c->tls = NULL;
  return 1;
}

/* native.tls.http_sni_answer(conn, [ctx]): the SNICallback's context (nil:
 * the server's own); the handshake resumes from the loop.  (conn, false):
 * the callback failed, and Lua has reported it: close. */
int lstr_tls_http_sni_answer(lua_State *L) {
  http_conn **cell = luaL_checkudata(L, 1, HTTP_CONN_MT);
  int refused = lua_isboolean(L, 2) && !lua_toboolean(L, 2);
  SSL_CTX *ctx = refused || lua_isnoneornil(L, 2) ? NULL : lstr_tls_check_ctx(L, 2);
  http_conn *c = *cell;
  if (!c || c->closing || !c->tls || !tls_engine_sni_waiting(c->tls)) return 0;
  if (refused) {
    tls_engine_fail(c->tls, "ERR_TLS_SNI_FAILED", "SNICallback failed");
    http_conn_close(c);
    return 0;
  }
  tls_engine_sni_answer(c->tls, ctx);
  http_conn_queue_resume(c);
  return 0;
}

/* native.tls.http_info(conn, what[, arg]): tls_info.c's getters for the
 * connection's session; nil, true once it is closed */
int lstr_tls_http_info(lua_State *L) {
  http_conn **cell = luaL_checkudata(L, 1, HTTP_CONN_MT);
  const char *what = luaL_checkstring(L, 2);
  http_conn *c = *cell;
  if (!c || !c->tls) {
    lua_pushnil(L);
    lua_pushboolean(L, 1);
    return 2;
  }
  return lstr_tls_push_info(L, c->tls, what, 3);
}

/* A response's pieces (head, chunk framing, body) go out in the fewest
 * records, every one full but the last: each record is a trip through
 * OpenSSL's record layer and 22 bytes on the wire, so a 2-byte chunk
 * trailer must not be one of its own.  Pieces are staged up to a record;
 * a piece that starts a record and fills one or more (or is the last) goes
 * to OpenSSL without the copy. */
static int write_records(tls_engine *e, const uv_buf_t *bufs, int nbufs) {
  static _Thread_local char stage[TLS_RECORD_MAX];
  size_t staged = 0;
  for (int i = 0; i < nbufs; i++) {
    const char *p = bufs[i].base;
    size_t n = bufs[i].len;
    if (staged == 0 && (n >= TLS_RECORD_MAX || i == nbufs - 1)) {
      size_t direct = i == nbufs - 1 ? n : n - n % TLS_RECORD_MAX;
      if (tls_engine_write(e, p, direct) != 0) return -1;
      p += direct;
      n -= direct;
    }
    while (n > 0) {
      size_t take = TLS_RECORD_MAX - staged < n ? TLS_RECORD_MAX - staged : n;
      memcpy(stage + staged, p, take);
      staged += take;
      p += take;
      n -= take;
      if (staged == TLS_RECORD_MAX) {
        if (tls_engine_write(e, stage, staged) != 0) return -1;
        staged = 0;
      }
    }
  }
  return staged ? tls_engine_write(e, stage, staged) : 0;
}

int tls_http_write(http_conn *c, uv_buf_t *bufs, int nbufs) {
  if (c->closing) return -1;
  if (!tls_engine_secure(c->tls)) {
    /* nothing is parsed before the handshake ends, so the only answer
     * written earlier is the sweep's 408: the handshake took longer than
     * headersTimeout */
    if (!tls_engine_failed(c->tls)) {
      tls_engine_fail(c->tls, "ERR_TLS_HANDSHAKE_TIMEOUT", "TLS handshake timeout");
      client_error(c);
    }
    http_conn_close(c);
    return -1;
  }
  int rc = write_records(c->tls, bufs, nbufs);
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

/* native.tls.http_attach(server, ctx, socket_mt): serve every connection
 * over TLS, its socket tables made with socket_mt (lua/https.lua's, with
 * the TLS getters and `_tls_event`) */
int lstr_tls_http_attach(lua_State *L) {
  http_server **ps = luaL_checkudata(L, 1, "luster.http.server");
  SSL_CTX *ctx = lstr_tls_check_ctx(L, 2);
  luaL_checktype(L, 3, LUA_TTABLE);
  http_server *srv = *ps;
  if (!srv) return luaL_argerror(L, 1, "closed server");
  SSL_CTX_up_ref(ctx);
  if (srv->tls_ctx) SSL_CTX_free(srv->tls_ctx);
  srv->tls_ctx = ctx;
  lstr_unref(L, &srv->socket_mt_ref);
  lua_pushvalue(L, 3);
  srv->socket_mt_ref = lstr_ref(L);
  return 0;
}

/* native.tls.http_notify_secure(server, on): 'secure' events wanted */
int lstr_tls_http_notify_secure(lua_State *L) {
  http_server **ps = luaL_checkudata(L, 1, "luster.http.server");
  if (*ps) (*ps)->tls_notify_secure = lua_toboolean(L, 2);
  return 0;
}
