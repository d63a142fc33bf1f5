/*
 * socket.c — `native.socket`: connected stream sockets and their servers,
 * over TCP (IPv4/IPv6) and Unix domain sockets.  The byte pipe under
 * `net`, the HTTP client, TLS and WebSocket (the HTTP server has its own
 * tuned connection in http_conn.c, on the same listening sockets: tcp.c).
 *
 * A socket is a malloc'ed `lsock` around a uv_tcp_t or uv_pipe_t.  Lua
 * holds a userdata cell pointing at it; the cell is nulled when the socket
 * closes, and a collected cell closes its socket, so whichever goes first
 * the other finds out (a handler that writes late finds the cell empty).
 * The lsock itself is freed in libuv's close callback.
 *
 * Everything that happens to a socket reaches Lua as one call of its
 * handler, `handler(event, a, b)`, through lstr_dispatch — or, for a
 * socket given an owner (sock:set_owner(t)), as `dispatch(t, event, a, b)`
 * with the one function set by set_dispatch, so that a connection needs
 * no closure of its own:
 *   'connect'             the connection is up (clients)
 *   'connection', sock    a server accepted `sock` (it does not read until
 *                         its owner calls read_start)
 *   'data', bytes         read from the peer (only between read_start and
 *                         read_stop: that is the backpressure lever)
 *   'end'                 the peer shut down its side
 *   'drain'               every queued write has reached the kernel
 *   'written', token      the write given `token` has reached the kernel
 *   'shutdown'            our side is shut down (after queued writes)
 *   'error', err          a libuv error as Node's error table
 *   'close'               the handle is closed; nothing more will come
 * Writes are tried directly first (uv_try_write) and only what the kernel
 * did not take is copied and queued, so `queued` bytes are exactly what
 * the Lua stream counts against its writableHighWaterMark.
 */
#include "tcp.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#ifdef __GLIBC__
#endif

#define SOCKET_MT "luster.socket"
#define READ_BUF (64 * 1024)

enum { K_TCP, K_PIPE };

/* Kept small: every idle connection has one.  The connect request lives
 * only while connecting (connect_sock). */
typedef struct lsock lsock;
struct lsock {
  union { uv_tcp_t tcp; uv_pipe_t pipe; uv_stream_t stream; uv_handle_t handle; } h;
  lstr_state *s;
  lsock **cell;              /* the Lua userdata pointing at us, or NULL */
  size_t queued;             /* bytes copied into pending uv_write requests */
  uint64_t nread, nwritten;  /* bytes read; bytes taken by write/try_write */
  int handler_ref;           /* handler(event, a, b), or the owner */
  unsigned char owned;       /* handler_ref is an owner for the dispatch function */
  unsigned char kind;
  unsigned char listening;
  unsigned char reading;
  unsigned char closing;
};

typedef struct {
  uv_write_t req;
  lsock *sock;
  size_t len;
  int token_ref;             /* LUA_NOREF, or the value to report in 'written' */
  char data[];
} write_req;

/* one read buffer per thread: libuv reads, Lua copies the bytes at once */
static _Thread_local char read_buf[READ_BUF];

/* ---- calling Lua ---- */

/* Push the function to call and its first arguments (the owner, if any,
 * and the event name); returns how many arguments that is, 0 when there is
 * nobody to tell.  A state being freed (a worker's end) has closed its Lua
 * state first: the close callbacks its finalizers queued run after that,
 * with s->L NULL. */
static int begin_event(lsock *k, const char *event) {
  if (k->handler_ref == LUA_NOREF || k->s->exiting || !k->s->L) return 0;
  lua_State *L = k->s->L;
  int n = 1;
  if (k->owned) {
    luaL_getmetatable(L, SOCKET_MT);
    lua_getfield(L, -1, "__dispatch");
    lua_remove(L, -2);
    n = 2;
  }
  lstr_push_ref(L, k->handler_ref);
  lua_pushstring(L, event);
  return n;
}

static void emit(lsock *k, const char *event) {
  int n = begin_event(k, event);
  if (n) lstr_dispatch(k->s, n);
}

static void emit_error(lsock *k, int err, const char *syscall) {
  int n = begin_event(k, "error");
  if (!n) return;
  lstr_push_uv_error(k->s->L, err, syscall);
  lstr_dispatch(k->s, n + 1);
}

/* ---- lifetime ---- */

static void close_cb(uv_handle_t *h) {
  lsock *k = h->data;
  emit(k, "close");
  if (k->s->L) lstr_unref(k->s->L, &k->handler_ref);
  free(k);
}

