/*
 * errors.c — runtime errors as Lua values.
 *
 * Every error the runtime raises is a table {code=, message=, stack=} whose
 * metatable prints `code: message` (lua/luster/errors.lua builds them; the
 * state keeps a ref to its constructor).  C code raises them with
 * lstr_error(L, "ERR_X", fmt, ...) or, from a libuv code, lstr_uv_error().
 */
#include "lstr.h"
#include <stdarg.h>

static void push_error_v(lua_State *L, const char *code, const char *fmt, va_list ap) {
  lstr_state *s = lstr_ctx(L);
  const char *msg = lua_pushvfstring(L, fmt, ap);
  if (s && s->error_new_ref != LUA_NOREF && s->error_new_ref != 0) {
    lstr_push_ref(L, s->error_new_ref);
    lua_pushstring(L, code);
    lua_pushvalue(L, -3);
    if (lua_pcall(L, 2, 1, 0) == 0) {
      lua_remove(L, -2); /* the message string */
      return;
    }
    lua_pop(L, 1);
  }
  /* before the Lua side is up: a plain "code: message" string */
  lua_pushfstring(L, "%s: %s", code, msg);
  lua_remove(L, -2);
}

void lstr_push_error(lua_State *L, const char *code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  push_error_v(L, code, fmt, ap);
  va_end(ap);
}

int lstr_error(lua_State *L, const char *code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  push_error_v(L, code, fmt, ap);
  va_end(ap);
  return lua_error(L);
}

void lstr_push_uv_error(lua_State *L, int uverr, const char *syscall) {
  lstr_push_error(L, uv_err_name(uverr), "%s %s: %s", syscall, uv_err_name(uverr), uv_strerror(uverr));
  if (lua_istable(L, -1)) {
    lua_pushstring(L, syscall);
    lua_setfield(L, -2, "syscall");
    lua_pushinteger(L, uverr);
    lua_setfield(L, -2, "errno");
  }
}

int lstr_uv_error(lua_State *L, int uverr, const char *syscall) {
  lstr_push_uv_error(L, uverr, syscall);
  return lua_error(L);
}

int lstr_push_fail(lua_State *L, int uverr, const char *syscall) {
  lua_pushnil(L);
  lstr_push_uv_error(L, uverr, syscall);
  return 2;
}
