/*
 * dns.c — `native.dns`: name lookups with getaddrinfo on libuv's
 * threadpool (uv_getaddrinfo), as Node's dns.lookup does, so a slow
 * resolver never blocks the loop.
 *
 * lookup(host, family, cb) calls cb(err, list) on the loop, list being
 * {{address=, family=4|6}, ...} in the resolver's order; the Lua side
 * (lua/dns.lua) picks the first or returns all.  Names that do not resolve
 * are ENOTFOUND (Node folds EAI_NONAME and EAI_NODATA into it), with
 * .syscall = 'getaddrinfo' and .hostname.
 */
#include "lstr.h"
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

typedef struct {
  uv_getaddrinfo_t req;
  lstr_state *s;
  int cb_ref;
  char host[];
} lookup_job;

static const char *lookup_code(int status) {
  if (status == UV_EAI_NONAME || status == UV_EAI_NODATA || status == UV_EAI_ADDRFAMILY) return "ENOTFOUND";
  if (status == UV_EAI_AGAIN) return "EAI_AGAIN";
  return uv_err_name(status);
}

static void push_lookup_error(lua_State *L, int status, const char *host) {
  const char *code = lookup_code(status);
  lstr_push_error(L, code, "getaddrinfo %s %s", code, host);
  if (lua_istable(L, -1)) {
    lua_pushstring(L, "getaddrinfo");
    lua_setfield(L, -2, "syscall");
    lua_pushstring(L, host);
    lua_setfield(L, -2, "hostname");
    lua_pushinteger(L, status);
    lua_setfield(L, -2, "errno");
  }
}

static void push_addresses(lua_State *L, const struct addrinfo *res) {
  lua_newtable(L);
  int n = 0;
  for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
    char buf[INET6_ADDRSTRLEN];
    int family;
    if (ai->ai_family == AF_INET) {
      uv_ip4_name((const struct sockaddr_in *)ai->ai_addr, buf, sizeof buf);
      family = 4;
    } else if (ai->ai_family == AF_INET6) {
      uv_ip6_name((const struct sockaddr_in6 *)ai->ai_addr, buf, sizeof buf);
      family = 6;
    } else {
      continue;
    }
    lua_createtable(L, 0, 2);
    lua_pushstring(L, buf);
    lua_setfield(L, -2, "address");
    lua_pushinteger(L, family);
    lua_setfield(L, -2, "family");
    lua_rawseti(L, -2, ++n);
  }
}

static void lookup_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  lookup_job *j = req->data;
  lua_State *L = j->s->L;
  if (L && j->cb_ref != LUA_NOREF) {
    lstr_push_ref(L, j->cb_ref);
    lstr_unref(L, &j->cb_ref);
    if (status < 0) {
      push_lookup_error(L, status, j->host);
      lua_pushnil(L);
    } else {
      lua_pushnil(L);
      push_addresses(L, res);
    }
    lstr_dispatch(j->s, 2);
  }
  uv_freeaddrinfo(res);
  free(j);
}

/* lookup(host, family (0|4|6), cb) */
static int dns_lookup(lua_State *L) {
  size_t n;
  const char *host = luaL_checklstring(L, 1, &n);
  lua_Integer family = luaL_optinteger(L, 2, 0);
  luaL_checktype(L, 3, LUA_TFUNCTION);
  lookup_job *j = malloc(sizeof *j + n + 1);
  if (!j) return lstr_error(L, "ERR_OUT_OF_MEMORY", "dns.lookup: out of memory");
  memcpy(j->host, host, n + 1);
  j->s = lstr_ctx(L);
  j->req.data = j;
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = family == 4 ? AF_INET : family == 6 ? AF_INET6 : AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;  /* one entry per address, not per socket type */
  hints.ai_flags = AI_ADDRCONFIG;
  lua_pushvalue(L, 3);
  j->cb_ref = lstr_ref(L);
  int rc = uv_getaddrinfo(j->s->loop, &j->req, lookup_cb, j->host, NULL, &hints);
  if (rc) {
    lstr_unref(L, &j->cb_ref);
    free(j);
    return lstr_uv_error(L, rc, "getaddrinfo");
  }
  return 0;
}

/* is_ip(s) -> 0, 4 or 6 (net.isIP) */
static int dns_is_ip(lua_State *L) {
  const char *s = luaL_checkstring(L, 1);
  unsigned char buf[sizeof(struct in6_addr)];
  int v = 0;
  if (uv_inet_pton(AF_INET, s, buf) == 0) v = 4;
  else if (uv_inet_pton(AF_INET6, s, buf) == 0) v = 6;
  lua_pushinteger(L, v);
  return 1;
}

static const luaL_Reg dns_funcs[] = {
  {"lookup", dns_lookup},
  {"is_ip", dns_is_ip},
  {NULL, NULL}
};

int luaopen_native_dns(lua_State *L) {
  luaL_register(L, "native.dns", dns_funcs);
  return 1;
}