static void close_sock(lsock *k) {
  if (k->closing) return;
  k->closing = 1;
  if (k->cell) { *k->cell = NULL; k->cell = NULL; }
  uv_close(&k->h.handle, close_cb);
}

static lsock *new_sock(lua_State *L, int kind) {
  lstr_state *s = lstr_ctx(L);
  lsock *k = calloc(1, sizeof *k);
  if (!k) { lstr_error(L, "ERR_OUT_OF_MEMORY", "socket: out of memory"); return NULL; }
  int rc = kind == K_TCP ? uv_tcp_init(s->loop, &k->h.tcp) : uv_pipe_init(s->loop, &k->h.pipe, 0);
  if (rc) { free(k); lstr_uv_error(L, rc, "socket"); return NULL; }
  k->s = s;
  k->kind = kind;
  k->handler_ref = LUA_NOREF;
  k->h.handle.data = k;
  return k;
}

/* Push a userdata cell for k (once per socket). */
static void push_cell(lua_State *L, lsock *k) {
  lsock **cell = lua_newuserdata(L, sizeof *cell);
  *cell = k;
  k->cell = cell;
  luaL_getmetatable(L, SOCKET_MT);
  lua_setmetatable(L, -2);
}

static void set_handler(lua_State *L, lsock *k, int idx) {
  lstr_unref(L, &k->handler_ref);
  k->owned = 0;
  if (lua_isfunction(L, idx)) {
    lua_pushvalue(L, idx);
    k->handler_ref = lstr_ref(L);
  }
}

static lsock *check_sock(lua_State *L) {
  lsock **cell = luaL_checkudata(L, 1, SOCKET_MT);
  if (!*cell) {
    lstr_error(L, "ERR_SOCKET_CLOSED", "Socket is closed");
    return NULL;
  }
  return *cell;
}

/* ---- reading ---- */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h; (void)suggested;
  buf->base = read_buf;
  buf->len = sizeof read_buf;
}

static void read_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *buf) {
  lsock *k = st->data;
  if (n > 0) {
    k->nread += (uint64_t)n;
    int nargs = begin_event(k, "data");
    if (nargs) {
      lua_pushlstring(k->s->L, buf->base, (size_t)n);
      lstr_dispatch(k->s, nargs + 1);
    }
    return;
  }
  if (n == 0) return;
  uv_read_stop(st);
  k->reading = 0;
  if (n == UV_EOF) emit(k, "end");
  else emit_error(k, (int)n, "read");
}

static int sock_read_start(lua_State *L) {
  lsock *k = check_sock(L);
  if (!k->reading) {
    int rc = uv_read_start(&k->h.stream, alloc_cb, read_cb);
    if (rc && rc != UV_EALREADY) return lstr_uv_error(L, rc, "read");
    k->reading = 1;
  }
  return 0;
}

static int sock_read_stop(lua_State *L) {
  lsock *k = check_sock(L);
  if (k->reading) uv_read_stop(&k->h.stream);
  k->reading = 0;
  return 0;
}

/* ---- writing ---- */

static void write_cb(uv_write_t *req, int status) {
  write_req *w = (write_req *)req;
  lsock *k = w->sock;
  k->queued -= w->len;
  int nargs;
  if (status == 0 && w->token_ref != LUA_NOREF && (nargs = begin_event(k, "written"))) {
    lstr_push_ref(k->s->L, w->token_ref);
    lstr_dispatch(k->s, nargs + 1);
  }
  if (k->s->L) lstr_unref(k->s->L, &w->token_ref);
  free(w);
  if (status < 0) {
    if (status != UV_ECANCELED) emit_error(k, status, "write");
    return;
  }
  if (k->queued == 0 && !k->closing) emit(k, "drain");
}

/* sock:write(bytes[, token]) -> queued bytes after this write.
 * With a token, 'written', token follows once the bytes reached the kernel
 * (at once, as an event, when the direct write took them all). */
