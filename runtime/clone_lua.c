/*
 * clone_lua.c — require('native.clone'): the structured-clone serializer
 * seen from Lua, for specs, tools and the Lua side of luster.buffers.
 *
 *   encode(value[, transferList[, 'process']]) -> msg   (raises DataCloneError)
 *   decode(msg | bytes) -> value                        (raises DataCloneError)
 *   bytes(msg) -> string        from_bytes(string) -> msg
 *   set_cdata_hooks(classify, make)   luster.buffers' cdata (de)constructors
 *   encode_fast(v) -> msg | nil    encode_full(v[, transfer[, mode]]) -> msg
 *   decode_fast(msg) -> true, v | false    decode_full(msg) -> v
 *       each path alone, for the specs and the fuzzer that compare them
 *
 * A msg is a full userdata owning one lstr_msg; its __gc frees it.
 */
#include "clone_wire.h"

#include <string.h>

#define MSG_MT "luster.clone.msg"

static lstr_msg **check_msg(lua_State *L, int idx) {
  lstr_msg **pm = luaL_checkudata(L, idx, MSG_MT);
  if (!*pm) luaL_argerror(L, idx, "message already freed");
  return pm;
}

static void new_msg(lua_State *L, lstr_msg *m) {
  lstr_msg **pm = lua_newuserdata(L, sizeof *pm);
  *pm = m;
  luaL_getmetatable(L, MSG_MT);
  lua_setmetatable(L, -2);
}

static int msg_gc(lua_State *L) {
  lstr_msg **pm = luaL_checkudata(L, 1, MSG_MT);
  lstr_msg_free(*pm);
  *pm = NULL;
  return 0;
}

static int clone_encode(lua_State *L) {
  lua_settop(L, 3);
  int mode = LSTR_CLONE_THREAD;
  if (!lua_isnil(L, 3)) {
    const char *s = luaL_checkstring(L, 3);
    if (!strcmp(s, "process")) mode = LSTR_CLONE_PROCESS;
    else if (strcmp(s, "thread")) luaL_argerror(L, 3, "expected 'thread' or 'process'");
  }
  lstr_msg *m = lstr_msg_encode(L, 1, lua_isnil(L, 2) ? 0 : 2, mode);
  if (!m) return lua_error(L);
  new_msg(L, m);
  return 1;
}

/* The two encoders and decoders one at a time, so that specs and the
 * fuzzer can hold them to producing the same bytes and values. */

/* encode_fast(value) -> msg, or nil when the fast path gives up */
static int clone_encode_fast_l(lua_State *L) {
  lua_settop(L, 1);
  lstr_msg *m = clone_encode_fast(L, 1, NULL);
  if (!m) return 0;
  new_msg(L, m);
  return 1;
}

/* encode_full(value[, transferList[, 'process']]) -> msg (raises) */
static int clone_encode_full_l(lua_State *L) {
  lua_settop(L, 3);
  int mode = !lua_isnil(L, 3) && !strcmp(luaL_checkstring(L, 3), "process") ? LSTR_CLONE_PROCESS : LSTR_CLONE_THREAD;
  lstr_msg *m = clone_encode_full(L, 1, lua_isnil(L, 2) ? 0 : 2, mode);
  if (!m) return lua_error(L);
  new_msg(L, m);
  return 1;
}

/* decode_fast(msg) -> true, value | false (the fast decoder declines) */
static int clone_decode_fast_l(lua_State *L) {
  lstr_msg **pm = check_msg(L, 1);
  if (!clone_decode_fast(L, *pm)) { lua_pushboolean(L, 0); return 1; }
  lua_pushboolean(L, 1);
  lua_insert(L, -2);
  return 2;
}

/* decode_full(msg) -> value (raises DataCloneError) */
static int clone_decode_full_l(lua_State *L) {
  lstr_msg **pm = check_msg(L, 1);
  if (clone_decode_full(L, *pm) != 0) return lua_error(L);
  return 1;
}

static int clone_decode(lua_State *L) {
  if (lua_type(L, 1) == LUA_TSTRING) {
    size_t n;
    const char *s = lua_tolstring(L, 1, &n);
    lstr_msg *m = lstr_msg_from_bytes(s, n);
    if (!m) return lstr_error(L, "DataCloneError", "out of memory");
    int rc = lstr_msg_decode(L, m);
    lstr_msg_free(m);
    if (rc != 0) return lua_error(L);
    return 1;
  }
  lstr_msg **pm = check_msg(L, 1);
  if (lstr_msg_decode(L, *pm) != 0) return lua_error(L);
  return 1;
}

static int clone_bytes(lua_State *L) {
  lstr_msg **pm = check_msg(L, 1);
  size_t n;
  const char *p = lstr_msg_bytes(*pm, &n);
  lua_pushlstring(L, p, n);
  return 1;
}

static int clone_from_bytes(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  lstr_msg *m = lstr_msg_from_bytes(s, n);
  if (!m) return lstr_error(L, "DataCloneError", "out of memory");
  new_msg(L, m);
  return 1;
}

static int clone_set_cdata_hooks(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_createtable(L, 0, 2);
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, "classify");
  lua_pushvalue(L, 2);
  lua_setfield(L, -2, "make");
  lua_setfield(L, LUA_REGISTRYINDEX, CLONE_HOOKS_KEY);
  return 0;
}

static const luaL_Reg clone_funcs[] = {
  {"encode", clone_encode},
  {"decode", clone_decode},
  {"bytes", clone_bytes},
  {"from_bytes", clone_from_bytes},
  {"set_cdata_hooks", clone_set_cdata_hooks},
  {"encode_fast", clone_encode_fast_l},
  {"encode_full", clone_encode_full_l},
  {"decode_fast", clone_decode_fast_l},
  {"decode_full", clone_decode_full_l},
  {NULL, NULL}
};

int luaopen_native_clone(lua_State *L) {
  lstr_new_class(L, MSG_MT, NULL, msg_gc);
  lua_newtable(L);
  luaL_register(L, NULL, clone_funcs);
  return 1;
}
