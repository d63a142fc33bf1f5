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
 *   SCHED_RR    this file accepts (uv_poll on the raw socket, lstr_tcp_accept in a
 *               bounded loop) and hands each connection to the next worker
 *               in turn: one frame on that worker's channel carrying the
 *               descriptor and a pre-encoded {act='newconn', key=...}.
 *               A worker whose channel has a backlog is skipped ("next free
 *               worker"): a stalled worker stops receiving connections
 *               instead of hoarding them.
 *
 * Why raw sockets and not uv_tcp_t: the primary never reads the connections,
 * it only moves descriptors, and uv_tcp_t would hide them.  Binding,
 * accepting and addresses are the socket layer's (tcp.h).
 *
 * Members hold a reference on their channel (ipc_channel.h), so a worker
 * that vanishes between two accepts is skipped, never written through a
 * dangling pointer.  A share is freed when its poll handle is closed and its
 * userdata collected, whichever is last (lstr_lifetime).
 */
#include "cluster.h"
#include "tcp.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SHARE_MT "luster.cluster.share"
#define ACCEPTS_PER_WAKEUP 128
#define FREE_BACKLOG (256 * 1024)

typedef struct {
  lstr_ipc *ch;
  char *msg;            /* encoded {act='newconn', key=...} */
  size_t len;
} member;

typedef struct {
  uv_poll_t poll;
  lstr_state *s;
  lstr_lifetime life;   /* the poll handle + the userdata */
  int fd;
  int accepting;
  member *m;
  int n, cap, next;
} share;

static void free_share(void *obj) {
  share *sh = obj;
  free(sh->m);
  free(sh);
}

static void share_close_cb(uv_handle_t *h) {
  share *sh = h->data;
  lstr_lifetime_drop(&sh->life);
}

static void drop_members(share *sh) {
  for (int i = 0; i < sh->n; i++) {
    lstr_ipc_drop(sh->m[i].ch);
    free(sh->m[i].msg);
  }
  sh->n = 0;
}

static void share_close(share *sh) {
  if (sh->fd < 0) return;
  drop_members(sh);
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
      lstr_ipc *ch = sh->m[k].ch;
      if (!lstr_ipc_is_open(ch)) continue;
      if (lstr_ipc_backlog(ch) < FREE_BACKLOG) { pick = k; break; }
      if (pick < 0) pick = k; /* all busy: the first open one */
    }
    if (pick < 0) break;
    sh->next = (pick + 1) % sh->n;
    member *mb = &sh->m[pick];
    if (lstr_ipc_send(mb->ch, LSTR_IPC_INTERNAL, mb->msg, mb->len, conn) == 0) return 1;
  }
  close(conn);
  return 0;
}

static void accept_cb(uv_poll_t *h, int status, int events) {
  share *sh = h->data;
  if (status < 0 || sh->fd < 0) return;
  for (int i = 0; i < ACCEPTS_PER_WAKEUP && sh->n > 0; i++) {
    int conn = lstr_tcp_accept(sh->fd);
    if (conn < 0) break; /* EAGAIN, or EMFILE (waiting ones shed): next wakeup */
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

/* A share around a listening fd, pushed as its userdata, or nil, err (the
 * fd is closed then). */
static int push_share(lua_State *L, int fd) {
  share *sh = calloc(1, sizeof *sh);
  int rc = sh ? uv_poll_init(lstr_ctx(L)->loop, &sh->poll, fd) : UV_ENOMEM;
  if (rc < 0) {
    close(fd);
    free(sh);
    return lstr_push_fail(L, rc, "listen");
  }
  sh->s = lstr_ctx(L);
  sh->fd = fd;
  lstr_lifetime_init(&sh->life, sh, free_share, 2); /* the poll handle + the userdata */
  sh->poll.data = sh;
  share **p = lua_newuserdata(L, sizeof *p);
  *p = sh;
  luaL_getmetatable(L, SHARE_MT);
  lua_setmetatable(L, -2);
  return 1;
}

/* share_bind(host, port, backlog) -> share | nil, err (err.address/.port set) */
static int share_bind(lua_State *L) {
  const char *host = luaL_optstring(L, 1, NULL);
  int port = (int)luaL_checkinteger(L, 2);
  int backlog = (int)luaL_optinteger(L, 3, 511);
  int fd = lstr_tcp_listen_socket(host, port, backlog, 0);
  if (fd < 0) {
    lstr_push_fail(L, fd, "listen");
    lua_pushstring(L, host && *host ? host : "::");
    lua_setfield(L, -2, "address");
    lua_pushinteger(L, port);
    lua_setfield(L, -2, "port");
    return 2;
  }
  return push_share(L, fd);
}

/* share_adopt(fd) -> share | nil, err: a listening socket the primary
 * inherited (systemd socket activation, LISTEN_FDS) becomes a share; made
 * non-blocking and close-on-exec so workers do not inherit it. */
static int share_adopt(lua_State *L) {
  int fd = (int)luaL_checkinteger(L, 1);
  int listening = 0;
  socklen_t len = sizeof listening;
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 || !listening)
    return lstr_push_fail(L, UV_ENOTSOCK, "listen");
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
  lstr_tcp_push_address(L, check_share(L)->fd, 0);
  return 1;
}

/* sh:add(channel, newconn_bytes): a worker joins the rotation (SCHED_RR). */
static int share_add(lua_State *L) {
  share *sh = check_share(L);
  lstr_ipc *ch = lstr_ipc_check(L, 2);
  size_t len;
  const char *msg = luaL_checklstring(L, 3, &len);
  if (sh->n == sh->cap) {
    int cap = sh->cap ? sh->cap * 2 : 4;
    member *m = realloc(sh->m, (size_t)cap * sizeof *m);
    if (!m) return luaL_error(L, "out of memory");
    sh->m = m;
    sh->cap = cap;
  }
  char *copy = malloc(len ? len : 1);
  if (!copy) return luaL_error(L, "out of memory");
  memcpy(copy, msg, len);
  member *mb = &sh->m[sh->n++];
  mb->ch = ch;
  lstr_ipc_hold(ch);
  mb->msg = copy;
  mb->len = len;
  return 0;
}

/* sh:remove(channel) -> members left */
static int share_remove(lua_State *L) {
  share *sh = check_share(L);
  lstr_ipc *ch = lstr_ipc_check(L, 2);
  for (int i = 0; i < sh->n; i++) {
    if (sh->m[i].ch != ch) continue;
    lstr_ipc_drop(ch);
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
    lstr_lifetime_drop(&sh->life);
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