static int sock_write(lua_State *L) {
  lsock *k = check_sock(L);
  size_t n;
  const char *p = luaL_checklstring(L, 2, &n);
  int has_token = !lua_isnoneornil(L, 3);
  size_t done = 0;
  if (k->queued == 0 && n > 0) {
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
    int rc = uv_try_write(&k->h.stream, &b, 1);
    if (rc > 0) done = (size_t)rc;
    else if (rc != UV_EAGAIN && rc != UV_ENOSYS) return lstr_uv_error(L, rc, "write");
  }
  if (done == n && !has_token) {
    k->nwritten += n;
    lua_pushinteger(L, (lua_Integer)k->queued);
    return 1;
  }
  write_req *w = malloc(sizeof *w + (n - done));
  if (!w) return lstr_error(L, "ERR_OUT_OF_MEMORY", "socket write: out of memory");
  memcpy(w->data, p + done, n - done);
  w->sock = k;
  w->len = n - done;
  w->token_ref = LUA_NOREF;
  if (has_token) {
    lua_pushvalue(L, 3);
    w->token_ref = lstr_ref(L);
  }
  uv_buf_t b = uv_buf_init(w->data, (unsigned)(n - done));
  int rc = uv_write(&w->req, &k->h.stream, &b, 1, write_cb);
  if (rc) {
    lstr_unref(L, &w->token_ref);
    free(w);
    return lstr_uv_error(L, rc, "write");
  }
  k->queued += w->len;
  k->nwritten += n;
  lua_pushinteger(L, (lua_Integer)k->queued);
  return 1;
}

/* sock:try_write(bytes) -> how many bytes the kernel took at once (0 when
 * it would block, or while earlier writes are still queued); never queues
 * anything, so the caller keeps what was not taken. */
static int sock_try_write(lua_State *L) {
  lsock *k = check_sock(L);
  size_t n;
  const char *p = luaL_checklstring(L, 2, &n);
  int done = 0;
  if (k->queued == 0 && n > 0) {
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
    int rc = uv_try_write(&k->h.stream, &b, 1);
    if (rc > 0) done = rc;
    else if (rc != UV_EAGAIN && rc != UV_ENOSYS) return lstr_uv_error(L, rc, "write");
  }
  k->nwritten += (uint64_t)done;
  lua_pushinteger(L, done);
  return 1;
}

/* sock:bytes() -> bytes read, bytes written (Node's bytesRead/bytesWritten:
 * counted here so that a socket's table need not) */
static int sock_bytes(lua_State *L) {
  lsock *k = check_sock(L);
  lua_pushnumber(L, (lua_Number)k->nread);
  lua_pushnumber(L, (lua_Number)k->nwritten);
  return 2;
}

static int sock_queued(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)check_sock(L)->queued);
  return 1;
}

static void shutdown_cb(uv_shutdown_t *req, int status) {
  lsock *k = req->data;
  free(req);
  /* ENOTCONN: the peer already reset the connection; our side is as shut
   * as it will get, and the stream waiting for its end must hear of it */
  if (status == 0 || status == UV_ENOTCONN) emit(k, "shutdown");
  else if (status != UV_ECANCELED) emit_error(k, status, "shutdown");
}

/* sock:shutdown() — end our side once the queued writes are out */
static int sock_shutdown(lua_State *L) {
  lsock *k = check_sock(L);
  uv_shutdown_t *req = malloc(sizeof *req);
  if (!req) return lstr_error(L, "ERR_OUT_OF_MEMORY", "socket shutdown: out of memory");
  req->data = k;
  int rc = uv_shutdown(req, &k->h.stream, shutdown_cb);
  if (rc) {
    free(req);
    if (rc == UV_ENOTCONN) return 0;
    return lstr_uv_error(L, rc, "shutdown");
  }
  return 0;
}

static int sock_close(lua_State *L) {
  lsock **cell = luaL_checkudata(L, 1, SOCKET_MT);
  if (*cell) close_sock(*cell);
  return 0;
}

/* ---- connecting ---- */

/* Also runs (UV_ECANCELED) when the socket closes while connecting, before
 * its close callback: k is still there. */
static void connect_cb(uv_connect_t *req, int status) {
  lsock *k = req->data;
  free(req);
  if (k->closing) return;
  if (status == 0) emit(k, "connect");
  else if (status != UV_ECANCELED) emit_error(k, status, "connect");
}

/* tcp_connect(ip, port, handler[, local_ip]) -> sock  (ip: a literal) */
static int tcp_connect(lua_State *L) {
  const char *ip = luaL_checkstring(L, 1);
  int port = (int)luaL_checkinteger(L, 2);
  luaL_checktype(L, 3, LUA_TFUNCTION);
  struct sockaddr_storage ss;
  if (uv_ip4_addr(ip, port, (struct sockaddr_in *)&ss) != 0 &&
      uv_ip6_addr(ip, port, (struct sockaddr_in6 *)&ss) != 0)
    return luaL_argerror(L, 1, "not an IP address");
  lsock *k = new_sock(L, K_TCP);
  set_handler(L, k, 3);
  push_cell(L, k);
  uv_connect_t *req = malloc(sizeof *req);
  if (!req) {
    close_sock(k);
    return lstr_error(L, "ERR_OUT_OF_MEMORY", "socket connect: out of memory");
  }
  req->data = k;
  int rc = uv_tcp_connect(req, &k->h.tcp, (const struct sockaddr *)&ss, connect_cb);
  if (rc) {
    free(req);
    close_sock(k);
    return lstr_uv_error(L, rc, "connect");
  }
  return 1;
}

