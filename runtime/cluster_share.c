/*
 * cluster_share.c — a listening socket the primary owns on behalf of the
 * workers that listen on one address (Node's RoundRobinHandle and
 * SharedHandle in one object).
 *
 * The primary binds once, so every worker shares one port and a bind error
 * (EADDRINUSE, EACCES) happens once, in the primary, and is reported back to
 * the worker that asked.  Then, by scheduling policy:
 *
 *   SCHED_NONE  the Lua side sends the listening descriptor itself to each
 *               worker; the kernel spreads accepts; this file only binds.
 *   SCHED_RR    this file accepts (uv_poll on the raw socket, accept4 in a
 *               bounded loop) and hands each connection to the next worker
 *               in turn: one frame on that worker's channel carrying the
 *               descriptor and a pre-encoded {act='newconn', key=...}.
 *               A worker whose channel has a backlog is skipped ("next free
 *               worker"): a stalled worker stops receiving connections
 *               instead of hoarding them.
 *
 * Why raw sockets and not uv_tcp_t: the primary never reads the connections,
 * it only moves descriptors, and uv_tcp_t would hide them.
 *
 * Members hold a reference on their channel (cluster.h), so a worker that
 * vanishes between two accepts is skipped, never written through a
 * dangling pointer.
 */
#include "cluster.h"
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SHARE_MT "luster.cluster.share"
#define ACCEPTS_PER_WAKEUP 128
#define FREE_BACKLOG (256 * 1024)

typedef struct {
  lstr_channel *ch;
  char *msg;            /* encoded {act='newconn', key=...} */
  size_t len;
} member;

typedef struct {
  uv_poll_t poll;
  lstr_state *s;
  int fd;
  int accepting;
  int handle_live;
  int gone;             /* the userdata was collected */
  member *m;
  int n, cap, next;
} share;

static void share_free_if_done(share *sh) {
  if (sh->handle_live || !sh->gone) return;
  free(sh->m);
  free(sh);
}

static void share_close_cb(uv_handle_t *h) {
  share *sh = h->data;
  sh->handle_live = 0;
  share_free_if_done(sh);
}

static void drop_members(share *sh) {
  for (int i = 0; i < sh->n; i++) {
    lstr_channel_release(sh->m[i].ch);
    free(sh->m[i].msg);
  }
  sh->n = 0;
}

static void share_close(share *sh) {
  if (sh->fd < 0) return;
  drop_members(sh);
  if (sh->handle_live && !uv_is_closing((uv_handle_t *)&sh->poll))
    uv_close((uv_handle_t *)&sh->poll, share_close_cb);
  close(sh->fd);
  sh->fd = -1;
}

/* Send one accepted connection to the next free worker; 0 if none took it
 * (then it is closed).  A worker that has just died is skipped. */
static int handoff(share *sh, int conn) {
  for (int tries = 0; tries < sh->n; tries++) {
    int pick = -1;
    for (int i = 0; i < sh->n; i++) {
      int k = (sh->next + i) % sh->n;
      lstr_channel *ch = sh->m[k].ch;
      if (!lstr_channel_is_open(ch)) continue;
      if (lstr_channel_backlog(ch) < FREE_BACKLOG) { pick = k; break; }
      if (pick < 0) pick = k; /* all busy: the first open one */
    }
    if (pick < 0) break;
    sh->next = (pick + 1) % sh->n;
    member *mb = &sh->m[pick];
    if (lstr_channel_send(mb->ch, LSTR_FRAME_INTERNAL, mb->msg, mb->len, conn) == 0) return 1;
  }
  close(conn);
  return 0;
}

