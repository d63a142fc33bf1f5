/*
 * tcp.c — the socket layer (tcp.h) and `native.tcp`.
 *
 * Owns: resolving an address, making a listening socket (socket,
 * SO_REUSEADDR, SO_REUSEPORT, bind, listen), accepting (with the EMFILE
 * reserve), reading socket addresses, and an acceptor that hands out
 * accepted connections as fds.
 *
 * Why by hand and not uv_tcp_bind: libuv 1.44 has no UV_TCP_REUSEPORT, and
 * SO_REUSEPORT must be set before bind(); so we create the socket ourselves
 * and give it to libuv with uv_tcp_open (http.c does that).  Handing fds
 * around as ints is also what the cluster seam needs (lua/luster/net.lua):
 * a primary binds or accepts, a worker adopts the fd.
 *
 * Lua API (native.tcp):
 *   listen(host, port, backlog, reuse_port) -> fd | nil, err
 *   close(fd)
 *   address(fd[, peer]) -> {address=, port=, family=} | nil
 *   acceptor(fd, on_fd) -> acceptor   on_fd(conn_fd) runs for each accepted
 *       connection (the callee owns conn_fd); acceptor:close() (closes fd
 *       too; until then the acceptor stays alive unreferenced),
 *       acceptor:pause(), acceptor:resume()
 */
#include "tcp.h"
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- addresses ---- */