/* pipe_connect(path, handler) -> sock */
static int pipe_connect(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lsock *k = new_sock(L, K_PIPE);
  set_handler(L, k, 2);
  push_cell(L, k);
  uv_connect_t *req = malloc(sizeof *req);
  if (!req) {
    close_sock(k);
    return lstr_error(L, "ERR_OUT_OF_MEMORY", "socket connect: out of memory");
  }
  req->data = k;
  uv_pipe_connect(req, &k->h.pipe, path, connect_cb);   /* errors come through connect_cb */
  return 1;
}

/* ---- servers ---- */

static void connection_cb(uv_stream_t *server, int status) {
  lsock *srv = server->data;
  if (status < 0) { emit_error(srv, status, "accept"); return; }
  lua_State *L = srv->s->L;
  lsock *k = calloc(1, sizeof *k);
  if (!k) return;
  int rc = srv->kind == K_TCP ? uv_tcp_init(srv->s->loop, &k->h.tcp) : uv_pipe_init(srv->s->loop, &k->h.pipe, 0);
  if (rc) { free(k); return; }
  k->s = srv->s;
  k->kind = srv->kind;
  k->handler_ref = LUA_NOREF;
  k->h.handle.data = k;
  if (uv_accept(server, &k->h.stream) != 0) { close_sock(k); return; }
  int nargs = begin_event(srv, "connection");
  if (!nargs) { close_sock(k); return; }
  push_cell(L, k);
  lstr_dispatch(srv->s, nargs + 1);
}

static int start_listening(lua_State *L, lsock *k, int backlog) {
  int rc = uv_listen(&k->h.stream, backlog > 0 ? backlog : 511, connection_cb);
  if (rc) {
    close_sock(k);
    return lstr_push_fail(L, rc, "listen");
  }
  k->listening = 1;
  return 1;
}

/* tcp_listen(host, port, backlog, reuse_port, handler) -> server | nil, err */
static int tcp_listen(lua_State *L) {
  const char *host = luaL_optstring(L, 1, NULL);
  int port = (int)luaL_checkinteger(L, 2);
  int backlog = (int)luaL_optinteger(L, 3, 511);
  int reuse = lua_toboolean(L, 4);
  luaL_checktype(L, 5, LUA_TFUNCTION);
  int fd = lstr_tcp_listen_socket(host, port, backlog, reuse);
  if (fd < 0) {
    return lstr_push_fail(L, fd, "listen");
  }
  lsock *k = new_sock(L, K_TCP);
  int rc = uv_tcp_open(&k->h.tcp, fd);
  set_handler(L, k, 5);
  push_cell(L, k);
  if (rc) {
    close(fd);
    close_sock(k);
    return lstr_push_fail(L, rc, "listen");
  }
  return start_listening(L, k, backlog);
}

/* pipe_listen(path, backlog, handler) -> server | nil, err */
static int pipe_listen(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  int backlog = (int)luaL_optinteger(L, 2, 511);
  luaL_checktype(L, 3, LUA_TFUNCTION);
  lsock *k = new_sock(L, K_PIPE);
  set_handler(L, k, 3);
  push_cell(L, k);
  int rc = uv_pipe_bind(&k->h.pipe, path);
  if (rc) {
    close_sock(k);
    return lstr_push_fail(L, rc, "listen");
  }
  return start_listening(L, k, backlog);
}

/* adopt(fd, handler[, listening]) -> sock | nil, err: a connected (or,
 * with `listening`, a listening) TCP socket passed in from elsewhere (the
 * cluster seam, socket activation).  We own fd from here on. */
static int sock_adopt(lua_State *L) {
  int fd = (int)luaL_checkinteger(L, 1);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  int listening = lua_toboolean(L, 3);
  lsock *k = new_sock(L, K_TCP);
  int rc = uv_tcp_open(&k->h.tcp, fd);
  set_handler(L, k, 2);
  push_cell(L, k);
  if (rc) {
    close(fd);
    close_sock(k);
    return lstr_push_fail(L, rc, "open");
  }
  if (listening) return start_listening(L, k, 511);
  return 1;
}

/* ---- options and addresses ---- */