static void accept_cb(uv_poll_t *h, int status, int events) {
  share *sh = h->data;
  if (status < 0 || sh->fd < 0) return;
  for (int i = 0; i < ACCEPTS_PER_WAKEUP && sh->n > 0; i++) {
    int conn = accept4(sh->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (conn < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      break; /* EAGAIN, or EMFILE: try again on the next wakeup */
    }
    int one = 1;
    setsockopt(conn, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    handoff(sh, conn);
  }
}

static void set_accepting(share *sh, int on) {
  on = on && sh->n > 0 && sh->fd >= 0;
  if (on == sh->accepting) return;
  sh->accepting = on;
  if (on) uv_poll_start(&sh->poll, UV_READABLE, accept_cb);
  else if (sh->fd >= 0) uv_poll_stop(&sh->poll);
}

static share *check_share(lua_State *L) {
  share **p = luaL_checkudata(L, 1, SHARE_MT);
  if (!*p || (*p)->fd < 0) luaL_argerror(L, 1, "share is closed");
  return *p;
}

static int parse_addr(const char *host, int port, struct sockaddr_storage *ss) {
  if (!strcmp(host, "localhost")) host = "127.0.0.1";
  if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0) return 0;
  if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0) return 0;
  return UV_EINVAL;
}

/* socket + SO_REUSEADDR + bind + listen; the fd or a negative errno. */
static int bind_listen(const char *host, int port, int backlog) {
  struct sockaddr_storage ss;
  int rc = parse_addr(host, port, &ss);
  if (rc) return rc;
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int one = 1, zero = 0;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (ss.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  socklen_t sl = ss.ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
  if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, backlog) < 0) {
    rc = -errno;
    close(fd);
    return rc;
  }
  return fd;
}

/* A share around a listening fd, pushed as its userdata. */
static int push_share(lua_State *L, int fd) {
  share *sh = calloc(1, sizeof *sh);
  if (!sh) { close(fd); return luaL_error(L, "out of memory"); }
  sh->s = lstr_ctx(L);
  sh->fd = fd;
  uv_poll_init(sh->s->loop, &sh->poll, fd);
  sh->handle_live = 1;
  sh->poll.data = sh;
  share **p = lua_newuserdata(L, sizeof *p);
  *p = sh;
  luaL_getmetatable(L, SHARE_MT);
  lua_setmetatable(L, -2);
  return 1;
}

/* share_bind(host, port, backlog) -> share | nil, code, message */
static int share_bind(lua_State *L) {
  const char *host = luaL_optstring(L, 1, NULL);
  int port = (int)luaL_checkinteger(L, 2);
  int backlog = (int)luaL_optinteger(L, 3, 511);
  int fd;
  if (host && *host) {
    fd = bind_listen(host, port, backlog);
  } else { /* every address: dual-stack "::", as servers do outside a cluster */
    host = "::";
    fd = bind_listen(host, port, backlog);
    if (fd == UV_EAFNOSUPPORT || fd == UV_EADDRNOTAVAIL) fd = bind_listen(host = "0.0.0.0", port, backlog);
  }
  if (fd < 0) {
    lua_pushnil(L);
    lua_pushstring(L, uv_err_name(fd));
    lua_pushfstring(L, "listen %s: %s %s:%d", uv_err_name(fd), uv_strerror(fd), host, port);
    return 3;
  }
  return push_share(L, fd);
}

/* share_adopt(fd) -> share | nil, code, message: a listening socket the
 * primary inherited (systemd socket activation, LISTEN_FDS) becomes a
 * share; made non-blocking and close-on-exec so workers do not inherit it. */
static int share_adopt(lua_State *L) {
  int fd = (int)luaL_checkinteger(L, 1);
  int listening = 0;
  socklen_t len = sizeof listening;
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 || !listening) {
    lua_pushnil(L);
    lua_pushstring(L, "ENOTSOCK");
    lua_pushfstring(L, "fd %d is not a listening socket", fd);
    return 3;
  }
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  return push_share(L, fd);
}

static int share_fd(lua_State *L) {
  lua_pushinteger(L, check_share(L)->fd);
  return 1;
}