int lstr_tcp_resolve(const char *host, int port, struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof *ss);
  if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0) return 0;
  if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0) return 0;
  /* a name ('localhost'): blocking, but listen() is called once */
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  int rc = getaddrinfo(host, NULL, &hints, &res);
  if (rc != 0 || !res) return UV_EAI_NONAME;
  memcpy(ss, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  if (ss->ss_family == AF_INET) ((struct sockaddr_in *)ss)->sin_port = htons(port);
  else ((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
  return 0;
}

static void keep_reserve(void);

static int try_listen(const struct sockaddr_storage *ss, int backlog, int reuse_port) {
  int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int on = 1, off = 0;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) {
    int err = -errno;
    close(fd);
    return err;
  }
  /* "::" accepts IPv4 too, as Node's default host does */
  if (ss->ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
  socklen_t len = ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
  if (bind(fd, (const struct sockaddr *)ss, len) != 0 || listen(fd, backlog) != 0) {
    int err = -errno;
    close(fd);
    return err;
  }
  return fd;
}

int lstr_tcp_listen_socket(const char *host, int port, int backlog, int reuse_port) {
  struct sockaddr_storage ss;
  if (backlog <= 0) backlog = 511;
  keep_reserve(); /* a process that listens will accept */
  if (!host || !*host) {
    lstr_tcp_resolve("::", port, &ss);
    int fd = try_listen(&ss, backlog, reuse_port);
    if (fd != UV_EAFNOSUPPORT && fd != UV_EADDRNOTAVAIL) return fd;
    host = "0.0.0.0"; /* no IPv6 on this machine */
  }
  int rc = lstr_tcp_resolve(host, port, &ss);
  if (rc) return rc;
  return try_listen(&ss, backlog, reuse_port);
}

/* ---- accepting ---- */

/* One descriptor kept open per process so that, at the limit, there is one
 * to free for accepting-and-closing the connections that wait (else a
 * level-triggered poll on the listening socket wakes forever).  Taken and
 * put back atomically: states on several threads may accept. */
static int reserve_fd = -1;

static void keep_reserve(void) {
  if (__atomic_load_n(&reserve_fd, __ATOMIC_ACQUIRE) >= 0) return;
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  int none = -1;
  if (!__atomic_compare_exchange_n(&reserve_fd, &none, fd, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
    close(fd); /* another thread kept one first */
}

static void shed_waiting_connections(int listen_fd) {
  int fd = __atomic_exchange_n(&reserve_fd, -1, __ATOMIC_ACQ_REL);
  if (fd < 0) return;
  close(fd);
  for (int i = 0; i < 1024; i++) {
    int conn = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (conn < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      break;
    }
    close(conn);
  }
  keep_reserve();
}

int lstr_tcp_accept(int listen_fd) {
  for (;;) {
    int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      return fd;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    int err = -errno;
    if (err == UV_EMFILE || err == UV_ENFILE) shed_waiting_connections(listen_fd);
    return err;
  }
}

void lstr_tcp_push_address(lua_State *L, int fd, int peer) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  int rc = peer ? getpeername(fd, (struct sockaddr *)&ss, &len)
                : getsockname(fd, (struct sockaddr *)&ss, &len);
  if (rc != 0) { lua_pushnil(L); return; }
  char ip[INET6_ADDRSTRLEN] = "";
  int port;
  if (ss.ss_family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    uv_ip6_name(a, ip, sizeof ip);
    port = ntohs(a->sin6_port);
  } else if (ss.ss_family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    uv_ip4_name(a, ip, sizeof ip);
    port = ntohs(a->sin_port);
  } else {
    lua_pushnil(L);
    return;
  }
  lua_createtable(L, 0, 3);
  lua_pushstring(L, ip);
  lua_setfield(L, -2, "address");
  lua_pushinteger(L, port);
  lua_setfield(L, -2, "port");
  lua_pushstring(L, ss.ss_family == AF_INET6 ? "IPv6" : "IPv4");
  lua_setfield(L, -2, "family");
}

/* ---- Lua: plain fds ---- */

static int tcp_listen(lua_State *L) {
  const char *host = luaL_optstring(L, 1, NULL);
  int port = (int)luaL_checkinteger(L, 2);
  int backlog = (int)luaL_optinteger(L, 3, 511);
  int reuse = lua_toboolean(L, 4);
  if (port < 0 || port > 65535) luaL_argerror(L, 2, "port must be 0..65535");
  int fd = lstr_tcp_listen_socket(host, port, backlog, reuse);
  if (fd < 0) {
    return lstr_push_fail(L, fd, "listen");
  }
  lua_pushinteger(L, fd);
  return 1;
}

static int tcp_close(lua_State *L) {
  close((int)luaL_checkinteger(L, 1));
  return 0;
}

static int tcp_address(lua_State *L) {
  lstr_tcp_push_address(L, (int)luaL_checkinteger(L, 1), lua_toboolean(L, 2));
  return 1;
}

/* ---- acceptor: accepted connections as fds (the cluster primary) ---- */

typedef struct {
  uv_poll_t poll;
  lstr_state *s;
  int fd;
  int cb_ref;
  int self_ref;   /* an open acceptor keeps its Lua object alive, as a handle does */
  int closed;
} acceptor;

static const char *ACCEPTOR_MT = "luster.tcp.acceptor";

static acceptor *check_acceptor(lua_State *L) {
  acceptor **pa = luaL_checkudata(L, 1, ACCEPTOR_MT);
  if (!*pa) luaL_error(L, "acceptor is closed");
  return *pa;
}

static void acceptor_cb(uv_poll_t *h, int status, int events) {
  acceptor *a = h->data;
  if (status < 0) return;
  /* drain the backlog: one readiness event may cover many connections */
  for (int i = 0; i < 64 && !a->closed; i++) {
    int cfd = lstr_tcp_accept(a->fd);
    if (cfd < 0) break;
    lstr_push_ref(a->s->L, a->cb_ref);
    lua_pushinteger(a->s->L, cfd);
    lstr_dispatch(a->s, 1);
  }
}

static void acceptor_close_cb(uv_handle_t *h) { free(h->data); }

static void close_acceptor(lua_State *L, acceptor **pa) {
  acceptor *a = *pa;
  if (!a) return;
  *pa = NULL;
  a->closed = 1;
  lstr_unref(L, &a->cb_ref);
  lstr_unref(L, &a->self_ref);
  uv_close((uv_handle_t *)&a->poll, acceptor_close_cb); /* stop polling before the fd goes */
  close(a->fd);
}

static int new_acceptor(lua_State *L) {
  int fd = (int)luaL_checkinteger(L, 1);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lstr_state *s = lstr_ctx(L);
  acceptor *a = calloc(1, sizeof *a);
  if (!a) return luaL_error(L, "out of memory");
  int rc = uv_poll_init(s->loop, &a->poll, fd);
  if (rc) { free(a); return lstr_uv_error(L, rc, "accept"); }
  a->s = s;
  a->fd = fd;
  a->poll.data = a;
  lua_pushvalue(L, 2);
  a->cb_ref = lstr_ref(L);
  uv_poll_start(&a->poll, UV_READABLE, acceptor_cb);
  acceptor **pa = lua_newuserdata(L, sizeof *pa);
  *pa = a;
  luaL_getmetatable(L, ACCEPTOR_MT);
  lua_setmetatable(L, -2);
  lua_pushvalue(L, -1);
  a->self_ref = lstr_ref(L);
  return 1;
}

static int acceptor_close(lua_State *L) {
  luaL_checkudata(L, 1, ACCEPTOR_MT);
  close_acceptor(L, lua_touserdata(L, 1));
  return 0;
}

static int acceptor_pause(lua_State *L) {
  uv_poll_stop(&check_acceptor(L)->poll);
  return 0;
}

static int acceptor_resume(lua_State *L) {
  uv_poll_start(&check_acceptor(L)->poll, UV_READABLE, acceptor_cb);
  return 0;
}

static int acceptor_fd(lua_State *L) {
  lua_pushinteger(L, check_acceptor(L)->fd);
  return 1;
}

static const luaL_Reg acceptor_methods[] = {
  {"close", acceptor_close},
  {"pause", acceptor_pause},
  {"resume", acceptor_resume},
  {"fd", acceptor_fd},
  {NULL, NULL}
};

static const luaL_Reg tcp_funcs[] = {
  {"listen", tcp_listen},
  {"close", tcp_close},
  {"address", tcp_address},
  {"acceptor", new_acceptor},
  {NULL, NULL}
};

int luaopen_native_tcp(lua_State *L) {
  lstr_new_class(L, ACCEPTOR_MT, acceptor_methods, acceptor_close);
  luaL_register(L, "native.tcp", tcp_funcs);
  return 1;
}
