/*
 * http.c — the HTTP server object and `native.http`, the C half of
 * lua/http.lua.
 *
 * Owns the http_server: its listening handle (an fd made by tcp.c or
 * adopted from the cluster primary), the timeout sweep timer, its limits,
 * and the Lua callbacks it calls:
 *   on_request(sock, seq, method, url, raw_headers, version, flags, body)
 *   on_event(kind, sock, ...)   'body' (chunk, ended), 'abort' (status),
 *                               'close', 'connection', 'server_close'
 *   on_event('upgrade', fd, head, method, url, raw_headers, version)
 *                               a request left HTTP (Upgrade, CONNECT):
 *                               its socket as a plain fd Lua now owns
 *                               (http_conn.c, "upgrades")
 * Connections live in http_conn.c, responses in http_response.c.
 *
 * Headers reach Lua as one string ("name\0value\0"...) and become a table
 * only when a handler reads req.headers (parse_headers below): most
 * handlers never look, and one string costs less than a table of them.
 *
 * Lua API (native.http):
 *   new_server(opts, on_request, on_event, socket_mt) -> server
 *     server:listen_fd(fd) -> true | nil, err      server:adopt(fd)
 *     server:close()  server:address()  server:connections()
 *     server:notify_connection(bool)  server:ref()  server:unref()
 *     server:notify_upgrade(upgrade, connect)   hand those requests to Lua
 *     server:close_idle()  server:set_limits(opts)
 *   respond(h, seq, body, status, reason, hv, hn, final[, send_date]) -> bool
 *   inform(h, seq, status, reason, hv, hn) -> bool   (a 1xx response)
 *   check_headers(t), check_header(name, value) -> nil | code, name
 *   destroy(h)   peer(h) -> address table   parse_headers(raw[, raw_list])
 *   read_body(h, on)   the request's body: read on (a consumer wants it) or
 *                      stop (its unread part reached the high-water mark)
 *   queued(h) -> bytes of output not yet taken by the kernel
 *   call_unrecorded(fn, a) -> fn(a)   (see below)
 */
#include "http.h"
#include "tcp.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const char *SERVER_MT = "luster.http.server";

static http_server *check_server(lua_State *L) {
  http_server **ps = luaL_checkudata(L, 1, SERVER_MT);
  if (!*ps) luaL_error(L, "http server is closed");
  return *ps;
}

/* ---- lifetime ---- */

static void free_server(void *p) {
  http_server *srv = p;
  if (srv->tls_ctx) tls_http_release_ctx(srv);
  free(srv);
}

void http_server_unref(http_server *srv) {
  lstr_lifetime_drop(&srv->life);
}

static void handle_close_cb(uv_handle_t *h) { http_server_unref(h->data); }

static void sweep_cb(uv_timer_t *h) { http_conn_sweep(h->data); }

static void listener_cb(uv_stream_t *h, int status) {
  if (status < 0) return;
  http_conn_accept(h->data);
}

/* Stop listening; connections finish their current response. */
static void stop_listening(http_server *srv) {
  if (srv->listening) {
    srv->listening = 0;
    uv_close((uv_handle_t *)&srv->listener, handle_close_cb);
  }
}

/* Close idle connections; busy ones close after their response. */
static void close_idle(http_server *srv) {
  http_conn *next;
  for (http_conn *c = srv->conns; c; c = next) {
    next = c->next;
    if (!c->closing && c->phase == PHASE_IDLE) http_conn_close(c);
  }
}

static void release_lua(lua_State *L, http_server *srv) {
  lstr_unref(L, &srv->on_request_ref);
  lstr_unref(L, &srv->on_event_ref);
  lstr_unref(L, &srv->socket_mt_ref);
}

/* __gc: the Lua side is gone (or the state is closing): close everything
 * without calling back into Lua. */
static int server_gc(lua_State *L) {
  http_server **ps = luaL_checkudata(L, 1, SERVER_MT);
  http_server *srv = *ps;
  if (!srv) return 0;
  *ps = NULL;
  srv->closing = 1;
  srv->on_request_ref = srv->on_event_ref = srv->socket_mt_ref = LUA_NOREF; /* no unref: L may be closing */
  stop_listening(srv);
  for (http_conn *c = srv->conns; c; c = c->next) {
    c->sock_ref = LUA_NOREF;
    c->cell = NULL;
    http_conn_close(c);
  }
  uv_close((uv_handle_t *)&srv->sweep, handle_close_cb);
  uv_close((uv_handle_t *)&srv->resume_idle, handle_close_cb);
  http_server_unref(srv); /* the Lua object's own reference */
  return 0;
}

/* ---- Lua API: the server ---- */