static int sock_set_handler(lua_State *L) {
  set_handler(L, check_sock(L), 2);
  return 0;
}

/* sock:set_owner(t): events go to dispatch(t, event, a, b) from now on */
static int sock_set_owner(lua_State *L) {
  lsock *k = check_sock(L);
  luaL_checkany(L, 2);
  lstr_unref(L, &k->handler_ref);
  lua_pushvalue(L, 2);
  k->handler_ref = lstr_ref(L);
  k->owned = 1;
  return 0;
}

/* set_dispatch(fn): the function owned sockets' events go to (per state) */
static int sock_set_dispatch(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  luaL_getmetatable(L, SOCKET_MT);
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, "__dispatch");
  return 0;
}

static int sock_nodelay(lua_State *L) {
  lsock *k = check_sock(L);
  if (k->kind == K_TCP) uv_tcp_nodelay(&k->h.tcp, lua_isnone(L, 2) || lua_toboolean(L, 2));
  return 0;
}

static int sock_keepalive(lua_State *L) {
  lsock *k = check_sock(L);
  int delay_s = (int)(luaL_optnumber(L, 3, 0) / 1000);
  if (k->kind == K_TCP) uv_tcp_keepalive(&k->h.tcp, lua_toboolean(L, 2), delay_s > 0 ? delay_s : 1);
  return 0;
}

static int sock_fileno(lua_State *L) {
  uv_os_fd_t fd;
  if (uv_fileno(&check_sock(L)->h.handle, &fd) != 0) return 0;
  lua_pushinteger(L, fd);
  return 1;
}

/* sock:address([peer]) -> {address=, port=, family=} | path | nil */
static int sock_address(lua_State *L) {
  lsock *k = check_sock(L);
  int peer = lua_toboolean(L, 2);
  if (k->kind == K_PIPE) {
    char buf[256];
    size_t n = sizeof buf;
    int rc = peer ? uv_pipe_getpeername(&k->h.pipe, buf, &n) : uv_pipe_getsockname(&k->h.pipe, buf, &n);
    if (rc) return 0;
    lua_pushlstring(L, buf, n);
    return 1;
  }
  uv_os_fd_t fd;
  if (uv_fileno(&k->h.handle, &fd) != 0) return 0;
  lstr_tcp_push_address(L, fd, peer);
  return 1;
}

static int sock_ref(lua_State *L) {
  lsock *k = check_sock(L);
  if (lua_isnone(L, 2) || lua_toboolean(L, 2)) uv_ref(&k->h.handle);
  else uv_unref(&k->h.handle);
  return 0;
}

static int sock_has_ref(lua_State *L) {
  lua_pushboolean(L, uv_has_ref(&check_sock(L)->h.handle));
  return 1;
}

static int sock_gc(lua_State *L) {
  lsock **cell = luaL_checkudata(L, 1, SOCKET_MT);
  if (*cell) {
    (*cell)->cell = NULL;
    close_sock(*cell);
    *cell = NULL;
  }
  return 0;
}

/* trim() — hand the heap's free pages back to the OS (every arena, the
 * resolver threads' too).  net.lua calls it once connections have stopped
 * coming and going for a moment, never on a hot path. */
static int sock_trim(lua_State *L) {
  (void)L;
  lstr_heap_trim();
  return 0;
}

static const luaL_Reg sock_methods[] = {
  {"read_start", sock_read_start},
  {"read_stop", sock_read_stop},
  {"write", sock_write},
  {"try_write", sock_try_write},
  {"bytes", sock_bytes},
  {"queued", sock_queued},
  {"shutdown", sock_shutdown},
  {"close", sock_close},
  {"set_handler", sock_set_handler},
  {"set_owner", sock_set_owner},
  {"nodelay", sock_nodelay},
  {"keepalive", sock_keepalive},
  {"fileno", sock_fileno},
  {"address", sock_address},
  {"ref", sock_ref},
  {"has_ref", sock_has_ref},
  {NULL, NULL}
};

static const luaL_Reg socket_funcs[] = {
  {"tcp_connect", tcp_connect},
  {"pipe_connect", pipe_connect},
  {"tcp_listen", tcp_listen},
  {"pipe_listen", pipe_listen},
  {"adopt", sock_adopt},
  {"set_dispatch", sock_set_dispatch},
  {"trim", sock_trim},
  {NULL, NULL}
};

int luaopen_native_socket(lua_State *L) {
  lstr_new_class(L, SOCKET_MT, sock_methods, sock_gc);
  luaL_register(L, "native.socket", socket_funcs);
  return 1;
}