/* sh:address() -> {address=, port=, family=} */
static int share_address(lua_State *L) {
  share *sh = check_share(L);
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  if (getsockname(sh->fd, (struct sockaddr *)&ss, &sl) < 0) return lstr_uv_error(L, -errno, "getsockname");
  char ip[64] = "";
  int port;
  if (ss.ss_family == AF_INET6) {
    uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof ip);
    port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  } else {
    uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof ip);
    port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  }
  lua_createtable(L, 0, 3);
  lua_pushstring(L, ip);
  lua_setfield(L, -2, "address");
  lua_pushinteger(L, port);
  lua_setfield(L, -2, "port");
  lua_pushstring(L, ss.ss_family == AF_INET6 ? "IPv6" : "IPv4");
  lua_setfield(L, -2, "family");
  return 1;
}

/* sh:add(channel, newconn_bytes): a worker joins the rotation (SCHED_RR). */
static int share_add(lua_State *L) {
  share *sh = check_share(L);
  lstr_channel *ch = lstr_channel_check(L, 2);
  size_t len;
  const char *msg = luaL_checklstring(L, 3, &len);
  if (sh->n == sh->cap) {
    int cap = sh->cap ? sh->cap * 2 : 4;
    member *m = realloc(sh->m, (size_t)cap * sizeof *m);
    if (!m) return luaL_error(L, "out of memory");
    sh->m = m;
    sh->cap = cap;
  }
  member *mb = &sh->m[sh->n++];
  mb->ch = ch;
  lstr_channel_retain(ch);
  mb->msg = malloc(len);
  memcpy(mb->msg, msg, len);
  mb->len = len;
  return 0;
}

/* sh:remove(channel) -> members left */
static int share_remove(lua_State *L) {
  share *sh = check_share(L);
  lstr_channel *ch = lstr_channel_check(L, 2);
  for (int i = 0; i < sh->n; i++) {
    if (sh->m[i].ch != ch) continue;
    lstr_channel_release(ch);
    free(sh->m[i].msg);
    memmove(&sh->m[i], &sh->m[i + 1], (size_t)(sh->n - i - 1) * sizeof *sh->m);
    sh->n--;
    if (sh->next >= sh->n) sh->next = 0;
    break;
  }
  if (sh->n == 0) set_accepting(sh, 0);
  lua_pushinteger(L, sh->n);
  return 1;
}

/* sh:accept(on): start or stop handing out connections.  With nobody to
 * hand them to, connections wait in the kernel's backlog. */
static int share_accept(lua_State *L) {
  set_accepting(check_share(L), lua_toboolean(L, 2));
  return 0;
}

/* sh:handoff(fd): a connection a worker gave back goes to another. */
static int share_handoff(lua_State *L) {
  share *sh = check_share(L);
  int fd = (int)luaL_checkinteger(L, 2);
  lua_pushboolean(L, handoff(sh, fd));
  return 1;
}

static int share_close_lua(lua_State *L) {
  share **p = luaL_checkudata(L, 1, SHARE_MT);
  if (*p) share_close(*p);
  return 0;
}

static int share_gc(lua_State *L) {
  share **p = luaL_checkudata(L, 1, SHARE_MT);
  if (*p) {
    share *sh = *p;
    *p = NULL;
    share_close(sh);
    sh->gone = 1;
    share_free_if_done(sh);
  }
  return 0;
}

static const luaL_Reg share_methods[] = {
  {"fd", share_fd},
  {"address", share_address},
  {"add", share_add},
  {"remove", share_remove},
  {"accept", share_accept},
  {"handoff", share_handoff},
  {"close", share_close_lua},
  {NULL, NULL}
};

void lstr_share_open_lib(lua_State *L) {
  lstr_new_class(L, SHARE_MT, share_methods, share_gc);
  lua_pushcfunction(L, share_bind);
  lua_setfield(L, -2, "share_bind");
  lua_pushcfunction(L, share_adopt);
  lua_setfield(L, -2, "share_adopt");
}