static uint64_t opt_ms(lua_State *L, int t, const char *name, uint64_t def) {
  lua_getfield(L, t, name);
  uint64_t v = lua_isnumber(L, -1) ? (uint64_t)(lua_tonumber(L, -1) < 0 ? 0 : lua_tonumber(L, -1)) : def;
  lua_pop(L, 1);
  return v;
}

static void start_sweep(http_server *srv) {
  /* often enough to honour the shortest timeout within ~25% */
  uint64_t shortest = 1000;
  uint64_t t[] = {srv->headers_timeout, srv->request_timeout, srv->keep_alive_timeout};
  for (int i = 0; i < 3; i++)
    if (t[i] && t[i] < shortest * 4) shortest = t[i] / 4;
  if (shortest < 5) shortest = 5;
  uv_timer_start(&srv->sweep, sweep_cb, shortest, shortest);
}

static int new_server(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  luaL_checktype(L, 3, LUA_TFUNCTION);
  luaL_checktype(L, 4, LUA_TTABLE);
  lstr_state *s = lstr_ctx(L);
  http_server *srv = calloc(1, sizeof *srv);
  if (!srv) return luaL_error(L, "out of memory");
  srv->s = s;
  srv->max_header_size = (size_t)opt_ms(L, 1, "maxHeaderSize", 16 * 1024);
  srv->max_body_size = opt_ms(L, 1, "maxBodySize", 0);
  srv->request_timeout = opt_ms(L, 1, "requestTimeout", 300000);
  srv->headers_timeout = opt_ms(L, 1, "headersTimeout", 60000);
  srv->keep_alive_timeout = opt_ms(L, 1, "keepAliveTimeout", 5000);
  srv->max_connections = (int)opt_ms(L, 1, "maxConnections", 0);
  srv->write_hwm = (size_t)opt_ms(L, 1, "highWaterMark", HTTP_WRITE_HWM);
  http_settings_init(&srv->settings);
  lua_pushvalue(L, 2);
  srv->on_request_ref = lstr_ref(L);
  lua_pushvalue(L, 3);
  srv->on_event_ref = lstr_ref(L);
  lua_pushvalue(L, 4);
  srv->socket_mt_ref = lstr_ref(L);
  lstr_lifetime_init(&srv->life, srv, free_server, 3); /* the Lua object, the sweep timer, the resume idle */
  uv_timer_init(s->loop, &srv->sweep);
  srv->sweep.data = srv;
  uv_unref((uv_handle_t *)&srv->sweep);
  uv_idle_init(s->loop, &srv->resume_idle);
  srv->resume_idle.data = srv;
  start_sweep(srv);
  http_server **ps = lua_newuserdata(L, sizeof *ps);
  *ps = srv;
  luaL_getmetatable(L, SERVER_MT);
  lua_setmetatable(L, -2);
  return 1;
}

/* server:set_limits(opts): the same options as new_server, for a Lua
 * assignment after creation (server.keepAliveTimeout = 65000, as Node
 * users behind a load balancer do); absent ones keep their value. */
static int server_set_limits(lua_State *L) {
  http_server *srv = check_server(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  srv->max_header_size = (size_t)opt_ms(L, 2, "maxHeaderSize", srv->max_header_size);
  srv->max_body_size = opt_ms(L, 2, "maxBodySize", srv->max_body_size);
  srv->request_timeout = opt_ms(L, 2, "requestTimeout", srv->request_timeout);
  srv->headers_timeout = opt_ms(L, 2, "headersTimeout", srv->headers_timeout);
  srv->keep_alive_timeout = opt_ms(L, 2, "keepAliveTimeout", srv->keep_alive_timeout);
  srv->max_connections = (int)opt_ms(L, 2, "maxConnections", (uint64_t)srv->max_connections);
  start_sweep(srv);
  return 0;
}

static int server_listen_fd(lua_State *L) {
  http_server *srv = check_server(L);
  int fd = (int)luaL_checkinteger(L, 2);
  if (srv->listening) return luaL_error(L, "server is already listening");
  uv_tcp_init(srv->s->loop, &srv->listener);
  srv->listener.data = srv;
  int rc = uv_tcp_open(&srv->listener, fd);
  if (rc != 0) close(fd); /* not the handle's yet: closing it will not */
  else rc = uv_listen((uv_stream_t *)&srv->listener, 511, listener_cb);
  srv->listening = 1; /* the handle is initialised either way: close it on error */
  lstr_lifetime_hold(&srv->life);
  srv->closing = 0;
  if (rc) {
    stop_listening(srv);
    return lstr_push_fail(L, rc, "listen");
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int server_adopt(lua_State *L) {
  http_server *srv = check_server(L);
  int fd = (int)luaL_checkinteger(L, 2);
  if (srv->closing || (srv->max_connections && srv->nconns >= srv->max_connections)) {
    close(fd);
    lua_pushboolean(L, 0);
    return 1;
  }
  lua_pushboolean(L, http_conn_open(srv, fd) != NULL);
  return 1;
}

/* Stop accepting.  Busy connections close after their response; idle
 * keep-alive ones get CLOSE_GRACE_MS (see http_conn_sweep) rather than being
 * cut at once: a client may have a request on the wire already (a rolling
 * reload under load always does), and it is answered, with
 * `Connection: close`, instead of lost. */
static int server_close(lua_State *L) {
  http_server *srv = check_server(L);
  srv->closing = 1;
  srv->close_started = uv_now(srv->s->loop);
  stop_listening(srv);
  if (srv->nconns > 0) /* sweep often enough to honour the grace period */
    uv_timer_start(&srv->sweep, sweep_cb, CLOSE_GRACE_MS / 10, CLOSE_GRACE_MS / 10);
  lua_pushinteger(L, srv->nconns); /* 0: the caller emits 'close' now */
  return 1;
}

static int server_close_idle(lua_State *L) {
  close_idle(check_server(L));
  return 0;
}

static int server_address(lua_State *L) {
  http_server *srv = check_server(L);
  uv_os_fd_t fd;
  if (!srv->listening || uv_fileno((uv_handle_t *)&srv->listener, &fd) != 0) {
    lua_pushnil(L);
    return 1;
  }
  lstr_tcp_push_address(L, fd, 0);
  return 1;
}

static int server_connections(lua_State *L) {
  lua_pushinteger(L, check_server(L)->nconns);
  return 1;
}

static int server_notify_connection(lua_State *L) {
  check_server(L)->notify_connection = lua_toboolean(L, 2);
  return 0;
}

static int server_notify_upgrade(lua_State *L) {
  check_server(L)->notify_upgrade = (lua_toboolean(L, 2) ? HTTP_WANT_UPGRADE : 0) |
                                    (lua_toboolean(L, 3) ? HTTP_WANT_CONNECT : 0);
  return 0;
}

static int server_ref(lua_State *L) {
  http_server *srv = check_server(L);
  if (srv->listening) uv_ref((uv_handle_t *)&srv->listener);
  return 0;
}

static int server_unref(lua_State *L) {
  http_server *srv = check_server(L);
  if (srv->listening) uv_unref((uv_handle_t *)&srv->listener);
  return 0;
}

/* Called by the Lua side once 'close' has been emitted: drop our refs so
 * the server object can be collected. */
static int server_release(lua_State *L) {
  http_server *srv = check_server(L);
  if (srv->nconns == 0 && !srv->listening) release_lua(L, srv);
  return 0;
}

/* ---- Lua API: connections ---- */

static int conn_destroy(lua_State *L) {
  http_conn **cell = luaL_checkudata(L, 1, HTTP_CONN_MT);
  if (*cell) http_conn_close(*cell);
  return 0;
}

static int conn_read_body(lua_State *L) {
  http_conn **cell = luaL_checkudata(L, 1, HTTP_CONN_MT);
  if (*cell) http_conn_read_body(*cell, lua_toboolean(L, 2));
  return 0;
}

static int conn_queued(lua_State *L) {
  http_conn **cell = luaL_checkudata(L, 1, HTTP_CONN_MT);
  lua_pushinteger(L, *cell ? (lua_Integer)(*cell)->tcp.write_queue_size : 0);
  return 1;
}

static int conn_peer(lua_State *L) {
  http_conn **cell = luaL_checkudata(L, 1, HTTP_CONN_MT);
  uv_os_fd_t fd;
  if (!*cell || uv_fileno((uv_handle_t *)&(*cell)->tcp, &fd) != 0) {
    lua_pushnil(L);
    return 1;
  }
  lstr_tcp_push_address(L, fd, !lua_toboolean(L, 2));
  return 1;
}

/* ---- headers: "name\0value\0..." -> table, as Node joins repeats ---- */

/* Repeats of these are dropped (the first wins), as in Node. */
static int first_wins(const char *k, size_t n) {
  static const char *names[] = {
    "age", "authorization", "content-length", "content-type", "etag", "expires",
    "from", "host", "if-modified-since", "if-unmodified-since", "last-modified",
    "location", "max-forwards", "proxy-authorization", "referer", "retry-after",
    "server", "user-agent", NULL};
  for (int i = 0; names[i]; i++)
    if (strlen(names[i]) == n && memcmp(names[i], k, n) == 0) return 1;
  return 0;
}

static void add_header(lua_State *L, int t, const char *name, size_t nlen, const char *v, size_t vlen) {
  char small[64];
  char *low = nlen <= sizeof small ? small : malloc(nlen);
  if (!low) luaL_error(L, "out of memory");
  for (size_t i = 0; i < nlen; i++) {
    char ch = name[i];
    low[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
  }
  lua_pushlstring(L, low, nlen);
  int is_cookie = nlen == 6 && memcmp(low, "cookie", 6) == 0;
  int is_set_cookie = nlen == 10 && memcmp(low, "set-cookie", 10) == 0;
  int first = first_wins(low, nlen);
  if (low != small) free(low);
  lua_pushvalue(L, -1);
  lua_rawget(L, t);
  int have = !lua_isnil(L, -1);
  if (is_set_cookie) {
    if (!have) {
      lua_pop(L, 1);
      lua_newtable(L);
      lua_pushvalue(L, -2);
      lua_pushvalue(L, -2);
      lua_rawset(L, t);
    }
    lua_pushlstring(L, v, vlen);
    lua_rawseti(L, -2, (int)lua_objlen(L, -2) + 1);
    lua_pop(L, 2);
    return;
  }
  if (have && first) {
    lua_pop(L, 2);
    return;
  }
  if (have) {
    lua_pushstring(L, is_cookie ? "; " : ", ");
    lua_pushlstring(L, v, vlen);
    lua_concat(L, 3);
  } else {
    lua_pop(L, 1);
    lua_pushlstring(L, v, vlen);
  }
  lua_rawset(L, t);
}

/* Push the headers of `raw` ("name\0value\0" pairs): {name = value} by
 * Node's rules (add_header), or with as_list the flat rawHeaders list.  The
 * client's response parser (http_parser.c) keeps its heads in this form too. */
void http_push_headers(lua_State *L, const char *raw, size_t len, int as_list) {
  lua_createtable(L, as_list ? 16 : 0, as_list ? 0 : 8);
  int t = lua_gettop(L), i = 0;
  const char *p = raw, *end = raw + len;
  while (p < end) {
    const char *name = p;
    const char *nz = memchr(p, 0, (size_t)(end - p));
    if (!nz) break;
    const char *v = nz + 1;
    const char *vz = v < end ? memchr(v, 0, (size_t)(end - v)) : NULL;
    if (!vz) break;
    if (as_list) {
      lua_pushlstring(L, name, (size_t)(nz - name));
      lua_rawseti(L, t, ++i);
      lua_pushlstring(L, v, (size_t)(vz - v));
      lua_rawseti(L, t, ++i);
    } else {
      add_header(L, t, name, (size_t)(nz - name), v, (size_t)(vz - v));
    }
    p = vz + 1;
  }
}

/* parse_headers(raw) -> {name = value}; parse_headers(raw, true) -> the
 * rawHeaders list */
static int parse_headers(lua_State *L) {
  size_t len;
  const char *raw = luaL_checklstring(L, 1, &len);
  http_push_headers(L, raw, len, lua_toboolean(L, 2));
  return 1;
}

static const luaL_Reg server_methods[] = {
  {"listen_fd", server_listen_fd},
  {"adopt", server_adopt},
  {"close", server_close},
  {"close_idle", server_close_idle},
  {"address", server_address},
  {"connections", server_connections},
  {"notify_connection", server_notify_connection},
  {"notify_upgrade", server_notify_upgrade},
  {"ref", server_ref},
  {"unref", server_unref},
  {"release", server_release},
  {"set_limits", server_set_limits},
  {NULL, NULL}
};

/* call_unrecorded(fn, a) -> fn(a)'s first result.  LuaJIT does not record
 * a call to a plain C function: the trace that reaches it ends there and
 * the next one starts after it (trace stitching).  The router makes its
 * per-request `nxt` closure through this, because creating a closure is
 * not compiled by LuaJIT 2.1 and would otherwise abort every trace of the
 * request path, leaving the whole of it interpreted. */
static int call_unrecorded(lua_State *L) {
  lua_settop(L, 2);
  lua_call(L, 1, 1);
  return 1;
}

static const luaL_Reg http_funcs[] = {
  {"call_unrecorded", call_unrecorded},
  {"new_server", new_server},
  {"destroy", conn_destroy},
  {"peer", conn_peer},
  {"read_body", conn_read_body},
  {"queued", conn_queued},
  {"parse_headers", parse_headers},
  {"inform", http_inform},
  {"check_headers", http_check_headers},
  {"check_header", http_check_header},
  {NULL, NULL}
};

int luaopen_native_http(lua_State *L) {
  lstr_new_class(L, SERVER_MT, server_methods, server_gc);
  luaL_register(L, "native.http", http_funcs);
  luaL_newmetatable(L, HTTP_CONN_MT);
  lua_pushcclosure(L, http_respond, 1);
  lua_setfield(L, -2, "respond");
  return 1;
}
